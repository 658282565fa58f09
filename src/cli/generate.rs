//! `tern generate DIR` (hidden): writes the man pages and shell completions
//! that packages install, from the same definitions the binary uses:
//! DIR/man/tern.1 and one page per subcommand (clap_mangen, from the clap
//! definitions), DIR/man/tern.toml.5 (from docs/configuration.md, the
//! configuration reference, built into the binary) and
//! DIR/completions/{tern.bash,_tern,tern.fish} (clap_complete).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Directory to write man/ and completions/ into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The configuration reference the tern.toml(5) page is made from.
const CONFIGURATION_MD: &str = include_str!("../../docs/configuration.md");

pub fn run(args: GenerateArgs) -> ExitCode {
    match generate(&args.dir) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tern generate: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The command the man pages and completions are made from.
pub fn command() -> clap::Command {
    super::Cli::command()
}

/// Writes every page and completion file; returns their paths.
pub fn generate(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut files = Vec::new();
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    man_pages(&cmd, &man, &mut files)?;

    let toml_page = man.join("tern.toml.5");
    let mut f = std::fs::File::create(&toml_page)
        .with_context(|| format!("creating {}", toml_page.display()))?;
    f.write_all(tern_toml_page(CONFIGURATION_MD, env!("CARGO_PKG_VERSION")).as_bytes())?;
    files.push(toml_page);

    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        let path = clap_complete::generate_to(shell, &mut command(), "tern", &completions)
            .with_context(|| format!("writing {shell} completions"))?;
        files.push(path);
    }
    Ok(files)
}

/// tern(1) and tern-SUBCOMMAND(1) for every subcommand that is not hidden.
fn man_pages(cmd: &clap::Command, dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, dir, files)?;
    }
    let page = clap_mangen::Man::new(cmd.clone())
        .manual("tern")
        .source(format!("tern {}", env!("CARGO_PKG_VERSION")));
    let path = page
        .generate_to(dir)
        .with_context(|| format!("writing the man page of {}", cmd.get_name()))?;
    // `tern dig` parses its own, dig-style options: its page lists them as
    // `tern dig -h` prints them.
    if cmd.get_display_name() == Some("tern-dig") {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("appending to {}", path.display()))?;
        let mut section = String::from(".SH \"DIG OPTIONS\"\n.nf\n");
        for line in crate::dig::help::HELP.lines() {
            section.push_str(&roff_text(line));
            section.push('\n');
        }
        section.push_str(".fi\n");
        f.write_all(section.as_bytes())?;
    }
    files.push(path);
    Ok(())
}

/// Text for roff: backslashes doubled, and a line starting with `.` or `'`
/// (a request to roff) protected with `\&`.
fn roff_text(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Inline markdown to roff: `code` in bold, [text](link) as its text.
fn inline(md: &str) -> String {
    let mut out = String::new();
    let mut rest = md;
    let mut bold = false;
    while let Some(c) = rest.chars().next() {
        let len = c.len_utf8();
        match c {
            '`' => {
                out.push_str(if bold { "\\fR" } else { "\\fB" });
                bold = !bold;
            }
            '[' => {
                // [text](target): keep the text only.
                let close = rest.find("](");
                let end =
                    close.and_then(|i| rest.get(i..).and_then(|r| r.find(')')).map(|j| i + j));
                if let (Some(close), Some(end)) = (close, end) {
                    out.push_str(&inline(rest.get(1..close).unwrap_or("")));
                    rest = rest.get(end + 1..).unwrap_or("");
                    continue;
                }
                out.push('[');
            }
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            _ => out.push(c),
        }
        rest = rest.get(len..).unwrap_or("");
    }
    if bold {
        out.push_str("\\fR");
    }
    out
}

/// tern.toml(5) from the configuration reference: its headings become
/// sections, its paragraphs text, its code blocks literal text and each
/// table row a tagged paragraph (key, type and default, then the meaning).
pub fn tern_toml_page(md: &str, version: &str) -> String {
    let mut out = format!(
        ".TH TERN.TOML 5 \"\" \"tern {version}\" \"tern\"\n.SH NAME\ntern.toml \\- configuration file of tern serve\n"
    );
    let mut in_code = false;
    let mut paragraph = false;
    for line in md.lines() {
        if line.starts_with("```") {
            out.push_str(if in_code {
                ".fi\n.RE\n"
            } else {
                ".PP\n.RS 4\n.nf\n"
            });
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str(&roff_text(line));
            out.push('\n');
            continue;
        }
        if let Some(title) = line.strip_prefix("# ") {
            // The page's own title is the NAME section.
            let _ = title;
            continue;
        }
        if let Some(h) = line.strip_prefix("## ") {
            out.push_str(&format!(
                ".SH {}\n",
                inline(h)
                    .to_uppercase()
                    .replace("\\FB", "")
                    .replace("\\FR", "")
            ));
            paragraph = false;
            continue;
        }
        if let Some(h) = line.strip_prefix("### ") {
            out.push_str(&format!(".SS {}\n", inline(h)));
            paragraph = false;
            continue;
        }
        if line.starts_with('|') {
            // `\|` is a pipe inside a cell.
            let line = line.replace("\\|", "\u{1}");
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('\u{1}', "|"))
                .collect();
            let header = cells.first().is_some_and(|c| c == "key");
            let rule = cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'));
            if header || rule {
                continue;
            }
            if let [key, kind, default, meaning, ..] = cells.as_slice() {
                out.push_str(&format!(
                    ".TP\n{} ({}, default {})\n{}\n",
                    inline(key),
                    inline(kind),
                    inline(default),
                    inline(meaning)
                ));
            }
            paragraph = false;
            continue;
        }
        if line.trim().is_empty() {
            paragraph = false;
            continue;
        }
        if let Some(item) = line.strip_prefix("- ") {
            out.push_str(".IP \\(bu 2\n");
            out.push_str(&inline(item));
        } else {
            if !paragraph {
                out.push_str(".PP\n");
            }
            // Leading blanks would start a new line in roff.
            out.push_str(&inline(line.trim_start()));
        }
        paragraph = true;
        out.push('\n');
    }
    out.push_str(".SH SEE ALSO\ntern(1), tern\\-serve(1), tern\\-check(1)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_tagged_paragraphs_and_code_stays_literal() {
        let md = "# T\n\n## `[log]`\n\nSome `text` with a [link](x.md).\n\n| key | type | default | meaning |\n|---|---|---|---|\n| `level` | string | `\"info\"` | The filter \\| or -not. |\n\n```\n.start = 1\n```\n";
        let page = tern_toml_page(md, "9.9.9");
        assert!(page.starts_with(".TH TERN.TOML 5"), "{page}");
        assert!(page.contains(".SH [LOG]"), "{page}");
        assert!(page.contains("Some \\fBtext\\fR with a link."), "{page}");
        assert!(
            page.contains(
                ".TP\n\\fBlevel\\fR (string, default \\fB\"info\"\\fR)\nThe filter | or \\-not.\n"
            ),
            "{page}"
        );
        assert!(page.contains(".nf\n\\&.start = 1\n.fi\n"), "{page}");
        assert!(!page.contains("|---"), "{page}");
    }
}
