//! The lab in-process (no resolver): every server of zones/lab.toml answers
//! its part of the delegation chain from the root hints down, faults and
//! replicas change when the lab file changes, and a bad zone stops the lab
//! before anything binds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab_support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use lab_support::lab_copy;
use tern::lab::{LabError, LabSpec, RunningLab, StartOptions};
use tern::zone::answer::make_query;

fn ask(server: &str, name: &str, t: RecordType) -> Option<Message> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let q = make_query(1, Name::from_ascii(name).unwrap(), t, true);
    let addr: SocketAddr = format!("{server}:53").parse().unwrap();
    s.send_to(&q.to_vec().unwrap(), addr).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(Message::from_vec(&buf[..n]).unwrap())
}

fn ns_targets(m: &Message) -> Vec<String> {
    m.authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(n) => Some(n.0.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_lab_serves_the_delegation_chain_and_applies_faults() {
    let dir = lab_copy("inproc", |t| t);
    let spec = LabSpec::load(&dir).unwrap();
    let opts = StartOptions {
        resolver_exe: None,
        run_dir: Some(dir.join("run")),
        dnssec: false,
        farm: 0,
    };
    let mut lab = RunningLab::start(spec, opts).await.unwrap();
    let hints = std::fs::read_to_string(lab.hints_path()).unwrap();
    assert!(hints.contains(". 3600000 IN NS a.root.lab."), "{hints}");
    assert!(
        hints.contains("a.root.lab. 3600000 IN A 127.153.0.1"),
        "{hints}"
    );
    let conf = std::fs::read_to_string(lab.resolver_config_path()).unwrap();
    assert!(conf.contains("root_hints = "), "{conf}");
    assert!(lab.describe().contains("127.153.21.1:53"));

    let n = "www.example.net.";
    tokio::task::spawn_blocking(move || {
        // root -> net (glue for a.gtld.lab)
        let r = ask("127.153.0.2", n, RecordType::A).unwrap();
        assert!(!r.metadata.authoritative);
        assert_eq!(ns_targets(&r), vec!["a.gtld.lab.", "b.gtld.lab."]);
        assert_eq!(r.additionals.len(), 2);
        // net -> example.net, glueless
        let r = ask("127.153.1.1", n, RecordType::A).unwrap();
        assert_eq!(ns_targets(&r), vec!["ns1.dns-host.org."]);
        assert!(r.additionals.is_empty());
        // the glueless server's address, from org then dns-host.org
        let r = ask("127.153.1.2", "ns1.dns-host.org.", RecordType::A).unwrap();
        assert_eq!(r.additionals.len(), 1);
        let r = ask("127.153.11.1", "ns1.dns-host.org.", RecordType::A).unwrap();
        assert!(r.metadata.authoritative);
        // the answer
        let r = ask("127.153.11.1", n, RecordType::A).unwrap();
        assert!(r.metadata.authoritative);
        assert_eq!(r.answers.len(), 1);
        // example.lab on both its addresses
        for a in ["127.153.12.1", "127.153.12.2"] {
            let r = ask(a, "www.example.lab.", RecordType::A).unwrap();
            assert_eq!(r.answers.len(), 1);
        }
        // the CDN server's policy name
        let r = ask("127.153.21.1", "www.video.cdn.net.", RecordType::A).unwrap();
        assert_eq!(r.answers[0].data.to_string(), "127.154.1.1");
    })
    .await
    .unwrap();
    // replica listeners are up
    assert!(tokio::net::TcpStream::connect("127.154.2.1:8080")
        .await
        .is_ok());

    // change faults and a replica through the lab file
    let file = dir.join("lab.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.replace(
        "name = \"a.gtld\"\n",
        "name = \"a.gtld\"\nfaults = { refuse = true }\n",
    );
    let text = text.replace(
        "name = \"example.com\"\n",
        "name = \"example.com\"\nfaults = { lame_upward = true }\n",
    );
    let text = text.replace(
        "address = \"127.154.2.1:8080\"\n",
        "address = \"127.154.2.1:8080\"\ndown = true\n",
    );
    std::fs::write(&file, text).unwrap();
    let changes = lab.apply(&LabSpec::load(&dir).unwrap()).await.unwrap();
    assert!(changes.iter().any(|c| c.contains("a.gtld")), "{changes:?}");
    assert!(
        changes.iter().any(|c| c.contains("lame_upward")),
        "{changes:?}"
    );
    assert!(changes.iter().any(|c| c.contains("us-1")), "{changes:?}");
    let r = tokio::task::spawn_blocking(|| ask("127.153.1.1", "com.", RecordType::SOA))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    // lame_upward: no AA, a referral back to the root with its addresses
    let r = tokio::task::spawn_blocking(|| ask("127.153.10.1", "www.example.com.", RecordType::A))
        .await
        .unwrap()
        .unwrap();
    assert!(!r.metadata.authoritative);
    assert!(r.answers.is_empty());
    assert_eq!(ns_targets(&r), vec!["a.root.lab.", "b.root.lab."]);
    assert!(r.authorities.iter().all(|a| a.name.is_root()));
    assert_eq!(r.additionals.len(), 2);
    assert!(tokio::net::TcpStream::connect("127.154.2.1:8080")
        .await
        .is_err());
    lab.stop().await;
}

#[tokio::test]
async fn a_bad_zone_stops_the_lab_before_binding() {
    let d = std::env::temp_dir().join(format!("tern-lab-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("lab.toml"),
        "[[server]]\nname = \"root\"\naddresses = [\"127.77.4.1\"]\nzones = [\"root.zone\"]\n\
         [[server]]\nname = \"bad\"\naddresses = [\"127.77.4.2\"]\nzones = [\"bad.zone\"]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("root.zone"),
        "$ORIGIN .\n$TTL 60\n@ SOA a.root. h. 1 2 3 4 5\n NS a.root.\na.root. A 127.77.4.1\n",
    )
    .unwrap();
    std::fs::write(
        d.join("bad.zone"),
        "$ORIGIN bad.\n$TTL 60\n@ NS ns\nns A 127.77.4.2\n",
    )
    .unwrap();
    let spec = LabSpec::load(&d).unwrap();
    let err = RunningLab::start(spec, StartOptions::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, LabError::Zone(_)), "{err}");
    assert!(err.to_string().contains("bad.zone:3:"), "{err}");
    // nothing was left bound
    assert!(std::net::UdpSocket::bind("127.77.4.1:53").is_ok());

    // and an unknown key in the lab file names its line
    std::fs::write(d.join("lab.toml"), "[lab]\nseed = 1\nsede = 2\n").unwrap();
    let err = LabSpec::load(&d).unwrap_err();
    assert!(err.to_string().contains("lab.toml:3:"), "{err}");
}
