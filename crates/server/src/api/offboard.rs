//! The offboarding review (team admins): what a member could reach, and ending it.
//!
//! `GET .../offboarding` returns the member's membership windows, the current versions of the
//! items they could decrypt (the item existed in the group before their access ended) and what
//! they revealed or copied. `POST .../offboard` ends their sessions and memberships in one
//! transaction and refuses their sign-ins from then on; the admin's client then starts new key
//! epochs in those groups.
use axum::extract::{Path, State};
use axum::Json;
use tessera_protocol::{
    audit_limits, AuditAction, AuditQuery, OffboardResponse, OffboardingResponse,
};

use super::{now, path_id, ApiError, AppState, Caller, Member};
use crate::store::{Account, Audit};

/// The team and account from the path: the caller must be the team's admin and the account
/// in that team.
async fn target(
    state: &AppState,
    caller: &Caller,
    team: &str,
    account: &str,
) -> Result<Account, ApiError> {
    let team = path_id("team_id", team)?;
    let account = path_id("account_id", account)?;
    caller.admin_of(team)?;
    state
        .store()
        .account_by_id(account)
        .await?
        .filter(|a| a.team_id == team)
        .ok_or_else(|| ApiError::not_found("no such account in this team").with_field("account_id"))
}

/// `GET /v1/teams/{team_id}/accounts/{account_id}/offboarding`.
pub(super) async fn review(
    State(state): State<AppState>,
    Member(caller): Member,
    Path((team, account)): Path<(String, String)>,
) -> Result<Json<OffboardingResponse>, ApiError> {
    let a = target(&state, &caller, &team, &account).await?;
    let now = now();
    let store = state.store();
    let (windows, records) = store.offboarding(a.id, now).await?;
    let mut events = Vec::new();
    let mut q = AuditQuery {
        actor: Some(a.id),
        ..AuditQuery::default()
    };
    loop {
        let page = store
            .audit_page(caller.team.id, q.clone(), audit_limits::PAGE)
            .await?;
        q.after = page.entries.last().map_or(q.after, |e| e.seq);
        events.extend(
            page.entries
                .into_iter()
                .filter(|e| matches!(e.action, AuditAction::Reveal | AuditAction::Copy)),
        );
        if !page.more {
            break;
        }
    }
    Ok(Json(OffboardingResponse {
        account_id: a.id,
        email: a.email,
        offboarded_at: store.offboarded_at(a.id).await?,
        live_sessions: store.list_sessions(a.id, now).await?.len() as u64,
        windows,
        records,
        events,
    }))
}

/// `POST /v1/teams/{team_id}/accounts/{account_id}/offboard`.
pub(super) async fn offboard(
    State(state): State<AppState>,
    Member(caller): Member,
    Path((team, account)): Path<(String, String)>,
) -> Result<Json<OffboardResponse>, ApiError> {
    let a = target(&state, &caller, &team, &account).await?;
    if a.id == caller.account.id {
        return Err(ApiError::bad(
            "account_id",
            "you cannot offboard yourself; ask another team admin",
        ));
    }
    let (team, id) = (caller.team.id, a.id);
    let (removed, offboarded) = (
        caller.event(AuditAction::MemberRemove).subject(id),
        caller.event(AuditAction::Offboard).subject(id),
    );
    // An entry per group left, then the offboarding with what it ended.
    let now = now();
    let audit = Audit::of(now, move |res: &OffboardResponse| {
        let mut events: Vec<_> = res
            .groups
            .iter()
            .map(|g| removed.clone().group(*g))
            .collect();
        events.push(offboarded.detail(format!(
            "sessions={} tokens={} groups={}",
            res.sessions_revoked,
            res.tokens_revoked,
            res.groups.len()
        )));
        (team, events)
    });
    let res = state
        .store()
        .offboard(a.id, caller.account.id, now, audit)
        .await?;
    tracing::info!(by = %caller.account.id, account = %a.id, "offboarded");
    Ok(Json(res))
}
