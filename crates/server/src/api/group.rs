//! Groups and sharing: the team directory and certificates, groups, memberships with roles and
//! expiry, key epochs, a group's items, and who can read an item.
//!
//! Who may call what: any team member reads the directory and creates groups; team admins
//! store certificates; a group's live members (not removed, not expired) read its members and
//! items; its editors and admins push item changes; its admins add, change and remove members.
//! A group of another team is 404; a member whose membership was removed or expired is 403
//! and is served nothing from the group (the message says how to ask for access again; see
//! [`super::access_request`]).
use std::collections::HashSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use tessera_protocol::{
    limits, AccessResponse, AuditAction, AuditEvent, CertificateRequest, CreateGroupRequest,
    DirectoryEntry, ErrorCode, GroupInfo, GroupMember, GroupRole, Id, LogMember, PullResponse,
    PushRequest, PushResponse, PushResult, RotateRequest, SetMemberRequest, ShareExpiryRequest,
};

use super::group_log;
use super::sync::SyncQuery;
use super::{now, path_id, ApiError, ApiJson, AppState, Caller, Member};
use crate::store::{
    Audit, Group, LogAppend, Membership, NewGroup, Rotation, SetMember, StoreError,
};

/// 409: another admin appended to the group's log meanwhile.
pub(super) fn stale_log() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "the group's membership changed meanwhile (another admin signed a change first); \
         fetch the group and try again",
    )
    .with_field("log")
}

pub(super) fn stale() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "the group's key epoch changed meanwhile; fetch the group and try again",
    )
    .with_field("epoch")
}

/// The group (404 unless it is in the caller's team) and the caller's membership, which must
/// be live at `now` (403 otherwise, saying why).
pub(super) async fn live_member(
    state: &AppState,
    caller: &Caller,
    group: Id,
    now: i64,
) -> Result<(Group, Membership), ApiError> {
    let g = state
        .store()
        .group(group)
        .await?
        .filter(|g| g.team_id == caller.team.id)
        .ok_or_else(|| ApiError::not_found("no such group"))?;
    let m = state
        .store()
        .membership(group, caller.account.id)
        .await?
        .ok_or_else(|| ApiError::forbidden("you are not a member of this group"))?;
    if m.removed_at.is_some() {
        return Err(ApiError::forbidden("you were removed from this group"));
    }
    if !m.is_live(now) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "your access to this group expired; ask for it again with \
                 `tessera request-access {group} --for DURATION`"
            ),
        ));
    }
    Ok((g, m))
}

pub(super) async fn group_admin(
    state: &AppState,
    caller: &Caller,
    group: Id,
    now: i64,
) -> Result<Group, ApiError> {
    let (g, m) = live_member(state, caller, group, now).await?;
    if m.role != GroupRole::Admin {
        return Err(ApiError::forbidden("only a group admin may do this"));
    }
    Ok(g)
}

/// `GET /v1/teams/{team_id}/directory`: every account of the team with its public keys and
/// certificate.
pub(super) async fn directory(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(team): Path<String>,
) -> Result<Json<Vec<DirectoryEntry>>, ApiError> {
    let team = path_id("team_id", &team)?;
    if team != caller.team.id {
        return Err(ApiError::not_found("no such team"));
    }
    Ok(Json(state.store().directory(team).await?))
}

