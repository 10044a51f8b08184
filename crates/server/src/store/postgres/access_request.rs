//! [`AccessRequests`] on PostgreSQL.
use tessera_protocol::{GroupRole, Id};
use tokio_postgres::{GenericClient, Row};

use super::{audit, be, set_member_in, unique, PgStore};
use crate::store::access_request::{
    decision_name, decode_reasons, encode_reasons, AccessRequest, AccessRequests, Decision,
    NewAccessRequest, REQUEST_COLS,
};
use crate::store::{id_from, rules, Audit, StoreError, StoreFuture};

fn request_from(r: &Row) -> Result<AccessRequest, StoreError> {
    let id = |i: usize| -> Result<Id, StoreError> {
        let b: Vec<u8> = r.try_get(i).map_err(be)?;
        id_from(&b)
    };
    let role: String = r.try_get(5).map_err(be)?;
    let reasons: Vec<u8> = r.try_get(7).map_err(be)?;
    let decided_by: Option<Vec<u8>> = r.try_get(11).map_err(be)?;
    let decision: Option<String> = r.try_get(12).map_err(be)?;
    let granted_role: Option<String> = r.try_get(13).map_err(be)?;
    Ok(AccessRequest {
        id: id(0)?,
        team_id: id(1)?,
        group_id: id(2)?,
        requester: id(3)?,
        requester_email: r.try_get(4).map_err(be)?,
        role: GroupRole::parse(&role),
        duration_secs: r.try_get(6).map_err(be)?,
        reasons: decode_reasons(&reasons)?,
        created_at: r.try_get(8).map_err(be)?,
        expires_at: r.try_get(9).map_err(be)?,
        decided_at: r.try_get(10).map_err(be)?,
        decided_by: decided_by.map(|b| id_from(&b)).transpose()?,
        approved: decision.map(|d| d == decision_name(true)),
        granted_role: granted_role.map(|g| GroupRole::parse(&g)),
        granted_until: r.try_get(14).map_err(be)?,
    })
}

const FROM: &str = "FROM access_requests r JOIN accounts a ON a.id = r.requester";

async fn one_request(
    c: &impl GenericClient,
    id: Id,
    lock: &str,
) -> Result<Option<AccessRequest>, StoreError> {
    c.query_opt(
        &format!("SELECT {REQUEST_COLS} {FROM} WHERE r.id = $1 {lock}"),
        &[&id.0.as_slice()],
    )
    .await
    .map_err(be)?
    .map(|r| request_from(&r))
    .transpose()
}

impl AccessRequests for PgStore {
    fn create_access_request(&self, r: NewAccessRequest, audit: Audit<()>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let (g, who) = (r.group_id.0.as_slice(), r.requester.0.as_slice());
            // Serialise requests for one group, so two cannot both pass the pending check.
            tx.query_opt("SELECT 1 FROM groups WHERE id = $1 FOR UPDATE", &[&g])
                .await
                .map_err(be)?
                .ok_or(StoreError::NotFound)?;
            let pending: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM access_requests
                     WHERE group_id = $1 AND requester = $2 AND decided_at IS NULL
                       AND expires_at > $3)",
                    &[&g, &who, &r.created_at],
                )
                .await
                .map_err(be)?
                .get(0);
            rules::new_request(pending)?;
            tx.execute(
                "INSERT INTO access_requests (id, team_id, group_id, requester, role,
                     duration_secs, reasons, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &r.id.0.as_slice(),
                    &r.team_id.0.as_slice(),
                    &g,
                    &who,
                    &r.role.as_str(),
                    &r.duration_secs,
                    &encode_reasons(&r.reasons),
                    &r.created_at,
                    &r.expires_at,
                ],
            )
            .await
            .map_err(unique)?;
            audit::commit(tx, audit, &()).await
        })
    }

    fn access_request(&self, id: Id) -> StoreFuture<'_, Option<AccessRequest>> {
        Box::pin(async move {
            let c = self.conn().await?;
            one_request(&*c, id, "").await
        })
    }

    fn pending_access_requests(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.query(
                &format!(
                    "SELECT {REQUEST_COLS} {FROM}
                     WHERE r.group_id = $1 AND r.decided_at IS NULL AND r.expires_at > $2
                     ORDER BY r.created_at, r.id"
                ),
                &[&group.0.as_slice(), &now],
            )
            .await
            .map_err(be)?
            .iter()
            .map(request_from)
            .collect()
        })
    }

    fn access_requests_for(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.query(
                &format!(
                    "SELECT {REQUEST_COLS} {FROM}
                     WHERE r.requester = $1 OR (r.decided_at IS NULL AND r.expires_at > $2
                       AND r.group_id IN (SELECT m.group_id FROM group_members m
                           WHERE m.account_id = $1 AND m.role = 'admin'
                             AND m.removed_at IS NULL
                             AND (m.expires_at IS NULL OR m.expires_at > $2)))
                     ORDER BY r.created_at, r.id"
                ),
                &[&account.0.as_slice(), &now],
            )
            .await
            .map_err(be)?
            .iter()
            .map(request_from)
            .collect()
        })
    }

    fn decide_access_request(
        &self,
        d: Decision,
        audit: Audit<AccessRequest>,
    ) -> StoreFuture<'_, AccessRequest> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let r = one_request(&tx, d.request, "FOR UPDATE OF r").await?;
            rules::decide(r.as_ref(), d.now)?;
            if let Some(grant) = &d.grant {
                set_member_in(&tx, grant).await?;
            }
            let role = d.grant.as_ref().map(|g| g.role.as_str());
            let until = d.grant.as_ref().and_then(|g| g.expires_at);
            tx.execute(
                "UPDATE access_requests SET decided_at = $2, decided_by = $3, decision = $4,
                     granted_role = $5, granted_until = $6
                 WHERE id = $1",
                &[
                    &d.request.0.as_slice(),
                    &d.now,
                    &d.by.0.as_slice(),
                    &decision_name(d.grant.is_some()),
                    &role,
                    &until,
                ],
            )
            .await
            .map_err(be)?;
            let decided = one_request(&tx, d.request, "")
                .await?
                .ok_or(StoreError::NotFound)?;
            audit::commit(tx, audit, &decided).await?;
            Ok(decided)
        })
    }
}
