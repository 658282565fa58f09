//! `tern dig`: dig-style arguments (order-free, `+options`), handed
//! verbatim to the library (src/dig), which prints dig's layout and returns
//! dig's exit status.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct DigArgs {
    /// dig-style arguments: [@server] [-p port] [name] [type] [+options] …
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn run(args: DigArgs) -> ExitCode {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = crate::dig::run(&args.args, &mut stdout.lock(), &mut stderr.lock());
    ExitCode::from(code)
}
