//! The audit chain in SQLite: entries are appended from the team's head row inside an immediate
//! transaction (the action's own, see [`commit`]), so entries of a team get consecutive sequence
//! numbers, each links to the one before, and they commit with the change they record.
use rusqlite::{params, Connection, Row, Transaction, TransactionBehavior};
use tessera_protocol::{AuditAction, AuditEntry, AuditEvent, AuditPage, AuditQuery, Blob, Id};

use super::be;
use crate::store::audit::{Audit, Entries};
use crate::store::{actor_from, actor_parts, id_from, rules, StoreError};

/// Commit an action's transaction with the entries `audit` records for its result `out`.
pub(super) fn commit<T: 'static>(
    tx: Transaction<'_>,
    audit: Audit<T>,
    out: &T,
) -> Result<(), StoreError> {
    if let Some(e) = audit.entries(out) {
        append_in(&tx, &e)?;
        crate::fault::before_audit_commit(&e.events);
    }
    tx.commit().map_err(be)
}

/// Append events that record no other change, in a transaction of their own.
pub(super) fn append(
    conn: &mut Connection,
    team: Id,
    at: i64,
    events: Vec<AuditEvent>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(be)?;
    let e = Entries { team, at, events };
    append_in(&tx, &e)?;
    crate::fault::before_audit_commit(&e.events);
    tx.commit().map_err(be)
}

/// Append entries after the team's head, inside the caller's transaction.
fn append_in(tx: &Connection, e: &Entries) -> Result<(), StoreError> {
    let team = e.team;
    tx.execute(
        "INSERT INTO audit_heads (team_id, seq, hash) VALUES (?1, 0, ?2)
         ON CONFLICT (team_id) DO NOTHING",
        params![team.0, [0u8; 32]],
    )
    .map_err(be)?;
    let (seq, hash): (i64, Vec<u8>) = tx
        .query_row(
            "SELECT seq, hash FROM audit_heads WHERE team_id = ?1",
            [team.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(be)?;
    let (mut seq, mut prev) = rules::audit_head(seq, &hash)?;
    {
        let mut ins = tx
            .prepare_cached(
                "INSERT INTO audit_log (team_id, seq, at, actor_kind, actor_id, action, item_id,
                     group_id, subject, detail, prev, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .map_err(be)?;
        for ev in &e.events {
            seq += 1;
            let entry = ev.clone().chain(&team, seq, e.at, prev);
            let (kind, actor) = actor_parts(entry.actor);
            ins.execute(params![
                team.0,
                seq as i64,
                e.at,
                kind,
                actor,
                entry.action.as_str(),
                entry.item_id.map(|i| i.0),
                entry.group_id.map(|i| i.0),
                entry.subject.map(|i| i.0),
                entry.detail,
                entry.prev.0,
                entry.hash.0,
            ])
            .map_err(be)?;
            prev.copy_from_slice(&entry.hash.0);
        }
    }
    tx.execute(
        "UPDATE audit_heads SET seq = ?2, hash = ?3 WHERE team_id = ?1",
        params![team.0, seq as i64, prev],
    )
    .map_err(be)?;
    Ok(())
}

fn opt_id(v: Option<Vec<u8>>) -> Result<Option<Id>, StoreError> {
    v.map(|b| id_from(&b)).transpose()
}

/// The raw columns of one entry.
type RawEntry = (
    i64,
    i64,
    i64,
    Option<Vec<u8>>,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn entry(raw: RawEntry) -> Result<AuditEntry, StoreError> {
    let (seq, at, kind, actor, action, item, group, subject, detail, prev, hash) = raw;
    Ok(AuditEntry {
        seq: seq as u64,
        at,
        actor: actor_from(kind, actor.as_deref())?,
        action: AuditAction::parse(&action).ok_or_else(|| {
            StoreError::Backend(format!("an audit entry has an unknown action {action:?}").into())
        })?,
        item_id: opt_id(item)?,
        group_id: opt_id(group)?,
        subject: opt_id(subject)?,
        detail,
        prev: Blob(prev),
        hash: Blob(hash),
    })
}

pub(super) fn page(
    conn: &Connection,
    team: Id,
    q: &AuditQuery,
    limit: usize,
) -> Result<AuditPage, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, at, actor_kind, actor_id, action, item_id, group_id, subject, detail,
                 prev, hash
             FROM audit_log
             WHERE team_id = ?1 AND seq > ?2
               AND (?3 IS NULL OR actor_id = ?3)
               AND (?4 IS NULL OR item_id = ?4)
               AND (?5 IS NULL OR actor_id = ?5 OR subject = ?5)
               AND (?6 IS NULL OR at >= ?6)
               AND (?7 IS NULL OR at < ?7)
             ORDER BY seq LIMIT ?8",
        )
        .map_err(be)?;
    let rows = stmt
        .query_map(
            params![
                team.0,
                q.after as i64,
                q.actor.map(|i| i.0),
                q.item.map(|i| i.0),
                q.account.map(|i| i.0),
                q.since,
                q.until,
                (limit + 1) as i64
            ],
            raw,
        )
        .map_err(be)?;
    let mut entries = Vec::new();
    for r in rows {
        entries.push(entry(r.map_err(be)?)?);
    }
    let more = entries.len() > limit;
    entries.truncate(limit);
    Ok(AuditPage { entries, more })
}
