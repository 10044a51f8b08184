//! Reading secrets from the user: a terminal prompt without echo, a password file, or an
//! inherited file descriptor. Never from a command-line argument (those show in `ps` and in
//! shell history).
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tessera_core::item::SecretText;
use zeroize::Zeroizing;

/// Where the master password comes from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PasswordSource {
    /// Read the master password from the first line of this file (for scripts; keep it 0600).
    #[arg(long, value_name = "FILE", conflicts_with = "password_fd")]
    pub password_file: Option<PathBuf>,
    /// Read the master password from this inherited file descriptor, e.g. `3<secret-pipe`.
    #[arg(long, value_name = "FD")]
    pub password_fd: Option<u32>,
}

impl PasswordSource {
    /// True when a non-interactive source was given.
    pub fn is_given(&self) -> bool {
        self.password_file.is_some() || self.password_fd.is_some()
    }

    /// The password, from the file or descriptor if given, else from a terminal prompt.
    pub fn read(&self, prompt: &str) -> Result<SecretText> {
        if let Some(f) = &self.password_file {
            return first_line_of(f)
                .with_context(|| format!("reading the password from {}", f.display()));
        }
        if let Some(fd) = self.password_fd {
            let path = PathBuf::from(format!("/dev/fd/{fd}"));
            return first_line_of(&path)
                .with_context(|| format!("reading the password from file descriptor {fd}"));
        }
        ask_hidden(prompt)
    }
}

/// Where an export passphrase comes from (`export`, and `import` of an encrypted export).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PassphraseSource {
    /// Read the export passphrase from the first line of this file (for scripts; keep it 0600).
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_fd")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the export passphrase from this inherited file descriptor (`0` is standard input).
    #[arg(long, value_name = "FD")]
    pub passphrase_fd: Option<u32>,
}

const NO_TTY_PASSPHRASE: &str =
    "no terminal to ask for the passphrase on; use --passphrase-file FILE or --passphrase-fd N";

impl PassphraseSource {
    /// True when a non-interactive source was given.
    pub fn is_given(&self) -> bool {
        self.passphrase_file.is_some() || self.passphrase_fd.is_some()
    }

    /// The passphrase from the file or descriptor if given, else from a terminal prompt (asked
    /// twice when `confirm`).
    pub fn read(&self, prompt: &str, confirm: bool) -> Result<SecretText> {
        if let Some(f) = &self.passphrase_file {
            return first_line_of(f)
                .with_context(|| format!("reading the passphrase from {}", f.display()));
        }
        if let Some(fd) = self.passphrase_fd {
            let path = PathBuf::from(format!("/dev/fd/{fd}"));
            return first_line_of(&path)
                .with_context(|| format!("reading the passphrase from file descriptor {fd}"));
        }
        let first = ask_hidden_hint(&format!("{prompt}: "), NO_TTY_PASSPHRASE)?;
        if confirm {
            let again = ask_hidden_hint(&format!("{prompt} (again): "), NO_TTY_PASSPHRASE)?;
            if first != again {
                return Err(crate::cmd::UsageError(
                    "the two passphrases differ; nothing was written".into(),
                )
                .into());
            }
        }
        Ok(first)
    }
}

fn first_line_of(path: &Path) -> Result<SecretText> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(1024));
    Read::by_ref(&mut f).take(64 * 1024).read_to_end(&mut buf)?;
    let end = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
    let line = &buf[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(crate::cmd::UsageError(
            "its first line is empty; the secret must be on the first line".into(),
        )
        .into());
    }
    let text = std::str::from_utf8(line).context("the password is not valid UTF-8")?;
    Ok(SecretText::new(text.to_owned()))
}

/// Ask on the controlling terminal with echo off.
pub fn ask_hidden(prompt: &str) -> Result<SecretText> {
    ask_hidden_hint(
        prompt,
        "no terminal to ask for the password on; use --password-file FILE or --password-fd N",
    )
}

/// Ask on the controlling terminal with echo off; `no_tty` is the error without a terminal.
fn ask_hidden_hint(prompt: &str, no_tty: &str) -> Result<SecretText> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| anyhow::anyhow!("{no_tty}"))?;
    let original = tcgetattr(&tty).context("reading the terminal settings")?;
    let mut quiet = original.clone();
    quiet.local_modes -= LocalModes::ECHO;
    quiet.local_modes |= LocalModes::ECHONL;
    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    tcsetattr(&tty, OptionalActions::Flush, &quiet).context("turning off echo")?;
    let mut line = Zeroizing::new(String::with_capacity(256));
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, OptionalActions::Flush, &original);
    read.context("reading the password")?;
    let trimmed = line.trim_end_matches(['\n', '\r']);
    Ok(SecretText::new(trimmed.to_owned()))
}

/// A concealed value for a field: from the terminal (asked twice when `confirm`), or one line
/// of standard input when it is not a terminal.
pub fn ask_secret(label: &str, confirm: bool) -> Result<SecretText> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = ask_hidden(&format!("{label}: "))?;
        if confirm {
            let again = ask_hidden(&format!("{label} (again): "))?;
            if first != again {
                bail!("the two entries differ; nothing was changed");
            }
        }
        return Ok(first);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading a secret from standard input")?;
    Ok(SecretText::new(
        line.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}
