//! Teams, prelogin, login, invitations, joining, team settings and lifting lockouts.
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_protocol::{
    Actor, AuditAction, AuditEvent, CreateTeamRequest, ErrorCode, InviteRequest, InviteResponse,
    JoinRequest, LoginRequest, LoginResponse, NewAccount, PreloginRequest, PreloginResponse,
    RootPin, SessionInfo, TeamSettings,
};
use zeroize::Zeroizing;

use super::{
    now, path_id, random_id, ApiError, ApiJson, AppState, Member, INVITE_SECS, SESSION_SECS,
};
use crate::auth;
use crate::store::{Account, Audit, NewAccountRow, NewInvite, NewSession, Role, StoreError, Team};

/// A new session for a device: the token (shown once) and the row the store keeps.
fn new_session(device_name: &str, now: i64) -> (SessionInfo, NewSession) {
    let (token, token_hash) = auth::new_token();
    let id = random_id();
    let expires_at = now + SESSION_SECS;
    (
        SessionInfo {
            token,
            session_id: id,
            expires_at,
        },
        NewSession {
            id,
            token_hash,
            device_name: device_name.trim().to_owned(),
            created_at: now,
            expires_at,
        },
    )
}

async fn account_row(
    a: &NewAccount,
    team_id: tessera_protocol::Id,
    role: Role,
    now: i64,
) -> Result<NewAccountRow, ApiError> {
    let auth_hash = auth::hash_auth_key(Zeroizing::new(a.auth_key.0.clone()))
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the server failed to hash the key"))?;
    Ok(NewAccountRow {
        id: a.account_id,
        team_id,
        email: a.email.to_lowercase(),
        role,
        auth_hash,
        kdf: a.kdf.clone(),
        keys: a.keys.clone(),
        created_at: now,
    })
}

fn login_response(team: &Team, account: &Account, session: SessionInfo) -> LoginResponse {
    LoginResponse {
        team_id: team.id,
        account_id: account.id,
        session,
        keys: account.keys.clone(),
        root_public: tessera_protocol::Blob(team.root_public.clone()),
        mfa_enabled: account.mfa_enabled,
        root_pin: account
            .root_pin
            .as_deref()
            .filter(|p| p.len() == 96)
            .map(|p| RootPin {
                root_public: tessera_protocol::Blob(p[..32].to_vec()),
                signature: tessera_protocol::Blob(p[32..].to_vec()),
            }),
    }
}

/// `PUT /v1/account/root-pin`: the caller's signed pin of its team root, handed to its new
/// devices at login. The server cannot check the signature's meaning for a new device (the
/// device checks it against the keyset its password opens); it keeps honest clients consistent
/// by refusing a pin of another root.
pub(super) async fn set_root_pin(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiJson(req): ApiJson<RootPin>,
) -> Result<StatusCode, ApiError> {
    if req.root_public.0 != caller.team.root_public {
        return Err(ApiError::bad(
            "root_public",
            "this pin names another team's root key, not this team's",
        ));
    }
    let mut pin = req.root_public.0;
    pin.extend_from_slice(&req.signature.0);
    state.store().set_root_pin(caller.account.id, pin).await?;
    tracing::info!(account = %caller.account.id, "team root pin stored");
    Ok(StatusCode::NO_CONTENT)
}

fn account_conflict(e: StoreError, prefix: &str) -> ApiError {
    match e {
        StoreError::EmailTaken => ApiError::new(
            ErrorCode::Conflict,
            "an account with this e-mail address already exists",
        )
        .with_field(&format!("{prefix}email")),
        StoreError::IdTaken => ApiError::new(ErrorCode::Conflict, "this account id is taken")
            .with_field(&format!("{prefix}account_id")),
        e => e.into(),
    }
}

