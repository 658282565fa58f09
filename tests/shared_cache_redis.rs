//! The shared cache's Redis client against Debian's real redis-server on
//! loopback (127.211.250.*): an ACL user allowed GET and SET on tern's
//! keys only, a wrong password, and TLS with a private CA.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tern::clock::ManualClock;
use tern::config::SharedCacheConfig;
use tern::dnssec::Security;
use tern::engine::{Failure, Request, Resolution};
use tern::shared_cache::SharedCache;

/// A redis-server child, killed when dropped.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tern-redis-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts redis-server with `args` (plus no persistence, in `dir`) and
/// waits until `host:port` takes connections; one that exits fails the
/// test at once.
fn redis(dir: &Path, host: &str, port: u16, args: &[&str]) -> Redis {
    let child = Command::new("redis-server")
        .arg("--dir")
        .arg(dir)
        .args(["--bind", host, "--save", "", "--appendonly", "no"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("redis.log")).unwrap())
        .spawn()
        .expect("redis-server (apt-get install redis-server)");
    let mut r = Redis(child);
    let addr = format!("{host}:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = r.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            panic!("redis-server exited ({status}):\n{log}");
        }
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return r;
        }
        assert!(Instant::now() < deadline, "redis-server does not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn answer(ttl: u32) -> Resolution {
    let mut r = Resolution::failed(Failure::NotCached, Vec::new());
    r.failure = None;
    r.rcode = ResponseCode::NoError;
    r.answers = vec![Record::from_rdata(
        Name::from_ascii("www.example.").unwrap(),
        ttl,
        RData::A(A::new(192, 0, 2, 1)),
    )];
    r.security = Security::Insecure;
    r
}

fn request() -> Request {
    Request::new(Name::from_ascii("www.example.").unwrap(), RecordType::A)
}

const NOW: u64 = 1_800_000_000;

/// Offers an answer, waits for the write, and looks it up.
async fn round_trip(shared: &Arc<SharedCache>) -> bool {
    shared.offer(&request(), &answer(300));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let c = shared.read();
        if c["shared_cache.writes"] >= 1 {
            break;
        }
        if c["shared_cache.errors"] >= 1 || Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hit = shared.lookup(&request(), true).await;
    hit.is_some_and(|r| r.answers.first().is_some_and(|a| a.ttl == 300))
}

/// A shared cache on Redis whose clock stands at NOW.
fn open(config: SharedCacheConfig) -> Arc<SharedCache> {
    SharedCache::redis(config, Arc::new(ManualClock::new(NOW))).unwrap()
}

fn config(server: &str) -> SharedCacheConfig {
    SharedCacheConfig {
        lookup_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(2),
        ..SharedCacheConfig::new(server)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_with_get_and_set_only_is_enough_and_a_wrong_password_is_counted() {
    let d = dir("acl");
    let _redis = redis(
        &d,
        "127.211.250.1",
        6379,
        &[
            "--port",
            "6379",
            "--user",
            "default",
            "off",
            "--user",
            "tern",
            "on",
            ">s3cret-for-tern",
            "~tern:*",
            "-@all",
            "+get",
            "+set",
        ],
    );
    let good = open(SharedCacheConfig {
        username: Some("tern".into()),
        password: Some("s3cret-for-tern".into()),
        ..config("127.211.250.1:6379")
    });
    assert!(round_trip(&good).await, "{:?}", good.read());
    assert_eq!(good.read()["shared_cache.hits"], 1);

    let bad = open(SharedCacheConfig {
        username: Some("tern".into()),
        password: Some("wrong".into()),
        ..config("127.211.250.1:6379")
    });
    assert!(bad.lookup(&request(), true).await.is_none());
    assert_eq!(bad.read()["shared_cache.errors"], 1, "{:?}", bad.read());
    // Without credentials: the default user is off.
    let none = open(config("127.211.250.1:6379"));
    assert!(none.lookup(&request(), true).await.is_none());
    assert_eq!(none.read()["shared_cache.errors"], 1, "{:?}", none.read());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let d = dir("tls");
    let certs = tern::lab::certs::generate(&d, &["127.211.250.2".to_string()]).unwrap();
    let (cert, key, ca) = (
        certs.cert.display().to_string(),
        certs.key.display().to_string(),
        certs.ca.display().to_string(),
    );
    let _redis = redis(
        &d,
        "127.211.250.2",
        6380,
        &[
            "--port",
            "0",
            "--tls-port",
            "6380",
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ],
    );
    let shared = open(SharedCacheConfig {
        tls: true,
        tls_ca_file: Some(certs.ca.clone()),
        ..config("127.211.250.2:6380")
    });
    assert!(round_trip(&shared).await, "{:?}", shared.read());

    // The system's roots do not know the lab's CA; plain TCP to a TLS port
    // gets no answer it can read.
    for cfg in [
        SharedCacheConfig {
            tls: true,
            ..config("127.211.250.2:6380")
        },
        config("127.211.250.2:6380"),
    ] {
        let other = open(cfg);
        assert!(other.lookup(&request(), true).await.is_none());
        assert_eq!(other.read()["shared_cache.errors"], 1, "{:?}", other.read());
    }
}
