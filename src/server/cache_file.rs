//! The cache as text, for `tern ctl dump-cache` / `load-cache` and
//! `cache.save_file`: live RRsets and their RRSIGs, one record a line in
//! zone-file syntax with the TTL left, after a word saying what it is and
//! its trust rank:
//!
//! ```text
//! ; tern cache, written at 1796600000 (unix seconds)
//! rrset answer-auth www.example. 3540 IN A 192.0.2.10
//! sigs answer-auth www.example. 3540 IN RRSIG A 13 2 3600 ...
//! ```
//!
//! Loading lowers every TTL by the time since writing and drops what has
//! expired; the records of one RRset are on consecutive lines. A line that
//! does not parse stops the load with its line number, before anything is
//! stored.

use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::txt::Parser;

use crate::cache::admin::Listed;
use crate::cache::{Cache, Cached, Key, Rank};
use crate::clock::Mono;

const HEADER: &str = "; tern cache, written at ";

/// Largest dump read back (a bound on memory; the cache itself is bounded
/// by `cache.max_bytes`).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Why a dump could not be loaded: the line and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct LoadError {
    pub line: usize,
    pub why: String,
}

fn rank_word(rank: Rank) -> &'static str {
    match rank {
        Rank::Additional => "additional",
        Rank::AuthorityNonAuth => "authority",
        Rank::AnswerNonAuth => "answer",
        Rank::AuthorityAuth => "authority-auth",
        Rank::AnswerAuth => "answer-auth",
    }
}

fn parse_rank(word: &str) -> Option<Rank> {
    [
        Rank::Additional,
        Rank::AuthorityNonAuth,
        Rank::AnswerNonAuth,
        Rank::AuthorityAuth,
        Rank::AnswerAuth,
    ]
    .into_iter()
    .find(|r| rank_word(*r) == word)
}

/// The dump of what `cache` holds at `now` (`unix_now` is written in it).
pub fn dump(cache: &Cache, now: Mono, unix_now: u64) -> String {
    let mut entries = cache.live_rrsets(now);
    entries.sort_by_cached_key(|e| format!("{:?}", e.key));
    let mut out = format!("{HEADER}{unix_now} (unix seconds)\n");
    for Listed {
        key,
        value,
        rank,
        ttl_left,
    } in entries
    {
        let kind = match key {
            Key::RRset(..) => "rrset",
            Key::Sigs(..) => "sigs",
            _ => continue,
        };
        let Cached::RRset(records) = value else {
            continue;
        };
        let ttl = u32::try_from(ttl_left).unwrap_or(0);
        for mut r in records {
            r.ttl = ttl;
            out.push_str(&format!("{kind} {} {r}\n", rank_word(rank)));
        }
    }
    out
}

/// One entry read back: its key, records, rank and the TTL from the file.
struct Loaded {
    key: Key,
    records: Vec<Record>,
    rank: Rank,
    ttl: u32,
}

/// Stores the entries of a dump (`text`) in `cache`, TTLs lowered by the
/// time since it was written; returns how many RRsets were stored.
pub fn load(cache: &Cache, text: &str, now: Mono, unix_now: u64) -> Result<usize, LoadError> {
    let mut written = None;
    let mut entries: Vec<Loaded> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |why: String| LoadError { line: i + 1, why };
        let line = line.trim();
        if let Some(rest) = line.strip_prefix(HEADER) {
            let secs = rest.split_whitespace().next().unwrap_or("");
            written = Some(
                secs.parse::<u64>()
                    .map_err(|_| err(format!("bad time {secs:?}")))?,
            );
            continue;
        }
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let mut words = line.splitn(3, ' ');
        let (Some(kind), Some(rank), Some(record)) = (words.next(), words.next(), words.next())
        else {
            return Err(err("expected: rrset|sigs RANK RECORD".to_string()));
        };
        let rank = parse_rank(rank).ok_or_else(|| err(format!("unknown rank {rank:?}")))?;
        let record = parse_one(record).map_err(err)?;
        let key = match kind {
            "rrset" => Key::RRset(record.name.clone(), record.record_type(), DNSClass::IN),
            "sigs" => Key::Sigs(
                record.name.clone(),
                covered(&record).map_err(err)?,
                DNSClass::IN,
            ),
            other => return Err(err(format!("unknown entry kind {other:?}"))),
        };
        match entries.last_mut() {
            Some(last) if last.key == key && last.rank == rank => {
                last.ttl = last.ttl.min(record.ttl);
                last.records.push(record);
            }
            _ => entries.push(Loaded {
                key,
                ttl: record.ttl,
                records: vec![record],
                rank,
            }),
        }
    }
    let Some(written) = written else {
        return Err(LoadError {
            line: 1,
            why: format!("not a tern cache dump (no {HEADER:?} line)"),
        });
    };
    let elapsed = u32::try_from(unix_now.saturating_sub(written)).unwrap_or(u32::MAX);
    let mut stored = 0;
    for e in entries {
        let ttl = e.ttl.saturating_sub(elapsed);
        if ttl == 0 {
            continue;
        }
        let records = e
            .records
            .into_iter()
            .map(|mut r| {
                r.ttl = ttl;
                r
            })
            .collect();
        if cache.insert(e.key, Cached::RRset(records), ttl, e.rank, now) {
            stored += 1;
        }
    }
    Ok(stored)
}

