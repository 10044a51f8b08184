//! Groups: their epochs, sealed keys and members, their signed logs, share expiry and
//! collection manifests.
use std::collections::HashMap;

use tessera_protocol::{EpochKey, GroupInfo, GroupMember, GroupRole, Id, SignedLogEntry};

use super::{insert_rows, params, Param, Sql};
use crate::events::Change;
use crate::store::{
    rules, Group, LogAppend, Membership, NewGroup, Rotation, SetMember, StoreError, StoredManifest,
};

pub(super) async fn create(s: &mut dyn Sql, g: NewGroup) -> Result<(), StoreError> {
    s.execute(
        "INSERT INTO groups (id, team_id, epoch, name, created_by, created_at)
         VALUES ($1, $2, 1, $3, $4, $5)",
        params![&g.id, &g.team_id, &g.name, &g.created_by, g.created_at],
    )
    .await?;
    s.execute(
        "INSERT INTO group_epochs (group_id, epoch, prev, created_by, created_at)
         VALUES ($1, 1, $2, $3, $4)",
        params![&g.id, &[0u8; 0], &g.created_by, g.created_at],
    )
    .await?;
    s.execute(
        "INSERT INTO group_keys (group_id, account_id, epoch, wrapped) VALUES ($1, $2, 1, $3)",
        params![&g.id, &g.created_by, &g.key],
    )
    .await?;
    s.execute(
        "INSERT INTO group_members (group_id, account_id, role, expires_at, added_by, added_at,
             removed_at)
         VALUES ($1, $2, 'admin', NULL, $2, $3, NULL)",
        params![&g.id, &g.created_by, g.created_at],
    )
    .await?;
    append_log(s, g.id, &g.log).await
}

pub(super) async fn get(s: &mut dyn Sql, id: Id) -> Result<Option<Group>, StoreError> {
    let Some(mut r) = s
        .opt(
            "SELECT team_id, epoch, name FROM groups WHERE id = $1",
            params![&id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Group {
        id,
        team_id: r.id(0)?,
        epoch: r.u64(1)?,
        name: r.bytes(2)?,
    }))
}

pub(super) async fn membership(
    s: &mut dyn Sql,
    group: Id,
    account: Id,
) -> Result<Option<Membership>, StoreError> {
    let Some(mut r) = s
        .opt(
            "SELECT role, expires_at, removed_at FROM group_members
             WHERE group_id = $1 AND account_id = $2",
            params![&group, &account],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Membership {
        role: GroupRole::parse(&r.text(0)?),
        expires_at: r.opt_i64(1)?,
        removed_at: r.opt_i64(2)?,
    }))
}

pub(super) async fn groups_of(
    s: &mut dyn Sql,
    account: Id,
    now: i64,
) -> Result<Vec<GroupInfo>, StoreError> {
    let live = "FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.account_id = $1 AND m.removed_at IS NULL
           AND (m.expires_at IS NULL OR m.expires_at > $2)";
    let sql = format!("SELECT g.id, g.epoch, g.name, m.role, m.expires_at {live} ORDER BY g.id");
    let mut out = Vec::new();
    let mut index = HashMap::new();
    for mut r in s.query(&sql, params![&account, now]).await? {
        let group_id = r.id(0)?;
        index.insert(group_id, out.len());
        out.push(GroupInfo {
            group_id,
            epoch: r.u64(1)?,
            name: r.blob(2)?,
            role: GroupRole::parse(&r.text(3)?),
            expires_at: r.opt_i64(4)?,
            keys: Vec::new(),
        });
    }
    let sql = format!(
        "SELECT e.group_id, e.epoch, e.prev, k.wrapped FROM group_epochs e
         LEFT JOIN group_keys k ON k.group_id = e.group_id AND k.epoch = e.epoch
             AND k.account_id = $1
         WHERE e.group_id IN (SELECT g.id {live})
         ORDER BY e.group_id, e.epoch"
    );
    for mut r in s.query(&sql, params![&account, now]).await? {
        if let Some(&i) = index.get(&r.id(0)?) {
            out[i].keys.push(EpochKey {
                epoch: r.u64(1)?,
                prev: r.blob(2)?,
                wrapped: r.blob(3)?,
            });
        }
    }
    Ok(out)
}

