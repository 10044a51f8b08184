//! Group logs in SQLite: each group's signed membership entries, appended in the transaction
//! of the change they record.
use rusqlite::{params, Connection, OptionalExtension};
use tessera_protocol::{Blob, Id, SignedLogEntry};

use super::be;
use crate::store::{rules, LogAppend, StoreError};

/// The last entry's number and hash.
pub(super) fn head(conn: &Connection, group: Id) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    conn.query_row(
        "SELECT seq, hash FROM group_log WHERE group_id = ?1 ORDER BY seq DESC LIMIT 1",
        [group.0],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
    )
    .optional()
    .map_err(be)
}

/// Append `log` if it follows the last entry (inside the caller's transaction).
pub(super) fn append(conn: &Connection, group: Id, log: &LogAppend) -> Result<(), StoreError> {
    rules::log_follows(head(conn, group)?, log)?;
    conn.execute(
        "INSERT INTO group_log (group_id, seq, entry, signature, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![group.0, log.seq as i64, log.entry, log.signature, log.hash],
    )
    .map_err(be)?;
    Ok(())
}

/// The entries after `since`, oldest first.
pub(super) fn entries(
    conn: &Connection,
    group: Id,
    since: u64,
) -> Result<Vec<SignedLogEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT entry, signature FROM group_log WHERE group_id = ?1 AND seq > ?2 ORDER BY seq",
        )
        .map_err(be)?;
    let rows = stmt
        .query_map(params![group.0, since as i64], |r| {
            Ok(SignedLogEntry {
                entry: Blob(r.get(0)?),
                signature: Blob(r.get(1)?),
            })
        })
        .map_err(be)?;
    rows.collect::<Result<_, _>>().map_err(be)
}
