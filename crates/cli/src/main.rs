//! `tessera`: the vault from a terminal and from CI pipelines.
//!
//! Exit codes (also in `tessera --help`):
//! 0 success · 1 error · 2 usage · 3 vault locked · 4 not found or ambiguous · 5 wrong master
//! password or Account Secret Key, or wrong export passphrase · 6 damaged or tampered data ·
//! 7 invalid input.
//! `tessera run` exits with the command's own code (128+N when a signal N ended it, 127 when
//! it could not be started). A closed standard output ends a command quietly with 0.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tessera_core::agent::{AgentError, ErrorCode};
use tessera_core::paths::VaultDir;

mod cmd;
mod dotenv;
mod output;
mod prompt;
mod session;

const EXIT_CODES: &str = "\
Exit codes:
  0  success                          4  not found, or a name matches several items
  1  error (I/O, database, agent)     5  wrong master password or Account Secret Key,
  2  usage error                         or wrong export passphrase
  3  the vault is locked              6  damaged or tampered data
                                      7  invalid input
  `tessera run` exits with the command's code (128+N if signal N ended it, 127 if it did not start).
  When the reader of standard output goes away (`tessera list | head -1`), the command stops
  quietly with 0.";

/// Tessera: a credential manager for DevOps teams.
#[derive(Parser)]
#[command(name = "tessera", version, about, after_help = EXIT_CODES, max_term_width = 100)]
struct Cli {
    /// The vault directory [default: $TESSERA_HOME, $XDG_DATA_HOME/tessera or ~/.local/share/tessera]
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = match cli
        .home
        .clone()
        .map(VaultDir::new)
        .map_or_else(VaultDir::default_for_user, Ok)
    {
        Ok(d) => d,
        Err(e) => return fail(&anyhow::Error::new(e)),
    };
    let out = output::Output { json: cli.json };
    match cmd::run(cli.command, &dir, &out) {
        Ok(code) => code,
        Err(e)
            if e.chain()
                .any(<dyn std::error::Error>::is::<output::StdoutClosed>) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Print the error chain and map it to the documented exit code.
fn fail(e: &anyhow::Error) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "tessera: {e}");
    for cause in e.chain().skip(1) {
        let _ = write!(stderr, ": {cause}");
    }
    let _ = writeln!(stderr);
    ExitCode::from(exit_code(e))
}

fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        let code = if let Some(a) = cause.downcast_ref::<AgentError>() {
            a.code
        } else if let Some(c) = cause.downcast_ref::<tessera_core::Error>() {
            ErrorCode::from(c)
        } else if cause.downcast_ref::<cmd::UsageError>().is_some() {
            return 7;
        } else {
            continue;
        };
        return match code {
            ErrorCode::Locked => 3,
            ErrorCode::NotFound | ErrorCode::Ambiguous => 4,
            ErrorCode::WrongPassword | ErrorCode::WrongPassphrase => 5,
            ErrorCode::Tampered => 6,
            ErrorCode::Invalid => 7,
            _ => 1,
        };
    }
    1
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn an_invitation_token_may_begin_with_a_dash() {
        // Invitation tokens are base64url: one in 64 begins with `-`.
        for args in [
            ["--token", "-iXq9"].as_slice(),
            ["--token=-iXq9"].as_slice(),
        ] {
            let mut argv = vec![
                "tessera",
                "team",
                "join",
                "--server",
                "https://t.example",
                "--email",
                "a@b.c",
                "--fingerprint",
                "SHA256:x",
            ];
            argv.extend_from_slice(args);
            assert!(Cli::try_parse_from(argv).is_ok(), "{args:?}");
        }
    }
}
