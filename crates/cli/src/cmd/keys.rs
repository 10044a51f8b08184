//! Generators and keys: `generate`, `totp`, `ssh-keygen`, `ssh-export`, `ssh-import`.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use tessera_core::agent::{ItemView, Request};
use tessera_core::generator::{
    generate_passphrase_named, generate_password_named, GeneratedSecret, PassphraseOptions,
    PasswordOptions,
};
use tessera_core::item::{FieldKind, SecretText};
use tessera_core::paths::VaultDir;
use tessera_core::ssh::{self, SshKey, SshKeyType};
use tessera_core::totp::TotpSpec;

use super::usage;
use crate::output::Output;
use crate::prompt::{ask_secret, PassphraseSource};
use crate::session::unlocked_client;

/// Arguments of `generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Password length.
    #[arg(long, short = 'l', default_value_t = 24)]
    length: usize,
    /// Leave out symbols.
    #[arg(long)]
    no_symbols: bool,
    /// Leave out digits.
    #[arg(long)]
    no_digits: bool,
    /// Leave out upper-case letters.
    #[arg(long)]
    no_upper: bool,
    /// Leave out characters that look alike (0 O o 1 l I |).
    #[arg(long)]
    no_look_alikes: bool,
    /// A passphrase of words instead of a password.
    #[arg(long)]
    passphrase: bool,
    /// Words in the passphrase.
    #[arg(long, default_value_t = 6)]
    words: usize,
    /// Separator between words ('' only with --capitalize, which keeps the words apart).
    #[arg(long, default_value = "-")]
    separator: String,
    /// Capitalise each word of the passphrase (adds no entropy).
    #[arg(long, requires = "passphrase")]
    capitalize: bool,
    /// Add one random digit to the passphrase.
    #[arg(long, requires = "passphrase")]
    digit: bool,
}

/// Print a generated secret and its entropy.
pub fn generate(a: &GenerateArgs, out: &Output) -> Result<Option<ExitCode>> {
    let g: GeneratedSecret = if a.passphrase {
        generate_passphrase_named(
            &PassphraseOptions {
                words: a.words,
                separator: a.separator.clone(),
                capitalize: a.capitalize,
                include_digit: a.digit,
            },
            super::generate_option,
        )?
    } else {
        generate_password_named(
            &PasswordOptions {
                length: a.length,
                uppercase: !a.no_upper,
                digits: !a.no_digits,
                symbols: !a.no_symbols,
                exclude_look_alikes: a.no_look_alikes,
                ..PasswordOptions::default()
            },
            super::generate_option,
        )?
    };
    let bits = g.entropy_bits;
    out.show(
        &serde_json::json!({ "secret": g.secret.expose_secret(), "entropy_bits": bits }),
        |w| {
            writeln!(w, "{}", g.secret.expose_secret())?;
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!("({bits:.0} bits of entropy)");
            }
            Ok(())
        },
    )?;
    Ok(None)
}

/// Arguments of `totp`.
#[derive(clap::Args)]
pub struct TotpArgs {
    /// The item: id, id prefix or exact title.
    item: String,
    /// The TOTP field, when the item has several.
    #[arg(long)]
    field: Option<String>,
}

/// Print the current code of an item's TOTP field.
pub fn totp(a: &TotpArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let v: ItemView = client.call(&Request::Get {
        item: a.item.clone(),
        reveal: true,
    })?;
    let field = v
        .fields
        .iter()
        .find(|f| {
            f.kind == FieldKind::Totp
                && a.field
                    .as_ref()
                    .is_none_or(|n| f.name.eq_ignore_ascii_case(n))
        })
        .ok_or_else(|| {
            anyhow::Error::new(tessera_core::Error::NotFound(format!(
                "{} has no TOTP field",
                v.title
            )))
        })?;
    let spec = TotpSpec::parse(field.value.as_ref().map_or("", SecretText::expose_secret))?;
    let (code, left) = spec.now();
    out.show(
        &serde_json::json!({ "code": code, "seconds_remaining": left, "period": spec.period() }),
        |w| {
            writeln!(w, "{code}")?;
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!("({left}s left)");
            }
            Ok(())
        },
    )?;
    Ok(None)
}

/// Arguments of `ssh-keygen`.
#[derive(clap::Args)]
pub struct SshKeygenArgs {
    /// The item's title.
    title: String,
    /// ed25519, ecdsa-p256, ecdsa-p384, rsa3072 or rsa4096.
    #[arg(long = "type", short = 't', default_value = "ed25519")]
    key_type: String,
    /// The key's comment (e.g. you@host).
    #[arg(long, short = 'C', default_value = "")]
    comment: String,
    /// Protect the stored private key with a passphrase (asked without echo).
    #[arg(long)]
    passphrase: bool,
}

/// Generate an SSH key and store it as an item.
pub fn ssh_keygen(a: &SshKeygenArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let key_type: SshKeyType = a.key_type.parse()?;
    let mut client = unlocked_client(dir)?;
    let passphrase = if a.passphrase {
        Some(ask_secret("Key passphrase", true)?)
    } else {
        None
    };
    let key = SshKey::generate(key_type, &a.comment)?;
    let data = ssh::to_item(a.title.trim(), &key, passphrase)?;
    let ids: Vec<String> = client.call(&Request::Add { items: vec![data] })?;
    let public = key.public_key()?;
    let fp = key.fingerprint();
    out.show(
        &serde_json::json!({ "id": ids[0], "public_key": public, "fingerprint": fp }),
        |w| {
            writeln!(w, "{public}")?;
            writeln!(w, "{fp}  (stored as {})", &ids[0][..8])
        },
    )?;
    Ok(None)
}

