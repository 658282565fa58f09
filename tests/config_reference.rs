//! The configuration reference is complete: the keys the code accepts
//! (read off the deserialisation structs by `tern::config::keys`), the keys
//! docs/configuration.md documents and the keys config/tern.toml shows are
//! the same set, with the same types, and the reference's defaults are the
//! values in config/tern.toml.

#![allow(clippy::panic, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The backticked text in `s`, e.g. "`[server]`" -> "[server]".
fn backticked(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s.get(start..)?.find('`')?;
    s.get(start..start + len)
}

/// A documented entry: key path -> (type, default) as written.
type Documented = BTreeMap<String, (String, String)>;

/// The reference's keys: each `##`/`###` heading names a table (`[server]`,
/// `[[resolver.stub_zone]]`, `server.access_control` entries) and each
/// table row under it a key of that table.
fn documented_keys(md: &str) -> Documented {
    let mut keys = Documented::new();
    let mut table: Option<String> = None;
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if line.starts_with("## ") || line.starts_with("### ") {
            table = backticked(line).map(|t| t.trim_matches(|c| c == '[' || c == ']').to_string());
            if let Some(t) = &table {
                keys.entry(t.clone())
                    .or_insert_with(|| (String::new(), String::new()));
            }
            continue;
        }
        let Some(table) = &table else { continue };
        if !line.starts_with("| `") {
            continue;
        }
        // `\|` is a pipe inside a cell.
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(key), Some(kind), Some(default)) = (cells.get(1), cells.get(2), cells.get(3))
        else {
            panic!("docs/configuration.md: short table row: {line}");
        };
        let key = backticked(key).unwrap_or(key);
        let path = format!("{table}.{key}");
        assert!(
            keys.insert(path.clone(), (kind.to_string(), default.to_string()))
                .is_none()
                || keys.get(&path).is_some_and(|(k, _)| k.is_empty()),
            "docs/configuration.md: {path} documented twice"
        );
    }
    keys
}

/// Every key path in a TOML value (tables, and tables inside arrays).
fn walk(prefix: &str, value: &toml::Value, out: &mut BTreeSet<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                walk(&path, v, out);
            }
        }
        toml::Value::Array(items) => {
            for v in items {
                walk(prefix, v, out);
            }
        }
        _ => {}
    }
}

/// The inline tables `{ ... }` written in a comment line, parsed.
fn inline_tables(comment: &str) -> Vec<toml::Value> {
    let mut found = Vec::new();
    let mut rest = comment;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest.get(open..).and_then(|r| r.find('}')) else {
            break;
        };
        let text = rest.get(open..open + close + 1).unwrap_or("");
        if let Ok(toml::Value::Table(mut t)) = toml::from_str::<toml::Value>(&format!("x = {text}"))
        {
            if let Some(v) = t.remove("x") {
                found.push(v);
            }
        }
        rest = rest.get(open + close + 1..).unwrap_or("");
    }
    found
}

/// The keys config/tern.toml shows: those set, plus those in its commented
/// examples: `# [[resolver.stub_zone]]` (or `# [cache.shared]`) followed by
/// `# key = value` lines,
/// and inline tables (`{ net = ..., text = ... }`) in the comment above a
/// key, which show that key's entries.
fn shipped_keys(text: &str) -> (BTreeSet<String>, toml::Value) {
    let parsed: toml::Value =
        toml::from_str(text).unwrap_or_else(|e| panic!("config/tern.toml: {e}"));
    let mut keys = BTreeSet::new();
    walk("", &parsed, &mut keys);

    let mut table = String::new();
    let mut block: Option<String> = None;
    let mut pending: Vec<toml::Value> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.trim();
            let header = comment.starts_with('[')
                && comment.ends_with(']')
                && comment
                    .trim_matches(|c| c == '[' || c == ']')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if header {
                let path = comment.trim_matches(|c| c == '[' || c == ']').to_string();
                keys.insert(path.clone());
                block = Some(path);
                continue;
            }
            if let Some(path) = &block {
                let assignment = comment.split_once('=').is_some_and(|(k, _)| {
                    !k.trim().is_empty()
                        && k.trim()
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                if assignment {
                    if let Ok(v) = toml::from_str::<toml::Value>(comment) {
                        walk(path, &v, &mut keys);
                    }
                    continue;
                }
            }
            pending.extend(inline_tables(comment));
            continue;
        }
        block = None;
        if trimmed.starts_with('[') {
            table = trimmed.trim_matches(|c| c == '[' || c == ']').to_string();
            pending.clear();
            continue;
        }
        if let Some((key, _)) = trimmed.split_once('=') {
            let path = format!("{table}.{}", key.trim());
            for v in pending.drain(..) {
                walk(&path, &v, &mut keys);
            }
        }
    }
    (keys, parsed)
}

