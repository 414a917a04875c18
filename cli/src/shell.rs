//! `qftp shell`: many commands in one session.
//!
//! The module is brought up and logged in once; then each line of stdin
//! is split into words as a POSIX shell does (`shlex`) and parsed with the
//! command line's own [`Command`] (plus the shell's `cd` and `exit`), and
//! run in that session; at the end the session is closed once. On a
//! terminal it is a prompt with line editing and history (`rustyline`),
//! where a failing command prints its error and the prompt goes on. Piped,
//! it stops at the first failing command, unless `--keep-going`.
//!
//! Ctrl-C while a command runs stops it, closes the session and ends the
//! shell (status 130), as it does a single command; at the prompt it only
//! clears the line.

use std::io::{self, BufRead, IsTerminal};

use clap::Parser;
use embedded_io_async::{Read, Write};
use quectel_ftp::{Dtr, Ftp};
use rustyline::error::ReadlineError;

use crate::command::Command;
use crate::console::Console;
use crate::interrupt::Interrupt;
use crate::session::{execute_until, open_session, Class, Failure, SessionConfig, Step};

/// A command of `qftp shell`, one a line: as on the command line, and
/// `cd` and `exit`.
#[derive(Debug, Parser)]
#[command(name = "qftp shell", no_binary_name = true, disable_version_flag = true)]
struct Line {
    #[command(subcommand)]
    command: LineCommand,
}

/// What a line of the shell can say.
#[derive(Debug, clap::Subcommand)]
enum LineCommand {
    /// A command, as on the command line.
    #[command(flatten)]
    Run(Command),
    /// Change the remote directory.
    Cd {
        /// The directory.
        dir: String,
    },
    /// End the shell.
    #[command(alias = "quit")]
    Exit,
}

/// Where the lines come from.
enum Input {
    /// A terminal: a prompt with line editing and history.
    Terminal(Box<rustyline::DefaultEditor>),
    /// A pipe or a file.
    Piped(io::StdinLock<'static>),
}

impl Input {
    /// The prompt on a terminal, the lines of stdin otherwise.
    fn open() -> Result<Input, Failure> {
        if !io::stdin().is_terminal() {
            return Ok(Input::Piped(io::stdin().lock()));
        }
        let editor = rustyline::DefaultEditor::new().map_err(|e| Failure::other("shell", e.to_string()))?;
        Ok(Input::Terminal(Box::new(editor)))
    }

    fn interactive(&self) -> bool {
        matches!(self, Input::Terminal(_))
    }

    /// The next line, `None` at the end of the input.
    fn next_line(&mut self) -> Result<Option<String>, Failure> {
        match self {
            Input::Terminal(editor) => loop {
                match editor.readline("qftp> ") {
                    Ok(line) => {
                        // A history that cannot grow is no reason to stop.
                        let _ = editor.add_history_entry(line.as_str());
                        return Ok(Some(line));
                    }
                    // Ctrl-C at the prompt: a new prompt.
                    Err(ReadlineError::Interrupted) => {}
                    Err(ReadlineError::Eof) => return Ok(None),
                    Err(e) => return Err(Failure::other("shell", e.to_string())),
                }
            },
            Input::Piped(stdin) => {
                let mut line = String::new();
                match stdin.read_line(&mut line) {
                    Ok(0) => Ok(None),
                    Ok(_) => Ok(Some(line)),
                    Err(e) => Err(Failure::local("shell", "stdin", e)),
                }
            }
        }
    }
}

/// What a line asks for.
enum Parsed {
    /// Nothing: a blank line or a comment.
    Nothing,
    /// Text to print (`help`).
    Text(String),
    /// A command of the shell.
    Command(LineCommand),
}

/// Splits and parses one line.
fn parse(line: &str) -> Result<Parsed, Failure> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Parsed::Nothing);
    }
    let words = shlex::split(line).ok_or_else(|| Failure::usage(format!("unbalanced quotes in: {line}")))?;
    match Line::try_parse_from(words) {
        Ok(parsed) => Ok(Parsed::Command(parsed.command)),
        Err(e) if !e.use_stderr() => {
            let mut text = e.to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            Ok(Parsed::Text(text))
        }
        Err(e) => {
            // clap's message without its usage and hints, which follow a
            // blank line.
            let text = e.to_string();
            let text = text.split("\n\n").next().unwrap_or_default();
            Err(Failure::usage(text.trim_start_matches("error: ").to_owned()))
        }
    }
}

