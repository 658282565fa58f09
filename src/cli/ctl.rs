//! `tern ctl [--socket PATH] COMMAND`: sends one command to a running
//! `tern serve` over its control socket (`server::control`) and prints
//! the answer; exit 0 on "ok", 1 on an error from either side.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Used when neither --socket nor --config names the socket.
pub const DEFAULT_SOCKET: &str = "/run/tern/control.socket";

/// How long to wait for the answer (a reload reads zone files).
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// Control socket of the running server (default: control.socket of
    /// --config, else /run/tern/control.socket).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Configuration file to take control.socket from.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CtlCommand {
    /// Version, uptime, config file, listen addresses, cache size.
    Status,
    /// Counters since start.
    Stats {
        /// As a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Remove what the cache holds for a name (one type, or all).
    Flush {
        name: String,
        #[arg(value_name = "TYPE")]
        qtype: Option<String>,
    },
    /// Remove everything cached at and below a name.
    FlushZone { name: String },
    /// Remove negative answers (NXDOMAIN, NODATA) and remembered failures.
    FlushNegative,
    /// Forget upstream servers' RTT, EDNS and hold-down state.
    FlushServers,
    /// Show what the cache holds for a name and which servers it would ask.
    Lookup { name: String },
    /// Re-read the config file (refused, old config kept, if it is broken).
    Reload,
    /// Write the cache as text (to FILE, written by the server, or stdout).
    DumpCache { file: Option<PathBuf> },
    /// Read a dump back into the cache (TTLs lowered by the time passed).
    LoadCache { file: PathBuf },
    /// Resolve a name now, past the cache, and show what the engine did.
    Trace {
        name: String,
        #[arg(value_name = "TYPE", default_value = "A")]
        qtype: String,
    },
}

impl CtlCommand {
    /// The line sent over the socket.
    fn line(&self) -> String {
        match self {
            Self::Status => "status".to_string(),
            Self::Stats { json: false } => "stats".to_string(),
            Self::Stats { json: true } => "stats --json".to_string(),
            Self::Flush { name, qtype: None } => format!("flush {name}"),
            Self::Flush {
                name,
                qtype: Some(t),
            } => format!("flush {name} {t}"),
            Self::FlushZone { name } => format!("flush-zone {name}"),
            Self::FlushNegative => "flush-negative".to_string(),
            Self::FlushServers => "flush-servers".to_string(),
            Self::Lookup { name } => format!("lookup {name}"),
            Self::Reload => "reload".to_string(),
            Self::Trace { name, qtype } => format!("trace {name} {qtype}"),
            Self::DumpCache { file: None } => "dump-cache".to_string(),
            Self::DumpCache { file: Some(f) } => format!("dump-cache {}", absolute(f)),
            Self::LoadCache { file } => format!("load-cache {}", absolute(file)),
        }
    }
}

/// A path as the server must see it: relative ones are taken from here.
fn absolute(path: &Path) -> String {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    full.display().to_string()
}

pub fn run(args: CtlArgs) -> ExitCode {
    let path = match socket_path(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tern ctl: {e}");
            return ExitCode::from(1);
        }
    };
    let line = args.command.line();
    if line.contains('\n') || line.split_whitespace().count() != line.split(' ').count() {
        eprintln!("tern ctl: arguments must not contain white space");
        return ExitCode::from(1);
    }
    match send(&path, &line) {
        Ok(reply) => {
            let (head, body) = reply.split_once('\n').unwrap_or((reply.as_str(), ""));
            if head == "ok" {
                print!("{body}");
                ExitCode::SUCCESS
            } else {
                eprintln!("tern ctl: {}", head.strip_prefix("error: ").unwrap_or(head));
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("tern ctl: {e}");
            ExitCode::from(1)
        }
    }
}

fn socket_path(args: &CtlArgs) -> Result<PathBuf, String> {
    if let Some(p) = &args.socket {
        return Ok(p.clone());
    }
    if let Some(file) = &args.config {
        let config = crate::config::load_file(file).map_err(|e| e.to_string())?;
        return config.control.socket.ok_or_else(|| {
            format!(
                "{}: control.socket is not set (the control channel is off)",
                file.display()
            )
        });
    }
    Ok(PathBuf::from(DEFAULT_SOCKET))
}

/// Sends `line`, returns the whole answer.
fn send(path: &Path, line: &str) -> Result<String, String> {
    let shown = path.display();
    let mut stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("no control socket at {shown} (is tern serve running with control.socket set?)")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("permission denied on {shown} (run as the user tern serve runs as)")
        }
        std::io::ErrorKind::ConnectionRefused => {
            format!("nothing listens on {shown} (a socket left by a server that stopped)")
        }
        _ => format!("{shown}: {e}"),
    })?;
    let io = |e: std::io::Error| format!("{shown}: {e}");
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(io)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).map_err(io)?;
    if reply.is_empty() {
        return Err(format!("{shown}: closed without an answer"));
    }
    Ok(reply)
}
