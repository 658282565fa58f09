//! Size limits for the engine and the upstream layer (STYLE.md §8, issue
//! 21): no file over 600 lines, no function over 80 lines, and no
//! `too_many_arguments` allowance (a long argument list becomes a struct).
//! Functions are found by a small lexer that skips comments, strings and
//! character literals, so braces inside them are not counted.

// A test-only scanner: indexing stays inside checked bounds, and a
// directory that cannot be read fails the test.
#![allow(clippy::indexing_slicing, clippy::panic, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;
const ROOTS: &[&str] = &["src/engine", "src/upstream"];

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
}

/// Significant tokens with their 1-based line numbers.
fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Moves past `n` characters, counting newlines.
    let skip = |i: &mut usize, line: &mut usize, n: usize| {
        for _ in 0..n {
            if c.get(*i) == Some(&'\n') {
                *line += 1;
            }
            *i += 1;
        }
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    skip(&mut i, &mut line, 2);
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    skip(&mut i, &mut line, 2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    skip(&mut i, &mut line, 1);
                }
            }
        } else if ch == '"' {
            skip(&mut i, &mut line, 1);
            while i < c.len() && c[i] != '"' {
                let n = if c[i] == '\\' { 2 } else { 1 };
                skip(&mut i, &mut line, n);
            }
            skip(&mut i, &mut line, 1);
        } else if ch == '\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime.
            if next == Some('\\') {
                skip(&mut i, &mut line, 2);
                while i < c.len() && c[i] != '\'' {
                    skip(&mut i, &mut line, 1);
                }
                skip(&mut i, &mut line, 1);
            } else if c.get(i + 2) == Some(&'\'') {
                skip(&mut i, &mut line, 3);
            } else {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw = (word == "r" || word == "br") && matches!(c.get(i), Some('"') | Some('#'));
            if raw {
                let mut hashes = 0;
                while c.get(i) == Some(&'#') {
                    hashes += 1;
                    i += 1;
                }
                skip(&mut i, &mut line, 1);
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                        i += 1 + hashes;
                        break;
                    }
                    skip(&mut i, &mut line, 1);
                }
            } else if word == "b" && matches!(c.get(i), Some('"') | Some('\'')) {
                // A byte string or byte literal: lexed as a plain one next.
            } else {
                out.push((Tok::Ident(word), line));
            }
        } else if ch.is_numeric() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else {
            if ch == '\n' {
                line += 1;
            } else if !ch.is_whitespace() {
                out.push((Tok::Punct(ch), line));
            }
            i += 1;
        }
    }
    out
}

/// (name, first line, length in lines) of every `fn` with a body.
fn functions(src: &str) -> Vec<(String, usize, usize)> {
    let toks = tokens(src);
    let mut out = Vec::new();
    for (k, (tok, line)) in toks.iter().enumerate() {
        if *tok != Tok::Ident("fn".into()) {
            continue;
        }
        // `fn(u8) -> u8` is a pointer type, not an item.
        let Some((Tok::Ident(name), _)) = toks.get(k + 1) else {
            continue;
        };
        // The body opens at the first `{` outside parentheses and
        // brackets; a `;` there first means a declaration without one.
        let mut nest = 0i32;
        let mut open = None;
        for (j, (t, _)) in toks.iter().enumerate().skip(k + 2) {
            match t {
                Tok::Punct('(') | Tok::Punct('[') => nest += 1,
                Tok::Punct(')') | Tok::Punct(']') => nest -= 1,
                Tok::Punct('{') if nest == 0 => {
                    open = Some(j);
                    break;
                }
                Tok::Punct(';') if nest == 0 => break,
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        let mut depth = 0i32;
        for (t, end) in &toks[open..] {
            match t {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth -= 1;
                    if depth == 0 {
                        out.push((name.clone(), *line, end - line + 1));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn engine_and_upstream_stay_within_size_limits() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() > 10, "too few files found: {files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let shown = path.strip_prefix(root).unwrap().display();
        let lines = src.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!("{shown}: {lines} lines (limit {MAX_FILE_LINES})"));
        }
        for (name, line, len) in functions(&src) {
            if len > MAX_FN_LINES {
                problems.push(format!(
                    "{shown}:{line}: fn {name} is {len} lines (limit {MAX_FN_LINES})"
                ));
            }
        }
        for (n, text) in src.lines().enumerate() {
            if text.contains("clippy::too_many_arguments") {
                problems.push(format!("{shown}:{}: allows too_many_arguments", n + 1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_measures_functions_as_written() {
    let src = r##"
fn short() { let s = "}}}"; let c = '}'; }
/// fn fake() {
fn with_lifetime<'a>(x: &'a [u8; 4]) -> &'a u8 {
    // } a comment brace
    let r = r#"{"#;
    let b = b'{';
    /* { nested /* } */ */
    &x[0]
}
trait T { fn declared(&self); }
type F = fn(u8) -> u8;
"##;
    let found = functions(src);
    assert_eq!(
        found,
        vec![
            ("short".to_string(), 2, 1),
            ("with_lifetime".to_string(), 4, 7),
        ]
    );
}