/// `PUT /v1/teams/{team_id}/accounts/{account_id}/certificate` (team admins): store the
/// certificate chain an admin's client made. Clients verify it; the server only stores it.
pub(super) async fn set_certificate(
    State(state): State<AppState>,
    Member(caller): Member,
    Path((team, account)): Path<(String, String)>,
    ApiJson(req): ApiJson<CertificateRequest>,
) -> Result<StatusCode, ApiError> {
    let team = path_id("team_id", &team)?;
    let account = path_id("account_id", &account)?;
    caller.admin_of(team)?;
    state
        .store()
        .account_by_id(account)
        .await?
        .filter(|a| a.team_id == team)
        .ok_or_else(|| {
            ApiError::not_found("no such account in this team").with_field("account_id")
        })?;
    let audit = Audit::new(
        team,
        now(),
        vec![caller.event(AuditAction::Certify).subject(account)],
    );
    state
        .store()
        .set_certificate(account, req.certificate.0, audit)
        .await?;
    tracing::info!(by = %caller.account.id, account = %account, "certificate stored");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/groups`: create a group; the caller is its first admin.
pub(super) async fn create(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> Result<StatusCode, ApiError> {
    let (entry, log) = group_log::next_entry(&caller, req.group_id, &req.log)?;
    group_log::check_create(&entry, caller.account.id, &req.key.0)?;
    let now = now();
    let group = NewGroup {
        id: req.group_id,
        team_id: caller.team.id,
        name: req.name.0,
        created_by: caller.account.id,
        key: req.key.0,
        created_at: now,
        log,
    };
    let audit = Audit::new(
        caller.team.id,
        now,
        vec![caller.event(AuditAction::GroupCreate).group(req.group_id)],
    );
    match state.store().create_group(group, audit).await {
        Ok(()) => {}
        Err(StoreError::IdTaken) => {
            return Err(ApiError::bad("group_id", "group_id is already in use"))
        }
        Err(StoreError::StaleLog) => return Err(stale_log()),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(by = %caller.account.id, group = %req.group_id, "group created");
    Ok(StatusCode::CREATED)
}

/// `GET /v1/groups`: the groups the caller belongs to now, with its keys.
pub(super) async fn list(
    State(state): State<AppState>,
    Member(caller): Member,
) -> Result<Json<Vec<GroupInfo>>, ApiError> {
    Ok(Json(
        state.store().groups_of(caller.account.id, now()).await?,
    ))
}

/// `GET /v1/groups/{group_id}/members`: the live members (any live member may ask).
pub(super) async fn members(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
) -> Result<Json<Vec<GroupMember>>, ApiError> {
    let group = path_id("group_id", &group)?;
    let now = now();
    live_member(&state, &caller, group, now).await?;
    Ok(Json(state.store().group_members(group, now).await?))
}

/// `PUT /v1/groups/{group_id}/members/{account_id}` (group admins): add a member or change a
/// role or expiry. A member who does not hold the current key must be sent it (`key`).
pub(super) async fn set_member(
    State(state): State<AppState>,
    Member(caller): Member,
    Path((group, account)): Path<(String, String)>,
    ApiJson(req): ApiJson<SetMemberRequest>,
) -> Result<StatusCode, ApiError> {
    let group = path_id("group_id", &group)?;
    let account = path_id("account_id", &account)?;
    let now = now();
    group_admin(&state, &caller, group, now).await?;
    if req.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::bad("expires_at", "expires_at is in the past"));
    }
    state
        .store()
        .account_by_id(account)
        .await?
        .filter(|a| a.team_id == caller.team.id)
        .ok_or_else(|| {
            ApiError::not_found("no such account in this team").with_field("account_id")
        })?;
    if req.role != GroupRole::Admin {
        let members = state.store().group_members(group, now).await?;
        let other_admins = members
            .iter()
            .filter(|m| m.role == GroupRole::Admin && m.account_id != account)
            .count();
        if other_admins == 0 {
            return Err(ApiError::bad(
                "role",
                "the group would have no admin left; make another member admin first",
            ));
        }
    }
    let (entry, log) = group_log::next_entry(&caller, group, &req.log)?;
    group_log::check_set_member(
        &entry,
        &LogMember {
            account_id: account,
            role: req.role,
            expires_at: req.expires_at,
        },
        req.epoch,
        req.key.as_ref().map(|k| k.0.as_slice()),
    )?;
    let detail = match req.expires_at {
        Some(t) => format!("role={} until={t}", req.role.as_str()),
        None => format!("role={}", req.role.as_str()),
    };
    let audit = Audit::new(
        caller.team.id,
        now,
        vec![caller
            .event(AuditAction::MemberSet)
            .group(group)
            .subject(account)
            .detail(detail)],
    );
    let set = SetMember {
        group,
        account,
        role: req.role,
        expires_at: req.expires_at,
        epoch: req.epoch,
        key: req.key.map(|k| k.0),
        by: caller.account.id,
        now,
        log,
    };
    match state.store().set_member(set, audit).await {
        Ok(()) => {}
        Err(StoreError::StaleEpoch) => return Err(stale()),
        Err(StoreError::StaleLog) => return Err(stale_log()),
        Err(StoreError::NotFound) => {
            return Err(ApiError::bad(
                "key",
                "the member does not hold the group's current key: send it sealed to them",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(by = %caller.account.id, group = %group, account = %account, role = req.role.as_str(), "membership set");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/groups/{group_id}/rotate` (group admins): remove members and start a new key
/// epoch whose key is sealed to exactly the members who stay.
pub(super) async fn rotate(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
    ApiJson(req): ApiJson<RotateRequest>,
) -> Result<StatusCode, ApiError> {
    let group = path_id("group_id", &group)?;
    let now = now();
    let g = group_admin(&state, &caller, group, now).await?;
    if req.epoch != g.epoch + 1 {
        return Err(stale());
    }
    let members = state.store().group_members(group, now).await?;
    let live: HashSet<Id> = members.iter().map(|m| m.account_id).collect();
    for (i, r) in req.remove.iter().enumerate() {
        // A member whose membership already ended here (offboarded, expired) is still one the
        // group's log lists until a rotation removes them.
        if !live.contains(r) && state.store().membership(group, *r).await?.is_none() {
            return Err(ApiError::bad(
                &format!("remove[{i}]"),
                format!("remove[{i}] is not a member of this group"),
            ));
        }
    }
    let removed: HashSet<Id> = req.remove.iter().copied().collect();
    if !members
        .iter()
        .any(|m| m.role == GroupRole::Admin && !removed.contains(&m.account_id))
    {
        return Err(ApiError::bad(
            "remove",
            "the group would have no admin left",
        ));
    }
    let stay: HashSet<Id> = live.difference(&removed).copied().collect();
    let mut given = HashSet::new();
    for (i, k) in req.keys.iter().enumerate() {
        if !stay.contains(&k.account_id) || !given.insert(k.account_id) {
            return Err(ApiError::bad(
                &format!("keys[{i}].account_id"),
                format!(
                    "keys[{i}] is for an account that does not stay in the group, or repeats one"
                ),
            ));
        }
    }
    if given.len() != stay.len() {
        return Err(ApiError::bad(
            "keys",
            "the new key must be sealed to every member who stays",
        ));
    }
    check_token_keys(&state, group, now, &req).await?;
    let log = rotation_entry(&caller, group, &req, &members, &stay)?;
    let mut events: Vec<_> = req
        .remove
        .iter()
        .map(|a| {
            caller
                .event(AuditAction::MemberRemove)
                .group(group)
                .subject(*a)
        })
        .collect();
    events.push(
        caller
            .event(AuditAction::KeyRotate)
            .group(group)
            .detail(format!("epoch={}", req.epoch)),
    );
    let rotation = Rotation {
        group,
        epoch: req.epoch,
        remove: req.remove,
        name: req.name.0,
        prev: req.prev.0,
        keys: req
            .keys
            .into_iter()
            .map(|k| (k.account_id, k.key.0))
            .collect(),
        token_keys: req
            .token_keys
            .into_iter()
            .map(|k| (k.token_id, k.key.0))
            .collect(),
        by: caller.account.id,
        now,
        log,
    };
    let audit = Audit::new(caller.team.id, now, events);
    match state.store().rotate_group(rotation, audit).await {
        Ok(()) => {}
        Err(StoreError::StaleEpoch) => return Err(stale()),
        Err(StoreError::StaleLog) => return Err(stale_log()),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(by = %caller.account.id, group = %group, epoch = req.epoch, "group key rotated");
    Ok(StatusCode::NO_CONTENT)
}

/// The log entry a rotation carries, checked against what it stores: the members who stay
/// with their roles and ends, and every key it seals.
fn rotation_entry(
    caller: &Caller,
    group: Id,
    req: &RotateRequest,
    members: &[GroupMember],
    stay: &HashSet<Id>,
) -> Result<LogAppend, ApiError> {
    let (entry, log) = group_log::next_entry(caller, group, &req.log)?;
    group_log::check_rotate(
        &entry,
        log.seq == 1,
        &group_log::RotationSent {
            epoch: req.epoch,
            remove: &req.remove,
            stay: members
                .iter()
                .filter(|m| stay.contains(&m.account_id))
                .map(|m| LogMember {
                    account_id: m.account_id,
                    role: m.role,
                    expires_at: m.expires_at,
                })
                .collect(),
            keys: req
                .keys
                .iter()
                .map(|k| (k.account_id, k.key.0.as_slice()))
                .collect(),
            tokens: req
                .token_keys
                .iter()
                .map(|k| (k.token_id, k.key.0.as_slice()))
                .collect(),
        },
    )?;
    Ok(log)
}

/// A rotation must seal the new key to every live machine token of the group, once each.
async fn check_token_keys(
    state: &AppState,
    group: Id,
    now: i64,
    req: &RotateRequest,
) -> Result<(), ApiError> {
    let live_tokens: HashSet<Id> = state
        .store()
        .group_tokens(group)
        .await?
        .iter()
        .filter(|t| t.is_live(now))
        .map(|t| t.id)
        .collect();
    let mut keyed = HashSet::new();
    for (i, k) in req.token_keys.iter().enumerate() {
        if !live_tokens.contains(&k.token_id) || !keyed.insert(k.token_id) {
            return Err(ApiError::bad(
                &format!("token_keys[{i}].token_id"),
                format!(
                    "token_keys[{i}] is for a machine token that is not live in this group, \
                     or repeats one"
                ),
            ));
        }
    }
    if keyed.len() != live_tokens.len() {
        return Err(ApiError::bad(
            "token_keys",
            "the new key must be sealed to every live machine token of the group",
        ));
    }
    Ok(())
}

/// `GET /v1/groups/{group_id}/sync?since=N`: the group's item changes (live members).
pub(super) async fn pull(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
    query: Result<Query<SyncQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let group = path_id("group_id", &group)?;
    let Query(q) = query.map_err(|_| {
        ApiError::bad(
            "since",
            "since must be a non-negative integer (a sync cursor)",
        )
    })?;
    let now = now();
    let (_, m) = live_member(&state, &caller, group, now).await?;
    let mut page = state
        .store()
        .group_pull(group, q.since, limits::PULL_CHANGES)
        .await?;
    let ended = if m.role == GroupRole::Admin {
        Vec::new()
    } else {
        hide_ended_shares(&state, group, now, &mut page.changes).await?
    };
    let cursor = page.changes.last().map_or(q.since, |c| c.seq);
    if !page.changes.is_empty() {
        state
            .audit(
                caller.team.id,
                vec![caller
                    .event(AuditAction::Fetch)
                    .group(group)
                    .detail(format!("versions={}", page.changes.len()))],
            )
            .await?;
    }
    let manifest = super::manifest::newest(&state, group, page.more).await?;
    Ok(Json(PullResponse {
        changes: page.changes,
        cursor,
        more: page.more,
        manifest,
        ended: if page.more { Vec::new() } else { ended },
    }))
}

/// `POST /v1/groups/{group_id}/sync`: change the group's items (editors and admins).
pub(super) async fn push(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    let group = path_id("group_id", &group)?;
    let now = now();
    let (_, m) = live_member(&state, &caller, group, now).await?;
    if !m.role.can_write() {
        return Err(ApiError::forbidden(
            "viewers cannot change a group's items; ask a group admin for the editor role",
        ));
    }
    if m.role != GroupRole::Admin {
        let ended: HashSet<Id> = state
            .store()
            .ended_shares(group, now)
            .await?
            .into_iter()
            .collect();
        if let Some(i) = req.changes.iter().position(|c| ended.contains(&c.item_id)) {
            return Err(ApiError::forbidden(&format!(
                "the share of changes[{i}]'s item in this group has ended; ask a group admin to extend it"
            )));
        }
    }
    let n = req.changes.len();
    let kinds: std::collections::HashMap<Id, AuditAction> = req
        .changes
        .iter()
        .map(|c| {
            let action = if c.deleted {
                AuditAction::Unshare
            } else if c.base_version == 0 {
                AuditAction::Share
            } else {
                AuditAction::Change
            };
            (c.item_id, action)
        })
        .collect();
    // One entry per change that applied.
    let (team, actor) = (caller.team.id, caller.actor());
    let audit = Audit::of(now, move |results: &Vec<PushResult>| {
        let events = results
            .iter()
            .filter_map(|r| match r {
                PushResult::Applied {
                    item_id, version, ..
                } => {
                    let action = kinds.get(item_id).copied().unwrap_or(AuditAction::Change);
                    Some(
                        AuditEvent::new(actor, action)
                            .item(*item_id)
                            .group(group)
                            .detail(format!("version={version}")),
                    )
                }
                PushResult::Conflict { .. } => None,
            })
            .collect();
        (team, events)
    });
    let results = state
        .store()
        .group_push(caller.team.id, group, req.changes, now, audit)
        .await?;
    tracing::info!(account = %caller.account.id, group = %group, changes = n, "group push");
    Ok(Json(PushResponse { results }))
}

/// Serve items whose share has ended as deleted (their content withheld), for callers who are
/// not admins of the group. Returns those items, so a client holding an unchanged copy of one
/// (its record not in this page) drops it too.
pub(super) async fn hide_ended_shares(
    state: &AppState,
    group: Id,
    now: i64,
    changes: &mut [tessera_protocol::ItemRecord],
) -> Result<Vec<Id>, ApiError> {
    let ended = state.store().ended_shares(group, now).await?;
    let set: HashSet<&Id> = ended.iter().collect();
    for c in changes.iter_mut().filter(|c| set.contains(&c.item_id)) {
        c.deleted = true;
        c.blob = tessera_protocol::Blob::default();
    }
    Ok(ended)
}

/// `PUT /v1/groups/{group_id}/items/{item_id}/share` (editors and admins): set or clear when
/// the item's share ends.
pub(super) async fn set_share_expiry(
    State(state): State<AppState>,
    Member(caller): Member,
    Path((group, item)): Path<(String, String)>,
    ApiJson(req): ApiJson<ShareExpiryRequest>,
) -> Result<StatusCode, ApiError> {
    let group = path_id("group_id", &group)?;
    let item = path_id("item_id", &item)?;
    let now = now();
    let (_, m) = live_member(&state, &caller, group, now).await?;
    if !m.role.can_write() {
        return Err(ApiError::forbidden(
            "viewers cannot change a share; ask a group admin or editor",
        ));
    }
    if state.store().group_of_item(caller.team.id, item).await? != Some(group) {
        return Err(ApiError::not_found("no such item in this group").with_field("item_id"));
    }
    if req.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::bad("expires_at", "expires_at is in the past"));
    }
    let audit = Audit::new(
        caller.team.id,
        now,
        vec![caller
            .event(AuditAction::Share)
            .item(item)
            .group(group)
            .detail(
                req.expires_at
                    .map_or_else(|| "no end".into(), |t| format!("until={t}")),
            )],
    );
    state
        .store()
        .set_share_expiry(group, item, req.expires_at, audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/items/{item_id}/access`: the group holding an item and everyone who can read it,
/// its live members and its live machine tokens (live members of that group only; anyone else
/// gets 404).
pub(super) async fn access(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(item): Path<String>,
) -> Result<Json<AccessResponse>, ApiError> {
    let item = path_id("item_id", &item)?;
    let now = now();
    let hidden = || ApiError::not_found("no shared item with this id is visible to you");
    let group = state
        .store()
        .group_of_item(caller.team.id, item)
        .await?
        .ok_or_else(hidden)?;
    let (g, _) = live_member(&state, &caller, group, now)
        .await
        .map_err(|_| hidden())?;
    let members = state.store().group_members(group, now).await?;
    let tokens = state.store().group_tokens(group).await?;
    Ok(Json(AccessResponse {
        item_id: item,
        group_id: group,
        group_name: tessera_protocol::Blob(g.name),
        epoch: g.epoch,
        members,
        share_expires_at: state.store().share_expiry(group, item).await?,
        tokens: tokens
            .into_iter()
            .filter(|t| t.is_live(now))
            .map(super::token::info)
            .collect(),
    }))
}
