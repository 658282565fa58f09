//! End to end: DNS over TLS and DNS over HTTPS with the real `tern`
//! binary on loopback (127.201.x.y, used by no other test). kdig (Debian's
//! knot-dnsutils) and `tern dig` get answers from `tern serve` over DoT
//! and DoH (POST and GET, HTTP/2), padded to 468-byte blocks when asked;
//! a certificate for another name is refused by both clients; idle, slow
//! and handshaking clients are closed; a handshake flood does not stop
//! UDP service; a reload picks up a new certificate; HTTP errors and
//! access control; and a forward zone reaches Debian's Unbound over TLS,
//! refusing a forwarder whose certificate carries another name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use tern::lab::certs::{generate, LabCerts};

/// The name the test servers' certificates carry.
const CERT_NAME: &str = "dns.enc.test";
/// What the local data answers for `www.enc.test. A`.
const ANSWER: &str = "192.0.2.53";

/// Longest wait for anything the server should do by itself (generous:
/// the limits under test are a few hundred milliseconds).
const PATIENCE: Duration = Duration::from_secs(10);

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tern-enc-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn certs(dir: &Path, ip: &str) -> LabCerts {
    generate(dir, &[CERT_NAME.to_string(), ip.to_string()]).unwrap()
}

/// A `tern serve`, killed on drop (with its scratch directory removed).
struct Tern {
    child: Child,
    dir: PathBuf,
}

impl Drop for Tern {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `tern serve` answering www.enc.test from local data on `udp`,
/// with `tls` as its `[tls]` table (certificate keys added), and waits
/// until it answers over UDP.
fn start_tern(dir: &Path, c: &LabCerts, udp: SocketAddr, tls: &str, extra: &str) -> Tern {
    let conf = dir.join("tern.toml");
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = [\"{udp}\"]\nudp_sockets = 1\n{extra}\n\
             [resolver]\nlocal_zone = [{{ name = \"enc.test.\", type = \"static\" }}]\n\
             local_data = [\"www.enc.test. 300 IN A {ANSWER}\"]\n\
             [dnssec]\nvalidate = false\n[log]\nlevel = \"warn\"\n\
             [tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n{tls}\n",
            c.cert.display(),
            c.key.display()
        ),
    )
    .unwrap();
    serve(dir, &conf, udp, "www.enc.test.")
}

/// Runs `tern serve --config conf` and waits until it answers `probe`
/// over UDP on `udp`.
fn serve(dir: &Path, conf: &Path, udp: SocketAddr, probe: &str) -> Tern {
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["serve", "--config"])
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let tern = Tern {
        child,
        dir: dir.to_path_buf(),
    };
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if udp_query(udp, probe, Duration::from_millis(300)).is_some() {
            return tern;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tern serve did not answer on {udp}");
}

fn query_bytes(name: &str, pad: bool) -> Vec<u8> {
    let mut q = Message::new(0x2301, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let mut e = Edns::new();
    if pad {
        e.options_mut().insert(EdnsOption::Unknown(12, vec![0; 40]));
    }
    q.set_edns(e);
    q.to_vec().unwrap()
}

fn udp_query(server: SocketAddr, name: &str, wait: Duration) -> Option<Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(wait)).ok()?;
    sock.send_to(&query_bytes(name, false), server).ok()?;
    let mut buf = vec![0u8; 65_535];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    Message::from_vec(&buf[..n]).ok()
}

fn run(program: &str, args: &[String]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (apt-get install knot-dnsutils)"))
}

fn kdig(args: &[String]) -> Output {
    run("kdig", args)
}

fn tern_dig(args: &[String]) -> Output {
    let mut all = vec!["dig".to_string()];
    all.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_tern"), &all)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A rustls client trusting `ca`, offering `alpn`.
fn client(ca: &Path, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let roots = tern::upstream::tls::roots(Some(ca)).unwrap();
    Arc::new(tern::upstream::tls::checking_config(roots, alpn).unwrap())
}

/// A TLS connection to `addr`, handshake done.
fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let name = rustls::pki_types::ServerName::try_from(CERT_NAME).unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).unwrap();
    }
    s
}