pub(super) async fn members(
    s: &mut dyn Sql,
    group: Id,
    now: i64,
) -> Result<Vec<GroupMember>, StoreError> {
    let rows = s
        .query(
            "SELECT m.account_id, a.email, m.role, m.expires_at, m.added_by, m.added_at,
                 EXISTS (SELECT 1 FROM group_keys k WHERE k.group_id = m.group_id
                     AND k.account_id = m.account_id AND k.epoch = g.epoch)
             FROM group_members m JOIN accounts a ON a.id = m.account_id
                 JOIN groups g ON g.id = m.group_id
             WHERE m.group_id = $1 AND m.removed_at IS NULL
               AND (m.expires_at IS NULL OR m.expires_at > $2)
             ORDER BY a.email",
            params![&group, now],
        )
        .await?;
    rows.into_iter()
        .map(|mut r| {
            Ok(GroupMember {
                account_id: r.id(0)?,
                email: r.text(1)?,
                role: GroupRole::parse(&r.text(2)?),
                expires_at: r.opt_i64(3)?,
                added_by: r.id(4)?,
                added_at: r.i64(5)?,
                has_current_key: r.bool(6)?,
            })
        })
        .collect()
}

/// A group's current epoch (`None`: no such group), locking its row until the transaction
/// ends, so that changes of one group run one after the other.
pub(super) async fn epoch_locked(s: &mut dyn Sql, group: Id) -> Result<Option<u64>, StoreError> {
    s.opt(
        "SELECT epoch FROM groups WHERE id = $1 FOR UPDATE",
        params![&group],
    )
    .await?
    .map(|mut r| r.u64(0))
    .transpose()
}

/// Add or change a membership (see [`crate::store::Store::set_member`]); locks the group row.
pub(super) async fn set_member(s: &mut dyn Sql, m: SetMember) -> Result<(), StoreError> {
    set_member_in(s, &m).await
}

pub(super) async fn set_member_in(s: &mut dyn Sql, m: &SetMember) -> Result<(), StoreError> {
    rules::current_epoch(epoch_locked(s, m.group).await?, m.epoch)?;
    append_log(s, m.group, &m.log).await?;
    if let Some(key) = &m.key {
        s.execute(
            "INSERT INTO group_keys (group_id, account_id, epoch, wrapped)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, account_id, epoch) DO UPDATE SET wrapped = excluded.wrapped",
            params![&m.group, &m.account, m.epoch, key],
        )
        .await?;
    } else {
        let held = s
            .one(
                "SELECT EXISTS (SELECT 1 FROM group_keys
                     WHERE group_id = $1 AND account_id = $2 AND epoch = $3)",
                params![&m.group, &m.account, m.epoch],
            )
            .await?
            .bool(0)?;
        rules::member_key(false, held)?;
    }
    s.execute(
        "INSERT INTO group_members (group_id, account_id, role, expires_at, added_by, added_at,
             removed_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)
         ON CONFLICT (group_id, account_id) DO UPDATE SET
           role = excluded.role, expires_at = excluded.expires_at,
           added_by = CASE WHEN group_members.removed_at IS NULL
               THEN group_members.added_by ELSE excluded.added_by END,
           added_at = CASE WHEN group_members.removed_at IS NULL
               THEN group_members.added_at ELSE excluded.added_at END,
           removed_at = NULL",
        params![
            &m.group,
            &m.account,
            m.role.as_str(),
            m.expires_at,
            &m.by,
            m.now
        ],
    )
    .await?;
    // The group's members see the change; the member's own stream learns of the group.
    announce_group(s, m.group, &[m.account]).await
}

/// Tell the event streams of `accounts` (who may not be members now), then of the group's
/// members, that the group changed; delivered on commit. The accounts first: their streams
/// read their groups again on it, so a removed member is not told of the group itself.
async fn announce_group(s: &mut dyn Sql, group: Id, accounts: &[Id]) -> Result<(), StoreError> {
    for &collection in accounts.iter().chain(std::iter::once(&group)) {
        s.announce(Change { collection, seq: 0 }).await?;
    }
    Ok(())
}

pub(super) async fn rotate(s: &mut dyn Sql, r: Rotation) -> Result<(), StoreError> {
    rules::next_epoch(epoch_locked(s, r.group).await?, r.epoch)?;
    append_log(s, r.group, &r.log).await?;
    for a in &r.remove {
        s.execute(
            "UPDATE group_members SET removed_at = $3
             WHERE group_id = $1 AND account_id = $2 AND removed_at IS NULL",
            params![&r.group, a, r.now],
        )
        .await?;
    }
    let keys: Vec<[Param<'_>; 4]> = r
        .keys
        .iter()
        .map(|(a, k)| [(&r.group).into(), a.into(), r.epoch.into(), k.into()])
        .collect();
    insert_rows(
        s,
        "INSERT INTO group_keys (group_id, account_id, epoch, wrapped) VALUES",
        "",
        &keys,
    )
    .await?;
    super::token::rotate_keys(s, &r).await?;
    s.execute(
        "INSERT INTO group_epochs (group_id, epoch, prev, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5)",
        params![&r.group, r.epoch, &r.prev, &r.by, r.now],
    )
    .await?;
    s.execute(
        "UPDATE groups SET epoch = $2, name = $3 WHERE id = $1",
        params![&r.group, r.epoch, &r.name],
    )
    .await?;
    announce_group(s, r.group, &r.remove).await
}

/// The number and hash of a group's last log entry.
pub(super) async fn log_head(
    s: &mut dyn Sql,
    group: Id,
) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    s.opt(
        "SELECT seq, hash FROM group_log WHERE group_id = $1 ORDER BY seq DESC LIMIT 1",
        params![&group],
    )
    .await?
    .map(|mut r| Ok((r.u64(0)?, r.bytes(1)?)))
    .transpose()
}

