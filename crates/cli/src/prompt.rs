//! Reading secrets from the user: a terminal prompt without echo, a password file, or an
//! inherited file descriptor. Never from a command-line argument (those show in `ps` and in
//! shell history).
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tessera_core::item::SecretText;
use zeroize::Zeroizing;

use crate::cmd::UsageError;

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
        read_password(
            self.password_file.as_deref(),
            self.password_fd,
            "master password",
            "--password-file FILE or --password-fd N",
            prompt,
        )
    }
}

/// Where `passwd` reads the new master password from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NewPasswordSource {
    /// Read the new master password from the first line of this file (for scripts; keep it
    /// 0600). Without it, or --new-password-fd, it is asked twice on the terminal.
    #[arg(long, value_name = "FILE", conflicts_with = "new_password_fd")]
    pub new_password_file: Option<PathBuf>,
    /// Read the new master password from this inherited file descriptor, e.g. `4<new-pipe`.
    #[arg(long, value_name = "FD")]
    pub new_password_fd: Option<u32>,
}

impl NewPasswordSource {
    /// The new password from the file or descriptor if given, else asked twice on the terminal.
    pub fn read(&self) -> Result<SecretText> {
        let read = |prompt: &str| {
            read_password(
                self.new_password_file.as_deref(),
                self.new_password_fd,
                "new master password",
                "--new-password-file FILE or --new-password-fd N",
                prompt,
            )
        };
        let first = read("New master password: ")?;
        if self.new_password_file.is_none() && self.new_password_fd.is_none() {
            let again = read("New master password (again): ")?;
            if first != again {
                return Err(
                    UsageError("the two new passwords differ; nothing was changed".into()).into(),
                );
            }
        }
        Ok(first)
    }
}

/// A password from `file`, else from descriptor `fd`, else from the terminal. Nothing read (an
/// empty line, no terminal to ask on) is invalid input that says where to put the password.
fn read_password(
    file: Option<&Path>,
    fd: Option<u32>,
    what: &str,
    flags: &str,
    prompt: &str,
) -> Result<SecretText> {
    if let Some(f) = file {
        return first_line_of(f)
            .with_context(|| format!("reading the {what} from {}", f.display()));
    }
    if let Some(fd) = fd {
        let path = PathBuf::from(format!("/dev/fd/{fd}"));
        return first_line_of(&path)
            .with_context(|| format!("reading the {what} from file descriptor {fd}"));
    }
    if std::fs::File::open("/dev/tty").is_err() {
        return Err(UsageError(format!(
            "no {what} was read: there is no terminal to ask on; use {flags}"
        ))
        .into());
    }
    let pw = ask_hidden(prompt)?;
    if pw.expose_secret().is_empty() {
        return Err(UsageError(format!("no {what} was entered; nothing was done")).into());
    }
    Ok(pw)
}

/// Where a passphrase comes from: an export's (`export`, `import` of an encrypted export) or an
/// SSH key file's (`ssh-import`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PassphraseSource {
    /// Read the passphrase from the first line of this file (for scripts; keep it 0600).
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_fd")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the passphrase from this inherited file descriptor (`0` is standard input).
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
                return Err(
                    UsageError("the two passphrases differ; nothing was written".into()).into(),
                );
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
    if buf.is_empty() {
        return Err(UsageError("it is empty; put the secret on its first line".into()).into());
    }
    if line.is_empty() {
        return Err(UsageError(
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
    if let Err(e) = tcsetattr(&tty, OptionalActions::Flush, &original) {
        // The password was read; the user only needs to know why typing stays invisible.
        eprintln!("could not turn echo back on ({e}); run `stty echo` to see what you type");
    }
    read.context("reading the password")?;
    let trimmed = line.trim_end_matches(['\n', '\r']);
    Ok(SecretText::new(trimmed.to_owned()))
}

/// A concealed value for a field: from the terminal (asked twice when `confirm`), or the next
/// value on standard input when it is not a terminal. Empty values are refused.
pub fn ask_secret(label: &str, confirm: bool) -> Result<SecretText> {
    ask_value(label, confirm, false)
}

/// A value from standard input, or from the terminal without echo. On standard input a value is
/// one line, except a PEM block (`-----BEGIN ...` up to its `-----END ...` line), which is read
/// whole, and likewise when pasted at the prompt. Input that ends before the value, or an empty
/// value without `allow_empty`, is refused with the field's name (exit 7), so a missing line
/// never becomes an empty secret.
pub fn ask_value(label: &str, confirm: bool, allow_empty: bool) -> Result<SecretText> {
    let value = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = ask_hidden(&format!("{label}: "))?;
        if first.expose_secret().starts_with(PEM_BEGIN) {
            pem_rest(&first, || ask_hidden("").map(Some), label)?
        } else {
            if confirm {
                let again = ask_hidden(&format!("{label} (again): "))?;
                if first != again {
                    bail!("the two entries differ; nothing was changed");
                }
            }
            first
        }
    } else {
        let Some(first) = stdin_line()? else {
            return Err(UsageError(format!(
                "standard input ended before the value of {label}: give one value per line, \
                 in the order the options name them"
            ))
            .into());
        };
        if first.expose_secret().starts_with(PEM_BEGIN) {
            pem_rest(&first, stdin_line, label)?
        } else {
            first
        }
    };
    if value.is_empty() && !allow_empty {
        return Err(UsageError(format!(
            "the value of {label} is empty; nothing was stored (use --allow-empty to store an \
             empty value on purpose)"
        ))
        .into());
    }
    Ok(value)
}

/// Free text to its end (notes): the rest of standard input, or what is typed on the terminal
/// until Ctrl-D. One final line break is dropped.
pub fn ask_text(label: &str) -> Result<SecretText> {
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        eprintln!("{label} (several lines; press Ctrl-D on a line of its own to finish):");
    }
    let mut text = Zeroizing::new(String::new());
    stdin
        .lock()
        .read_to_string(&mut text)
        .with_context(|| format!("reading {label} from standard input"))?;
    let end = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(SecretText::new(end.to_owned()))
}

const PEM_BEGIN: &str = "-----BEGIN ";
const PEM_END: &str = "-----END ";

/// The lines after a PEM block's first one, up to and with its END line, joined by `\n`.
fn pem_rest(
    first: &SecretText,
    mut next: impl FnMut() -> Result<Option<SecretText>>,
    label: &str,
) -> Result<SecretText> {
    let mut block = Zeroizing::new(first.expose_secret().to_owned());
    loop {
        let Some(line) = next()? else {
            return Err(UsageError(format!(
                "the value of {label} starts a {PEM_BEGIN}... block that has no {PEM_END}... \
                 line; give the whole key"
            ))
            .into());
        };
        block.push('\n');
        block.push_str(line.expose_secret());
        if line.expose_secret().trim_start().starts_with(PEM_END) {
            block.push('\n');
            return Ok(SecretText::new(std::mem::take(&mut *block)));
        }
    }
}

/// One line of standard input without its line break; `None` at the end of input.
fn stdin_line() -> Result<Option<SecretText>> {
    let mut line = Zeroizing::new(String::new());
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading a secret from standard input")?;
    Ok((n > 0).then(|| SecretText::new(line.trim_end_matches(['\n', '\r']).to_owned())))
}