/// Whether the peer closed the connection (rather than our read timing
/// out while it stayed open).
fn closed_by_server(r: std::io::Result<usize>) -> bool {
    match r {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// One DoT exchange on an open connection.
fn dot_exchange(s: &mut impl ReadWrite, query: &[u8]) -> Vec<u8> {
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).unwrap();
    s.flush().unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body).unwrap();
    body
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[test]
fn kdig_and_tern_dig_get_answers_over_tls_and_https_and_refuse_a_wrong_name() {
    let dir = scratch("clients");
    let c = certs(&dir, "127.201.1.1");
    // The default ports, so that the clients' defaults are tested too.
    let _tern = start_tern(
        &dir,
        &c,
        "127.201.1.1:53".parse().unwrap(),
        "listen = [\"127.201.1.1\"]\nhttps_listen = [\"127.201.1.1\"]",
        "",
    );
    let ca = format!("+tls-ca={}", c.ca.display());
    let host = format!("+tls-hostname={CERT_NAME}");
    for mode in ["+tls", "+https", "+https-get"] {
        let out = kdig(&strs(&[
            "@127.201.1.1",
            mode,
            &ca,
            &host,
            "www.enc.test",
            "A",
        ]));
        let t = text(&out);
        assert!(out.status.success(), "kdig {mode}: {t}");
        assert!(t.contains(ANSWER), "kdig {mode}: {t}");
        assert!(t.contains("NOERROR"), "kdig {mode}: {t}");
        if mode != "+tls" {
            assert!(t.contains("HTTP/2"), "kdig {mode} speaks HTTP/2: {t}");
        }
        // Checked against the address when no host name is given.
        let out = tern_dig(&strs(&[
            "@127.201.1.1",
            mode,
            &ca,
            "www.enc.test",
            "+short",
        ]));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            ANSWER,
            "tern dig {mode}: {}",
            text(&out)
        );
        let out = tern_dig(&strs(&["@127.201.1.1", mode, &ca, &host, "www.enc.test"]));
        let t = text(&out);
        let proto = if mode == "+tls" { "(TLS)" } else { "(HTTPS)" };
        assert!(t.contains(proto), "tern dig {mode}: {t}");
    }
    // RFC 8467 block padding, when the query carries the option.
    let out = kdig(&strs(&[
        "@127.201.1.1",
        "+tls",
        &ca,
        &host,
        "+padding",
        "www.enc.test",
    ]));
    let t = text(&out);
    assert!(t.contains("PADDING"), "{t}");
    assert!(t.contains("Received 468 B"), "{t}");
    let out = kdig(&strs(&[
        "@127.201.1.1",
        "+tls",
        &ca,
        &host,
        "+nopadding",
        "www.enc.test",
    ]));
    assert!(!text(&out).contains("PADDING"), "{}", text(&out));
    // A certificate for another name is refused by both clients.
    let wrong = "+tls-hostname=wrong.enc.test";
    for mode in ["+tls", "+https"] {
        let out = kdig(&strs(&["@127.201.1.1", mode, &ca, wrong, "www.enc.test"]));
        let t = text(&out);
        assert!(
            !out.status.success(),
            "kdig {mode} accepted a wrong name: {t}"
        );
        assert!(!t.contains(ANSWER), "{t}");
        let out = tern_dig(&strs(&["@127.201.1.1", mode, &ca, wrong, "www.enc.test"]));
        let t = text(&out);
        assert_eq!(out.status.code(), Some(9), "{t}");
        assert!(t.contains("not valid for name"), "{t}");
        assert!(!t.contains(ANSWER), "{t}");
    }
    // And a certificate from a CA the client does not trust.
    let other = generate(&scratch("clients-other"), &[CERT_NAME.to_string()]).unwrap();
    let out = tern_dig(&strs(&[
        "@127.201.1.1",
        "+tls",
        &format!("+tls-ca={}", other.ca.display()),
        &host,
        "www.enc.test",
    ]));
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
}

