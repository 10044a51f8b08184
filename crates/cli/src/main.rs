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
  quietly with 0. Under --json an error is one line of JSON on standard error,
  {\"error\": {\"code\": C, \"message\": M}}, C one of error, usage, locked, not_found,
  wrong_password, tampered, invalid (exit codes 1 to 7).";

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Under --json a usage error is JSON too; help and version print as they are.
        Err(e) if e.use_stderr() && std::env::args_os().any(|a| a == "--json") => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            let message = first.strip_prefix("error: ").unwrap_or(first);
            output::json_error("usage", &format!("{message}; see `tessera --help`"));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let dir = match cli
        .home
        .clone()
        .map(VaultDir::new)
        .map_or_else(VaultDir::default_for_user, Ok)
    {
        Ok(d) => d,
        Err(e) => return fail(&anyhow::Error::new(e), cli.json),
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
        Err(e) => fail(&e, cli.json),
    }
}

/// Print the error chain (as `{"error": {"code", "message"}}` under `--json`) and map it to the
/// documented exit code.
fn fail(e: &anyhow::Error, json: bool) -> ExitCode {
    let code = exit_code(e);
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        message.push_str(": ");
        message.push_str(&cause.to_string());
    }
    if json {
        output::json_error(code_name(code), &message);
    } else {
        let mut stderr = std::io::stderr().lock();
        // Nothing is left to tell the user when standard error itself is gone.
        drop(writeln!(stderr, "tessera: {message}"));
    }
    ExitCode::from(code)
}

/// The `code` of a JSON error, one per exit code.
fn code_name(exit: u8) -> &'static str {
    match exit {
        2 => "usage",
        3 => "locked",
        4 => "not_found",
        5 => "wrong_password",
        6 => "tampered",
        7 => "invalid",
        _ => "error",
    }
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
    use clap::{CommandFactory, Parser};
    use tessera_core::generator::{
        generate_passphrase_named, generate_password_named, PassphraseOptions, PasswordOptions,
        Setting,
    };

    use super::Cli;
    use crate::cmd::generate_option;

    /// The `--long` flags in `text`.
    fn flags(text: &str) -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| {
                w.strip_prefix("--")
                    .is_some_and(|f| f.starts_with(|c: char| c.is_ascii_lowercase()))
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_generator_hint_names_an_option_generate_has() {
        let cli = Cli::command();
        let generate = cli.find_subcommand("generate").expect("a generate command");
        let has = |flag: &str| {
            generate
                .get_arguments()
                .any(|a| a.get_long() == flag.strip_prefix("--"))
        };
        for s in Setting::ALL {
            if let Some(flag) = generate_option(s) {
                assert!(has(flag), "{s:?} is named {flag}, which generate lacks");
            }
        }
        // Every refusal the generator can make, worded for the CLI.
        let phrase = |f: fn(&mut PassphraseOptions)| {
            let mut o = PassphraseOptions::default();
            f(&mut o);
            generate_passphrase_named(&o, generate_option).map(|_| ())
        };
        let password = |f: fn(&mut PasswordOptions)| {
            let mut o = PasswordOptions::default();
            f(&mut o);
            generate_password_named(&o, generate_option).map(|_| ())
        };
        let refusals = [
            phrase(|o| o.words = 2),
            phrase(|o| o.words = 21),
            phrase(|o| o.separator = "+".repeat(9)),
            phrase(|o| o.separator = "x".into()),
            phrase(|o| o.separator = String::new()),
            password(|o| o.length = 2),
            password(|o| {
                o.lowercase = false;
                o.uppercase = false;
                o.digits = false;
                o.symbols = false;
            }),
        ];
        for r in refusals {
            let message = r.expect_err("refused").to_string();
            for flag in flags(&message) {
                assert!(has(&flag), "{message:?} names {flag}, which generate lacks");
            }
        }
        let no_separator = phrase(|o| o.separator = String::new()).unwrap_err();
        assert_eq!(
            flags(&no_separator.to_string()),
            ["--separator", "--capitalize"]
        );
    }

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
