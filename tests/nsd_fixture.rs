//! The NSD fixture itself: a two-level tree (root with a glued delegation
//! to `example.`) started on 127.77.0.x:53 answers raw UDP queries as
//! the zone data says, counts queries, and writes usable root hints.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::nsd::{udp_query, NsdServer, NsdTree};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

const ROOT: &str = "\
$TTL 86400
.            IN SOA a.root-servers.net. hostmaster.root. 1 3600 600 86400 300
.            IN NS  a.root-servers.net.
a.root-servers.net. IN A 127.77.0.1
example.     IN NS  ns1.example.
ns1.example. IN A   127.77.0.2
";

const EXAMPLE: &str = "\
$TTL 3600
example.     IN SOA ns1.example. hostmaster.example. 1 3600 600 86400 300
example.     IN NS  ns1.example.
ns1.example. IN A   127.77.0.2
www.example. IN A   192.0.2.80
";

#[test]
fn two_level_tree_answers() {
    let tree = NsdTree::start(&[
        NsdServer::new("a.root-servers.net.", &["127.77.0.1"], &[(".", ROOT)]),
        NsdServer::new("ns1.example.", &["127.77.0.2"], &[("example.", EXAMPLE)]),
    ]);
    let root: SocketAddr = "127.77.0.1:53".parse().unwrap();
    let leaf: SocketAddr = "127.77.0.2:53".parse().unwrap();
    let wait = Duration::from_secs(2);

    // The root refers www.example. to ns1.example. with glue.
    let r = udp_query(root, "www.example.", RecordType::A, wait).unwrap();
    assert!(!r.metadata.authoritative);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::NS);
    assert!(r
        .additionals
        .iter()
        .any(|a| a.data == RData::A("127.77.0.2".parse().unwrap())));

    // The leaf answers authoritatively.
    let r = udp_query(leaf, "www.example.", RecordType::A, wait).unwrap();
    assert!(r.metadata.authoritative);
    assert_eq!(r.answers[0].data, RData::A("192.0.2.80".parse().unwrap()));
    let r = udp_query(leaf, "nope.example.", RecordType::A, wait).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);

    // Query counters move with our queries.
    let before = tree.queries(leaf.ip());
    for _ in 0..3 {
        udp_query(leaf, "www.example.", RecordType::A, wait).unwrap();
    }
    assert_eq!(tree.queries(leaf.ip()), before + 3);

    let hints = std::fs::read_to_string(tree.root_hints()).unwrap();
    assert!(hints.contains("a.root-servers.net."), "{hints}");
    assert!(hints.contains("127.77.0.1"), "{hints}");

    let dir = tree.dir().to_path_buf();
    drop(tree);
    assert!(!dir.exists());
    assert!(udp_query(
        leaf,
        "www.example.",
        RecordType::A,
        Duration::from_millis(300)
    )
    .is_none());
}
