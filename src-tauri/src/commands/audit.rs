//! The team admin's screens: the audit log and its chain check, and the offboarding review
//! (with its one revoke action and the CSV checklist, which the shell writes under the user's
//! Downloads directory: the web view never names a path).
use serde::Serialize;
use tauri::{AppHandle, State};
use tessera_core::agent::Request;
use tessera_core::vault::{
    AuditFilter, AuditRow, AuditVerdict, OffboardOutcome, OffboardingReport,
};

use crate::commands::team::call_team;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn audit(state: State<'_, AppState>, filter: AuditFilter) -> CmdResult<Vec<AuditRow>> {
    call_team(&state, Request::Audit { filter }).await
}

#[tauri::command]
pub async fn audit_verify(state: State<'_, AppState>) -> CmdResult<AuditVerdict> {
    call_team(&state, Request::AuditVerify).await
}

#[tauri::command]
pub async fn offboarding(
    state: State<'_, AppState>,
    email: String,
) -> CmdResult<OffboardingReport> {
    call_team(&state, Request::Offboarding { member: email }).await
}

/// Revoke everything of a member: sign-ins, sessions, tokens, memberships, new key epochs.
#[tauri::command]
pub async fn offboard(state: State<'_, AppState>, email: String) -> CmdResult<OffboardOutcome> {
    call_team(&state, Request::Offboard { member: email }).await
}

/// Where the CSV went.
#[derive(Serialize)]
pub struct CsvExport {
    pub(crate) path: String,
    pub(crate) rows: usize,
}

/// Write a member's rotation checklist as CSV to a new file in the Downloads directory.
#[tauri::command]
pub async fn export_offboarding_csv(
    app: AppHandle,
    state: State<'_, AppState>,
    email: String,
) -> CmdResult<CsvExport> {
    let report: OffboardingReport =
        call_team(&state, Request::Offboarding { member: email }).await?;
    let stem = format!("tessera-offboarding-{}", report.email);
    let path = crate::downloads::save(&app, &stem, "csv", report.to_csv().as_bytes())?;
    Ok(CsvExport {
        path: path.display().to_string(),
        rows: report.secrets.len(),
    })
}
