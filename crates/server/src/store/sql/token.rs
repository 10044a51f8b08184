//! Machine tokens: see [`crate::store::TokenStore`].
use tessera_protocol::{EpochKey, Id};

use super::{params, Row, Sql};
use crate::store::{rules, NewToken, Rotation, StoreError, Token};

const TOKEN_COLS: &str = "id, group_id, team_id, name, name_epoch, exchange_public, signature,
     created_by, created_at, expires_at, revoked_at, last_used_at, pin";

fn token(mut r: Row) -> Result<Token, StoreError> {
    Ok(Token {
        id: r.id(0)?,
        group_id: r.id(1)?,
        team_id: r.id(2)?,
        name: r.bytes(3)?,
        name_epoch: r.u64(4)?,
        exchange_public: r.bytes(5)?,
        signature: r.bytes(6)?,
        created_by: r.id(7)?,
        created_at: r.i64(8)?,
        expires_at: r.i64(9)?,
        revoked_at: r.opt_i64(10)?,
        last_used_at: r.opt_i64(11)?,
        pin: r.opt_bytes(12)?,
    })
}

/// Inside a rotation's transaction: every token live at `r.now` must get a key (else
/// [`StoreError::StaleEpoch`]: one was created after the caller looked); store the keys.
pub(super) async fn rotate_keys(s: &mut dyn Sql, r: &Rotation) -> Result<(), StoreError> {
    let live = s
        .query(
            "SELECT id FROM machine_tokens
             WHERE group_id = $1 AND revoked_at IS NULL AND expires_at > $2",
            params![&r.group, r.now],
        )
        .await?
        .into_iter()
        .map(|mut row| row.id(0))
        .collect::<Result<Vec<Id>, StoreError>>()?;
    rules::tokens_covered(live, &r.token_keys)?;
    for (t, k) in &r.token_keys {
        s.execute(
            "INSERT INTO token_keys (token_id, epoch, wrapped)
             SELECT id, $2, $3 FROM machine_tokens WHERE id = $1 AND group_id = $4",
            params![t, r.epoch, k, &r.group],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn create(s: &mut dyn Sql, t: NewToken) -> Result<(), StoreError> {
    let epoch = s
        .opt(
            "SELECT epoch FROM groups WHERE id = $1 AND team_id = $2 FOR UPDATE",
            params![&t.group_id, &t.team_id],
        )
        .await?
        .map(|mut r| r.u64(0))
        .transpose()?;
    rules::current_epoch(epoch, t.epoch)?;
    s.execute(
        "INSERT INTO machine_tokens (id, group_id, team_id, name, name_epoch, exchange_public,
             signature, token_hash, created_by, created_at, expires_at, revoked_at,
             last_used_at, pin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, $12)",
        params![
            &t.id,
            &t.group_id,
            &t.team_id,
            &t.name,
            t.epoch,
            &t.exchange_public,
            &t.signature,
            &t.token_hash,
            &t.created_by,
            t.created_at,
            t.expires_at,
            t.pin.as_ref()
        ],
    )
    .await?;
    s.execute(
        "INSERT INTO token_keys (token_id, epoch, wrapped) VALUES ($1, $2, $3)",
        params![&t.id, t.epoch, &t.key],
    )
    .await?;
    Ok(())
}

pub(super) async fn of_group(s: &mut dyn Sql, group: Id) -> Result<Vec<Token>, StoreError> {
    let sql = format!(
        "SELECT {TOKEN_COLS} FROM machine_tokens WHERE group_id = $1 ORDER BY created_at, id"
    );
    s.query(&sql, params![&group])
        .await?
        .into_iter()
        .map(token)
        .collect()
}

pub(super) async fn by_hash(s: &mut dyn Sql, hash: [u8; 32]) -> Result<Option<Token>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLS} FROM machine_tokens WHERE token_hash = $1");
    s.opt(&sql, params![&hash]).await?.map(token).transpose()
}

pub(super) async fn revoke(
    s: &mut dyn Sql,
    group: Id,
    token: Id,
    now: i64,
) -> Result<bool, StoreError> {
    let n = s
        .execute(
            "UPDATE machine_tokens SET revoked_at = $3
             WHERE id = $1 AND group_id = $2 AND revoked_at IS NULL",
            params![&token, &group, now],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn touch(s: &mut dyn Sql, token: Id, now: i64) -> Result<(), StoreError> {
    s.execute(
        "UPDATE machine_tokens SET last_used_at = $2 WHERE id = $1",
        params![&token, now],
    )
    .await?;
    Ok(())
}

pub(super) async fn keys(s: &mut dyn Sql, token: Id) -> Result<Vec<EpochKey>, StoreError> {
    s.query(
        "SELECT e.epoch, e.prev, k.wrapped FROM machine_tokens t
         JOIN group_epochs e ON e.group_id = t.group_id
         LEFT JOIN token_keys k ON k.token_id = t.id AND k.epoch = e.epoch
         WHERE t.id = $1 ORDER BY e.epoch",
        params![&token],
    )
    .await?
    .into_iter()
    .map(|mut r| {
        Ok(EpochKey {
            epoch: r.u64(0)?,
            prev: r.blob(1)?,
            wrapped: r.blob(2)?,
        })
    })
    .collect()
}
