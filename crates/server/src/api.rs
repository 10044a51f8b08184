//! The HTTP API: routes, the version check, JSON bodies that are size-limited and validated,
//! bearer sessions, and errors as [`ErrorBody`] that never carry internal detail.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tessera_protocol::{limits, ErrorBody, ErrorCode, Id, Validate};

use crate::auth;
use crate::store::{Account, LoginPolicy, Role, Session, Store, StoreError, Team};

mod access_request;
mod account;
mod audit;
mod events;
mod group;
mod group_log;
mod manifest;
mod metrics;
mod offboard;
mod session;
mod sync;
mod token;

pub use events::KEEP_ALIVE;
pub use metrics::Metrics;

/// How long a session lasts, seconds (30 days).
pub const SESSION_SECS: i64 = 30 * 24 * 3600;
/// How long an invitation lasts, seconds (7 days).
pub const INVITE_SECS: i64 = 7 * 24 * 3600;

/// How often an open event stream checks its session by default.
pub const DEFAULT_SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    session_check: std::time::Duration,
}

struct Inner {
    store: Arc<dyn Store>,
    secret: [u8; 32],
    policy: LoginPolicy,
    metrics: Metrics,
}

impl AppState {
    /// State over a store, with the default login policy.
    pub async fn new(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        Self::with_policy(store, LoginPolicy::default()).await
    }

    /// State over a store with a login policy.
    pub async fn with_policy(
        store: Arc<dyn Store>,
        policy: LoginPolicy,
    ) -> Result<Self, StoreError> {
        let secret = store.server_secret().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                secret,
                policy,
                metrics: Metrics::default(),
            }),
            session_check: DEFAULT_SESSION_CHECK,
        })
    }

    /// How often an open event stream checks that its session is still live (default
    /// [`DEFAULT_SESSION_CHECK`]); a revoked session's stream ends within this interval.
    #[must_use]
    pub fn with_session_check(mut self, every: std::time::Duration) -> Self {
        self.session_check = every;
        self
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// Append events that record no change of their own (a read, what a client reports) to
    /// `team`'s audit chain now; a failure fails the request. A change's events go with the
    /// change instead, in the [`crate::store::Audit`] of its store method, so they commit in
    /// its transaction.
    pub(crate) async fn audit(
        &self,
        team: Id,
        events: Vec<tessera_protocol::AuditEvent>,
    ) -> Result<(), ApiError> {
        Ok(self.store().append_audit(team, now(), events).await?)
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppState")
    }
}

/// The router with every route and middleware.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/teams", post(account::create_team))
        .route("/v1/prelogin", post(account::prelogin))
        .route("/v1/login", post(account::login))
        .route("/v1/join", post(account::join))
        .route("/v1/teams/{team_id}/invites", post(account::invite))
        .route("/v1/teams/{team_id}/settings", put(account::settings))
        .route(
            "/v1/teams/{team_id}/accounts/{account_id}/unlock",
            post(account::unlock),
        )
        .route("/v1/account/root-pin", put(account::set_root_pin))
        .route("/v1/logout", post(session::logout))
        .route("/v1/sessions", get(session::list))
        .route("/v1/sessions/{id}", delete(session::revoke))
        .route("/v1/mfa/enrol", post(session::mfa_enrol))
        .route("/v1/mfa/confirm", post(session::mfa_confirm))
        .route("/v1/mfa/disable", post(session::mfa_disable))
        .route("/v1/sync", get(sync::pull).post(sync::push))
        .route("/v1/sync/manifest", put(manifest::put_personal))
        .route("/v1/events", get(events::stream))
        .route("/v1/teams/{team_id}/directory", get(group::directory))
        .route(
            "/v1/teams/{team_id}/accounts/{account_id}/certificate",
            put(group::set_certificate),
        )
        .route("/v1/groups", get(group::list).post(group::create))
        .route("/v1/groups/{group_id}/members", get(group::members))
        .route(
            "/v1/groups/{group_id}/members/{account_id}",
            put(group::set_member),
        )
        .route("/v1/groups/{group_id}/rotate", post(group::rotate))
        .route("/v1/groups/{group_id}/log", get(group_log::log))
        .route("/v1/groups/{group_id}/manifest", put(manifest::put_group))
        .route(
            "/v1/groups/{group_id}/sync",
            get(group::pull).post(group::push),
        )
        .route("/v1/items/{item_id}/access", get(group::access))
        .route(
            "/v1/groups/{group_id}/items/{item_id}/share",
            put(group::set_share_expiry),
        )
        .route(
            "/v1/teams/{team_id}/accounts/{account_id}/offboarding",
            get(offboard::review),
        )
        .route(
            "/v1/teams/{team_id}/accounts/{account_id}/offboard",
            post(offboard::offboard),
        )
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/events", post(audit::report))
        .route("/v1/groups/{group_id}/admins", get(access_request::admins))
        .route(
            "/v1/groups/{group_id}/requests",
            get(access_request::pending).post(access_request::create),
        )
        .route("/v1/requests", get(access_request::list))
        .route(
            "/v1/requests/{request_id}/approve",
            post(access_request::approve),
        )
        .route("/v1/requests/{request_id}/deny", post(access_request::deny))
        .route(
            "/v1/groups/{group_id}/tokens",
            get(token::list).post(token::create),
        )
        .route(
            "/v1/groups/{group_id}/tokens/{token_id}",
            delete(token::revoke),
        )
        .route("/v1/token/group", get(token::group))
        .route("/v1/token/sync", get(token::pull))
        .fallback(not_found)
        .layer(middleware::from_fn(require_version));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .merge(v1)
        .layer(DefaultBodyLimit::max(limits::BODY))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Serve the API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

