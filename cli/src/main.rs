//! `qftp`: see `qftp --help`.

use std::process::ExitCode;

use clap::Parser;
use qftp::{Cli, Console};

fn main() -> ExitCode {
    // Usage errors exit with status 2 inside `parse`.
    let cli = Cli::parse();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    let mut console = Console::new(&mut out, &mut err);
    match cli.run(&mut console) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("qftp: {failure}");
            ExitCode::FAILURE
        }
    }
}
