//! The whole personal vault as one encrypted file, and back. The shell writes the export to a
//! new file under Downloads (the web view names no path); an import receives the file's bytes,
//! read by the web view from a file the user picked. Argon2id (256 MiB) runs off the executor.
use serde::Serialize;
use tauri::{AppHandle, State};
use tessera_core::item::SecretText;
use tessera_core::vault::export::{ImportReport, EXPORT_KDF};

use crate::error::{blocking, CmdResult};
use crate::state::AppState;

/// Where the export went and what it holds.
#[derive(Serialize)]
pub struct VaultExport {
    pub(crate) path: String,
    pub(crate) items: usize,
    pub(crate) trashed: usize,
    pub(crate) versions: usize,
    /// Titles or ids of items that did not decrypt at unlock, left out.
    pub(crate) damaged: Vec<String>,
}

/// Export every personal item with its history and the trash, sealed under `passphrase`.
#[tauri::command]
pub async fn export_vault(
    app: AppHandle,
    state: State<'_, AppState>,
    passphrase: SecretText,
) -> CmdResult<VaultExport> {
    let agent = state.agent.clone();
    let export =
        blocking(move || Ok(agent.with_vault(|v| v.export_encrypted(&passphrase, EXPORT_KDF))?))
            .await?;
    let stem = format!(
        "tessera-vault-{}",
        tessera_core::vault::utc_minute(tessera_core::vault::now())
            .get(..10)
            .unwrap_or("export")
    );
    let path = crate::downloads::save(&app, &stem, "tessera", &export.bytes)?;
    let s = export.summary;
    Ok(VaultExport {
        path: path.display().to_string(),
        items: s.items,
        trashed: s.trashed,
        versions: s.versions,
        damaged: s.damaged,
    })
}

/// Import an export file (its bytes) in one transaction; items already here are skipped, and
/// an item changed on both sides comes in as a copy titled "… (imported)".
#[tauri::command]
pub async fn import_vault(
    state: State<'_, AppState>,
    file: Vec<u8>,
    passphrase: SecretText,
) -> CmdResult<ImportReport> {
    let agent = state.agent.clone();
    let report =
        blocking(move || Ok(agent.with_vault(|v| v.import_encrypted(&file, &passphrase))?)).await?;
    state.agent.changed();
    Ok(report)
}
