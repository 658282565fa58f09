//! Every relative link in README.md and docs/*.md resolves: the file (or
//! directory) exists, and a `#anchor` names a heading of the page it points
//! to (GitHub's heading ids: lower case, punctuation dropped, spaces as
//! hyphens, `-1`, `-2` for repeats).

#![allow(clippy::panic, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pages checked: README.md and every docs/*.md.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo().join("README.md")];
    let docs = std::fs::read_dir(repo().join("docs")).unwrap_or_else(|e| panic!("docs/: {e}"));
    for entry in docs.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// Markdown text outside fenced code blocks and inline code spans.
fn prose(md: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if fenced {
            out.push('\n');
            continue;
        }
        let mut code = false;
        for c in line.chars() {
            if c == '`' {
                code = !code;
                continue;
            }
            if !code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of inline links `[text](target)`, with their line numbers.
fn links(md: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in prose(md).lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = rest.get(i + 2..).unwrap_or("");
            let Some(end) = after.find(')') else { break };
            let target = after.get(..end).unwrap_or("").trim();
            // `[text](url "title")`: the URL is the first word.
            let target = target.split_whitespace().next().unwrap_or("");
            found.push((n + 1, target.to_string()));
            rest = after.get(end..).unwrap_or("");
        }
    }
    found
}

/// GitHub's id for a heading's text.
fn slug(heading: &str) -> String {
    // A link in a heading counts by its text.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(i) = rest.find('[') {
        text.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        match (after.find("]("), after.find(')')) {
            (Some(close), Some(end)) if close < end => {
                text.push_str(after.get(..close).unwrap_or(""));
                rest = after.get(end + 1..).unwrap_or("");
            }
            _ => {
                text.push('[');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The ids of a page's headings.
fn anchors(md: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#');
        if !text.starts_with(' ') {
            continue;
        }
        let base = slug(text);
        let mut id = base.clone();
        let mut n = 0;
        while ids.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        ids.insert(id);
    }
    ids
}

/// The broken links of `page` (text `md`), as messages.
fn broken(page: &Path, md: &str) -> Vec<String> {
    let dir = page.parent().unwrap_or(Path::new("."));
    let name = page
        .strip_prefix(repo())
        .unwrap_or(page)
        .display()
        .to_string();
    let mut problems = Vec::new();
    for (line, target) in links(md) {
        if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (target.as_str(), None),
        };
        let path = if file.is_empty() {
            page.to_path_buf()
        } else {
            dir.join(file)
        };
        if !file.is_empty() && !path.exists() {
            problems.push(format!("{name}:{line}: {target}: no such file"));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = if file.is_empty() {
            md.to_string()
        } else {
            std::fs::read_to_string(&path).unwrap_or_default()
        };
        if !anchors(&text).contains(anchor) {
            problems.push(format!("{name}:{line}: {target}: no heading #{anchor}"));
        }
    }
    problems
}

#[test]
fn every_relative_link_resolves() {
    let pages = pages();
    assert!(pages.len() >= 10, "only {} pages found", pages.len());
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let md =
            std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        checked += links(&md).len();
        problems.extend(broken(page, &md));
    }
    assert!(checked > 50, "only {checked} links found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_notices_a_bad_file_or_anchor() {
    let page = repo().join("docs").join("example.md");
    let md = "# Top\n\n## Access control: `allow_cookie`\n\nSee [a](resolver.md), [b](nope.md),\n[c](#access-control-allow_cookie), [d](#nowhere), [e](configuration.md#server),\n[f](configuration.md#no-such-table), `[g](nope.md)` and [h](https://example.com/x).\n\n```\n[i](nope.md)\n```\n";
    let problems = broken(&page, md);
    assert_eq!(
        problems,
        [
            "docs/example.md:5: nope.md: no such file",
            "docs/example.md:6: #nowhere: no heading #nowhere",
            "docs/example.md:7: configuration.md#no-such-table: no heading #no-such-table",
        ]
    );
    assert_eq!(
        slug(" DNSSEC in the lab: `tern lab --dnssec`"),
        "dnssec-in-the-lab-tern-lab---dnssec"
    );
    assert_eq!(slug(" `[[resolver.stub_zone]]`"), "resolverstub_zone");
}