fn differences(what: &str, a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).map(|k| format!("{k}: {what}")).collect()
}

#[test]
fn code_keys_equal_documented_keys_equal_shipped_keys() {
    let code: BTreeMap<String, String> = tern::config::keys::all()
        .into_iter()
        .map(|k| (k.path, k.kind))
        .collect();
    assert!(code.len() > 100, "the probe found only {} keys", code.len());
    let documented = documented_keys(&read("docs/configuration.md"));
    let (shipped, _) = shipped_keys(&read("config/tern.toml"));

    let code_set: BTreeSet<String> = code.keys().cloned().collect();
    let doc_set: BTreeSet<String> = documented.keys().cloned().collect();
    let mut problems = Vec::new();
    problems.extend(differences(
        "in the code, missing from docs/configuration.md",
        &code_set,
        &doc_set,
    ));
    problems.extend(differences(
        "in docs/configuration.md, not a key the code reads",
        &doc_set,
        &code_set,
    ));
    problems.extend(differences(
        "in the code, missing from config/tern.toml",
        &code_set,
        &shipped,
    ));
    problems.extend(differences(
        "in config/tern.toml, not a key the code reads",
        &shipped,
        &code_set,
    ));
    for (path, (kind, _)) in &documented {
        if kind.is_empty() {
            continue;
        }
        if let Some(code_kind) = code.get(path) {
            if kind != code_kind {
                problems.push(format!(
                    "{path}: docs/configuration.md says {kind}, the code reads {code_kind}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// How a default is written in the reference: `true`, `1232`, `"info"`, `[]`.
fn written(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::Array(a) if a.is_empty() => Some("`[]`".to_string()),
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| v.to_string()).collect();
            Some(format!("`[{}]`", items.join(", ")))
        }
        toml::Value::Table(_) => None,
        v => Some(format!("`{v}`")),
    }
}

#[test]
fn documented_defaults_are_the_shipped_values() {
    let documented = documented_keys(&read("docs/configuration.md"));
    let (_, parsed) = shipped_keys(&read("config/tern.toml"));
    let mut problems = Vec::new();
    let mut checked = 0;
    let Some(tables) = parsed.as_table() else {
        panic!("config/tern.toml is not a table")
    };
    for (table, keys) in tables {
        let Some(keys) = keys.as_table() else {
            continue;
        };
        for (key, value) in keys {
            let path = format!("{table}.{key}");
            let Some((_, default)) = documented.get(&path) else {
                continue; // reported by the other test
            };
            let Some(want) = written(value) else { continue };
            // A long default (the access-control list) is described in words.
            if matches!(value, toml::Value::Array(a) if a.iter().any(toml::Value::is_table)) {
                continue;
            }
            checked += 1;
            if *default != want {
                problems.push(format!(
                    "{path}: docs/configuration.md says {default}, config/tern.toml has {want}"
                ));
            }
        }
    }
    assert!(checked > 90, "only {checked} defaults compared");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The shipped file is the defaults: loading it gives what no file gives.
#[test]
fn shipped_file_loads() {
    tern::config::load_file(&repo("config/tern.toml")).unwrap_or_else(|e| panic!("{e}"));
}

/// The checks can fail: a key only in the code, or only in the reference,
/// is noticed.
#[test]
fn a_missing_or_extra_key_is_noticed() {
    let md = read("docs/configuration.md");
    let without: String = md
        .lines()
        .filter(|l| !l.starts_with("| `udp_sockets`"))
        .map(|l| format!("{l}\n"))
        .collect();
    let documented = documented_keys(&without);
    assert!(!documented.contains_key("server.udp_sockets"));
    assert!(documented.contains_key("server.listen"));
    assert!(documented.contains_key("resolver.stub_zone.prime"));
    assert!(documented.contains_key("server.access_control.tags"));

    let toml = read("config/tern.toml").replace("udp_sockets = 0\n", "");
    let (shipped, _) = shipped_keys(&toml);
    assert!(!shipped.contains("server.udp_sockets"));
    assert!(shipped.contains("resolver.local_zone.overrides.type"));
    assert!(shipped.contains("server.access_control.tags"));
    assert!(shipped.contains("rpz.signal_nxdomain_ra"));
}
