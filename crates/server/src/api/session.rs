//! Sessions (logout, list, revoke) and the TOTP second factor (enrol, confirm, disable). These
//! stay open to a caller whose team requires a second factor they have not enrolled yet.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_protocol::{
    AuditAction, DeviceInfo, MfaCodeRequest, MfaConfirmResponse, MfaEnrolResponse,
};

use super::account::check_code;
use super::{now, path_id, ApiError, ApiJson, AppState, Caller};
use crate::auth;
use crate::store::Audit;

/// `POST /v1/logout`: revoke the caller's session.
pub(super) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let now = now();
    let audit = Audit::if_done(
        caller.team.id,
        now,
        vec![caller.event(AuditAction::SessionRevoke).detail("logout")],
    );
    state
        .store()
        .revoke_session(caller.account.id, caller.session.id, now, audit)
        .await?;
    tracing::info!(account = %caller.account.id, session = %caller.session.id, "logout");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/sessions`: the caller's live sessions.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DeviceInfo>>, ApiError> {
    let sessions = state
        .store()
        .list_sessions(caller.account.id, now())
        .await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| DeviceInfo {
                current: s.id == caller.session.id,
                session_id: s.id,
                device_name: s.device_name,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
            })
            .collect(),
    ))
}

/// `DELETE /v1/sessions/{id}`: revoke one of the caller's own sessions.
pub(super) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id("id", &id)?;
    let now = now();
    let audit = Audit::if_done(
        caller.team.id,
        now,
        vec![caller.event(AuditAction::SessionRevoke)],
    );
    if !state
        .store()
        .revoke_session(caller.account.id, id, now, audit)
        .await?
    {
        return Err(ApiError::not_found("no such session").with_field("id"));
    }
    tracing::info!(account = %caller.account.id, session = %id, "session revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/mfa/enrol`: a new TOTP secret, pending until confirmed.
pub(super) async fn mfa_enrol(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MfaEnrolResponse>, ApiError> {
    if caller.account.mfa_enabled {
        return Err(ApiError::bad(
            "mfa",
            "a second factor is already enrolled; disable it first",
        ));
    }
    let secret = auth::new_totp_secret();
    let (b32, uri) = auth::totp_uri(&secret, &caller.account.email).ok_or_else(|| {
        ApiError::new(
            tessera_protocol::ErrorCode::Internal,
            "the server failed to make a TOTP secret",
        )
    })?;
    state
        .store()
        .set_mfa_pending(caller.account.id, secret)
        .await?;
    tracing::info!(account = %caller.account.id, "mfa enrolment started");
    Ok(Json(MfaEnrolResponse {
        secret: b32,
        otpauth_uri: uri,
    }))
}

/// `POST /v1/mfa/confirm`: a code from the pending secret enables it; returns recovery codes.
pub(super) async fn mfa_confirm(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<MfaCodeRequest>,
) -> Result<Json<MfaConfirmResponse>, ApiError> {
    if caller.account.mfa_enabled {
        return Err(ApiError::bad("code", "a second factor is already enrolled"));
    }
    if caller.account.mfa_secret.is_none() {
        return Err(ApiError::bad(
            "code",
            "no enrolment is pending; start with POST /v1/mfa/enrol",
        ));
    }
    if !auth::is_totp_code(req.code.trim())
        || !check_code(&state, &caller.account, &req.code).await?
    {
        return Err(ApiError::new(
            tessera_protocol::ErrorCode::MfaRequired,
            "the code is wrong or was already used",
        )
        .with_field("code"));
    }
    let (codes, hashes) = auth::new_recovery_codes();
    state.store().enable_mfa(caller.account.id, hashes).await?;
    tracing::info!(account = %caller.account.id, "mfa enabled");
    Ok(Json(MfaConfirmResponse {
        recovery_codes: codes,
    }))
}

/// `POST /v1/mfa/disable`: needs a valid TOTP or recovery code.
pub(super) async fn mfa_disable(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<MfaCodeRequest>,
) -> Result<StatusCode, ApiError> {
    if !caller.account.mfa_enabled {
        return Err(ApiError::bad("code", "no second factor is enrolled"));
    }
    if !check_code(&state, &caller.account, &req.code).await? {
        return Err(ApiError::new(
            tessera_protocol::ErrorCode::MfaRequired,
            "the code is wrong or was already used",
        )
        .with_field("code"));
    }
    state.store().disable_mfa(caller.account.id).await?;
    tracing::info!(account = %caller.account.id, "mfa disabled");
    Ok(StatusCode::NO_CONTENT)
}
