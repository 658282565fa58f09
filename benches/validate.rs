//! Benchmark of DNSSEC validation's cost, on the signed scripted network
//! (`testkit::signed`), so only tern's own work is measured:
//!
//! - the cache-hit path: `Resolver::resolve` of answers already validated
//!   and cached (secure A, AAAA, MX and a secure NXDOMAIN), with
//!   validation on and off, for DO=1 clients (who get the RRSIGs too) and
//!   DO=0 ones (the status lookup alone); the count of signature
//!   verifications must not grow on hits (the status is cached with the
//!   answer);
//! - a cold resolution of a signed name: a fresh resolver (empty cache)
//!   each iteration resolving `www.example.test` A, chain of trust
//!   included, with validation on and off.
//!
//! `cargo bench --bench validate` prints ns/op and the verification
//! counts; it asserts nothing about time. `TERN_BENCH_QUERIES` sets the
//! hit-path iterations, `TERN_BENCH_COLD` the cold ones.

use std::time::Instant;

use hickory_proto::rr::{Name, RecordType};
use tern::config::Config;
use tern::engine::Request;
use tern::testkit::signed::{SignedNet, SECURE_NAME};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request(name: &str, qtype: RecordType, dnssec_ok: bool) -> Option<Request> {
    Some(Request {
        dnssec_ok,
        ..Request::new(Name::from_ascii(name).ok()?, qtype)
    })
}

fn main() {
    let hits = env("TERN_BENCH_QUERIES", 200_000);
    let colds = env("TERN_BENCH_COLD", 300);
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    let signed = match SignedNet::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("signed network: {e}");
            return;
        }
    };
    let modes = [
        ("validating", signed.config()),
        ("validation off", Config::without_validation()),
    ];
    for (label, config, dnssec_ok) in [
        (modes[0].0, &modes[0].1, true),
        (modes[1].0, &modes[1].1, true),
        (modes[0].0, &modes[0].1, false),
        (modes[1].0, &modes[1].1, false),
    ] {
        let questions: Vec<Request> = [
            (SECURE_NAME, RecordType::A),
            (SECURE_NAME, RecordType::AAAA),
            ("example.test.", RecordType::MX),
            ("nope.example.test.", RecordType::A),
        ]
        .iter()
        .filter_map(|(n, t)| request(n, *t, dnssec_ok))
        .collect();
        let label = format!("{label}, DO={}", u8::from(dnssec_ok));
        let r = signed.resolver(config.clone());
        for q in &questions {
            rt.block_on(r.resolve(q));
        }
        let work = r.dnssec_work();
        let sent = signed.net.sent().len();
        let start = Instant::now();
        let mut secure = 0usize;
        for i in 0..hits {
            let Some(q) = questions.get(i % questions.len()) else {
                break;
            };
            let res = rt.block_on(r.resolve(q));
            secure += usize::from(res.security == tern::dnssec::Security::Secure);
        }
        let elapsed = start.elapsed();
        let after = r.dnssec_work();
        println!(
            "validate hit ({label}): {hits} resolves in {:.3} s: {:.0} ns/op, {secure} secure, \
             verifications {} after warm-up (+{} on hits), validations +{}, {} upstream queries",
            elapsed.as_secs_f64(),
            elapsed.as_nanos() as f64 / hits as f64,
            work.verifications,
            after.verifications - work.verifications,
            after.validations - work.validations,
            signed.net.sent().len() - sent,
        );
    }

    let Some(cold_q) = request(SECURE_NAME, RecordType::A, true) else {
        return;
    };
    for (label, config) in &modes {
        signed.net.clear_log();
        let mut verifications = 0u64;
        let mut secure = 0usize;
        let start = Instant::now();
        for _ in 0..colds {
            let r = signed.resolver(config.clone());
            let res = rt.block_on(r.resolve(&cold_q));
            secure += usize::from(res.security == tern::dnssec::Security::Secure);
            verifications += r.dnssec_work().verifications;
        }
        let elapsed = start.elapsed();
        println!(
            "validate cold ({label}): {colds} fresh resolutions of {SECURE_NAME} A in {:.3} s: \
             {:.0} ns/op, {secure} secure, {:.1} verifications and {:.1} upstream queries each",
            elapsed.as_secs_f64(),
            elapsed.as_nanos() as f64 / colds as f64,
            verifications as f64 / colds as f64,
            signed.net.sent().len() as f64 / colds as f64,
        );
    }
}
