//! `tern auth` as a real process on loopback: answers dig and raw
//! hickory-built queries over UDP and TCP (RFC 1035 §4.2), survives garbage,
//! refuses to start on a bad zone; faults change replies per packet.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::auth::faults::Faults;
use tern::auth::server::AuthServer;
use tern::zone::answer::make_query;
use tern::zone::ZoneSet;

const ZONE: &str = "$ORIGIN srv.lab.
$TTL 300
@    SOA ns hostmaster 1 3600 900 604800 60
     NS  ns
ns   A   127.77.1.1
www  A   192.0.2.1
";

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn zone_dir(tag: &str, text: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tern-auth-server-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("srv.lab.zone"), text).unwrap();
    d
}

fn udp_query(addr: SocketAddr, q: &Message) -> Option<Message> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.send_to(&q.to_vec().unwrap(), addr).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Message::from_vec(&buf[..n]).ok()
}

fn tcp_query(addr: SocketAddr, q: &Message) -> Message {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let b = q.to_vec().unwrap();
    let mut framed = (b.len() as u16).to_be_bytes().to_vec();
    framed.extend(b);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut msg).unwrap();
    Message::from_vec(&msg).unwrap()
}

fn start(dir: &std::path::Path, listen: &str) -> Kill {
    start_with(dir, listen, &[], Stdio::null())
}

fn start_with(dir: &std::path::Path, listen: &str, extra: &[&str], stderr: Stdio) -> Kill {
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["auth", "--zones"])
        .arg(dir)
        .args(["--listen", listen])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let k = Kill(child);
    let addr: SocketAddr = listen.parse().unwrap();
    let q = make_query(
        1,
        Name::from_ascii("srv.lab.").unwrap(),
        RecordType::SOA,
        false,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if udp_query(addr, &q).is_some() {
            return k;
        }
    }
    panic!("tern auth did not come up on {listen}");
}

fn www() -> Name {
    Name::from_ascii("www.srv.lab.").unwrap()
}

