//! Access requests: see [`crate::store::access_request`].
use tessera_protocol::{GroupRole, Id};

use super::group::{epoch_locked, set_member_in};
use super::{params, Param, Row, Sql};
use crate::store::access_request::{
    decision_name, decode_reasons, encode_reasons, AccessRequest, Decision, NewAccessRequest,
    REQUEST_COLS,
};
use crate::store::{rules, StoreError};

fn request(mut r: Row) -> Result<AccessRequest, StoreError> {
    Ok(AccessRequest {
        id: r.id(0)?,
        team_id: r.id(1)?,
        group_id: r.id(2)?,
        requester: r.id(3)?,
        requester_email: r.text(4)?,
        role: GroupRole::parse(&r.text(5)?),
        duration_secs: r.i64(6)?,
        reasons: decode_reasons(&r.bytes(7)?)?,
        created_at: r.i64(8)?,
        expires_at: r.i64(9)?,
        decided_at: r.opt_i64(10)?,
        decided_by: r.opt_id(11)?,
        approved: r.opt_text(12)?.map(|d| d == decision_name(true)),
        granted_role: r.opt_text(13)?.map(|g| GroupRole::parse(&g)),
        granted_until: r.opt_i64(14)?,
    })
}

async fn requests(
    s: &mut dyn Sql,
    filter: &str,
    params: &[Param<'_>],
) -> Result<Vec<AccessRequest>, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLS} FROM access_requests r JOIN accounts a ON a.id = r.requester
         WHERE {filter} ORDER BY r.created_at, r.id"
    );
    s.query(&sql, params)
        .await?
        .into_iter()
        .map(request)
        .collect()
}

pub(super) async fn get(s: &mut dyn Sql, id: Id) -> Result<Option<AccessRequest>, StoreError> {
    Ok(requests(s, "r.id = $1", params![&id]).await?.pop())
}

pub(super) async fn pending(
    s: &mut dyn Sql,
    group: Id,
    now: i64,
) -> Result<Vec<AccessRequest>, StoreError> {
    requests(
        s,
        "r.group_id = $1 AND r.decided_at IS NULL AND r.expires_at > $2",
        params![&group, now],
    )
    .await
}

pub(super) async fn for_account(
    s: &mut dyn Sql,
    account: Id,
    now: i64,
) -> Result<Vec<AccessRequest>, StoreError> {
    requests(
        s,
        "r.requester = $1 OR (r.decided_at IS NULL AND r.expires_at > $2
           AND r.group_id IN (SELECT m.group_id FROM group_members m
               WHERE m.account_id = $1 AND m.role = 'admin' AND m.removed_at IS NULL
                 AND (m.expires_at IS NULL OR m.expires_at > $2)))",
        params![&account, now],
    )
    .await
}

pub(super) async fn create(s: &mut dyn Sql, r: NewAccessRequest) -> Result<(), StoreError> {
    // The group's lock keeps two requests from both passing the pending check.
    epoch_locked(s, r.group_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let pending = s
        .one(
            "SELECT EXISTS (SELECT 1 FROM access_requests
                 WHERE group_id = $1 AND requester = $2 AND decided_at IS NULL
                   AND expires_at > $3)",
            params![&r.group_id, &r.requester, r.created_at],
        )
        .await?
        .bool(0)?;
    rules::new_request(pending)?;
    s.execute(
        "INSERT INTO access_requests (id, team_id, group_id, requester, role, duration_secs,
             reasons, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            &r.id,
            &r.team_id,
            &r.group_id,
            &r.requester,
            r.role.as_str(),
            r.duration_secs,
            &encode_reasons(&r.reasons),
            r.created_at,
            r.expires_at
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn decide(s: &mut dyn Sql, d: Decision) -> Result<AccessRequest, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLS} FROM access_requests r JOIN accounts a ON a.id = r.requester
         WHERE r.id = $1 FOR UPDATE OF r"
    );
    let locked = s.opt(&sql, params![&d.request]).await?.map(request);
    rules::decide(locked.transpose()?.as_ref(), d.now)?;
    if let Some(grant) = &d.grant {
        set_member_in(s, grant).await?;
    }
    let decided = s
        .execute(
            "UPDATE access_requests SET decided_at = $2, decided_by = $3, decision = $4,
                 granted_role = $5, granted_until = $6
             WHERE id = $1 AND decided_at IS NULL",
            params![
                &d.request,
                d.now,
                &d.by,
                decision_name(d.grant.is_some()),
                d.grant.as_ref().map(|g| g.role.as_str()),
                d.grant.as_ref().and_then(|g| g.expires_at)
            ],
        )
        .await?;
    if decided != 1 {
        return Err(StoreError::AlreadyDecided);
    }
    get(s, d.request).await?.ok_or(StoreError::NotFound)
}
