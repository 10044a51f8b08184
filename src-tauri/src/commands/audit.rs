//! The team admin's screens: the audit log and its chain check, and the offboarding review
//! (with its one revoke action and the CSV checklist, which the shell writes under the user's
//! Downloads directory: the web view never names a path).
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use tessera_core::agent::Request;
use tessera_core::vault::{
    AuditFilter, AuditRow, AuditVerdict, OffboardOutcome, OffboardingReport,
};

use crate::commands::team::call_team;
use crate::error::{CmdError, CmdResult, Code};
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
    let dir = app
        .path()
        .download_dir()
        .map_err(|e| CmdError::new(Code::Internal, format!("No Downloads directory: {e}")))?;
    let path = write_csv(&dir, &report.email, &report.to_csv())?;
    Ok(CsvExport {
        path: path.display().to_string(),
        rows: report.secrets.len(),
    })
}

/// Write `csv` to a new file in `dir` named after the member (never over an existing file).
fn write_csv(dir: &Path, email: &str, csv: &str) -> CmdResult<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |p: &Path, e: std::io::Error| {
        CmdError::new(Code::Internal, format!("Cannot write {}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let stem: String = email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    for n in 1..1000 {
        let name = if n == 1 {
            format!("tessera-offboarding-{stem}.csv")
        } else {
            format!("tessera-offboarding-{stem}-{n}.csv")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(csv.as_bytes()).map_err(|e| fail(&path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(&path, e)),
        }
    }
    Err(CmdError::invalid(format!(
        "Too many offboarding files in {}; move some away.",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_goes_to_a_new_file_named_after_the_member() {
        let dir = std::env::temp_dir().join(format!("tessera-csv-{}", std::process::id()));
        let a = write_csv(&dir, "../b@x.com", "h\n").unwrap();
        let b = write_csv(&dir, "../b@x.com", "h\n").unwrap();
        assert_eq!(a.parent().unwrap(), dir);
        assert_eq!(a.file_name().unwrap(), "tessera-offboarding-..-b-x.com.csv");
        assert_eq!(
            b.file_name().unwrap(),
            "tessera-offboarding-..-b-x.com-2.csv"
        );
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "h\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
