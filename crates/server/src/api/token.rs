//! Machine tokens for CI: group admins create, list and revoke them; a job holding one reads
//! its group's keys and items, and nothing else.
//!
//! A machine token authenticates with `Authorization: Token <token id>.<bearer>` (the bearer in
//! base64url). The server looks it up by the SHA-256 of the bearer, so comparing it is a hash
//! lookup, not a byte comparison that could leak timing; the id in the header must match too. It
//! is refused (401) when unknown, revoked, expired, or when its group is gone. Session endpoints
//! accept only `Bearer` sessions and these endpoints only `Token`s, so neither credential works
//! where the other is expected. Revocation is a row update that the next request sees.
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use base64::Engine as _;
use tessera_protocol::{
    limits, Actor, AuditAction, AuditEvent, Blob, CreateTokenRequest, Id, PullResponse,
    TaggedTokenPin, TokenGroup, TokenInfo, TOKEN_MAX_LIFETIME, TOKEN_SCHEME,
};

use super::group::{group_admin, stale};
use super::sync::SyncQuery;
use super::{now, path_id, ApiError, ApiJson, AppState, Member};
use crate::store::{Audit, Group, NewToken, StoreError, Token};

/// `POST /v1/groups/{group_id}/tokens` (group admins): store a token the admin's client made.
pub(super) async fn create(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> Result<StatusCode, ApiError> {
    let group = path_id("group_id", &group)?;
    let now = now();
    group_admin(&state, &caller, group, now).await?;
    if req.expires_at <= now {
        return Err(ApiError::bad("expires_at", "expires_at is in the past"));
    }
    if req.expires_at > now + TOKEN_MAX_LIFETIME {
        return Err(ApiError::bad(
            "expires_at",
            "a machine token lives at most 366 days; choose an earlier expires_at",
        ));
    }
    let token_hash: [u8; 32] = req
        .bearer_hash
        .0
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::bad("bearer_hash", "bearer_hash must be 32 bytes"))?;
    let token = NewToken {
        id: req.token_id,
        group_id: group,
        team_id: caller.team.id,
        name: req.name.0,
        exchange_public: req.exchange_public.0,
        signature: req.signature.0,
        token_hash,
        created_by: caller.account.id,
        created_at: now,
        expires_at: req.expires_at,
        epoch: req.epoch,
        key: req.key.0,
        pin: req.pin.as_ref().map(TaggedTokenPin::to_bytes),
    };
    let audit = Audit::new(
        caller.team.id,
        now,
        vec![caller
            .event(AuditAction::TokenCreate)
            .group(group)
            .detail(format!("token={} expires={}", req.token_id, req.expires_at))],
    );
    match state.store().create_token(token, audit).await {
        Ok(()) => {}
        Err(StoreError::StaleEpoch) => return Err(stale()),
        Err(StoreError::IdTaken) => {
            return Err(ApiError::bad("token_id", "token_id is already in use"))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(by = %caller.account.id, group = %group, token = %req.token_id, "machine token created");
    Ok(StatusCode::CREATED)
}

pub(super) fn info(t: Token) -> TokenInfo {
    TokenInfo {
        token_id: t.id,
        name: Blob(t.name),
        name_epoch: t.name_epoch,
        exchange_public: Blob(t.exchange_public),
        signature: Blob(t.signature),
        created_by: t.created_by,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
        last_used_at: t.last_used_at,
    }
}

/// `GET /v1/groups/{group_id}/tokens` (group admins): every token of the group, revoked and
/// expired ones included.
pub(super) async fn list(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    let group = path_id("group_id", &group)?;
    group_admin(&state, &caller, group, now()).await?;
    let tokens = state.store().group_tokens(group).await?;
    Ok(Json(tokens.into_iter().map(info).collect()))
}

/// `DELETE /v1/groups/{group_id}/tokens/{token_id}` (group admins): revoke; the token's next
/// request is refused.
pub(super) async fn revoke(
    State(state): State<AppState>,
    Member(caller): Member,
    Path((group, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let group = path_id("group_id", &group)?;
    let token = path_id("token_id", &token)?;
    let now = now();
    group_admin(&state, &caller, group, now).await?;
    let audit = Audit::if_done(
        caller.team.id,
        now,
        vec![caller
            .event(AuditAction::TokenRevoke)
            .group(group)
            .detail(format!("token={token}"))],
    );
    if !state.store().revoke_token(group, token, now, audit).await? {
        return Err(
            ApiError::not_found("no unrevoked machine token with this id in this group")
                .with_field("token_id"),
        );
    }
    tracing::info!(by = %caller.account.id, group = %group, token = %token, "machine token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// A request authenticated by a live machine token, with its group.
#[derive(Debug, Clone)]
pub struct MachineCaller {
    /// The token.
    pub token: Token,
    /// Its group.
    pub group: Group,
}

impl FromRequestParts<AppState> for MachineCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (id, bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(TOKEN_SCHEME))
            .and_then(|v| v.strip_prefix(' '))
            .filter(|v| v.len() <= 128)
            .and_then(|v| v.trim().split_once('.'))
            .and_then(|(id, b)| {
                let bearer = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(b)
                    .ok()?;
                Some((Id::parse(id)?, bearer))
            })
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "send a machine token: Authorization: Token <token id>.<secret>",
                )
            })?;
        let now = now();
        let store = state.store();
        let unknown = || ApiError::unauthorized("the machine token is unknown");
        let token = store
            .token_by_hash(bearer_hash(&bearer))
            .await?
            .filter(|t| t.id == id)
            .ok_or_else(unknown)?;
        if token.revoked_at.is_some() {
            return Err(ApiError::unauthorized(
                "the machine token was revoked; ask a group admin for a new one",
            ));
        }
        if !token.is_live(now) {
            return Err(ApiError::unauthorized(
                "the machine token has expired; ask a group admin for a new one",
            ));
        }
        let group = store
            .group(token.group_id)
            .await?
            .filter(|g| g.team_id == token.team_id)
            .ok_or_else(|| ApiError::unauthorized("the machine token's group no longer exists"))?;
        if token.last_used_at != Some(now) {
            store.touch_token(token.id, now).await?;
        }
        Ok(Self { token, group })
    }
}

/// SHA-256 of the presented bearer bytes (what the store keeps).
fn bearer_hash(bearer: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bearer).into()
}

