//! Just-in-time access: requests for time-boxed membership of a group, and their approval.
//!
//! Who may call what: any member of the team asks for access to one of its groups (also a
//! member whose membership expired or was removed) and reads the group's live admins, to seal
//! the reason to them; a group's live admins list its pending requests and approve or deny
//! them; everyone lists their own requests with their status. A request of another team, or
//! for another team's group, is 404; a caller who is not a live admin of the group is 403.
//!
//! A requester has at most one pending request per group; a live admin cannot ask (they set
//! their own membership), nor a live member for the role they already have (409). A request
//! lapses after [`access_limits::PENDING_SECS`] undecided. Approval sets the membership to the
//! requested (or the admin's) role until now plus the requested duration (or the admin's, any
//! from one minute to 30 days: an admin could set any membership anyway), in
//! the same transaction that marks the request approved, so a request is approved at most once
//! (409 afterwards) and a lapsed one never (409). The approval replaces any current membership
//! of the requester: when the granted access ends they keep nothing of the group.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_protocol::{
    access_limits, AccessRequestInfo, AccessRequestStatus, ApproveAccessRequest, AuditAction,
    CreateAccessRequest, ErrorCode, GroupAdmins, GroupRole, Id, LogChange, LogMember,
};

use super::group::{group_admin, stale};
use super::group_log;
use super::{now, path_id, ApiError, ApiJson, AppState, Caller, Member};
use crate::store::{
    AccessRequest, Audit, Decision, Group, NewAccessRequest, SetMember, StoreError,
};

fn info(r: AccessRequest, caller: Id, now: i64) -> AccessRequestInfo {
    let status = r.status(now);
    let reason = r
        .reasons
        .into_iter()
        .find(|(to, _)| *to == caller)
        .map(|(_, sealed)| tessera_protocol::Blob(sealed));
    AccessRequestInfo {
        request_id: r.id,
        group_id: r.group_id,
        requester_id: r.requester,
        requester_email: r.requester_email,
        role: r.role,
        duration_secs: r.duration_secs,
        created_at: r.created_at,
        expires_at: r.expires_at,
        status,
        decided_at: r.decided_at,
        decided_by: r.decided_by,
        granted_role: r.granted_role,
        granted_until: r.granted_until,
        reason,
    }
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}

/// The group, 404 unless it is in the caller's team.
async fn team_group(state: &AppState, caller: &Caller, group: Id) -> Result<Group, ApiError> {
    state
        .store()
        .group(group)
        .await?
        .filter(|g| g.team_id == caller.team.id)
        .ok_or_else(|| ApiError::not_found("no such group"))
}

/// `GET /v1/groups/{group_id}/admins` (team members): the group's live admins, whom a
/// requester seals the reason to.
pub(super) async fn admins(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
) -> Result<Json<GroupAdmins>, ApiError> {
    let group = path_id("group_id", &group)?;
    team_group(&state, &caller, group).await?;
    let admins = state
        .store()
        .group_members(group, now())
        .await?
        .into_iter()
        .filter(|m| m.role == GroupRole::Admin)
        .map(|m| m.account_id)
        .collect();
    Ok(Json(GroupAdmins {
        group_id: group,
        admins,
    }))
}

