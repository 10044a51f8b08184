//! Share expiry in SQLite: when an item's presence in a group ends.
use rusqlite::{params, Connection, OptionalExtension};
use tessera_protocol::Id;

use super::be;
use crate::store::{id_from, StoreError};

pub(super) fn set(
    conn: &Connection,
    group: Id,
    item: Id,
    expires_at: Option<i64>,
) -> Result<(), StoreError> {
    match expires_at {
        Some(t) => conn.execute(
            "INSERT INTO share_expiry (group_id, item_id, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (group_id, item_id) DO UPDATE SET expires_at = excluded.expires_at",
            params![group.0, item.0, t],
        ),
        None => conn.execute(
            "DELETE FROM share_expiry WHERE group_id = ?1 AND item_id = ?2",
            params![group.0, item.0],
        ),
    }
    .map_err(be)?;
    Ok(())
}

pub(super) fn get(conn: &Connection, group: Id, item: Id) -> Result<Option<i64>, StoreError> {
    conn.query_row(
        "SELECT expires_at FROM share_expiry WHERE group_id = ?1 AND item_id = ?2",
        params![group.0, item.0],
        |r| r.get(0),
    )
    .optional()
    .map_err(be)
}

pub(super) fn ended(conn: &Connection, group: Id, now: i64) -> Result<Vec<Id>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT item_id FROM share_expiry WHERE group_id = ?1 AND expires_at <= ?2")
        .map_err(be)?;
    let rows = stmt
        .query_map(params![group.0, now], |r| r.get::<_, Vec<u8>>(0))
        .map_err(be)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(id_from(&r.map_err(be)?)?);
    }
    Ok(out)
}