#[test]
fn replies_are_padded_to_468_byte_blocks_only_when_asked() {
    let dir = scratch("padding");
    let c = certs(&dir, "127.201.7.1");
    let _tern = start_tern(
        &dir,
        &c,
        "127.201.7.1:5300".parse().unwrap(),
        "listen = [\"127.201.7.1:8853\"]\nidle_timeout_ms = 2500",
        "edns_tcp_keepalive = true",
    );
    let mut s = tls_connect(
        "127.201.7.1:8853".parse().unwrap(),
        client(&c.ca, &[b"dot"]),
    );
    let padded = dot_exchange(&mut s, &query_bytes("www.enc.test.", true));
    assert_eq!(padded.len() % 468, 0, "{} bytes", padded.len());
    let m = Message::from_vec(&padded).unwrap();
    assert_eq!(m.answers.len(), 1);
    let plain = dot_exchange(&mut s, &query_bytes("www.enc.test.", false));
    assert!(plain.len() < 468, "{} bytes", plain.len());
    let m = Message::from_vec(&plain).unwrap();
    let edns = m.edns.unwrap();
    assert!(edns.option(EdnsCode::Padding).is_none());
    // The keepalive option (RFC 7828) gives the encrypted pool's idle
    // timeout, 2.5 s here, in units of 100 ms (TCP's is 10 s).
    let keepalive = edns
        .option(EdnsCode::from(11))
        .expect("no keepalive option");
    assert_eq!(Vec::<u8>::try_from(keepalive).unwrap(), vec![0, 25]);
    // UDP replies are never padded.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock.send_to(&query_bytes("www.enc.test.", true), "127.201.7.1:5300")
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert!(n < 468, "{n} bytes over UDP");
}

#[test]
fn idle_slow_and_handshaking_clients_are_closed() {
    let dir = scratch("idle");
    let c = certs(&dir, "127.201.2.1");
    let _tern = start_tern(
        &dir,
        &c,
        "127.201.2.1:5300".parse().unwrap(),
        "listen = [\"127.201.2.1:8853\"]\nhttps_listen = [\"127.201.2.1:8443\"]\n\
         idle_timeout_ms = 300\nhandshake_timeout_ms = 300",
        "",
    );
    let dot: SocketAddr = "127.201.2.1:8853".parse().unwrap();
    let doh: SocketAddr = "127.201.2.1:8443".parse().unwrap();
    // Connects and never starts the handshake.
    let mut raw = TcpStream::connect(dot).unwrap();
    raw.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut b = [0u8; 64];
    assert!(closed_by_server(raw.read(&mut b)), "silent client kept");
    // Starts the handshake and stops half way (a ClientHello's first bytes).
    let mut half = TcpStream::connect(dot).unwrap();
    half.set_read_timeout(Some(PATIENCE)).unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    assert!(closed_by_server(half.read(&mut b)), "half handshake kept");
    // Finishes the handshake and then says nothing: idle.
    let mut idle = tls_connect(dot, client(&c.ca, &[b"dot"]));
    // It works before it goes idle.
    let reply = dot_exchange(&mut idle, &query_bytes("www.enc.test.", false));
    assert_eq!(Message::from_vec(&reply).unwrap().answers.len(), 1);
    assert!(closed_by_server(idle.read(&mut b)), "idle DoT client kept");
    // Sends half a frame and no more: a partial message is not activity.
    let mut slow = tls_connect(dot, client(&c.ca, &[b"dot"]));
    slow.write_all(&[0, 40, 0x23]).unwrap();
    slow.flush().unwrap();
    assert!(closed_by_server(slow.read(&mut b)), "slow DoT client kept");
    // An idle DoH connection too.
    let mut http = tls_connect(doh, client(&c.ca, &[b"http/1.1"]));
    assert!(closed_by_server(http.read(&mut b)), "idle DoH client kept");
}