/// `POST /v1/groups/{group_id}/requests` (team members): ask for access for a while.
pub(super) async fn create(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
    ApiJson(req): ApiJson<CreateAccessRequest>,
) -> Result<(StatusCode, Json<AccessRequestInfo>), ApiError> {
    let group = path_id("group_id", &group)?;
    let now = now();
    team_group(&state, &caller, group).await?;
    let me = caller.account.id;
    if let Some(m) = state
        .store()
        .membership(group, me)
        .await?
        .filter(|m| m.is_live(now))
    {
        if m.role == GroupRole::Admin {
            return Err(conflict(
                "you are an admin of this group; set your own membership instead",
            ));
        }
        if m.role == req.role {
            return Err(conflict(format!(
                "you already are a {} of this group",
                m.role.as_str()
            )));
        }
    }
    let members = state.store().group_members(group, now).await?;
    let mut seen = std::collections::HashSet::new();
    for (i, r) in req.reasons.iter().enumerate() {
        let admin = members
            .iter()
            .any(|m| m.account_id == r.account_id && m.role == GroupRole::Admin);
        if !admin || !seen.insert(r.account_id) {
            return Err(ApiError::bad(
                &format!("reasons[{i}].account_id"),
                format!(
                    "reasons[{i}] is sealed to an account that is not an admin of the group, \
                     or repeats one"
                ),
            ));
        }
    }
    let new = NewAccessRequest {
        id: req.request_id,
        team_id: caller.team.id,
        group_id: group,
        requester: me,
        role: req.role,
        duration_secs: req.duration_secs,
        reasons: req
            .reasons
            .into_iter()
            .map(|r| (r.account_id, r.reason.0))
            .collect(),
        created_at: now,
        expires_at: now + access_limits::PENDING_SECS,
    };
    let audit = Audit::new(
        caller.team.id,
        now,
        vec![caller
            .event(AuditAction::AccessRequest)
            .group(group)
            .detail(format!(
                "role={} secs={}",
                req.role.as_str(),
                req.duration_secs
            ))],
    );
    match state.store().create_access_request(new, audit).await {
        Ok(()) => {}
        Err(StoreError::IdTaken) => {
            return Err(ApiError::bad("request_id", "request_id is already in use"))
        }
        Err(StoreError::AlreadyPending) => {
            return Err(conflict(
                "you already asked for access to this group; wait for a group admin to decide",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(by = %me, group = %group, request = %req.request_id, role = req.role.as_str(), secs = req.duration_secs, "access requested");
    let stored = state
        .store()
        .access_request(req.request_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such access request"))?;
    Ok((StatusCode::CREATED, Json(info(stored, me, now))))
}

/// `GET /v1/groups/{group_id}/requests` (group admins): the group's pending requests.
pub(super) async fn pending(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
) -> Result<Json<Vec<AccessRequestInfo>>, ApiError> {
    let group = path_id("group_id", &group)?;
    let now = now();
    group_admin(&state, &caller, group, now).await?;
    let list = state.store().pending_access_requests(group, now).await?;
    Ok(Json(
        list.into_iter()
            .map(|r| info(r, caller.account.id, now))
            .collect(),
    ))
}

/// `GET /v1/requests`: the caller's own requests with their status, and the pending requests
/// of every group the caller is a live admin of.
pub(super) async fn list(
    State(state): State<AppState>,
    Member(caller): Member,
) -> Result<Json<Vec<AccessRequestInfo>>, ApiError> {
    let now = now();
    let list = state
        .store()
        .access_requests_for(caller.account.id, now)
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|r| info(r, caller.account.id, now))
            .collect(),
    ))
}

/// The request (404 unless it is of the caller's team), once the caller is checked to be a
/// live admin of its group (403) other than the requester, and the request to be pending (409).
async fn decidable(
    state: &AppState,
    caller: &Caller,
    request: &str,
    now: i64,
) -> Result<AccessRequest, ApiError> {
    let id = path_id("request_id", request)?;
    let r = state
        .store()
        .access_request(id)
        .await?
        .filter(|r| r.team_id == caller.team.id)
        .ok_or_else(|| ApiError::not_found("no such access request"))?;
    group_admin(state, caller, r.group_id, now).await?;
    if r.requester == caller.account.id {
        return Err(ApiError::forbidden(
            "you cannot decide your own access request; another group admin must",
        ));
    }
    match r.status(now) {
        AccessRequestStatus::Pending => Ok(r),
        AccessRequestStatus::Expired => Err(conflict(
            "the access request expired before anyone decided it; the requester may ask again",
        )),
        AccessRequestStatus::Approved | AccessRequestStatus::Denied => {
            Err(conflict("the access request was already decided"))
        }
    }
}

fn decide_error(e: StoreError) -> ApiError {
    match e {
        StoreError::StaleEpoch => stale(),
        StoreError::StaleLog => super::group::stale_log(),
        StoreError::NotFound => ApiError::bad(
            "key",
            "the requester does not hold the group's current key: send it sealed to them",
        ),
        StoreError::AlreadyDecided => conflict("the access request was already decided"),
        StoreError::RequestExpired => conflict(
            "the access request expired before anyone decided it; the requester may ask again",
        ),
        e => e.into(),
    }
}

/// `POST /v1/requests/{request_id}/approve` (group admins): grant the access.
pub(super) async fn approve(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(request): Path<String>,
    ApiJson(req): ApiJson<ApproveAccessRequest>,
) -> Result<Json<AccessRequestInfo>, ApiError> {
    let now = now();
    let r = decidable(&state, &caller, &request, now).await?;
    if state
        .store()
        .membership(r.group_id, r.requester)
        .await?
        .is_some_and(|m| m.is_live(now) && m.role == GroupRole::Admin)
    {
        return Err(conflict(
            "the requester is an admin of the group now; deny the request instead",
        ));
    }
    let role = req.role.unwrap_or(r.role);
    let secs = req.duration_secs.unwrap_or(r.duration_secs);
    // The end is the one the approver signed into the group's log, which must be now plus the
    // duration give or take the clocks' difference.
    let (entry, log) = group_log::next_entry(&caller, r.group_id, &req.log)?;
    let end = match &entry.change {
        LogChange::SetMember { member, .. } => member.expires_at,
        _ => None,
    }
    .filter(|t| (t - (now + secs)).abs() <= access_limits::CLOCK_SKEW_SECS)
    .ok_or_else(|| {
        ApiError::bad(
            "log",
            format!(
                "the log entry must end the membership {secs} seconds from now (within {} \
                 seconds; check this computer's clock)",
                access_limits::CLOCK_SKEW_SECS
            ),
        )
    })?;
    group_log::check_set_member(
        &entry,
        &LogMember {
            account_id: r.requester,
            role,
            expires_at: Some(end),
        },
        req.epoch,
        req.key.as_ref().map(|k| k.0.as_slice()),
    )?;
    let grant = SetMember {
        group: r.group_id,
        account: r.requester,
        role,
        expires_at: Some(end),
        epoch: req.epoch,
        key: req.key.map(|k| k.0),
        by: caller.account.id,
        now,
        log,
    };
    let audit = Audit::new(
        caller.team.id,
        now,
        vec![caller
            .event(AuditAction::AccessApprove)
            .group(r.group_id)
            .subject(r.requester)
            .detail(format!("role={} until={end}", role.as_str()))],
    );
    let decided = state
        .store()
        .decide_access_request(
            Decision {
                request: r.id,
                by: caller.account.id,
                now,
                grant: Some(grant),
            },
            audit,
        )
        .await
        .map_err(decide_error)?;
    tracing::info!(by = %caller.account.id, group = %r.group_id, request = %r.id, account = %r.requester, role = role.as_str(), secs, "access request approved");
    Ok(Json(info(decided, caller.account.id, now)))
}

/// `POST /v1/requests/{request_id}/deny` (group admins): refuse the access.
pub(super) async fn deny(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(request): Path<String>,
) -> Result<Json<AccessRequestInfo>, ApiError> {
    let now = now();
    let r = decidable(&state, &caller, &request, now).await?;
    let audit = Audit::new(
        caller.team.id,
        now,
        vec![caller
            .event(AuditAction::AccessDeny)
            .group(r.group_id)
            .subject(r.requester)],
    );
    let decided = state
        .store()
        .decide_access_request(
            Decision {
                request: r.id,
                by: caller.account.id,
                now,
                grant: None,
            },
            audit,
        )
        .await
        .map_err(decide_error)?;
    tracing::info!(by = %caller.account.id, group = %r.group_id, request = %r.id, "access request denied");
    Ok(Json(info(decided, caller.account.id, now)))
}
