//! The command line of the real binary: `tern check FILE` (and
//! `--config FILE`), `tern serve --help` showing each option's default, and
//! `tern serve --log LEVEL`. The resolver runs on 127.122.0.1 (no other
//! test uses 127.122.x.y), with root hints pointing at a dead loopback
//! address so that nothing leaves the machine.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tern() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tern"));
    c.env_remove("RUST_LOG");
    c
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tern-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_takes_a_bare_file_or_config_flag() {
    for args in [&["check"][..], &["check", "--config"][..]] {
        let out = tern()
            .args(args)
            .arg(repo("config/tern.toml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    }

    let d = temp_dir("check");
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "[cache]\nmax_tll = 5\n").unwrap();
    let out = tern().arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2: cache.max_tll:", bad.display())),
        "{err}"
    );

    // No file at all, or two: a usage error (clap's exit 2), not a panic.
    let out = tern().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("<FILE>"));
    let out = tern()
        .arg("check")
        .arg(&bad)
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn serve_help_shows_each_options_default() {
    let out = tern().args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    let help: String = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for (option, default) in [
        (
            "--config <FILE>",
            "[default: none, every key at its default]",
        ),
        ("--listen <ADDR>", "[default: server.listen, 127.0.0.1:53]"),
        (
            "--root-hints <FILE>",
            "[default: resolver.root_hints, the built-in root servers]",
        ),
        ("--log <LEVEL>", "[default: log.level, info]"),
    ] {
        let at = help
            .find(option)
            .unwrap_or_else(|| panic!("{option} not in: {help}"));
        let rest = help.get(at..).unwrap_or("");
        let next = rest
            .get(2..)
            .and_then(|r| r.find(" --"))
            .unwrap_or(rest.len());
        let section = rest.get(..next + 2).unwrap_or(rest);
        assert!(
            section.contains(default),
            "{option}: want {default} in: {section}"
        );
    }
}

/// A root hints file naming a root server nobody runs.
fn dead_hints(dir: &Path) -> PathBuf {
    let hints = dir.join("hints.zone");
    std::fs::write(
        &hints,
        ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.122.0.9\n",
    )
    .unwrap();
    hints
}

/// A port free on 127.122.0.1 for UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.122.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.122.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `localhost. A` (answered from the built-in local zone, no upstream).
fn answers(port: u16) -> bool {
    let s = UdpSocket::bind("127.122.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let query = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, b'l', b'o', b'c', b'a', b'l', b'h', b'o',
        b's', b't', 0, 0, 1, 0, 1,
    ];
    if s.send_to(&query, ("127.122.0.1", port)).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(s.recv_from(&mut buf), Ok((n, _)) if n >= 12 && buf[..2] == [0x12, 0x34])
}

/// Starts `tern serve --log LEVEL`, waits until it answers, stops it and
/// returns what it logged.
fn serve_log(level: &str) -> String {
    let d = temp_dir(&format!("log-{level}"));
    let port = free_port();
    let mut child = tern()
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.122.0.1:{port}"))
        .arg("--root-hints")
        .arg(dead_hints(&d))
        .args(["--log", level])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            match line {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        lines.join("\n")
    });
    let start = Instant::now();
    while !answers(port) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("tern serve exited: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "tern serve never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&d).unwrap();
    reader.join().unwrap()
}

#[test]
fn serve_log_sets_the_filter() {
    let info = serve_log("info");
    assert!(info.contains("listening (udp, tcp)"), "{info}");
    let warn = serve_log("warn");
    assert!(!warn.contains("listening"), "{warn}");
    assert!(!warn.contains("INFO"), "{warn}");
}

#[test]
fn serve_rejects_an_unknown_log_level_at_once() {
    let d = temp_dir("badlog");
    let out = tern()
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.122.0.1:{}", free_port()))
        .arg("--root-hints")
        .arg(dead_hints(&d))
        .args(["--log", "verbose"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad --log filter \"verbose\": unknown level \"verbose\""),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