#[test]
fn binary_answers_udp_tcp_and_survives_garbage() {
    let d = zone_dir("bin", ZONE);
    let addr: SocketAddr = "127.77.1.1:53".parse().unwrap();
    let _k = start(&d, "127.77.1.1:53");
    let q = make_query(77, www(), RecordType::A, true);
    let r = udp_query(addr, &q).unwrap();
    assert_eq!(r.metadata.id, 77);
    assert!(r.metadata.authoritative);
    assert_eq!(r.answers.len(), 1);
    let r = tcp_query(addr, &q);
    assert_eq!(r.answers.len(), 1);
    // garbage: short, random, a response; then the server still answers
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [&b"x"[..], &[0xff; 40][..], &[0u8; 12][..]] {
        s.send_to(junk, addr).unwrap();
    }
    let mut t = TcpStream::connect(addr).unwrap();
    t.write_all(&[0, 5, 1, 2, 3, 4, 5]).unwrap();
    drop(t);
    let r = udp_query(addr, &make_query(78, www(), RecordType::A, false)).unwrap();
    assert_eq!(r.metadata.id, 78);
    assert_eq!(r.answers.len(), 1);
    // a malformed question gets FORMERR with the query's id
    let mut bad = make_query(79, www(), RecordType::A, false)
        .to_vec()
        .unwrap();
    bad.truncate(bad.len() - 3);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s.send_to(&bad, addr).unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(r.metadata.id, 79);
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn dig_gets_authoritative_answers() {
    assert!(
        Command::new("dig").arg("-v").output().is_ok(),
        "dig is not installed (apt-get install dnsutils)"
    );
    let d = zone_dir("dig", ZONE);
    let _k = start_with(
        &d,
        "127.77.1.2:53",
        &["--allow-transfer", "127.0.0.0/8"],
        Stdio::null(),
    );
    let out = Command::new("dig")
        .args([
            "@127.77.1.2",
            "-p",
            "53",
            "www.srv.lab",
            "A",
            "+norec",
            "+tries=2",
            "+time=2",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status: NOERROR"), "{text}");
    assert!(text.contains("flags: qr aa"), "{text}");
    assert!(text.contains("192.0.2.1"), "{text}");
    let out = Command::new("dig")
        .args(["@127.77.1.2", "srv.lab", "AXFR", "+time=2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("\tSOA\t").count(), 2, "{text}");
    let out = Command::new("dig")
        .args(["@127.77.1.2", "www.example.com", "A", "+norec", "+time=2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status: REFUSED"), "{text}");
}

#[test]
fn bad_zone_stops_the_binary_with_file_and_line() {
    let bad = format!("{ZONE}www TXT \"clash\"\nalias CNAME www\nalias A 192.0.2.3\n");
    let d = zone_dir("bad", &bad);
    let out = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["auth", "--zones"])
        .arg(&d)
        .args(["--listen", "127.77.1.3:53"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("srv.lab.zone:9:"), "{err}");
    assert!(err.contains("CNAME and other data"), "{err}");
}

fn in_process(tag: &str) -> AuthServer {
    let d = zone_dir(tag, ZONE);
    let zones = Arc::new(ZoneSet::load_paths(&[d]).unwrap());
    AuthServer::new("t", zones, None)
}

fn reply(s: &AuthServer, udp: bool) -> Option<Message> {
    let q = make_query(5, www(), RecordType::A, false).to_vec().unwrap();
    let out = s.respond(&q, "127.0.0.1:9".parse().unwrap(), udp);
    out.first().map(|b| Message::from_vec(b).unwrap())
}

#[test]
fn faults_change_replies() {
    let s = in_process("faults");
    assert_eq!(reply(&s, true).unwrap().answers.len(), 1);
    s.set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    assert!(reply(&s, true).is_none());
    s.set_faults(Faults {
        refuse: true,
        ..Faults::default()
    });
    assert_eq!(
        reply(&s, true).unwrap().metadata.response_code,
        ResponseCode::Refused
    );
    s.set_faults(Faults {
        servfail: true,
        ..Faults::default()
    });
    assert_eq!(
        reply(&s, true).unwrap().metadata.response_code,
        ResponseCode::ServFail
    );
    s.set_faults(Faults {
        lame: true,
        ..Faults::default()
    });
    let r = reply(&s, true).unwrap();
    assert!(!r.metadata.authoritative);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::NS);
    s.set_faults(Faults {
        truncate: true,
        ..Faults::default()
    });
    assert!(reply(&s, true).unwrap().metadata.truncation);
    assert!(!reply(&s, false).unwrap().metadata.truncation);
    s.set_faults(Faults {
        garbage: true,
        ..Faults::default()
    });
    let q = make_query(5, www(), RecordType::A, false).to_vec().unwrap();
    let out = s.respond(&q, "127.0.0.1:9".parse().unwrap(), true);
    assert_eq!(out.len(), 1);
    assert_ne!(out[0], q);
    s.set_faults(Faults {
        loss_percent: 100.0,
        ..Faults::default()
    });
    assert!(reply(&s, true).is_none());
    s.set_faults(Faults::default());
    assert_eq!(reply(&s, true).unwrap().answers.len(), 1);
}

#[test]
fn random_and_mutated_packets_never_panic() {
    use rand::{Rng, SeedableRng};
    let s = in_process("fuzz");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let valid = make_query(5, www(), RecordType::A, true).to_vec().unwrap();
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut answered = 0;
    for i in 0..20_000 {
        let bytes: Vec<u8> = if i % 2 == 0 {
            let len = rng.random_range(0..80);
            (0..len).map(|_| rng.random()).collect()
        } else {
            let mut b = valid.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            b
        };
        let out = s.respond(&bytes, peer, i % 3 == 0);
        for o in &out {
            assert!(o.len() <= 65_535);
            answered += 1;
        }
    }
    // mutated queries mostly still get some reply (FORMERR or an answer)
    assert!(answered > 5_000, "{answered}");
}

fn axfr_query() -> Message {
    make_query(
        9,
        Name::from_ascii("srv.lab.").unwrap(),
        RecordType::AXFR,
        false,
    )
}

#[test]
fn axfr_goes_only_to_allow_transfer_clients() {
    let s = in_process("axfr");
    let q = axfr_query().to_vec().unwrap();
    let ask = |from: &str| {
        let out = s.respond(&q, from.parse().unwrap(), false);
        Message::from_vec(&out[0]).unwrap()
    };
    // Nobody by default.
    let r = ask("127.0.0.1:4000");
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(r.answers.is_empty());
    s.set_allow_transfer(vec!["192.0.2.0/24".parse().unwrap()]);
    let r = ask("192.0.2.77:4000");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers.first().unwrap().record_type(), RecordType::SOA);
    assert_eq!(r.answers.last().unwrap().record_type(), RecordType::SOA);
    let r = ask("198.51.100.1:4000");
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn binary_refuses_axfr_without_allow_transfer() {
    let d = zone_dir("axfr-bin", ZONE);
    let _k = start(&d, "127.77.1.4:53");
    let r = tcp_query("127.77.1.4:53".parse().unwrap(), &axfr_query());
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(r.answers.is_empty());
}

#[test]
fn lab_file_allow_transfer_is_checked() {
    let d = std::env::temp_dir().join(format!("tern-auth-lab-xfr-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let lab = "[[server]]\nname = \"a\"\naddresses = [\"127.77.1.9\"]\nzones = [\"x.zone\"]\nallow_transfer = [\"127.0.0.0/8\", \"nonsense\"]\n";
    std::fs::write(d.join("lab.toml"), lab).unwrap();
    let e = tern::lab::LabSpec::load(&d.join("lab.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("lab.toml:5:"), "{e}");
    assert!(
        e.contains("allow_transfer: nonsense is not a network"),
        "{e}"
    );
    std::fs::write(d.join("lab.toml"), lab.replace(", \"nonsense\"", "")).unwrap();
    let spec = tern::lab::LabSpec::load(&d.join("lab.toml")).unwrap();
    assert_eq!(
        spec.servers[0].allow_transfer,
        vec!["127.0.0.0/8".parse().unwrap()]
    );
}

/// Lines tern auth writes to stderr, as they come.
fn stderr_lines(k: &mut Kill) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let err = k.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    rx
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return l,
            Ok(l) => {
                seen.push_str(&l);
                seen.push('\n');
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?} in:\n{seen}");
}

fn www_address(addr: SocketAddr) -> String {
    let q = make_query(3, www(), RecordType::A, false);
    let r = udp_query(addr, &q).expect("no reply");
    r.answers[0].data.to_string()
}

#[test]
fn changed_zone_file_is_served_only_when_its_serial_grows() {
    let d = zone_dir("serial", ZONE);
    let addr: SocketAddr = "127.77.1.5:53".parse().unwrap();
    let mut k = start_with(&d, "127.77.1.5:53", &[], Stdio::piped());
    let rx = stderr_lines(&mut k);
    assert_eq!(www_address(addr), "192.0.2.1");
    let file = d.join("srv.lab.zone");
    // New data, same serial: logged, not served.
    std::fs::write(&file, ZONE.replace("192.0.2.1", "192.0.2.2")).unwrap();
    let line = wait_line(&rx, "zone srv.lab. not reloaded");
    assert!(
        line.contains("serial 1 is not greater than the served 1"),
        "{line}"
    );
    assert_eq!(www_address(addr), "192.0.2.1");
    // A lower serial after a higher one is refused the same way (RFC 1982).
    let v3 = ZONE
        .replace(" 1 3600", " 3 3600")
        .replace("192.0.2.1", "192.0.2.3");
    std::fs::write(&file, &v3).unwrap();
    let line = wait_line(&rx, "zone srv.lab. reloaded");
    assert!(line.contains("serial 1 -> 3"), "{line}");
    assert_eq!(www_address(addr), "192.0.2.3");
    let v2 = ZONE
        .replace(" 1 3600", " 2 3600")
        .replace("192.0.2.1", "192.0.2.4");
    std::fs::write(&file, v2).unwrap();
    let line = wait_line(&rx, "zone srv.lab. not reloaded");
    assert!(
        line.contains("serial 2 is not greater than the served 3"),
        "{line}"
    );
    assert_eq!(www_address(addr), "192.0.2.3");
    // SIGHUP loads it anyway.
    let pid = k.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let line = wait_line(&rx, "reloaded on request");
    assert!(line.contains("SIGHUP"), "{line}");
    assert_eq!(www_address(addr), "192.0.2.4");
}

/// `tern auth` is served by the resolver's front end: queries pipelined on
/// one TCP connection are all answered (RFC 7766 §6.2.1.1); at the
/// connection cap a new client is still served, idle ones making room
/// (§6.2.3); SIGTERM drains and exits cleanly.
#[test]
fn binary_pipelines_tcp_and_stops_cleanly_on_sigterm() {
    let d = zone_dir("pipeline", ZONE);
    let listen = "127.77.1.6:53";
    let mut k = start(&d, listen);
    let mut s = TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut frames = Vec::new();
    for id in [101u16, 102, 103] {
        let b = make_query(id, www(), RecordType::A, false)
            .to_vec()
            .unwrap();
        frames.extend((b.len() as u16).to_be_bytes());
        frames.extend(b);
    }
    // Three queries in one write: none waits for the one before.
    s.write_all(&frames).unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut msg).unwrap();
        let r = Message::from_vec(&msg).unwrap();
        assert_eq!(r.answers.len(), 1);
        ids.push(r.metadata.id);
    }
    ids.sort_unstable();
    assert_eq!(ids, [101, 102, 103]);
    // Fill the 256 connection slots with idle clients; one more is served.
    let idle: Vec<TcpStream> = (0..255)
        .map(|_| TcpStream::connect(listen).unwrap())
        .collect();
    let r = tcp_query(
        listen.parse().unwrap(),
        &make_query(104, www(), RecordType::A, false),
    );
    assert_eq!(r.metadata.id, 104);
    assert_eq!(r.answers.len(), 1);
    drop(idle);
    let term = Command::new("kill")
        .args(["-TERM", &k.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = k.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "tern auth still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    // The listener is gone: a new connection is refused.
    assert!(TcpStream::connect(listen).is_err());
}