/// Runs the shell: one session, every command of stdin in it.
pub async fn run<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &SessionConfig,
    console: &mut Console<'_>,
    interrupt: &Interrupt,
    keep_going: bool,
) -> Result<(), Failure> {
    let mut input = Input::open()?;
    let mut cfg = cfg.clone();
    match interrupt.unless(open_session(ftp, &cfg)).await {
        None => {
            let _ = ftp.close().await;
            return Err(Failure::interrupted("shell", "interrupted"));
        }
        Some(Err(failure)) => {
            // Best effort: do not leave a half-open session on the module.
            let _ = ftp.close().await;
            return Err(failure);
        }
        Some(Ok(())) => {}
    }
    let (mut failed, mut last) = (0usize, None);
    let outcome = loop {
        let line = match input.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break Ok(()),
            Err(failure) => break Err(failure),
        };
        let done = match parse(&line) {
            Ok(Parsed::Nothing) => Ok(()),
            Ok(Parsed::Text(text)) => write!(console.out, "{text}").map_err(|e| Failure::local("help", "stdout", e)),
            Ok(Parsed::Command(LineCommand::Exit)) => break Ok(()),
            Ok(Parsed::Command(LineCommand::Cd { dir })) => cd(ftp, &mut cfg, &dir).await,
            Ok(Parsed::Command(LineCommand::Run(command))) => match command.check_local() {
                Ok(()) => execute_until(ftp, &cfg, &command, console, interrupt).await,
                Err(failure) => Err(failure),
            },
            Err(failure) => Err(failure),
        };
        let Err(failure) = done else { continue };
        // An interrupt has closed the session already.
        if failure.class() == Class::Interrupted {
            return Err(failure);
        }
        if !input.interactive() && !keep_going {
            break Err(failure);
        }
        if let Err(e) = writeln!(console.err, "qftp: {failure}") {
            break Err(Failure::local("shell", "stderr", e));
        }
        failed += 1;
        last = Some(failure.class());
    };
    let closed = ftp.close().await.step("close");
    outcome.and(closed)?;
    match last {
        Some(class) if !input.interactive() => Err(Failure::failed_commands(failed, class)),
        _ => Ok(()),
    }
}

/// `cd DIR`: changes the remote directory, and remembers where it is, so
/// that a new session (`--retries`) comes back to it.
async fn cd<U: Read + Write, D: Dtr>(
    ftp: &mut Ftp<'_, U, D>,
    cfg: &mut SessionConfig,
    dir: &str,
) -> Result<(), Failure> {
    ftp.cwd(dir).await.step("cd")?;
    let mut buf = [0u8; 512];
    cfg.cwd = Some(ftp.pwd(&mut buf).await.step("cd")?.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> Command {
        match parse(line) {
            Ok(Parsed::Command(LineCommand::Run(command))) => command,
            _ => panic!("{line:?} is not a command"),
        }
    }

    #[test]
    fn lines_parse_as_the_command_line_does() {
        assert_eq!(command("ls --json"), Command::Ls { dir: None, json: true });
        assert_eq!(
            command("put 'my file.bin' \"remote name.bin\""),
            Command::Put {
                local: "my file.bin".into(),
                remote: "remote name.bin".into(),
                resume: false,
                via_ufs: false
            }
        );
        assert_eq!(
            command("  get --continue a.bin b.bin  "),
            Command::Get { remote: "a.bin".into(), local: "b.bin".into(), resume: true, via_ufs: false }
        );
        assert!(matches!(parse("cd 'a dir'"), Ok(Parsed::Command(LineCommand::Cd { dir })) if dir == "a dir"));
        assert!(matches!(parse("quit"), Ok(Parsed::Command(LineCommand::Exit))));
        assert!(matches!(parse("   "), Ok(Parsed::Nothing)));
        assert!(matches!(parse("# ls"), Ok(Parsed::Nothing)));
        assert!(matches!(parse("help"), Ok(Parsed::Text(_))));
        for bad in ["frobnicate", "put onlyone", "ls 'open", "shell"] {
            let failure = parse(bad).err().unwrap_or_else(|| panic!("{bad:?} parsed"));
            assert_eq!(failure.exit_code(), 2, "{bad:?}");
        }
    }
}
