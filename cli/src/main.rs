//! `qftp`: see `qftp --help`.

use std::process::ExitCode;

use clap::Parser;
use qftp::{interrupt, trace, Cli, Console, EXIT_LOCAL};

fn main() -> ExitCode {
    // Usage errors exit with status 2 inside `parse`.
    let cli = Cli::parse();
    if let Some(dest) = &cli.trace {
        if let Err(e) = trace::install(dest) {
            eprintln!("qftp: --trace {dest}: {e}");
            return ExitCode::from(EXIT_LOCAL);
        }
    }
    if let Err(e) = interrupt::install() {
        eprintln!("qftp: cannot handle Ctrl-C: {e}");
    }
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    let mut console = Console::new(&mut out, &mut err);
    match cli.run(&mut console, &interrupt::SIGNALS) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("qftp: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