/// Append `log` if it follows the group's last entry, in the transaction of the change it
/// records.
async fn append_log(s: &mut dyn Sql, group: Id, log: &LogAppend) -> Result<(), StoreError> {
    rules::log_follows(log_head(s, group).await?, log)?;
    let appended = s
        .execute(
            "INSERT INTO group_log (group_id, seq, entry, signature, hash)
             VALUES ($1, $2, $3, $4, $5)",
            params![&group, log.seq, &log.entry, &log.signature, &log.hash],
        )
        .await;
    match appended {
        // A concurrent append of the same number came first.
        Err(StoreError::IdTaken) => Err(StoreError::StaleLog),
        other => other.map(drop),
    }
}

/// The log entries after `since`, oldest first.
pub(super) async fn log(
    s: &mut dyn Sql,
    group: Id,
    since: u64,
) -> Result<Vec<SignedLogEntry>, StoreError> {
    let rows = s
        .query(
            "SELECT entry, signature FROM group_log WHERE group_id = $1 AND seq > $2 ORDER BY seq",
            params![&group, since],
        )
        .await?;
    rows.into_iter()
        .map(|mut r| {
            Ok(SignedLogEntry {
                entry: r.blob(0)?,
                signature: r.blob(1)?,
            })
        })
        .collect()
}

pub(super) async fn set_share_expiry(
    s: &mut dyn Sql,
    group: Id,
    item: Id,
    expires_at: Option<i64>,
) -> Result<(), StoreError> {
    match expires_at {
        Some(t) => {
            s.execute(
                "INSERT INTO share_expiry (group_id, item_id, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (group_id, item_id) DO UPDATE SET expires_at = excluded.expires_at",
                params![&group, &item, t],
            )
            .await
        }
        None => {
            s.execute(
                "DELETE FROM share_expiry WHERE group_id = $1 AND item_id = $2",
                params![&group, &item],
            )
            .await
        }
    }?;
    announce_group(s, group, &[]).await
}

pub(super) async fn share_expiry(
    s: &mut dyn Sql,
    group: Id,
    item: Id,
) -> Result<Option<i64>, StoreError> {
    match s
        .opt(
            "SELECT expires_at FROM share_expiry WHERE group_id = $1 AND item_id = $2",
            params![&group, &item],
        )
        .await?
    {
        Some(mut r) => r.opt_i64(0),
        None => Ok(None),
    }
}

pub(super) async fn ended_shares(
    s: &mut dyn Sql,
    group: Id,
    now: i64,
) -> Result<Vec<Id>, StoreError> {
    let rows = s
        .query(
            "SELECT item_id FROM share_expiry WHERE group_id = $1 AND expires_at <= $2",
            params![&group, now],
        )
        .await?;
    rows.into_iter().map(|mut r| r.id(0)).collect()
}

/// A collection's newest manifest.
pub(super) async fn manifest(
    s: &mut dyn Sql,
    collection: Id,
) -> Result<Option<StoredManifest>, StoreError> {
    let Some(mut r) = s
        .opt(
            "SELECT seq, body, auth, signer FROM manifests WHERE collection = $1",
            params![&collection],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(StoredManifest {
        seq: r.u64(0)?,
        body: r.bytes(1)?,
        auth: r.bytes(2)?,
        signer: r.opt_id(3)?,
    }))
}

/// Replace a collection's manifest with `m` if `m` follows it (compare and set).
pub(super) async fn put_manifest(
    s: &mut dyn Sql,
    collection: Id,
    m: StoredManifest,
) -> Result<(), StoreError> {
    if i64::try_from(m.seq).is_err() {
        return Err(StoreError::StaleManifest);
    }
    let n = match rules::manifest_follows(m.seq)? {
        None => {
            s.execute(
                "INSERT INTO manifests (collection, seq, body, auth, signer)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (collection) DO NOTHING",
                params![&collection, m.seq, &m.body, &m.auth, m.signer.as_ref()],
            )
            .await?
        }
        Some(prev) => {
            s.execute(
                "UPDATE manifests SET seq = $2, body = $3, auth = $4, signer = $5
                 WHERE collection = $1 AND seq = $6",
                params![
                    &collection,
                    m.seq,
                    &m.body,
                    &m.auth,
                    m.signer.as_ref(),
                    prev
                ],
            )
            .await?
        }
    };
    match n {
        0 => Err(StoreError::StaleManifest),
        _ => Ok(()),
    }
}
