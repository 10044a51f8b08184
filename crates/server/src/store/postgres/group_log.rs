//! Group logs in PostgreSQL: each group's signed membership entries, appended in the
//! transaction of the change they record.
use tessera_protocol::{Blob, Id, SignedLogEntry};
use tokio_postgres::GenericClient;

use super::be;
use crate::store::{rules, LogAppend, StoreError};

/// The last entry's number and hash.
pub(super) async fn head(
    c: &impl GenericClient,
    group: Id,
) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    Ok(c.query_opt(
        "SELECT seq, hash FROM group_log WHERE group_id = $1 ORDER BY seq DESC LIMIT 1",
        &[&group.0.as_slice()],
    )
    .await
    .map_err(be)?
    .map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
}

/// Append `log` if it follows the last entry (inside the caller's transaction, which holds the
/// group's row lock, so two appends to one group never interleave).
pub(super) async fn append(
    c: &impl GenericClient,
    group: Id,
    log: &LogAppend,
) -> Result<(), StoreError> {
    rules::log_follows(head(c, group).await?, log)?;
    c.execute(
        "INSERT INTO group_log (group_id, seq, entry, signature, hash) VALUES ($1, $2, $3, $4, $5)",
        &[
            &group.0.as_slice(),
            &(log.seq as i64),
            &log.entry,
            &log.signature,
            &log.hash,
        ],
    )
    .await
    .map_err(|e| {
        // A concurrent append of the same number lost the race.
        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            StoreError::StaleLog
        } else {
            be(e)
        }
    })?;
    Ok(())
}

/// The entries after `since`, oldest first.
pub(super) async fn entries(
    c: &impl GenericClient,
    group: Id,
    since: u64,
) -> Result<Vec<SignedLogEntry>, StoreError> {
    Ok(c.query(
        "SELECT entry, signature FROM group_log WHERE group_id = $1 AND seq > $2 ORDER BY seq",
        &[&group.0.as_slice(), &(since as i64)],
    )
    .await
    .map_err(be)?
    .iter()
    .map(|r| SignedLogEntry {
        entry: Blob(r.get(0)),
        signature: Blob(r.get(1)),
    })
    .collect())
}
