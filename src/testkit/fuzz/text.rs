//! Fuzz entry points for text tern reads from its operator: config files,
//! zone files and `tern dig` command lines. Each gives a value or an error
//! that says where (file and line, key, or the offending option).

use std::path::Path;

use hickory_proto::rr::Name;

/// Config text (any bytes as UTF-8) through the loader: a config, or an
/// error naming the file, a line within it and a key.
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = crate::config::load::load_str(text, "fuzz.toml") {
        let shown = e.to_string();
        assert!(
            shown.starts_with("fuzz.toml:"),
            "error without file: {shown}"
        );
        let lines = text.lines().count() + 1;
        if let Some(line) = e.line() {
            assert!(
                (1..=lines).contains(&line),
                "line {line} of {lines}: {shown}"
            );
        }
        assert!(e.key().is_some_and(|k| !k.is_empty()), "no key: {shown}");
    }
}

/// Zone-file text (any bytes as UTF-8; `$INCLUDE` refused) through the
/// reader and the zone checks: a zone, or an error naming the file and a
/// line of it.
pub fn zone_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.zone");
    let origin = Name::from_ascii("example.test.").ok();
    let lines = text.lines().count() + 1;
    let checked = crate::zone::file::read_zone_text(text, path, origin.clone())
        .and_then(|records| crate::zone::Zone::from_records(path, origin, records));
    match checked {
        Ok(zone) => {
            let apex = zone.origin().clone();
            assert!(zone.all_records().iter().all(|r| apex.zone_of(&r.name)));
        }
        Err(e) => {
            assert_eq!(e.file, path, "error names another file");
            assert!(e.line <= lines, "line {} of {lines}: {e}", e.line);
        }
    }
}

/// A `tern dig` command line (the bytes split at NUL and whitespace into
/// arguments) through the argument parser: lookups, or dig's error text
/// and a non-zero exit status.
pub fn dig_args(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = text
        .split(|c: char| c == '\0' || c.is_whitespace())
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    match crate::dig::args::parse(&args) {
        Ok(crate::dig::args::Parsed::Run(inv)) => {
            assert!(!inv.lookups.is_empty() || inv.batch_file.is_some());
        }
        Ok(_) => {}
        Err(e) => {
            assert_ne!(e.exit, 0, "an error with exit status 0");
            assert!(!e.stderr.is_empty() || e.stdout.is_some(), "a silent error");
        }
    }
}
