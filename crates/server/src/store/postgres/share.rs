//! Share expiry in PostgreSQL: when an item's presence in a group ends.
use tessera_protocol::Id;
use tokio_postgres::{Client, GenericClient};

use super::be;
use crate::store::{id_from, StoreError};

pub(super) async fn set(
    c: &impl GenericClient,
    group: Id,
    item: Id,
    expires_at: Option<i64>,
) -> Result<(), StoreError> {
    let (g, i) = (group.0.as_slice(), item.0.as_slice());
    match expires_at {
        Some(t) => {
            c.execute(
                "INSERT INTO share_expiry (group_id, item_id, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (group_id, item_id) DO UPDATE SET expires_at = excluded.expires_at",
                &[&g, &i, &t],
            )
            .await
        }
        None => {
            c.execute(
                "DELETE FROM share_expiry WHERE group_id = $1 AND item_id = $2",
                &[&g, &i],
            )
            .await
        }
    }
    .map_err(be)?;
    Ok(())
}

pub(super) async fn get(c: &Client, group: Id, item: Id) -> Result<Option<i64>, StoreError> {
    Ok(c.query_opt(
        "SELECT expires_at FROM share_expiry WHERE group_id = $1 AND item_id = $2",
        &[&group.0.as_slice(), &item.0.as_slice()],
    )
    .await
    .map_err(be)?
    .map(|r| r.get(0)))
}

pub(super) async fn ended(c: &Client, group: Id, now: i64) -> Result<Vec<Id>, StoreError> {
    c.query(
        "SELECT item_id FROM share_expiry WHERE group_id = $1 AND expires_at <= $2",
        &[&group.0.as_slice(), &now],
    )
    .await
    .map_err(be)?
    .iter()
    .map(|r| id_from(r.get(0)))
    .collect()
}
