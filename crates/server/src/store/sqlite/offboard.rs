//! Offboarding in SQLite: a member's membership windows and the group items they could
//! decrypt, and ending their access in one transaction.
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tessera_protocol::{ExposedRecord, GroupRole, Id, MembershipWindow, OffboardResponse};

use super::{be, item_row};
use crate::store::{id_from, StoreError};

pub(super) fn review(
    conn: &Connection,
    account: Id,
    now: i64,
) -> Result<(Vec<MembershipWindow>, Vec<ExposedRecord>), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT group_id, role, added_at, removed_at, expires_at FROM group_members
             WHERE account_id = ?1 ORDER BY added_at",
        )
        .map_err(be)?;
    let rows = stmt
        .query_map([account.0], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })
        .map_err(be)?;
    let mut windows = Vec::new();
    for r in rows {
        let (group, role, from, removed, expires) = r.map_err(be)?;
        windows.push(MembershipWindow {
            group_id: id_from(&group)?,
            role: GroupRole::parse(&role),
            from,
            to: removed.or(expires.filter(|t| *t <= now)),
        });
    }
    let mut items = conn
        .prepare_cached(
            "SELECT i.item_id, i.version, i.seq, i.deleted, i.blob FROM group_items i
             WHERE i.group_id = ?1 AND i.deleted = 0
               AND EXISTS (SELECT 1 FROM group_item_versions v
                   WHERE v.group_id = i.group_id AND v.item_id = i.item_id AND v.created_at < ?2)
             ORDER BY i.seq",
        )
        .map_err(be)?;
    let mut records = Vec::new();
    for w in &windows {
        let end = w.to.unwrap_or(i64::MAX);
        let rows = items
            .query_map(params![w.group_id.0, end], item_row)
            .map_err(be)?;
        for r in rows {
            let (id, rec) = r.map_err(be)?;
            records.push(ExposedRecord {
                group_id: w.group_id,
                record: tessera_protocol::ItemRecord {
                    item_id: id_from(&id)?,
                    ..rec
                },
            });
        }
    }
    Ok((windows, records))
}

pub(super) fn offboard(
    conn: &mut Connection,
    account: Id,
    by: Id,
    now: i64,
) -> Result<OffboardResponse, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(be)?;
    tx.execute(
        "INSERT INTO offboarded (account_id, at, by_account) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id) DO NOTHING",
        params![account.0, now, by.0],
    )
    .map_err(be)?;
    let sessions = tx
        .execute(
            "UPDATE sessions SET revoked_at = ?2
             WHERE account_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
            params![account.0, now],
        )
        .map_err(be)? as u64;
    let tokens = tx
        .execute(
            "UPDATE machine_tokens SET revoked_at = ?2 WHERE created_by = ?1 AND revoked_at IS NULL",
            params![account.0, now],
        )
        .map_err(be)? as u64;
    let mut groups = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "UPDATE group_members SET removed_at = ?2
                 WHERE account_id = ?1 AND removed_at IS NULL
                   AND (expires_at IS NULL OR expires_at > ?2)
                 RETURNING group_id",
            )
            .map_err(be)?;
        let rows = stmt
            .query_map(params![account.0, now], |r| r.get::<_, Vec<u8>>(0))
            .map_err(be)?;
        for r in rows {
            groups.push(id_from(&r.map_err(be)?)?);
        }
    }
    tx.commit().map_err(be)?;
    Ok(OffboardResponse {
        sessions_revoked: sessions,
        tokens_revoked: tokens,
        groups,
    })
}

pub(super) fn offboarded_at(conn: &Connection, account: Id) -> Result<Option<i64>, StoreError> {
    conn.query_row(
        "SELECT at FROM offboarded WHERE account_id = ?1",
        [account.0],
        |r| r.get(0),
    )
    .optional()
    .map_err(be)
}
