//! The audit chain: a head row per team, locked while entries are appended inside the
//! transaction of the action they record ([`append`]), so appends through any node get
//! consecutive sequence numbers, each entry links to the one before, and the entries commit with
//! their change. The head is the transaction's last lock: held only while it commits, and never
//! taken before a lock another writer could hold (no deadlock).
use tessera_protocol::{AuditAction, AuditEntry, AuditPage, AuditQuery, Id};

use super::{insert_rows, params, Param, Row, Sql};
use crate::store::audit::Entries;
use crate::store::{actor_from, actor_parts, rules, StoreError};

/// Append an action's entries (if it records any) after its team's head, inside the action's
/// transaction.
pub(super) async fn append(s: &mut dyn Sql, entries: Option<Entries>) -> Result<(), StoreError> {
    let Some(e) = entries else {
        return Ok(());
    };
    s.execute(
        "INSERT INTO audit_heads (team_id, seq, hash) VALUES ($1, 0, $2)
         ON CONFLICT (team_id) DO NOTHING",
        params![&e.team, &[0u8; 32]],
    )
    .await?;
    let mut head = s
        .one(
            "SELECT seq, hash FROM audit_heads WHERE team_id = $1 FOR UPDATE",
            params![&e.team],
        )
        .await?;
    let (first, mut prev) = rules::audit_head(head.i64(0)?, &head.bytes(1)?)?;
    let mut chained = Vec::with_capacity(e.events.len());
    for (seq, ev) in (first + 1..).zip(&e.events) {
        let entry = ev.clone().chain(&e.team, seq, e.at, prev);
        prev.copy_from_slice(&entry.hash.0);
        chained.push((seq, actor_parts(entry.actor), entry));
    }
    let seq = first + chained.len() as u64;
    // All of an action's entries in a few statements (a push of 1,000 changes records 1,000).
    let rows: Vec<[Param<'_>; 12]> = chained
        .iter()
        .map(|(seq, (kind, actor), entry)| {
            [
                (&e.team).into(),
                (*seq).into(),
                e.at.into(),
                (*kind).into(),
                actor.as_ref().into(),
                entry.action.as_str().into(),
                entry.item_id.as_ref().into(),
                entry.group_id.as_ref().into(),
                entry.subject.as_ref().into(),
                (&entry.detail).into(),
                (&entry.prev).into(),
                (&entry.hash).into(),
            ]
        })
        .collect();
    insert_rows(
        s,
        "INSERT INTO audit_log (team_id, seq, at, actor_kind, actor_id, action, item_id,
             group_id, subject, detail, prev, hash) VALUES",
        "",
        &rows,
    )
    .await?;
    s.execute(
        "UPDATE audit_heads SET seq = $2, hash = $3 WHERE team_id = $1",
        params![&e.team, seq, &prev],
    )
    .await?;
    crate::fault::before_audit_commit(&e.events);
    Ok(())
}

fn entry(mut r: Row) -> Result<AuditEntry, StoreError> {
    let action = r.text(4)?;
    Ok(AuditEntry {
        seq: r.u64(0)?,
        at: r.i64(1)?,
        actor: actor_from(r.i64(2)?, r.opt_bytes(3)?.as_deref())?,
        action: AuditAction::parse(&action).ok_or_else(|| {
            StoreError::Backend(format!("an audit entry has an unknown action {action:?}").into())
        })?,
        item_id: r.opt_id(5)?,
        group_id: r.opt_id(6)?,
        subject: r.opt_id(7)?,
        detail: r.text(8)?,
        prev: r.blob(9)?,
        hash: r.blob(10)?,
    })
}

pub(super) async fn page(
    s: &mut dyn Sql,
    team: Id,
    q: AuditQuery,
    limit: usize,
) -> Result<AuditPage, StoreError> {
    let rows = s
        .query(
            "SELECT seq, at, actor_kind, actor_id, action, item_id, group_id, subject, detail,
                 prev, hash
             FROM audit_log
             WHERE team_id = $1 AND seq > $2
               AND (actor_id = $3 OR $3 IS NULL)
               AND (item_id = $4 OR $4 IS NULL)
               AND (actor_id = $5 OR subject = $5 OR $5 IS NULL)
               AND (at >= $6 OR $6 IS NULL)
               AND (at < $7 OR $7 IS NULL)
             ORDER BY seq LIMIT $8",
            &[
                Param::from(&team),
                q.after.into(),
                q.actor.as_ref().into(),
                q.item.as_ref().into(),
                q.account.as_ref().into(),
                q.since.into(),
                q.until.into(),
                (limit as u64 + 1).into(),
            ],
        )
        .await?;
    let mut entries = rows.into_iter().map(entry).collect::<Result<Vec<_>, _>>()?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    Ok(AuditPage { entries, more })
}
