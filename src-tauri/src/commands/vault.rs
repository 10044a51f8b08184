//! Creating, unlocking and locking the vault; settings.
use std::time::Duration;

use serde::Serialize;
use tauri::State;
use tessera_core::agent::{Request, StatusView};
use tessera_core::item::SecretText;
use tessera_core::Vault;
use tessera_crypto::kdf::KdfParams;

use crate::error::{blocking, CmdError, CmdResult, Code};
use crate::settings::Settings;
use crate::state::AppState;

/// What the app knows before anything is unlocked.
#[derive(Serialize)]
pub struct AppStateView {
    /// The workspace version (`Cargo.toml`), the one `tessera --version` prints.
    pub(crate) version: &'static str,
    pub(crate) vault_exists: bool,
    pub(crate) unlocked: bool,
    pub(crate) settings: Settings,
}

/// The Emergency Kit shown once after creating a vault.
#[derive(Serialize)]
pub struct EmergencyKit {
    pub(crate) secret_key: String,
    pub(crate) vault: String,
    pub(crate) created_at: i64,
}

#[tauri::command]
pub fn app_state(state: State<'_, AppState>) -> AppStateView {
    AppStateView {
        version: env!("CARGO_PKG_VERSION"),
        vault_exists: state.dir.vault_file().exists(),
        unlocked: state.agent.is_unlocked(),
        settings: state.settings().clone(),
    }
}

#[tauri::command]
pub async fn create_vault(
    state: State<'_, AppState>,
    password: SecretText,
) -> CmdResult<EmergencyKit> {
    let strength = tessera_core::generator::estimate_strength(password.expose_secret(), &[]);
    if strength.score < 3 {
        return Err(CmdError::invalid(format!(
            "This master password is too weak (it could be cracked in {}). Choose a longer one.",
            strength.crack_time_display
        )));
    }
    let dir = state.dir.clone();
    let (vault, secret_key) = blocking(move || {
        Ok(Vault::create_in(
            &dir,
            password.expose_secret().as_bytes(),
            KdfParams::DEFAULT,
        )?)
    })
    .await?;
    let kit = EmergencyKit {
        secret_key: secret_key.to_human().to_string(),
        vault: state.dir.vault_file().display().to_string(),
        created_at: vault.header().created_at,
    };
    state.agent.set_vault(vault);
    Ok(kit)
}

#[tauri::command]
pub async fn unlock(state: State<'_, AppState>, password: SecretText) -> CmdResult<StatusView> {
    if !state.dir.vault_file().exists() {
        return Err(CmdError::new(
            Code::NoVault,
            "There is no vault on this device yet; create one first.",
        ));
    }
    let agent = state.agent.clone();
    blocking(move || Ok(agent.call(&Request::Unlock { password })?)).await
}

#[tauri::command]
pub fn lock(state: State<'_, AppState>) {
    state.agent.lock();
    state.clipboard.clear_if_ours();
}

#[tauri::command]
pub fn touch(state: State<'_, AppState>) {
    state.agent.touch();
}

#[tauri::command]
pub fn status(state: State<'_, AppState>) -> CmdResult<StatusView> {
    Ok(state.agent.call(&Request::Status)?)
}

#[tauri::command]
pub async fn change_password(
    state: State<'_, AppState>,
    old: SecretText,
    new: SecretText,
) -> CmdResult<()> {
    if tessera_core::generator::estimate_strength(new.expose_secret(), &[]).score < 3 {
        return Err(CmdError::invalid(
            "The new master password is too weak. Choose a longer one.",
        ));
    }
    let agent = state.agent.clone();
    blocking(move || {
        agent.call::<StatusView>(&Request::ChangePassword { old, new })?;
        Ok(())
    })
    .await
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    state.settings().clone()
}

#[tauri::command]
pub fn set_settings(state: State<'_, AppState>, settings: Settings) -> CmdResult<Settings> {
    settings.validate()?;
    let mut current = state.settings();
    let next = Settings {
        window: current.window,
        ..settings
    };
    next.save(state.dir.dir())?;
    state
        .agent
        .set_idle_timeout(Duration::from_secs(u64::from(next.auto_lock_minutes) * 60));
    *current = next.clone();
    Ok(next)
}