/// Arguments of `ssh-export`.
#[derive(clap::Args)]
pub struct SshExportArgs {
    /// The item: id, id prefix or exact title.
    item: String,
    /// Export the public key line instead of the private key.
    #[arg(long)]
    public: bool,
    /// Protect the exported private key with a new passphrase (asked without echo). Without
    /// it, a key stored with a passphrase is exported under that same passphrase.
    #[arg(long, conflicts_with = "no_passphrase")]
    passphrase: bool,
    /// Export the private key unencrypted even when it is stored with a passphrase.
    #[arg(long)]
    no_passphrase: bool,
    /// Write to this file (mode 0600, refuses to overwrite) instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// Export an SSH key item in OpenSSH format.
pub fn ssh_export(a: &SshExportArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let v: ItemView = client.call(&Request::Get {
        item: a.item.clone(),
        reveal: true,
    })?;
    let get = |n: &str| {
        v.fields
            .iter()
            .find(|f| f.name == n)
            .and_then(|f| f.value.as_ref())
    };
    let Some(private) = get("private_key") else {
        return usage(format!(
            "{} has no private_key field; is it an SSH key item?",
            v.title
        ));
    };
    let stored = get("passphrase").filter(|p| !p.is_empty());
    let key = SshKey::import_openssh(private.expose_secret(), stored)?;
    if a.public {
        let line = key.public_key()?;
        return write_export(
            a.output.as_deref(),
            &SecretText::new(format!("{line}\n")),
            out,
            &serde_json::json!({ "public_key": line, "fingerprint": key.fingerprint() }),
            "the public key",
        );
    }
    let asked = if a.passphrase {
        Some(ask_secret("Passphrase for the exported key", true)?)
    } else {
        None
    };
    let (pass, how) = match (&asked, stored) {
        (Some(p), _) => (Some(p), "encrypted with the new passphrase"),
        (None, Some(p)) if !a.no_passphrase => (Some(p), "encrypted with its stored passphrase"),
        (None, Some(_)) => (None, "unencrypted (--no-passphrase)"),
        (None, None) => (None, "unencrypted: the item has no passphrase"),
    };
    let text = key.to_openssh(pass)?;
    write_export(
        a.output.as_deref(),
        &text,
        out,
        &serde_json::json!({
            "private_key": text.expose_secret(),
            "encrypted": pass.is_some(),
            "fingerprint": key.fingerprint(),
        }),
        &format!("the private key, {how}"),
    )
}

/// Write an exported key to `path` (mode 0600, never over a file) or to standard output, and
/// say what was written: on standard error beside a key on standard output, else on standard
/// output. Under `--json` a key bound for standard output is inside the JSON.
fn write_export(
    path: Option<&std::path::Path>,
    text: &SecretText,
    out: &Output,
    json: &serde_json::Value,
    what: &str,
) -> Result<Option<ExitCode>> {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = path else {
        if out.json {
            out.show(json, |_| Ok(()))?;
        } else {
            crate::output::to_stdout(text.expose_secret().as_bytes())?;
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!("(exported {what})");
            }
        }
        return Ok(None);
    };
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return usage(format!(
                "{} exists already; nothing was written (remove it, or choose another -o)",
                path.display()
            ));
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    f.write_all(text.expose_secret().as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    let mut summary = json.clone();
    if let Some(map) = summary.as_object_mut() {
        map.remove("private_key");
        map.insert("file".into(), serde_json::json!(path));
    }
    out.done(&summary, &format!("Wrote {}: {what}", path.display()))?;
    Ok(None)
}

/// Arguments of `ssh-import`.
#[derive(clap::Args)]
pub struct SshImportArgs {
    /// The OpenSSH private key file (e.g. ~/.ssh/id_ed25519).
    file: PathBuf,
    /// The item's title [default: the key's comment, else the file's name].
    title: Option<String>,
    /// Where the key's passphrase comes from, when the file is encrypted (else: asked).
    #[command(flatten)]
    passphrase: PassphraseSource,
}

/// Store an OpenSSH private key file as an item. An encrypted key stays encrypted under its own
/// passphrase, which the item keeps (as `ssh-keygen` does) so `ssh-export` can write it again.
pub fn ssh_import(a: &SshImportArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(&a.file)
                .with_context(|| format!("opening {}", a.file.display()))?,
            64 * 1024 + 1,
        ),
        &mut text,
    )
    .with_context(|| format!("reading {}", a.file.display()))?;
    let passphrase = if SshKey::is_encrypted_openssh(&text)? {
        Some(
            a.passphrase
                .read(&format!("Passphrase of {}", a.file.display()), false)?,
        )
    } else {
        None
    };
    let key = SshKey::import_openssh(&text, passphrase.as_ref())?;
    let title = a.title.clone().unwrap_or_else(|| {
        Some(key.comment().trim())
            .filter(|c| !c.is_empty())
            .map_or_else(
                || {
                    a.file
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                },
                str::to_owned,
            )
    });
    let data = ssh::to_item(title.trim(), &key, passphrase)?;
    let ids: Vec<String> = client.call(&Request::Add { items: vec![data] })?;
    out.done(
        &serde_json::json!({ "id": ids[0], "title": title.trim(), "fingerprint": key.fingerprint() }),
        &format!("Imported {} as {:?} ({})", a.file.display(), title.trim(), key.fingerprint()),
    )?;
    Ok(None)
}
