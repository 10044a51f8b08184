//! The Emergency Kit as a text file. The shell writes it, not the web view: the text (with the
//! Account Secret Key, read here from the device copy) is made in Rust and written to a new
//! file under Downloads, mode 0600, never over an existing one. The web view gets the path to
//! tell the user where it went.
use std::path::Path;

use tauri::{AppHandle, State};
use tessera_crypto::AccountSecretKey;
use zeroize::Zeroizing;

use crate::error::CmdResult;
use crate::state::AppState;

/// The file's name before the extension (`Tessera-Emergency-Kit.txt`, then `-2`, ...).
pub(crate) const STEM: &str = "Tessera-Emergency-Kit";

/// Write the Emergency Kit of the unlocked vault to Downloads; returns the file's path.
#[tauri::command]
pub fn save_emergency_kit(app: AppHandle, state: State<'_, AppState>) -> CmdResult<String> {
    let created_at = state.agent.with_vault(|v| Ok(v.header().created_at))?;
    let secret_key = state.dir.read_secret_key()?;
    let text = kit_text(&secret_key, &state.dir.vault_file(), created_at);
    let path = crate::downloads::save(&app, STEM, "txt", text.as_bytes())?;
    Ok(path.display().to_string())
}

/// The kit as plain text, as the screen shows it.
pub(crate) fn kit_text(key: &AccountSecretKey, vault: &Path, created_at: i64) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(1024));
    text.push_str("TESSERA EMERGENCY KIT\n=====================\n\n");
    text.push_str("Created:  ");
    text.push_str(&tessera_core::vault::utc_minute(created_at));
    text.push_str(" UTC\nVault:    ");
    text.push_str(&vault.display().to_string());
    text.push_str("\n\n");
    text.push_str("Account Secret Key:\n    ");
    text.push_str(&key.to_human());
    text.push_str(
        "\n\nMaster password:  (write it on the printed copy by hand; never in this file)\n\n\
         To open your vault on a new device you need BOTH your master password and this\n\
         Account Secret Key. Neither is ever sent to a server, and nobody can recover them\n\
         for you. Keep this kit somewhere safe and offline: a printed copy in a drawer or\n\
         a safe, or an encrypted drive.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_kit_is_a_private_new_file_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let key = AccountSecretKey::generate();
        let text = kit_text(
            &key,
            Path::new("/home/me/.local/share/tessera/vault.sqlite"),
            0,
        );
        assert!(text.contains(key.to_human().as_str()));
        assert!(text.contains("Created:  1970-01-01 00:00 UTC"));

        let first = crate::downloads::save_in(dir.path(), STEM, "txt", text.as_bytes()).unwrap();
        std::fs::write(&first, "the user's own notes").unwrap();
        let second = crate::downloads::save_in(dir.path(), STEM, "txt", text.as_bytes()).unwrap();

        assert_eq!(first.file_name().unwrap(), "Tessera-Emergency-Kit.txt");
        assert_eq!(second.file_name().unwrap(), "Tessera-Emergency-Kit-2.txt");
        assert_eq!(
            std::fs::read_to_string(&first).unwrap(),
            "the user's own notes",
            "an existing file was overwritten"
        );
        assert_eq!(std::fs::read_to_string(&second).unwrap(), *text);
        for path in [&first, &second] {
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "{} is readable by others",
                path.display()
            );
        }
    }
}
