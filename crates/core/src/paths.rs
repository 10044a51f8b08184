//! Where a user's vault lives on disk, and the device copy of the Account Secret Key.
//!
//! The directory is `$TESSERA_HOME`, else `$XDG_DATA_HOME/tessera`, else
//! `~/.local/share/tessera`, mode 0700. In it: `vault.sqlite` (the vault), `secret-key` (the
//! Account Secret Key in its printed form, mode 0600) and `agent.sock` (the agent's socket).
//! The secret key is kept apart from the vault file so that a copy of the vault alone (a backup,
//! a synced folder) is not enough to start guessing the master password.
use std::io::Write;
use std::path::{Path, PathBuf};

use tessera_crypto::AccountSecretKey;

use crate::error::{Error, Result};

/// The files of one local account.
#[derive(Clone, Debug)]
pub struct VaultDir {
    dir: PathBuf,
}

impl VaultDir {
    /// A directory chosen by the caller.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default directory for this user (see the module docs).
    pub fn default_for_user() -> Result<Self> {
        if let Some(d) = std::env::var_os("TESSERA_HOME").filter(|d| !d.is_empty()) {
            return Ok(Self::new(d));
        }
        if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
            return Ok(Self::new(PathBuf::from(d).join("tessera")));
        }
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                Error::Invalid(
                    "neither TESSERA_HOME nor HOME is set; set TESSERA_HOME to the vault directory"
                        .into(),
                )
            })?;
        Ok(Self::new(PathBuf::from(home).join(".local/share/tessera")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The vault file.
    pub fn vault_file(&self) -> PathBuf {
        self.dir.join("vault.sqlite")
    }

    /// The device copy of the Account Secret Key.
    pub fn secret_key_file(&self) -> PathBuf {
        self.dir.join("secret-key")
    }

    /// The agent's Unix socket.
    pub fn agent_socket(&self) -> PathBuf {
        self.dir.join("agent.sock")
    }

    /// Read the device copy of the Account Secret Key.
    pub fn read_secret_key(&self) -> Result<AccountSecretKey> {
        let path = self.secret_key_file();
        let text =
            zeroize::Zeroizing::new(std::fs::read_to_string(&path).map_err(
                |e| match e.kind() {
                    std::io::ErrorKind::NotFound => Error::NotFound(format!(
                "this device has no Account Secret Key at {}; enter it from your Emergency Kit",
                path.display()
            )),
                    _ => Error::Io {
                        context: format!("reading {}", path.display()),
                        source: e,
                    },
                },
            )?);
        AccountSecretKey::parse(&text).map_err(|e| {
            Error::Invalid(format!(
                "{} is damaged: {e}; restore it from your Emergency Kit",
                path.display()
            ))
        })
    }

    /// Store the Account Secret Key on this device (mode 0600, written atomically).
    pub fn write_secret_key(&self, key: &AccountSecretKey) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        crate::store::create_private_dir(&self.dir)?;
        let path = self.secret_key_file();
        let tmp = self.dir.join(".secret-key.tmp");
        let io = |e| Error::Io {
            context: format!("writing {}", path.display()),
            source: e,
        };
        // A leftover of a crash; create_new reports the rest
        #[allow(clippy::let_underscore_must_use)]
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        let human = key.to_human();
        f.write_all(human.as_bytes())
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}
