//! RFC 5011 scenarios (`autotrust_*`): testbound's `AUTOTRUST_FILE`
//! blocks (the initial `auto-trust-anchor-file`, written to a scratch
//! directory under target/), `CHECK_AUTOTRUST` (the file tern wrote,
//! compared line by line after macro expansion, trailing white space
//! dropped, as testbound's `autotrust_check`), and the macros those
//! scenarios use: `ASSIGN v = ${…}`, `TIME_PASSES EVAL ${…}`, `${time}`,
//! `${timeout}` (seconds to the next probe), `${ctime t}`, `${range a x
//! b}`, `$var` and `+ - * /` evaluated left to right.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What the macros can see of the run.
pub struct Env<'a> {
    pub vars: &'a HashMap<String, String>,
    pub time: u64,
    pub timeout: u64,
}

/// Expands every `${…}` in `text`.
pub fn expand(text: &str, env: &Env<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let inner_start = at + 2;
        let end =
            closing(rest, inner_start).ok_or_else(|| format!("unclosed macro in {text:?}"))?;
        out.push_str(&eval(&rest[inner_start..end], env)?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` closing a macro whose body starts at `from`.
fn closing(s: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    for (i, c) in s[from..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(from + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// One macro body: nested macros first, then variables, then the
/// function or the arithmetic.
fn eval(body: &str, env: &Env<'_>) -> Result<String, String> {
    let body = expand(body, env)?;
    let body = body.trim();
    match body {
        "time" => return Ok(env.time.to_string()),
        "timeout" => return Ok(env.timeout.to_string()),
        _ => {}
    }
    let (func, args) = match body.split_once(char::is_whitespace) {
        Some((f @ ("ctime" | "range"), a)) => (Some(f), a),
        _ => (None, body),
    };
    let args = variables(args, env)?;
    match func {
        Some("ctime") => {
            let t = arith(&args)?;
            Ok(tern::dnssec::autotrust::file::ctime(t.max(0.0) as u64))
        }
        Some(_) => {
            let v: Vec<f64> = args
                .split_whitespace()
                .map(|w| w.parse().map_err(|_| format!("range argument {w:?}")))
                .collect::<Result<_, _>>()?;
            match v.as_slice() {
                [a, x, b] if a <= x && x <= b => Ok(number(*x)),
                [a, x, b] => Err(format!("value {x} not in range [{a}, {b}]")),
                _ => Err(format!("range needs 3 arguments: {args:?}")),
            }
        }
        None => Ok(arith(&args).map(number).unwrap_or(args)),
    }
}

/// `$name` replaced by the variable's value.
fn variables(text: &str, env: &Env<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if !(n.is_ascii_alphanumeric() || n == '_') {
                break;
            }
            name.push(n);
            chars.next();
        }
        let value = env
            .vars
            .get(&name)
            .ok_or_else(|| format!("no variable ${name}"))?;
        out.push_str(value);
    }
    Ok(out)
}

/// Numbers and operators, left to right (testbound has no precedence).
fn arith(text: &str) -> Result<f64, String> {
    let spaced: String = text
        .chars()
        .flat_map(|c| match c {
            '+' | '-' | '*' | '/' => vec![' ', c, ' '],
            c => vec![c],
        })
        .collect();
    let mut words = spaced.split_whitespace();
    let num = |w: Option<&str>| -> Result<f64, String> {
        w.and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("not arithmetic: {text:?}"))
    };
    let mut acc = num(words.next())?;
    while let Some(op) = words.next() {
        let y = num(words.next())?;
        acc = match op {
            "+" => acc + y,
            "-" => acc - y,
            "*" => acc * y,
            "/" => acc / y,
            _ => return Err(format!("not arithmetic: {text:?}")),
        };
    }
    Ok(acc)
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Writes an `AUTOTRUST_FILE` block (macros expanded at time 0, as
/// testbound does at startup) to a fresh scratch file; returns its path.
pub fn write_initial(zone: &str, contents: &str) -> Result<PathBuf, String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-autotrust");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let path = dir.join(format!("{}-{n}-{zone}.autotrust", std::process::id()));
    let vars = HashMap::new();
    let env = Env {
        vars: &vars,
        time: 0,
        timeout: 0,
    };
    let text = contents
        .lines()
        .map(|l| expand(l, &env))
        .collect::<Result<Vec<_>, _>>()?
        .join("\n");
    std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// `CHECK_AUTOTRUST`: the file at `path` against the expected lines.
pub fn check(path: &Path, expected: &[String], env: &Env<'_>) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let got: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut problems = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let want = expand(want, env)?;
        let want = want.trim_end();
        match got.get(i) {
            Some(line) if *line == want => {}
            Some(line) => problems.push(format!("line {}: got {line:?}, want {want:?}", i + 1)),
            None => problems.push(format!("line {}: missing, want {want:?}", i + 1)),
        }
    }
    if got.len() > expected.len() {
        problems.push(format!(
            "{} extra line(s): {:?}",
            got.len() - expected.len(),
            &got[expected.len()..]
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Macro expansion on known cases (run before the scenarios).
pub fn self_check() -> Result<(), String> {
    let mut vars = HashMap::new();
    vars.insert("t0".to_string(), "1251100000".to_string());
    vars.insert("probe".to_string(), "5400".to_string());
    let env = Env {
        vars: &vars,
        time: 1_251_100_000,
        timeout: 5000,
    };
    let cases = [
        ("${30*24*3600}", "2592000"),
        ("${$t0 + $probe}", "1251105400"),
        ("x ${ctime $t0} y", "x Mon Aug 24 07:46:40 2009 y"),
        ("${range 4800 ${timeout} 5400}", "5000"),
        ("${ ${20*24*3600} - 3000 }", "1725000"),
        ("${ctime ${time}}", "Mon Aug 24 07:46:40 2009"),
        ("${0}", "0"),
    ];
    for (text, want) in cases {
        let got = expand(text, &env)?;
        if got != want {
            return Err(format!("{text:?} gave {got:?}, want {want:?}"));
        }
    }
    if expand("${range 3200 ${timeout} 3600}", &env).is_ok() {
        return Err("range out of bounds accepted".to_string());
    }
    Ok(())
}
