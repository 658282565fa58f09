//! `tern lab` makes a local certificate authority and a certificate for
//! its resolver, prints the CA file with its map (`tls ca: FILE`), and
//! the resolver serves DNS over TLS on port 5853 and DNS over HTTPS on
//! port 5443 of its address: kdig and `tern dig` trusting that CA get
//! the lab's answers over both. (A copy of the lab moved to 127.203.* and
//! 127.204.*, which no other test uses.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod lab_support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use lab_support::*;

const RESOLVER_IP: &str = "127.203.255.1";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_lab_resolver_serves_dot_and_doh_with_its_own_ca() {
    let dir = lab_copy_moved("tls", 203, 204);
    let lab = start_lab_map(&dir, &[]);
    let ca = lab
        .text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tls ca:"))
        .map(|v| PathBuf::from(v.trim()))
        .unwrap_or_else(|| panic!("no tls ca line:\n{}", lab.text));
    assert!(ca.starts_with(dir.join("run")), "{}", ca.display());
    assert!(
        lab.text
            .contains(&format!("https://{RESOLVER_IP}:5443/dns-query")),
        "{}",
        lab.text
    );
    wait_for(&format!("{RESOLVER_IP}:53"), "www.example.lab.");
    let ca_opt = format!("+tls-ca={}", ca.display());
    let at = format!("@{RESOLVER_IP}");
    for (mode, port) in [("+tls", "5853"), ("+https", "5443"), ("+https-get", "5443")] {
        let out = Command::new("kdig")
            .args([&at, "-p", port, mode, &ca_opt, "+tls-hostname=resolver.lab"])
            .arg("www.example.lab")
            .stdin(Stdio::null())
            .output()
            .expect("kdig is not installed (apt-get install knot-dnsutils)");
        assert!(out.status.success(), "kdig {mode}: {}", text(&out));
        assert!(
            text(&out).contains("192.0.2.20"),
            "kdig {mode}: {}",
            text(&out)
        );
        // The certificate carries the resolver's address too.
        let out = Command::new(env!("CARGO_BIN_EXE_tern"))
            .args([
                "dig",
                &at,
                "-p",
                port,
                mode,
                &ca_opt,
                "www.example.lab",
                "+short",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "192.0.2.20",
            "tern dig {mode}: {}",
            text(&out)
        );
    }
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