/// One record in zone-file syntax, RRSIGs included.
fn parse_one(text: &str) -> Result<Record, String> {
    let parser = Parser::new(format!("{text}\n"), None, Some(Name::root()));
    let (_, sets) = parser.parse().map_err(|e| e.to_string())?;
    let mut records = sets
        .into_values()
        .flat_map(|set| set.records_with_rrsigs().cloned().collect::<Vec<_>>());
    match (records.next(), records.next()) {
        (Some(r), None) => Ok(r),
        _ => Err("expected one record".to_string()),
    }
}

/// The type an RRSIG covers.
fn covered(record: &Record) -> Result<RecordType, String> {
    use hickory_proto::dnssec::rdata::DNSSECRData;
    match &record.data {
        hickory_proto::rr::RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Ok(sig.input().type_covered),
        _ => Err("a sigs line holds an RRSIG".to_string()),
    }
}

/// Seconds since the Unix epoch, the time dumps are stamped with.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Writes the dump of `cache` to `path` (mode 0600, through a temporary
/// file renamed into place); returns the number of records written.
pub fn save(cache: &Cache, now: Mono, path: &std::path::Path) -> std::io::Result<usize> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = dump(cache, now, unix_now());
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(text.lines().count().saturating_sub(1))
}

/// Reads a dump from `path` into `cache`: the RRsets stored, or why not
/// (naming the file and line).
pub fn restore(cache: &Cache, now: Mono, path: &std::path::Path) -> Result<usize, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{shown}: larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    load(cache, &text, now, unix_now()).map_err(|e| format!("{shown}: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::RData;

    use super::*;
    use crate::config::CacheConfig;

    fn a(name: &str, ttl: u32, last: u8) -> Record {
        let name = Name::from_ascii(name).unwrap();
        Record::from_rdata(name, ttl, RData::A(A::new(192, 0, 2, last)))
    }

    fn key(name: &str) -> Key {
        Key::RRset(Name::from_ascii(name).unwrap(), RecordType::A, DNSClass::IN)
    }

    #[test]
    fn round_trip_lowers_ttls_and_drops_expired() {
        let now = Duration::from_secs(50);
        let old = Cache::new(CacheConfig::default());
        old.insert_rrset(
            vec![a("www.example.", 300, 1), a("www.example.", 300, 2)],
            Rank::AnswerAuth,
            Duration::ZERO,
        );
        old.insert_rrset(
            vec![a("ns.example.", 100, 3)],
            Rank::Additional,
            Duration::ZERO,
        );
        let text = dump(&old, now, 1_000);
        assert_eq!(text.lines().count(), 4, "{text}");

        // Written 30 s later than dumped: 250 - 30 and 50 - 30 left.
        let new = Cache::new(CacheConfig::default());
        assert_eq!(load(&new, &text, Duration::ZERO, 1_030).unwrap(), 2);
        match new.get_ranked(&key("www.example."), Duration::ZERO) {
            Some((Cached::RRset(rs), Rank::AnswerAuth)) => {
                assert_eq!(rs.len(), 2);
                assert!(rs.iter().all(|r| r.ttl == 220), "{rs:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            new.remaining(&key("ns.example."), Duration::ZERO),
            Some(Duration::from_secs(20))
        );

        // Written 60 s later: the glue has expired and is left out.
        let later = Cache::new(CacheConfig::default());
        assert_eq!(load(&later, &text, Duration::ZERO, 1_060).unwrap(), 1);
        assert!(later.get(&key("ns.example."), Duration::ZERO).is_none());
    }

    #[test]
    fn bad_lines_are_named() {
        let c = Cache::new(CacheConfig::default());
        for (text, line) in [
            ("rrset answer-auth www.example. 60 IN A 192.0.2.1\n", 1),
            (
                "; tern cache, written at 5\nrrset best www.example. 60 IN A 192.0.2.1\n",
                2,
            ),
            (
                "; tern cache, written at 5\n\nrrset answer www.example. 60 IN A\n",
                3,
            ),
            (
                "; tern cache, written at 5\nsigs answer www.example. 60 IN A 192.0.2.1\n",
                2,
            ),
        ] {
            let e = load(&c, text, Duration::ZERO, 10).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
        }
        assert!(c.is_empty());
    }
}
