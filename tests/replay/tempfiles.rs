//! testbound's temp files: a scenario's `TEMPFILE_CONTENTS` blocks are
//! written into a directory of its own before the resolver starts, and
//! every `TEMPFILE_NAME` config value becomes that file's path. Inside the
//! contents, `$INCLUDE_TEMPFILE name` becomes `$INCLUDE <path of name>`.
//! The directory is removed when the run ends.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::parser::ConfigBlock;

/// Runs in this process so far: each gets a fresh directory (a scenario is
/// replayed several times, on several threads).
static RUNS: AtomicU64 = AtomicU64::new(0);

/// A scenario's directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `$INCLUDE_TEMPFILE name` as testbound rewrites it; other lines as given.
fn expand_line(line: &str, dir: &Path) -> String {
    let trimmed = line.trim_start();
    match trimmed.strip_prefix("$INCLUDE_TEMPFILE") {
        Some(rest) if rest.starts_with(char::is_whitespace) => {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or("");
            let tail: Vec<&str> = words.collect();
            let mut out = format!("$INCLUDE {}", dir.join(name).display());
            for w in tail {
                out.push(' ');
                out.push_str(w);
            }
            out
        }
        _ => line.to_string(),
    }
}

/// Writes the block's files into a new directory under `base` and puts
/// their paths into the config values that name them. No files, no
/// directory.
pub fn materialize(block: &mut ConfigBlock, base: &Path) -> Result<Option<TempDir>, String> {
    let named = block.lines.iter().any(|l| l.tempfile);
    if block.files.is_empty() && !named {
        return Ok(None);
    }
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = base.join(format!("replay-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = TempDir(dir);
    for f in &block.files {
        let mut text = String::new();
        for line in &f.lines {
            text.push_str(&expand_line(line, dir.path()));
            text.push('\n');
        }
        let path = dir.path().join(&f.name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    for l in block.lines.iter_mut().filter(|l| l.tempfile) {
        l.value = dir.path().join(&l.value).display().to_string();
    }
    Ok(Some(dir))
}

/// Checks the rewriting on a small block (run before the scenarios).
pub fn self_check() -> Result<(), String> {
    let text = "server:\n\tverbosity: 1\nauth-zone:\n\tname: \"example.com.\"\n\tzonefile:\nTEMPFILE_NAME a.zone\nTEMPFILE_CONTENTS a.zone\n$ORIGIN example.com.\n\t3600 IN NS ns\n$INCLUDE_TEMPFILE b.inc\nTEMPFILE_END\nTEMPFILE_CONTENTS b.inc\nwww A 192.0.2.1\nTEMPFILE_END\nstub-zone:\n\tname: \".\"\nCONFIG_END\n";
    let mut block = super::parser::config_of(text).map_err(|e| e.0)?;
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = materialize(&mut block, &base)?.ok_or("no directory made")?;
    let zonefile = block
        .lines
        .iter()
        .find(|l| l.key == "zonefile")
        .ok_or("zonefile line lost")?;
    if zonefile.clause != "auth-zone" {
        return Err(format!("zonefile in clause {:?}", zonefile.clause));
    }
    let a = dir.path().join("a.zone");
    if Path::new(&zonefile.value) != a {
        return Err(format!("zonefile value {:?}", zonefile.value));
    }
    let written = std::fs::read_to_string(&a).map_err(|e| e.to_string())?;
    let want = format!(
        "$ORIGIN example.com.\n\t3600 IN NS ns\n$INCLUDE {}\n",
        dir.path().join("b.inc").display()
    );
    if written != want {
        return Err(format!("a.zone is {written:?}, want {want:?}"));
    }
    if !block
        .lines
        .iter()
        .any(|l| l.clause == "stub-zone" && l.key == "name")
    {
        return Err("clause after the temp file lost".to_string());
    }
    let path = dir.path().to_path_buf();
    drop(dir);
    if path.exists() {
        return Err("directory left behind".to_string());
    }
    Ok(())
}