/// Refuse requests without `tessera-api: 1`.
async fn require_version(req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(tessera_protocol::API_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == tessera_protocol::API_VERSION.to_string());
    if !ok {
        return ApiError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "send the header {}: {}; this server speaks API version {}",
                tessera_protocol::API_VERSION_HEADER,
                tessera_protocol::API_VERSION,
                tessera_protocol::API_VERSION
            ),
        )
        .with_field(tessera_protocol::API_VERSION_HEADER)
        .into_response();
    }
    next.run(req).await
}

/// Count and log every request: method, route template, status and duration. Never the path's
/// query, headers or body.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    state
        .inner
        .metrics
        .count_request(method.as_str(), &route, status);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        ms = start.elapsed().as_millis() as u64,
        "request"
    );
    res
}

/// Unix time now.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A random 128-bit id.
pub(crate) fn random_id() -> Id {
    Id(rand::random())
}

/// An error response.
#[derive(Debug)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    /// Name the field at fault.
    #[must_use]
    pub fn with_field(self, field: &str) -> Self {
        Self(self.0.with_field(field))
    }

    pub(crate) fn bad(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message).with_field(field)
    }

    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub(crate) fn forbidden(message: &str) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub(crate) fn not_found(message: &str) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
}

impl From<ErrorBody> for ApiError {
    fn from(e: ErrorBody) -> Self {
        Self(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, source = ?std::error::Error::source(&e), "store failed");
        Self::new(
            ErrorCode::Internal,
            "the server failed to complete the request; try again later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.error.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.0)).into_response()
    }
}

/// A JSON body: at most [`limits::BODY`] bytes (else 413), decoded strictly (unknown fields,
/// bad ids and trailing data are 400 naming the field) and validated.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the body is larger than {} bytes", limits::BODY),
                )
            } else {
                ApiError::bad("body", "the request body could not be read")
            }
        })?;
        let value = decode::<T>(&bytes)?;
        value.validate()?;
        Ok(Self(value))
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde names unknown and missing fields in the message, at the parent's path.
        let named = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let field = match (named, path.as_str()) {
            (Some(n), "." | "") => n,
            (Some(n), p) if p == n || p.ends_with(&format!(".{n}")) => p.to_owned(),
            (Some(n), p) => format!("{p}.{n}"),
            (None, "." | "") => "body".to_owned(),
            (None, p) => p.to_owned(),
        };
        if e.inner().is_syntax() || e.inner().is_eof() {
            return ApiError::bad("body", format!("the body is not valid JSON: {message}"));
        }
        ApiError::bad(&field, format!("{field}: {message}"))
    })?;
    de.end()
        .map_err(|_| ApiError::bad("body", "the body has data after the JSON value"))?;
    Ok(value)
}

/// Parse an id from the path; 400 naming `field` when it is not 32 hex digits.
pub(crate) fn path_id(field: &str, s: &str) -> Result<Id, ApiError> {
    Id::parse(s)
        .ok_or_else(|| ApiError::bad(field, format!("{field} is not an id (32 hex digits)")))
}

/// The authenticated caller: a live session, its account and team. Does not enforce the team's
/// second-factor requirement (see [`Member`]).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The session.
    pub session: Session,
    /// Its account.
    pub account: Account,
    /// The account's team.
    pub team: Team,
}

impl Caller {
    /// The caller as an audit actor.
    pub(crate) fn actor(&self) -> tessera_protocol::Actor {
        tessera_protocol::Actor::Account(self.account.id)
    }

    /// An audit event by the caller.
    pub(crate) fn event(
        &self,
        action: tessera_protocol::AuditAction,
    ) -> tessera_protocol::AuditEvent {
        tessera_protocol::AuditEvent::new(self.actor(), action)
    }

    /// 404 unless `team` is the caller's team, 403 unless the caller is its admin.
    pub(crate) fn admin_of(&self, team: Id) -> Result<(), ApiError> {
        if team != self.team.id {
            return Err(ApiError::not_found("no such team"));
        }
        if self.account.role != Role::Admin {
            return Err(ApiError::forbidden("only a team admin may do this"));
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| {
                ApiError::unauthorized("sign in first: send Authorization: Bearer <session token>")
            })?;
        let now = now();
        let store = state.store();
        let session = store
            .session_by_token_hash(auth::token_hash(token))
            .await?
            .filter(|s| s.is_live(now))
            .ok_or_else(|| {
                ApiError::unauthorized("the session is unknown, expired or revoked; sign in again")
            })?;
        let account = store
            .account_by_id(session.account_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the session's account no longer exists"))?;
        let team = store
            .team(account.team_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the session's team no longer exists"))?;
        if now - session.last_seen_at >= 60 {
            store.touch_session(session.id, now).await?;
        }
        Ok(Self {
            session,
            account,
            team,
        })
    }
}

/// A caller who also meets the team's second-factor requirement: when the team requires one
/// and the account has none, every endpoint but `/v1/mfa/*`, logout and sessions is 403.
#[derive(Debug, Clone)]
pub struct Member(pub Caller);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.team.require_mfa && !caller.account.mfa_enabled {
            return Err(ApiError::forbidden(
                "your team requires a second factor: enrol one with POST /v1/mfa/enrol and \
                 /v1/mfa/confirm, then try again",
            ));
        }
        Ok(Self(caller))
    }
}
