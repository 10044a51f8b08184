//! Sync: pull the caller's changes since a cursor; push changes compare-and-set on versions.
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use tessera_protocol::{limits, AuditAction, PullResponse, PushRequest, PushResponse, PushResult};

use super::{now, ApiError, ApiJson, AppState, Member};
use crate::store::Audit;

/// The query of `GET /v1/sync`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SyncQuery {
    #[serde(default)]
    pub(super) since: u64,
}

/// `GET /v1/sync?since=N`: the caller's changes after `since`, oldest first.
pub(super) async fn pull(
    State(state): State<AppState>,
    Member(caller): Member,
    query: Result<Query<SyncQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(q) = query.map_err(|_| {
        ApiError::bad(
            "since",
            "since must be a non-negative integer (a sync cursor)",
        )
    })?;
    let page = state
        .store()
        .pull(caller.account.id, q.since, limits::PULL_CHANGES)
        .await?;
    let cursor = page.changes.last().map_or(q.since, |c| c.seq);
    let manifest = super::manifest::newest(&state, caller.account.id, page.more).await?;
    Ok(Json(PullResponse {
        changes: page.changes,
        cursor,
        more: page.more,
        manifest,
        ended: Vec::new(),
    }))
}

/// `POST /v1/sync`: apply a batch; each change is `applied` or a `conflict` with the current
/// record.
pub(super) async fn push(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    let n = req.changes.len();
    let now = now();
    let (team, change) = (caller.team.id, caller.event(AuditAction::Change));
    // One entry with the count of what applied, when anything did.
    let audit = Audit::of(now, move |results: &Vec<PushResult>| {
        let applied = results
            .iter()
            .filter(|r| matches!(r, PushResult::Applied { .. }))
            .count();
        let events = (applied > 0).then(|| change.detail(format!("personal items: {applied}")));
        (team, events.into_iter().collect())
    });
    let results = state
        .store()
        .push(caller.team.id, caller.account.id, req.changes, now, audit)
        .await?;
    tracing::info!(account = %caller.account.id, changes = n, "push");
    Ok(Json(PushResponse { results }))
}
