//! The audit chain in PostgreSQL: a head row per team, locked `FOR UPDATE` while appending inside
//! the transaction of the action the entries record (see [`commit`]), so concurrent appends
//! through any node get consecutive sequence numbers, each entry links to the one before, and
//! the entries commit with their change. The head is the transaction's last lock: held only
//! while it commits, and never before a lock another writer could hold (no deadlock).
use tessera_protocol::{AuditAction, AuditEntry, AuditEvent, AuditPage, AuditQuery, Blob, Id};
use tokio_postgres::{Client, GenericClient, Row, Transaction};

use super::be;
use crate::store::audit::{Audit, Entries};
use crate::store::{actor_from, actor_parts, id_from, rules, StoreError};

/// Commit an action's transaction with the entries `audit` records for its result `out`.
pub(super) async fn commit<T: 'static>(
    tx: Transaction<'_>,
    audit: Audit<T>,
    out: &T,
) -> Result<(), StoreError> {
    if let Some(e) = audit.entries(out) {
        append_in(&tx, &e).await?;
        crate::fault::before_audit_commit(&e.events);
    }
    tx.commit().await.map_err(be)
}

/// Append events that record no other change, in a transaction of their own.
pub(super) async fn append(
    c: &mut Client,
    team: Id,
    at: i64,
    events: Vec<AuditEvent>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let tx = c.transaction().await.map_err(be)?;
    let e = Entries { team, at, events };
    append_in(&tx, &e).await?;
    crate::fault::before_audit_commit(&e.events);
    tx.commit().await.map_err(be)
}

/// Append entries after the team's head, inside the caller's transaction.
async fn append_in(tx: &impl GenericClient, e: &Entries) -> Result<(), StoreError> {
    let t = e.team.0.as_slice();
    tx.execute(
        "INSERT INTO audit_heads (team_id, seq, hash) VALUES ($1, 0, $2)
         ON CONFLICT (team_id) DO NOTHING",
        &[&t, &[0u8; 32].as_slice()],
    )
    .await
    .map_err(be)?;
    let head = tx
        .query_one(
            "SELECT seq, hash FROM audit_heads WHERE team_id = $1 FOR UPDATE",
            &[&t],
        )
        .await
        .map_err(be)?;
    let (mut seq, mut prev) = rules::audit_head(head.get(0), head.get(1))?;
    let ins = tx
        .prepare(
            "INSERT INTO audit_log (team_id, seq, at, actor_kind, actor_id, action, item_id,
                 group_id, subject, detail, prev, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .await
        .map_err(be)?;
    for ev in &e.events {
        seq += 1;
        let entry = ev.clone().chain(&e.team, seq, e.at, prev);
        let (kind, actor) = actor_parts(entry.actor);
        tx.execute(
            &ins,
            &[
                &t,
                &(seq as i64),
                &e.at,
                &(kind as i16),
                &actor.as_ref().map(<[u8; 16]>::as_slice),
                &entry.action.as_str(),
                &entry.item_id.as_ref().map(|i| i.0.as_slice()),
                &entry.group_id.as_ref().map(|i| i.0.as_slice()),
                &entry.subject.as_ref().map(|i| i.0.as_slice()),
                &entry.detail,
                &entry.prev.0,
                &entry.hash.0,
            ],
        )
        .await
        .map_err(be)?;
        prev.copy_from_slice(&entry.hash.0);
    }
    tx.execute(
        "UPDATE audit_heads SET seq = $2, hash = $3 WHERE team_id = $1",
        &[&t, &(seq as i64), &prev.as_slice()],
    )
    .await
    .map_err(be)?;
    Ok(())
}

fn opt_id(r: &Row, col: usize) -> Result<Option<Id>, StoreError> {
    r.get::<_, Option<&[u8]>>(col).map(id_from).transpose()
}

fn entry(r: &Row) -> Result<AuditEntry, StoreError> {
    let action: &str = r.get(4);
    Ok(AuditEntry {
        seq: r.get::<_, i64>(0) as u64,
        at: r.get(1),
        actor: actor_from(i64::from(r.get::<_, i16>(2)), r.get(3))?,
        action: AuditAction::parse(action).ok_or_else(|| {
            StoreError::Backend(format!("an audit entry has an unknown action {action:?}").into())
        })?,
        item_id: opt_id(r, 5)?,
        group_id: opt_id(r, 6)?,
        subject: opt_id(r, 7)?,
        detail: r.get(8),
        prev: Blob(r.get(9)),
        hash: Blob(r.get(10)),
    })
}

pub(super) async fn page(
    c: &Client,
    team: Id,
    q: &AuditQuery,
    limit: usize,
) -> Result<AuditPage, StoreError> {
    let id = |i: Option<Id>| i.map(|i| i.0.to_vec());
    let rows = c
        .query(
            "SELECT seq, at, actor_kind, actor_id, action, item_id, group_id, subject, detail,
                 prev, hash
             FROM audit_log
             WHERE team_id = $1 AND seq > $2
               AND ($3::bytea IS NULL OR actor_id = $3)
               AND ($4::bytea IS NULL OR item_id = $4)
               AND ($5::bytea IS NULL OR actor_id = $5 OR subject = $5)
               AND ($6::bigint IS NULL OR at >= $6)
               AND ($7::bigint IS NULL OR at < $7)
             ORDER BY seq LIMIT $8",
            &[
                &team.0.as_slice(),
                &(q.after as i64),
                &id(q.actor),
                &id(q.item),
                &id(q.account),
                &q.since,
                &q.until,
                &((limit + 1) as i64),
            ],
        )
        .await
        .map_err(be)?;
    let mut entries = rows.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    Ok(AuditPage { entries, more })
}
