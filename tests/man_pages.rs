//! `tern generate DIR` writes man pages that `man -l` renders without a
//! warning (tern(1), one page per subcommand, tern.toml(5) listing every
//! configuration key) and shell completions that bash loads. Needs man-db
//! (`.ci/run` installs it): a missing `man` fails the test, it does not
//! skip it.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn generate(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tern-man-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("generate")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "tern generate: {out:?}");
    dir
}

/// The page as `man -l` shows it, with groff's warnings on; fails on any
/// warning or error.
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("man: {e} (install man-db: apt-get install man-db)"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man -l {}: {err}", page.display());
    assert!(err.trim().is_empty(), "man -l {}: {err}", page.display());
    assert!(text.lines().count() > 10, "{}: {text}", page.display());
    text
}

/// Text with man's line breaks and hyphenation joined back up.
fn flat(text: &str) -> String {
    text.replace("-\n", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_man_page_renders() {
    let dir = generate("pages");
    let man = dir.join("man");
    let mut pages: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    pages.sort();
    for want in [
        "tern.1",
        "tern-serve.1",
        "tern-check.1",
        "tern-dig.1",
        "tern-auth.1",
        "tern-lab.1",
        "tern-ctl.1",
        "tern.toml.5",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} not in {pages:?}");
    }
    assert!(
        !pages.iter().any(|p| p.contains("generate")),
        "the hidden subcommand has no page: {pages:?}"
    );
    for page in &pages {
        let text = render(&man.join(page));
        assert!(text.contains("NAME"), "{page}: {text}");
    }

    let tern = flat(&render(&man.join("tern.1")));
    for sub in ["serve", "check", "dig", "auth", "lab", "ctl"] {
        assert!(
            tern.contains(&format!("tern-{sub}(1)")),
            "tern.1 lacks {sub}: {tern}"
        );
    }
    let serve = flat(&render(&man.join("tern-serve.1")));
    assert!(serve.contains("--log"), "{serve}");
    assert!(serve.contains("[default: log.level, info]"), "{serve}");
    let dig = flat(&render(&man.join("tern-dig.1")));
    assert!(dig.contains("+[no]trace"), "{dig}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// tern.toml(5) is made from the configuration reference, so it names
/// every key the code reads.
#[test]
fn tern_toml_page_lists_every_key() {
    let dir = generate("toml");
    let text = flat(&render(&dir.join("man").join("tern.toml.5")));
    let mut missing = Vec::new();
    for key in tern::config::keys::all() {
        let leaf = key.path.rsplit('.').next().unwrap_or(&key.path);
        // Tables are section titles ([SERVER], [[RPZ]]); keys are tagged
        // paragraphs.
        let shown = if !key.path.contains('.') {
            text.contains(&format!("[{}]", leaf.to_uppercase()))
        } else {
            text.contains(&format!("{leaf} ({}", key.kind))
        };
        if !shown {
            missing.push(key.path);
        }
    }
    assert!(missing.is_empty(), "not in tern.toml(5): {missing:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_load_in_bash() {
    let dir = generate("completions");
    let comp = dir.join("completions");
    let bash = comp.join("tern.bash");
    let out = Command::new("bash").arg("-n").arg(&bash).output().unwrap();
    assert!(out.status.success(), "bash -n: {out:?}");
    // Loaded, it completes `tern` and offers the subcommands.
    let script = format!(
        "source '{}' && complete -p tern && COMP_WORDS=(tern se) COMP_CWORD=1 COMP_LINE='tern se' COMP_POINT=7 && _tern tern se tern && echo \"${{COMPREPLY[@]}}\"",
        bash.display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("-F _tern tern"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap_or("").contains("serve"),
        "{stdout}"
    );

    let zsh = std::fs::read_to_string(comp.join("_tern")).unwrap();
    assert!(zsh.starts_with("#compdef tern"), "{zsh}");
    let fish = std::fs::read_to_string(comp.join("tern.fish")).unwrap();
    assert!(fish.contains("complete -c tern"), "{fish}");
    std::fs::remove_dir_all(&dir).unwrap();
}
