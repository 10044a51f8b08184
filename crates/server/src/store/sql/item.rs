//! Items: pushes and pulls of an account's own items or a group's, and which group holds an
//! item.
use std::collections::HashMap;

use tessera_protocol::{Id, ItemRecord, PushChange, PushResult};

use super::{insert_rows, list, params, Param, Row, Sql, CHUNK};
use crate::events::Change;
use crate::store::{rules, PullPage, StoreError};

/// Where a push or pull goes: an account's own items or a group's.
#[derive(Clone, Copy)]
pub(crate) struct Space {
    items: &'static str,
    versions: &'static str,
    owner: &'static str,
    /// Announce applied changes to the owner's event streams.
    announce: bool,
}

pub(crate) const PERSONAL: Space = Space {
    items: "items",
    versions: "item_versions",
    owner: "account_id",
    announce: true,
};

pub(crate) const GROUP: Space = Space {
    items: "group_items",
    versions: "group_item_versions",
    owner: "group_id",
    announce: true,
};

/// The columns [`record`] reads, first in a row.
const RECORD_COLS: &str = "item_id, version, seq, deleted, blob";

/// An item record from the first five columns of `r` ([`RECORD_COLS`]).
pub(super) fn record(r: &mut Row) -> Result<ItemRecord, StoreError> {
    Ok(ItemRecord {
        item_id: r.id(0)?,
        version: r.u64(1)?,
        seq: r.u64(2)?,
        deleted: r.bool(3)?,
        blob: r.blob(4)?,
    })
}

/// Apply a batch to one space: the team's row is locked, so pushes of one team commit in
/// sequence order and a pull never skips a change.
pub(super) async fn push(
    s: &mut dyn Sql,
    space: Space,
    team: Id,
    owner: Id,
    changes: Vec<PushChange>,
    now: i64,
) -> Result<Vec<PushResult>, StoreError> {
    let Space {
        items,
        versions,
        owner: col,
        announce,
    } = space;
    let seq = s
        .opt(
            "SELECT seq FROM teams WHERE id = $1 FOR UPDATE",
            params![&team],
        )
        .await?
        .ok_or(StoreError::NotFound)?
        .u64(0)?;
    let mut current = HashMap::new();
    let ids: Vec<&Id> = changes.iter().map(|c| &c.item_id).collect();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM {items} WHERE {col} = $1 AND item_id IN ({})",
            list(2, chunk.len())
        );
        let mut p = vec![Param::from(&owner)];
        p.extend(chunk.iter().map(|&id| Param::from(id)));
        for mut r in s.query(&sql, &p).await? {
            let rec = record(&mut r)?;
            current.insert(rec.item_id, rec);
        }
    }
    let (results, applied) = rules::push(&mut current, changes, seq + 1);
    let Some(last) = applied.last().map(|r| r.seq) else {
        return Ok(results);
    };
    let history: Vec<[Param<'_>; 8]> = applied
        .iter()
        .map(|r| {
            [
                Param::from(&owner),
                Param::from(&r.item_id),
                r.version.into(),
                Param::from(&team),
                r.seq.into(),
                r.deleted.into(),
                Param::from(&r.blob),
                now.into(),
            ]
        })
        .collect();
    let head = format!(
        "INSERT INTO {versions} ({col}, item_id, version, team_id, seq, deleted, blob, created_at)
         VALUES"
    );
    insert_rows(s, &head, "", &history).await?;
    // One row per item, its last change: an upsert statement may touch a row only once.
    let mut last_of = HashMap::new();
    for (i, r) in applied.iter().enumerate() {
        last_of.insert(r.item_id, i);
    }
    let newest: Vec<[Param<'_>; 6]> = applied
        .iter()
        .enumerate()
        .filter(|&(i, r)| last_of.get(&r.item_id) == Some(&i))
        .map(|(_, r)| {
            [
                Param::from(&owner),
                Param::from(&r.item_id),
                r.version.into(),
                r.seq.into(),
                r.deleted.into(),
                Param::from(&r.blob),
            ]
        })
        .collect();
    let head = format!("INSERT INTO {items} ({col}, item_id, version, seq, deleted, blob) VALUES");
    let tail = format!(
        "ON CONFLICT ({col}, item_id) DO UPDATE SET version = excluded.version,
           seq = excluded.seq, deleted = excluded.deleted, blob = excluded.blob"
    );
    insert_rows(s, &head, &tail, &newest).await?;
    s.execute(
        "UPDATE teams SET seq = $2 WHERE id = $1",
        params![&team, last],
    )
    .await?;
    if announce {
        s.announce(Change {
            collection: owner,
            seq: last,
        })
        .await?;
    }
    Ok(results)
}

/// One page of a space's changes after `since` (one query).
pub(super) async fn pull(
    s: &mut dyn Sql,
    space: Space,
    owner: Id,
    since: u64,
    limit: usize,
) -> Result<PullPage, StoreError> {
    let sql = format!(
        "SELECT {RECORD_COLS} FROM {} WHERE {} = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        space.items, space.owner
    );
    let rows = s
        .query(&sql, params![&owner, since, limit as u64 + 1])
        .await?;
    let mut changes = rows
        .into_iter()
        .map(|mut r| record(&mut r))
        .collect::<Result<Vec<_>, _>>()?;
    let more = changes.len() > limit;
    changes.truncate(limit);
    Ok(PullPage { changes, more })
}

/// The group of `team` that holds `item` now (the newest share of it that is not deleted).
pub(super) async fn group_of(
    s: &mut dyn Sql,
    team: Id,
    item: Id,
) -> Result<Option<Id>, StoreError> {
    s.opt(
        "SELECT i.group_id FROM group_items i JOIN groups g ON g.id = i.group_id
         WHERE i.item_id = $1 AND g.team_id = $2 AND NOT i.deleted
         ORDER BY i.seq DESC LIMIT 1",
        params![&item, &team],
    )
    .await?
    .map(|mut r| r.id(0))
    .transpose()
}