#[test]
fn a_handshake_flood_does_not_stop_udp_service() {
    let dir = scratch("flood");
    let c = certs(&dir, "127.201.3.1");
    let udp: SocketAddr = "127.201.3.1:5300".parse().unwrap();
    let _tern = start_tern(
        &dir,
        &c,
        udp,
        "listen = [\"127.201.3.1:8853\"]\nmax_connections = 16\nhandshake_timeout_ms = 500",
        "",
    );
    let dot: SocketAddr = "127.201.3.1:8853".parse().unwrap();
    // 400 connections that start a handshake and never finish it, opened
    // as fast as the flooders can, each held until the flood ends.
    let flood: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut held = Vec::new();
                for _ in 0..100 {
                    if started.elapsed() > PATIENCE {
                        break;
                    }
                    if let Ok(mut s) = TcpStream::connect_timeout(&dot, Duration::from_secs(1)) {
                        let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]);
                        held.push(s);
                    }
                }
                held.len()
            })
        })
        .collect();
    // Canaries over UDP while the flood runs: every one is answered.
    for i in 0..10 {
        let reply = (0..3)
            .find_map(|_| udp_query(udp, "www.enc.test.", Duration::from_secs(2)))
            .unwrap_or_else(|| panic!("canary {i} not answered during the flood"));
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.answers.len(), 1);
        std::thread::sleep(Duration::from_millis(20));
    }
    let opened: usize = flood.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(opened > 16, "the flood opened only {opened} connections");
    // Once the flood is over, DoT serves again.
    let ca = format!("+tls-ca={}", c.ca.display());
    let out = tern_dig(&strs(&[
        "@127.201.3.1",
        "-p",
        "8853",
        "+tls",
        &ca,
        &format!("+tls-hostname={CERT_NAME}"),
        "www.enc.test",
        "+short",
    ]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        ANSWER,
        "{}",
        text(&out)
    );
}

