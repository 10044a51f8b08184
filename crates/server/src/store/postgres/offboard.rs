//! Offboarding in PostgreSQL: a member's membership windows and the group items they could
//! decrypt (one query for all groups), and ending their access in one transaction.
use std::collections::HashMap;

use tessera_protocol::{ExposedRecord, GroupRole, Id, MembershipWindow, OffboardResponse};
use tokio_postgres::{Client, GenericClient};

use super::{be, item_from};
use crate::store::{id_from, rules, StoreError};

pub(super) async fn review(
    c: &Client,
    account: Id,
    now: i64,
) -> Result<(Vec<MembershipWindow>, Vec<ExposedRecord>), StoreError> {
    let rows = c
        .query(
            "SELECT group_id, role, added_at, removed_at, expires_at FROM group_members
             WHERE account_id = $1 ORDER BY added_at, group_id",
            &[&account.0.as_slice()],
        )
        .await
        .map_err(be)?;
    let mut windows = Vec::new();
    for r in &rows {
        windows.push(MembershipWindow {
            group_id: id_from(r.get(0))?,
            role: GroupRole::parse(r.get(1)),
            from: r.get(2),
            to: rules::access_end(r.get(3), r.get(4), now),
        });
    }
    let ends: HashMap<Id, Option<i64>> = windows.iter().map(|w| (w.group_id, w.to)).collect();
    let rows = c
        .query(
            "SELECT i.item_id, i.version, i.seq, i.deleted, i.blob, i.group_id,
                 (SELECT min(v.created_at) FROM group_item_versions v
                  WHERE v.group_id = i.group_id AND v.item_id = i.item_id)
             FROM group_items i
             JOIN group_members m ON m.group_id = i.group_id AND m.account_id = $1
             WHERE NOT i.deleted
             ORDER BY m.added_at, m.group_id, i.seq",
            &[&account.0.as_slice()],
        )
        .await
        .map_err(be)?;
    let mut records = Vec::with_capacity(rows.len());
    for r in &rows {
        let group_id = id_from(r.get(5))?;
        let first: Option<i64> = r.try_get(6).map_err(be)?;
        // An item without a version (never written through a push) exposed nothing.
        if first.is_some_and(|f| rules::exposed(f, ends.get(&group_id).copied().flatten())) {
            records.push(ExposedRecord {
                group_id,
                record: item_from(r)?,
            });
        }
    }
    Ok((windows, records))
}

/// Offboard inside the caller's transaction.
pub(super) async fn offboard(
    tx: &impl GenericClient,
    account: Id,
    by: Id,
    now: i64,
) -> Result<OffboardResponse, StoreError> {
    let a = account.0.as_slice();
    tx.execute(
        "INSERT INTO offboarded (account_id, at, by_account) VALUES ($1, $2, $3)
         ON CONFLICT (account_id) DO NOTHING",
        &[&a, &now, &by.0.as_slice()],
    )
    .await
    .map_err(be)?;
    let sessions = tx
        .execute(
            "UPDATE sessions SET revoked_at = $2
             WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2",
            &[&a, &now],
        )
        .await
        .map_err(be)?;
    let tokens = tx
        .execute(
            "UPDATE machine_tokens SET revoked_at = $2 WHERE created_by = $1 AND revoked_at IS NULL",
            &[&a, &now],
        )
        .await
        .map_err(be)?;
    let rows = tx
        .query(
            "UPDATE group_members SET removed_at = $2
             WHERE account_id = $1 AND removed_at IS NULL
               AND (expires_at IS NULL OR expires_at > $2)
             RETURNING group_id",
            &[&a, &now],
        )
        .await
        .map_err(be)?;
    let groups = rows
        .iter()
        .map(|r| id_from(r.get(0)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffboardResponse {
        sessions_revoked: sessions,
        tokens_revoked: tokens,
        groups,
    })
}

pub(super) async fn offboarded_at(c: &Client, account: Id) -> Result<Option<i64>, StoreError> {
    Ok(c.query_opt(
        "SELECT at FROM offboarded WHERE account_id = $1",
        &[&account.0.as_slice()],
    )
    .await
    .map_err(be)?
    .map(|r| r.get(0)))
}
