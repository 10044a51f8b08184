//! The server account: link to a team, sync, devices, sign out.
use tauri::State;
use tessera_core::agent::{Request, SyncStatus};
use tessera_core::item::SecretText;
use tessera_core::vault::LinkInfo;

use crate::error::{blocking, CmdResult};
use crate::state::AppState;

#[tauri::command]
pub fn sync_status(state: State<'_, AppState>) -> SyncStatus {
    state.agent.sync_status()
}

#[tauri::command]
pub async fn sync_now(state: State<'_, AppState>) -> CmdResult<SyncStatus> {
    let agent = state.agent.clone();
    blocking(move || Ok(agent.sync_now())).await
}

/// Send a request that talks to the team server, off the async executor.
pub(crate) fn call_team<T: serde::de::DeserializeOwned + Send + 'static>(
    state: &State<'_, AppState>,
    request: Request,
) -> impl std::future::Future<Output = CmdResult<T>> {
    let agent = state.agent.clone();
    blocking(move || Ok(agent.call(&request)?))
}

#[tauri::command]
pub async fn team_create(
    state: State<'_, AppState>,
    server: String,
    email: String,
    device: String,
    password: SecretText,
) -> CmdResult<LinkInfo> {
    call_team(
        &state,
        Request::TeamCreate {
            server,
            email,
            device,
            password,
        },
    )
    .await
}

#[tauri::command]
pub async fn team_join(
    state: State<'_, AppState>,
    server: String,
    token: String,
    fingerprint: String,
    email: String,
    device: String,
    password: SecretText,
) -> CmdResult<LinkInfo> {
    call_team(
        &state,
        Request::TeamJoin {
            server,
            token,
            fingerprint,
            email,
            device,
            password,
        },
    )
    .await
}

#[tauri::command]
pub async fn devices(state: State<'_, AppState>) -> CmdResult<serde_json::Value> {
    call_team(&state, Request::Devices).await
}

#[tauri::command]
pub async fn revoke_device(state: State<'_, AppState>, session_id: String) -> CmdResult<()> {
    call_team::<bool>(&state, Request::RevokeDevice { session_id }).await?;
    Ok(())
}

#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> CmdResult<()> {
    call_team::<bool>(&state, Request::Logout).await?;
    Ok(())
}