#[test]
fn a_reload_presents_the_renewed_certificate() {
    let dir = scratch("reload");
    let first = dir.join("first");
    std::fs::create_dir_all(&first).unwrap();
    let old = generate(&first, &["one.enc.test".to_string()]).unwrap();
    let live = LabCerts {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::copy(&old.cert, &live.cert).unwrap();
    std::fs::copy(&old.key, &live.key).unwrap();
    let tern = start_tern(
        &dir,
        &live,
        "127.201.4.1:5300".parse().unwrap(),
        "listen = [\"127.201.4.1:8853\"]",
        "",
    );
    let ask = |ca: &Path, name: &str| {
        tern_dig(&strs(&[
            "@127.201.4.1",
            "-p",
            "8853",
            "+tls",
            &format!("+tls-ca={}", ca.display()),
            &format!("+tls-hostname={name}"),
            "www.enc.test",
            "+short",
            "+tries=1",
        ]))
    };
    let out = ask(&old.ca, "one.enc.test");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        ANSWER,
        "{}",
        text(&out)
    );
    // Renewed: another name from another CA, written over the same files.
    let second = dir.join("second");
    std::fs::create_dir_all(&second).unwrap();
    let new = generate(&second, &["two.enc.test".to_string()]).unwrap();
    std::fs::copy(&new.cert, &live.cert).unwrap();
    std::fs::copy(&new.key, &live.key).unwrap();
    assert_eq!(ask(&new.ca, "two.enc.test").status.code(), Some(9));
    let pid = tern.child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    while Instant::now() < deadline {
        let out = ask(&new.ca, "two.enc.test");
        if String::from_utf8_lossy(&out.stdout).trim() == ANSWER {
            // The old certificate is gone.
            assert_eq!(ask(&old.ca, "one.enc.test").status.code(), Some(9));
            return;
        }
        last = text(&out);
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the renewed certificate was not presented after SIGHUP: {last}");
}

/// One HTTP/1.1 request over TLS; the status code of the response.
fn http1_status(addr: SocketAddr, ca: &Path, request: &[u8]) -> u16 {
    let mut s = tls_connect(addr, client(ca, &[b"http/1.1"]));
    s.write_all(request).unwrap();
    s.flush().unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let line = String::from_utf8_lossy(&head).to_string();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn doh_answers_http_errors_and_applies_access_control() {
    let dir = scratch("http");
    let c = certs(&dir, "127.201.5.1");
    // Clients connect from 127.0.0.1, which this server refuses.
    let control = dir.join("control.socket");
    let _tern = start_tern(
        &dir,
        &c,
        "127.201.5.1:5300".parse().unwrap(),
        "https_listen = [\"127.201.5.1:8443\"]\nlisten = [\"127.201.5.1:8853\"]",
        &format!(
            "access_control = [{{ net = \"127.0.0.1/32\", action = \"refuse\" }}, \
             {{ net = \"127.0.0.0/8\", action = \"allow\" }}]\n\
             [control]\nsocket = \"{}\"",
            control.display()
        ),
    );
    let doh: SocketAddr = "127.201.5.1:8443".parse().unwrap();
    let get = |target: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: {CERT_NAME}\r\nConnection: close\r\n\r\n")
    };
    assert_eq!(http1_status(doh, &c.ca, get("/other").as_bytes()), 404);
    assert_eq!(http1_status(doh, &c.ca, get("/dns-query").as_bytes()), 400);
    assert_eq!(
        http1_status(doh, &c.ca, get("/dns-query?dns=%%%").as_bytes()),
        400
    );
    let post = |media: &str, body: &[u8]| {
        let mut r = format!(
            "POST /dns-query HTTP/1.1\r\nHost: {CERT_NAME}\r\nContent-Type: {media}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let q = query_bytes("www.enc.test.", false);
    assert_eq!(http1_status(doh, &c.ca, &post("text/plain", &q)), 415);
    let put = format!("PUT /dns-query HTTP/1.1\r\nHost: {CERT_NAME}\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(http1_status(doh, &c.ca, put.as_bytes()), 405);
    // A well-formed query is answered 200, and access control applies as
    // over UDP: REFUSED for 127.0.0.1, over DoH and DoT alike.
    assert_eq!(
        http1_status(doh, &c.ca, &post("application/dns-message", &q)),
        200
    );
    let ca = format!("+tls-ca={}", c.ca.display());
    let host = format!("+tls-hostname={CERT_NAME}");
    for (mode, port) in [("+https", "8443"), ("+tls", "8853")] {
        let out = tern_dig(&strs(&[
            "@127.201.5.1",
            "-p",
            port,
            mode,
            &ca,
            &host,
            "www.enc.test",
        ]));
        let t = text(&out);
        assert!(t.contains("status: REFUSED"), "{mode}: {t}");
        assert!(!t.contains(ANSWER), "{mode}: {t}");
    }
    // The replies are counted, with TCP's, and by encrypted transport.
    let out = run(
        env!("CARGO_BIN_EXE_tern"),
        &strs(&["ctl", "--socket", &control.display().to_string(), "stats"]),
    );
    let t = text(&out);
    let count = |key: &str| -> u64 {
        t.lines()
            .find_map(|l| {
                let (k, v) = l.split_once([' ', '=', ':'])?;
                (k.trim() == key)
                    .then(|| v.trim().trim_start_matches(['=', ':']).trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("no {key} in:\n{t}"))
    };
    // One udp readiness query or more, two DoH replies, one DoT reply.
    assert_eq!(count("queries.tcp.https"), 2, "{t}");
    assert_eq!(count("queries.tcp.tls"), 1, "{t}");
    assert_eq!(count("queries.tcp"), 3, "{t}");
    assert_eq!(
        count("queries.rcode.REFUSED") - count("queries.udp"),
        3,
        "{t}"
    );
}

/// Unbound serving DNS over TLS only, killed on drop.
struct Unbound(Child);

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_forward_zone_reaches_unbound_over_tls_and_checks_its_name() {
    let dir = scratch("forward");
    let u = dir.join("unbound");
    std::fs::create_dir_all(&u).unwrap();
    let fwd = generate(&u, &["fwd.enc.test".to_string(), "127.201.6.2".to_string()]).unwrap();
    let conf = u.join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.201.6.2@853\n  interface: 127.201.6.3@853\n  tls-port: 853\n  \
             tls-service-key: \"{}\"\n  tls-service-pem: \"{}\"\n  do-udp: no\n  \
             access-control: 127.0.0.0/8 allow\n  username: \"\"\n  chroot: \"\"\n  \
             directory: \"{}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  \
             module-config: \"iterator\"\n  verbosity: 1\n  \
             local-zone: \"secret.test.\" static\n  local-data: \"www.secret.test. 300 IN A 192.0.2.77\"\n  \
             local-zone: \"wrong.test.\" static\n  local-data: \"www.wrong.test. 300 IN A 192.0.2.78\"\n\
             remote-control:\n  control-enable: no\n",
            fwd.key.display(),
            fwd.cert.display(),
            u.display()
        ),
    )
    .unwrap();
    let unbound = Command::new("unbound")
        .args(["-d", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("unbound is not installed (apt-get install unbound)");
    let _unbound = Unbound(unbound);
    // Unbound is up once its TLS port takes connections.
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect("127.201.6.3:853").is_err() {
        assert!(Instant::now() < deadline, "unbound did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Unbound itself answers over TLS with that certificate.
    let ca = format!("+tls-ca={}", fwd.ca.display());
    let out = kdig(&strs(&[
        "@127.201.6.2",
        "+tls",
        &ca,
        "+tls-hostname=fwd.enc.test",
        "www.secret.test",
    ]));
    assert!(text(&out).contains("192.0.2.77"), "{}", text(&out));

    let c = certs(&dir, "127.201.6.1");
    let forward = format!(
        "[[resolver.forward_zone]]\nname = \"secret.test.\"\naddrs = [\"127.201.6.2\"]\n\
         tls = true\ntls_name = \"fwd.enc.test\"\ntls_ca_file = \"{ca}\"\n\
         [[resolver.forward_zone]]\nname = \"wrong.test.\"\naddrs = [\"127.201.6.3\"]\n\
         tls = true\ntls_name = \"other.enc.test\"\ntls_ca_file = \"{ca}\"\n",
        ca = fwd.ca.display()
    );
    // start_tern's own [resolver] table comes first; these tables follow.
    let _tern = start_tern_with_forward(&dir, &c, &forward);
    let udp: SocketAddr = "127.201.6.1:5300".parse().unwrap();
    let m = udp_query(udp, "www.secret.test.", PATIENCE).expect("no reply");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let got: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect();
    assert_eq!(got, vec!["192.0.2.77".to_string()]);
    // The second forwarder's certificate is not for other.enc.test: no
    // answer comes from it.
    let m = udp_query(udp, "www.wrong.test.", PATIENCE).expect("no reply");
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty());
}

/// `start_tern` with forward zones and no encrypted listener of its own.
fn start_tern_with_forward(dir: &Path, c: &LabCerts, forward: &str) -> Tern {
    let conf = dir.join("tern.toml");
    std::fs::write(
        &conf,
        format!(
            "[server]\nlisten = [\"127.201.6.1:5300\"]\nudp_sockets = 1\n\
             [dnssec]\nvalidate = false\n[log]\nlevel = \"warn\"\n\
             [upstream]\ninitial_rto_ms = 200\n\
             [tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
             [resolver]\nroot_hints = \"{}\"\n{forward}",
            c.cert.display(),
            c.key.display(),
            write_hints(dir).display()
        ),
    )
    .unwrap();
    // localhost. is answered from built-in local data.
    serve(
        dir,
        &conf,
        "127.201.6.1:5300".parse().unwrap(),
        "localhost.",
    )
}

/// Root hints pointing at an address where nothing listens: everything
/// outside the forward zones fails, so answers can only come from them.
fn write_hints(dir: &Path) -> PathBuf {
    let p = dir.join("root.hints");
    std::fs::write(&p, ". 3600000 NS a.root.\na.root. 3600000 A 127.201.6.99\n").unwrap();
    p
}

#[test]
fn tern_check_and_serve_name_the_key_and_file_of_a_bad_certificate() {
    let dir = scratch("check");
    let c = certs(&dir, "127.201.8.1");
    let other = generate(&scratch("check-other"), &["x.enc.test".to_string()]).unwrap();
    let conf = dir.join("tern.toml");
    for (cert, key, want_key, want_file) in [
        (
            dir.join("absent.pem"),
            c.key.clone(),
            "tls.cert_file",
            "absent.pem",
        ),
        (
            c.cert.clone(),
            other.key.clone(),
            "tls.key_file",
            "tls-key.pem",
        ),
    ] {
        std::fs::write(
            &conf,
            format!(
                "[server]\nlisten = [\"127.201.8.1:5300\"]\n[tls]\ncert_file = \"{}\"\n\
                 key_file = \"{}\"\nlisten = [\"127.201.8.1:8853\"]\n",
                cert.display(),
                key.display()
            ),
        )
        .unwrap();
        for sub in ["check", "serve"] {
            let mut args = vec![sub.to_string()];
            if sub == "serve" {
                args.push("--config".to_string());
            }
            args.push(conf.display().to_string());
            let out = run(env!("CARGO_BIN_EXE_tern"), &args);
            let t = text(&out);
            assert!(!out.status.success(), "tern {sub} accepted it: {t}");
            assert!(
                t.contains(want_key) && t.contains(want_file),
                "tern {sub}: {t}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(scratch("check-other"));
}
