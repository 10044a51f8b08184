//! Generators, the strength meter, and SSH keys.
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tauri::State;
use tessera_core::agent::Request;
use tessera_core::generator::{self, PassphraseOptions, PasswordOptions};
use tessera_core::item::SecretText;
use tessera_core::ssh::{self, SshKey, SshKeyType};

use crate::error::{blocking, CmdError, CmdResult, Code};
use crate::state::AppState;

/// What to generate.
#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
// Each flag is a checkbox in the generator panel.
#[allow(clippy::struct_excessive_bools)]
pub enum GeneratorOptions {
    /// Random characters.
    Password {
        length: usize,
        lowercase: bool,
        uppercase: bool,
        digits: bool,
        symbols: bool,
        exclude_look_alikes: bool,
    },
    /// Random words.
    Passphrase {
        words: usize,
        separator: String,
        capitalize: bool,
        include_digit: bool,
    },
}

/// A generated secret for a form field, with its entropy.
#[derive(Serialize)]
pub struct Generated {
    pub(crate) value: SecretText,
    pub(crate) entropy_bits: f64,
}

#[tauri::command]
pub fn generate(options: GeneratorOptions) -> CmdResult<Generated> {
    let g = match options {
        GeneratorOptions::Password {
            length,
            lowercase,
            uppercase,
            digits,
            symbols,
            exclude_look_alikes,
        } => generator::generate_password(&PasswordOptions {
            length,
            lowercase,
            uppercase,
            digits,
            symbols,
            exclude_look_alikes,
        })?,
        GeneratorOptions::Passphrase {
            words,
            separator,
            capitalize,
            include_digit,
        } => generator::generate_passphrase(&PassphraseOptions {
            words,
            separator,
            capitalize,
            include_digit,
        })?,
    };
    Ok(Generated {
        value: g.secret,
        entropy_bits: g.entropy_bits,
    })
}

/// The strength meter's reading.
#[derive(Serialize)]
pub struct StrengthView {
    pub(crate) score: u8,
    pub(crate) guesses_log10: f64,
    pub(crate) crack_time_display: String,
    pub(crate) warning: Option<String>,
    pub(crate) suggestions: Vec<String>,
}

#[tauri::command]
pub fn strength(password: SecretText, inputs: Vec<String>) -> StrengthView {
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).take(16).collect();
    let s = generator::estimate_strength(password.expose_secret(), &inputs);
    StrengthView {
        score: s.score,
        guesses_log10: s.guesses_log10,
        crack_time_display: s.crack_time_display,
        warning: s.warning,
        suggestions: s.suggestions,
    }
}

/// The SSH key generator dialog.
#[derive(Deserialize)]
pub struct SshKeyRequest {
    title: String,
    key_type: String,
    comment: String,
    passphrase: Option<SecretText>,
}

#[tauri::command]
pub async fn generate_ssh_key(
    state: State<'_, AppState>,
    request: SshKeyRequest,
) -> CmdResult<String> {
    let key_type: SshKeyType = request.key_type.parse()?;
    if request.title.trim().is_empty() {
        return Err(CmdError::invalid("Give the key a title."));
    }
    let agent = state.agent.clone();
    blocking(move || {
        let key = SshKey::generate(key_type, request.comment.trim())?;
        let item = ssh::to_item(request.title.trim(), &key, request.passphrase)?;
        let ids: Vec<String> = agent.call(&Request::Add { items: vec![item] })?;
        ids.into_iter()
            .next()
            .ok_or_else(|| CmdError::new(Code::Internal, "The key was not stored."))
    })
    .await
}

/// Where an exported key was written.
#[derive(Serialize)]
pub struct SshExport {
    pub(crate) private_key_path: String,
    pub(crate) public_key_path: String,
    pub(crate) fingerprint: String,
}

/// Check a file name for `~/.ssh`: letters, digits, `.`, `_`, `-`; no path, no leading dot.
fn check_file_name(name: &str) -> CmdResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(CmdError::invalid(
            "Use a plain file name of up to 64 letters, digits, dots, dashes or underscores (it is written in ~/.ssh).",
        ))
    }
}

fn ssh_dir() -> CmdResult<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".ssh"))
        .ok_or_else(|| CmdError::new(Code::Internal, "HOME is not set; cannot find ~/.ssh."))
}

/// Write `contents` to a new file (never over an existing one) with `mode`.
fn write_new(path: &std::path::Path, contents: &[u8], mode: u32) -> CmdResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => CmdError::invalid(format!(
                "{} already exists; choose another file name.",
                path.display()
            )),
            _ => CmdError::new(
                Code::Internal,
                format!("Cannot write {}: {e}", path.display()),
            ),
        })?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            CmdError::new(
                Code::Internal,
                format!("Cannot write {}: {e}", path.display()),
            )
        })
}

#[tauri::command]
pub fn export_ssh_key(
    state: State<'_, AppState>,
    id: String,
    file_name: String,
) -> CmdResult<SshExport> {
    check_file_name(&file_name)?;
    let (private_key, public_key, fingerprint) = state.agent.with_vault(|v| {
        let item = v.get(&id.parse()?)?;
        let field = |n: &str| item.data.field(n).map(|f| f.value.duplicate());
        Ok((
            field("private_key"),
            field("public_key"),
            field("fingerprint"),
        ))
    })?;
    let (Some(private_key), Some(public_key)) = (private_key, public_key) else {
        return Err(CmdError::invalid(
            "This item holds no SSH key pair to export.",
        ));
    };
    let dir = ssh_dir()?;
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|e| {
                CmdError::new(
                    Code::Internal,
                    format!("Cannot create {}: {e}", dir.display()),
                )
            })?;
    }
    let private_path = dir.join(&file_name);
    let public_path = dir.join(format!("{file_name}.pub"));
    if public_path.exists() {
        return Err(CmdError::invalid(format!(
            "{} already exists; choose another file name.",
            public_path.display()
        )));
    }
    let mut pem = private_key.expose_secret().to_owned().into_bytes();
    if !pem.ends_with(b"\n") {
        pem.push(b'\n');
    }
    let written = write_new(&private_path, &pem, 0o600);
    zeroize::Zeroize::zeroize(&mut pem);
    written?;
    write_new(
        &public_path,
        format!("{}\n", public_key.expose_secret().trim_end()).as_bytes(),
        0o644,
    )?;
    Ok(SshExport {
        private_key_path: private_path.display().to_string(),
        public_key_path: public_path.display().to_string(),
        fingerprint: fingerprint
            .map(|f| f.expose_secret().to_owned())
            .unwrap_or_default(),
    })
}
