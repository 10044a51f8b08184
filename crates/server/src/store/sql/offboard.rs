//! Offboarding: a member's membership windows and the group items they could decrypt, and
//! ending their access in one transaction.
use std::collections::HashMap;

use tessera_protocol::{ExposedRecord, GroupRole, Id, MembershipWindow, OffboardResponse};

use super::item::record;
use super::{params, Sql};
use crate::store::{rules, StoreError};

pub(super) async fn review(
    s: &mut dyn Sql,
    account: Id,
    now: i64,
) -> Result<(Vec<MembershipWindow>, Vec<ExposedRecord>), StoreError> {
    let rows = s
        .query(
            "SELECT group_id, role, added_at, removed_at, expires_at FROM group_members
             WHERE account_id = $1 ORDER BY added_at, group_id",
            params![&account],
        )
        .await?;
    let mut windows = Vec::new();
    for mut r in rows {
        windows.push(MembershipWindow {
            group_id: r.id(0)?,
            role: GroupRole::parse(&r.text(1)?),
            from: r.i64(2)?,
            to: rules::access_end(r.opt_i64(3)?, r.opt_i64(4)?, now),
        });
    }
    let ends: HashMap<Id, Option<i64>> = windows.iter().map(|w| (w.group_id, w.to)).collect();
    // The items of every group the account was ever a member of, not deleted, with when their
    // first version was written, in the windows' order.
    let sql = "SELECT i.item_id, i.version, i.seq, i.deleted, i.blob, i.group_id,
             (SELECT min(v.created_at) FROM group_item_versions v
              WHERE v.group_id = i.group_id AND v.item_id = i.item_id)
         FROM group_items i JOIN group_members m ON m.group_id = i.group_id AND m.account_id = $1
         WHERE NOT i.deleted
         ORDER BY m.added_at, m.group_id, i.seq";
    let mut records = Vec::new();
    for mut r in s.query(sql, params![&account]).await? {
        let record = record(&mut r)?;
        let group_id = r.id(5)?;
        // An item without a version (never written through a push) exposed nothing.
        let first = r.opt_i64(6)?;
        if first.is_some_and(|f| rules::exposed(f, ends.get(&group_id).copied().flatten())) {
            records.push(ExposedRecord { group_id, record });
        }
    }
    Ok((windows, records))
}

pub(super) async fn offboard(
    s: &mut dyn Sql,
    account: Id,
    by: Id,
    now: i64,
) -> Result<OffboardResponse, StoreError> {
    s.execute(
        "INSERT INTO offboarded (account_id, at, by_account) VALUES ($1, $2, $3)
         ON CONFLICT (account_id) DO NOTHING",
        params![&account, now, &by],
    )
    .await?;
    let sessions_revoked = s
        .execute(
            "UPDATE sessions SET revoked_at = $2
             WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2",
            params![&account, now],
        )
        .await?;
    let tokens_revoked = s
        .execute(
            "UPDATE machine_tokens SET revoked_at = $2 WHERE created_by = $1 AND revoked_at IS NULL",
            params![&account, now],
        )
        .await?;
    let groups = s
        .query(
            "UPDATE group_members SET removed_at = $2
             WHERE account_id = $1 AND removed_at IS NULL
               AND (expires_at IS NULL OR expires_at > $2)
             RETURNING group_id",
            params![&account, now],
        )
        .await?
        .into_iter()
        .map(|mut r| r.id(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffboardResponse {
        sessions_revoked,
        tokens_revoked,
        groups,
    })
}

pub(super) async fn offboarded_at(s: &mut dyn Sql, account: Id) -> Result<Option<i64>, StoreError> {
    match s
        .opt(
            "SELECT at FROM offboarded WHERE account_id = $1",
            params![&account],
        )
        .await?
    {
        Some(mut r) => r.opt_i64(0),
        None => Ok(None),
    }
}
