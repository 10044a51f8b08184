//! The audit log over HTTP: team admins read it (`GET /v1/audit`, filtered and paged by
//! sequence number, so a client can verify the whole chain); any member reports what happened
//! on their device (`POST /v1/audit/events`: reveal and copy of items, with the group for shared
//! ones, which must be one the caller is a live member of).
use std::collections::HashSet;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_protocol::{audit_limits, AuditPage, AuditQuery, ClientEvents};

use super::group::live_member;
use super::{now, ApiError, ApiJson, AppState, Member};
use crate::store::Role;

/// `GET /v1/audit?after=N&actor=&item=&account=&since=&until=&limit=` (team admins).
pub(super) async fn list(
    State(state): State<AppState>,
    Member(caller): Member,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad(
            "query",
            format!("the audit query is not valid ({}); use after, limit, actor, item, account, since and until", e.body_text()),
        )
    })?;
    if caller.account.role != Role::Admin {
        return Err(ApiError::forbidden(
            "only a team admin may read the audit log",
        ));
    }
    let limit = q.limit.unwrap_or(audit_limits::PAGE);
    if limit == 0 || limit > audit_limits::PAGE {
        return Err(ApiError::bad(
            "limit",
            format!("limit must be 1 to {}", audit_limits::PAGE),
        ));
    }
    Ok(Json(
        state.store().audit_page(caller.team.id, q, limit).await?,
    ))
}

/// `POST /v1/audit/events`: events a client saw (reveal, copy).
pub(super) async fn report(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiJson(req): ApiJson<ClientEvents>,
) -> Result<StatusCode, ApiError> {
    let now = now();
    let mut groups = HashSet::new();
    for (i, e) in req.events.iter().enumerate() {
        if e.at < now - audit_limits::PAST || e.at > now + audit_limits::FUTURE {
            return Err(ApiError::bad(
                &format!("events[{i}].at"),
                format!("events[{i}].at is too far from the server's clock (more than 30 days ago or in the future)"),
            ));
        }
        if let Some(g) = e.group_id {
            groups.insert(g);
        }
    }
    for g in groups {
        live_member(&state, &caller, g, now).await?;
    }
    let events = req
        .events
        .into_iter()
        .map(|e| {
            let ev = caller
                .event(e.action)
                .item(e.item_id)
                .detail(format!("field={} at={}", e.field, e.at));
            match e.group_id {
                Some(g) => ev.group(g),
                None => ev,
            }
        })
        .collect();
    state.audit(caller.team.id, events).await?;
    Ok(StatusCode::NO_CONTENT)
}
