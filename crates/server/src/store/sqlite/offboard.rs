//! Offboarding in SQLite: a member's membership windows and the group items they could
//! decrypt, and ending their access in one transaction.
use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use tessera_protocol::{ExposedRecord, GroupRole, Id, MembershipWindow, OffboardResponse};

use super::{be, item_row};
use crate::store::{id_from, rules, StoreError};

pub(super) fn review(
    conn: &Connection,
    account: Id,
    now: i64,
) -> Result<(Vec<MembershipWindow>, Vec<ExposedRecord>), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT group_id, role, added_at, removed_at, expires_at FROM group_members
             WHERE account_id = ?1 ORDER BY added_at, group_id",
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
            to: rules::access_end(removed, expires, now),
        });
    }
    let ends: HashMap<Id, Option<i64>> = windows.iter().map(|w| (w.group_id, w.to)).collect();
    let mut items = conn.prepare_cached(EXPOSED).map_err(be)?;
    let rows = items
        .query_map([account.0], |r| {
            Ok((
                item_row(r)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })
        .map_err(be)?;
    let mut records = Vec::new();
    for r in rows {
        let ((id, rec), group, first) = r.map_err(be)?;
        let group_id = id_from(&group)?;
        // An item without a version (never written through a push) exposed nothing.
        if first.is_some_and(|f| rules::exposed(f, ends.get(&group_id).copied().flatten())) {
            records.push(ExposedRecord {
                group_id,
                record: tessera_protocol::ItemRecord {
                    item_id: id_from(&id)?,
                    ..rec
                },
            });
        }
    }
    Ok((windows, records))
}

/// The items of every group the account was ever a member of, not deleted, with when their
/// first version was written, in the windows' order.
const EXPOSED: &str = "SELECT i.item_id, i.version, i.seq, i.deleted, i.blob, i.group_id,
         (SELECT min(v.created_at) FROM group_item_versions v
          WHERE v.group_id = i.group_id AND v.item_id = i.item_id)
     FROM group_items i JOIN group_members m ON m.group_id = i.group_id AND m.account_id = ?1
     WHERE i.deleted = 0
     ORDER BY m.added_at, m.group_id, i.seq";

/// Offboard inside the caller's (immediate) transaction.
pub(super) fn offboard(
    tx: &Connection,
    account: Id,
    by: Id,
    now: i64,
) -> Result<OffboardResponse, StoreError> {
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
