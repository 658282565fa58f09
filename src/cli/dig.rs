//! `tern dig`: dig-style arguments (order-free, `+options`).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct DigArgs {
    /// dig-style arguments: [@server] [-p port] [name] [type] [+options] …
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn run(_args: DigArgs) -> ExitCode {
    eprintln!("tern dig: not built yet");
    ExitCode::from(10)
}