/// `GET /v1/token/group` (machine tokens): the group's keys sealed to the token and the chain of
/// previous keys, its sealed name, and what the job checks them with: the token's pin, the
/// group's log, and the directory entries of those who signed the log or the newest manifest.
pub(super) async fn group(
    State(state): State<AppState>,
    caller: MachineCaller,
) -> Result<Json<TokenGroup>, ApiError> {
    let store = state.store();
    let keys = store.token_keys(caller.token.id).await?;
    let log = store.group_log(caller.group.id, 0).await?;
    let mut signers: std::collections::HashSet<Id> = log
        .iter()
        .filter_map(|e| e.parse().ok())
        .map(|e| e.author)
        .collect();
    if let Some(m) = store.manifest(caller.group.id).await? {
        signers.extend(m.signer);
    }
    let mut directory = store.directory(caller.token.team_id).await?;
    directory.retain(|e| signers.contains(&e.account_id));
    caller.audit(&state, "read keys".into()).await?;
    tracing::info!(token = %caller.token.id, group = %caller.group.id, "machine token read keys");
    Ok(Json(TokenGroup {
        team_id: caller.token.team_id,
        group_id: caller.group.id,
        token_id: caller.token.id,
        epoch: caller.group.epoch,
        name: Blob(caller.group.name),
        expires_at: caller.token.expires_at,
        keys,
        pin: caller
            .token
            .pin
            .as_deref()
            .and_then(TaggedTokenPin::from_bytes),
        log,
        signers: directory,
    }))
}

/// `GET /v1/token/sync?since=N` (machine tokens): the group's item changes.
pub(super) async fn pull(
    State(state): State<AppState>,
    caller: MachineCaller,
    query: Result<Query<SyncQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(q) = query.map_err(|_| {
        ApiError::bad(
            "since",
            "since must be a non-negative integer (a sync cursor)",
        )
    })?;
    let mut page = state
        .store()
        .group_pull(caller.group.id, q.since, limits::PULL_CHANGES)
        .await?;
    // A token reads like a viewer: shares that ended are withheld.
    let ended =
        super::group::hide_ended_shares(&state, caller.group.id, now(), &mut page.changes).await?;
    let cursor = page.changes.last().map_or(q.since, |c| c.seq);
    caller
        .audit(&state, format!("versions={}", page.changes.len()))
        .await?;
    tracing::info!(token = %caller.token.id, group = %caller.group.id, "machine token pull");
    let manifest = super::manifest::newest(&state, caller.group.id, page.more).await?;
    Ok(Json(PullResponse {
        changes: page.changes,
        cursor,
        more: page.more,
        manifest,
        ended: if page.more { Vec::new() } else { ended },
    }))
}

impl MachineCaller {
    /// Record a use of the token (a read) in its team's audit log.
    async fn audit(&self, state: &AppState, detail: String) -> Result<(), ApiError> {
        state
            .audit(
                self.token.team_id,
                vec![
                    AuditEvent::new(Actor::Token(self.token.id), AuditAction::TokenUse)
                        .group(self.group.id)
                        .detail(detail),
                ],
            )
            .await
    }
}