/// `POST /v1/teams`: create a team; the caller becomes its first admin.
pub(super) async fn create_team(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateTeamRequest>,
) -> Result<(StatusCode, Json<LoginResponse>), ApiError> {
    let now = now();
    let team = Team {
        id: random_id(),
        root_public: req.root_public.0.clone(),
        require_mfa: false,
        created_at: now,
    };
    let row = account_row(&req.admin, team.id, Role::Admin, now).await?;
    let (info, session) = new_session(&req.admin.device_name, now);
    let audit = Audit::new(
        team.id,
        now,
        vec![AuditEvent::new(
            Actor::Account(req.admin.account_id),
            AuditAction::TeamCreate,
        )],
    );
    state
        .store()
        .create_team(team.clone(), row, session, audit)
        .await
        .map_err(|e| account_conflict(e, "admin."))?;
    let account = state
        .store()
        .account_by_id(req.admin.account_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the new account vanished"))?;
    tracing::info!(team = %team.id, account = %account.id, "team created");
    Ok((
        StatusCode::CREATED,
        Json(login_response(&team, &account, info)),
    ))
}

/// `POST /v1/prelogin`: KDF parameters; stable fake ones for unknown addresses.
pub(super) async fn prelogin(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PreloginRequest>,
) -> Result<Json<PreloginResponse>, ApiError> {
    let email = req.email.to_lowercase();
    let kdf = match state.store().account_by_email(email.clone()).await? {
        Some(a) => a.kdf,
        None => auth::fake_kdf(&state.inner.secret, &email),
    };
    Ok(Json(PreloginResponse { kdf }))
}

fn too_many(message: &str) -> ApiError {
    ApiError::new(ErrorCode::TooManyRequests, message)
}

/// `POST /v1/login`: auth key, then the second factor when enrolled. Failures count against
/// the account and the client address.
pub(super) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let now = now();
    let store = state.store();
    let policy = state.inner.policy;
    let address = peer.ip().to_string();
    if store.address_failures(address.clone(), now, policy).await? >= policy.address_max_failures {
        state.inner.metrics.count_login(false);
        return Err(too_many(
            "too many failed logins from this address; wait a minute and try again",
        ));
    }
    let email = req.email.to_lowercase();
    let account = store.account_by_email(email).await?;
    if let Some(until) = account.as_ref().and_then(|a| a.locked_until) {
        if until > now {
            state.inner.metrics.count_login(false);
            return Err(too_many(
                "this account is locked after too many failed logins; try again later or ask \
                 a team admin to unlock it",
            ));
        }
    }
    let key = Zeroizing::new(req.auth_key.0.clone());
    let ok = auth::verify_auth_key(key, account.as_ref().map(|a| a.auth_hash.clone())).await;
    let metrics = &state.inner.metrics;
    let fail = |account: Option<&Account>| {
        let id = account.map(|a| a.id);
        let address = address.clone();
        // A known account's failure is recorded in its team's chain, with the count it raises.
        let audit = account.map_or_else(Audit::none, |a| {
            Audit::new(
                a.team_id,
                now,
                vec![AuditEvent::new(
                    Actor::Account(a.id),
                    AuditAction::LoginFailed,
                )],
            )
        });
        async move {
            metrics.count_login(false);
            store
                .record_login_failure(id, address, now, policy, audit)
                .await?;
            Ok::<(), ApiError>(())
        }
    };
    let account = match (ok, account) {
        (true, Some(a)) => a,
        (_, a) => {
            fail(a.as_ref()).await?;
            tracing::info!("login failed: wrong e-mail address or auth key");
            return Err(ApiError::unauthorized("wrong e-mail address or auth key"));
        }
    };
    if account.mfa_enabled {
        let Some(code) = req.totp.as_deref() else {
            return Err(ApiError::new(
                ErrorCode::MfaRequired,
                "this account has a second factor: send a TOTP or recovery code in `totp`",
            )
            .with_field("totp"));
        };
        if !check_code(&state, &account, code).await? {
            fail(Some(&account)).await?;
            tracing::info!(account = %account.id, "login failed: wrong second factor");
            return Err(ApiError::new(
                ErrorCode::MfaRequired,
                "the code is wrong or was already used",
            )
            .with_field("totp"));
        }
    }
    if store.offboarded_at(account.id).await?.is_some() {
        state.inner.metrics.count_login(false);
        return Err(ApiError::forbidden(
            "this account was offboarded and can no longer sign in; ask a team admin",
        ));
    }
    store.clear_login_failures(account.id).await?;
    let team = store
        .team(account.team_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the account's team is missing"))?;
    let (info, session) = new_session(&req.device_name, now);
    let audit = Audit::new(
        team.id,
        now,
        vec![AuditEvent::new(
            Actor::Account(account.id),
            AuditAction::Login,
        )],
    );
    store.create_session(account.id, session, audit).await?;
    state.inner.metrics.count_login(true);
    tracing::info!(account = %account.id, session = %info.session_id, "login");
    Ok(Json(login_response(&team, &account, info)))
}

/// Check a TOTP code (its time step is then used up) or a recovery code (then consumed).
pub(super) async fn check_code(
    state: &AppState,
    account: &Account,
    code: &str,
) -> Result<bool, ApiError> {
    let code = code.trim();
    if auth::is_totp_code(code) {
        let Some(secret) = account.mfa_secret.as_deref() else {
            return Ok(false);
        };
        let Some(step) = auth::totp_step(secret, code, now() as u64) else {
            return Ok(false);
        };
        Ok(state.store().use_totp_step(account.id, step).await?)
    } else if account.mfa_enabled {
        Ok(state
            .store()
            .use_recovery_code(account.id, auth::recovery_hash(code))
            .await?)
    } else {
        Ok(false)
    }
}

/// `POST /v1/teams/{team_id}/invites` (admins).
pub(super) async fn invite(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(team_id): Path<String>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InviteResponse>), ApiError> {
    let team_id = path_id("team_id", &team_id)?;
    caller.admin_of(team_id)?;
    let now = now();
    let (token, token_hash) = auth::new_token();
    let expires_at = now + INVITE_SECS;
    state
        .store()
        .create_invite(
            NewInvite {
                token_hash,
                team_id,
                email: req.email.to_lowercase(),
                created_by: caller.account.id,
                created_at: now,
                expires_at,
            },
            Audit::new(team_id, now, vec![caller.event(AuditAction::Invite)]),
        )
        .await?;
    tracing::info!(team = %team_id, by = %caller.account.id, "invitation created");
    Ok((
        StatusCode::CREATED,
        Json(InviteResponse {
            invite_token: token,
            team_id,
            root_fingerprint: auth::fingerprint(&caller.team.root_public),
            expires_at,
        }),
    ))
}

/// `POST /v1/join`: accept an invitation with a new account.
pub(super) async fn join(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<(StatusCode, Json<LoginResponse>), ApiError> {
    let now = now();
    // The team comes from the invitation; the store fills it in.
    let row = account_row(
        &req.account,
        tessera_protocol::Id([0; 16]),
        Role::Member,
        now,
    )
    .await?;
    let (info, session) = new_session(&req.account.device_name, now);
    let id = req.account.account_id;
    // The team is the invitation's, which the store finds.
    let audit = Audit::of(now, move |team: &Team| {
        let joined = AuditEvent::new(Actor::Account(id), AuditAction::Join);
        (team.id, vec![joined])
    });
    let team = state
        .store()
        .join_team(
            auth::token_hash(&req.invite_token),
            row,
            session,
            now,
            audit,
        )
        .await
        .map_err(|e| match e {
            StoreError::InviteInvalid => {
                ApiError::not_found("the invitation is unknown, used or expired")
                    .with_field("invite_token")
            }
            StoreError::InviteForOtherEmail => {
                ApiError::forbidden("the invitation was issued to another e-mail address")
                    .with_field("account.email")
            }
            e => account_conflict(e, "account."),
        })?;
    let account = state
        .store()
        .account_by_id(req.account.account_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the new account vanished"))?;
    tracing::info!(team = %team.id, account = %account.id, "joined");
    Ok((
        StatusCode::CREATED,
        Json(login_response(&team, &account, info)),
    ))
}

/// `PUT /v1/teams/{team_id}/settings` (admins).
pub(super) async fn settings(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(team_id): Path<String>,
    ApiJson(req): ApiJson<TeamSettings>,
) -> Result<Json<TeamSettings>, ApiError> {
    let team_id = path_id("team_id", &team_id)?;
    caller.admin_of(team_id)?;
    let audit = Audit::new(
        team_id,
        now(),
        vec![caller
            .event(AuditAction::Settings)
            .detail(format!("require_mfa={}", req.require_mfa))],
    );
    state
        .store()
        .set_require_mfa(team_id, req.require_mfa, audit)
        .await?;
    tracing::info!(team = %team_id, require_mfa = req.require_mfa, "team settings changed");
    Ok(Json(req))
}

/// `POST /v1/teams/{team_id}/accounts/{account_id}/unlock` (admins): lift a login lockout.
pub(super) async fn unlock(
    State(state): State<AppState>,
    Member(caller): Member,
    Path((team_id, account_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let team_id = path_id("team_id", &team_id)?;
    let account_id = path_id("account_id", &account_id)?;
    caller.admin_of(team_id)?;
    let account = state
        .store()
        .account_by_id(account_id)
        .await?
        .filter(|a| a.team_id == team_id)
        .ok_or_else(|| ApiError::not_found("no such account in this team"))?;
    state.store().unlock_account(account.id).await?;
    tracing::info!(team = %team_id, account = %account.id, by = %caller.account.id, "lockout lifted");
    Ok(StatusCode::NO_CONTENT)
}
