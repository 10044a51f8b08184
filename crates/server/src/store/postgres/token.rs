//! Machine tokens on PostgreSQL.
use tessera_protocol::{Blob, EpochKey, Id};
use tokio_postgres::{GenericClient, Row};

use super::{audit, be, unique, PgStore};
use crate::store::rules;
use crate::store::{
    id_from, Audit, NewToken, Rotation, StoreError, StoreFuture, Token, TokenStore,
};

const TOKEN_COLS: &str = "id, group_id, team_id, name, name_epoch, exchange_public, signature,
     created_by, created_at, expires_at, revoked_at, last_used_at, pin";

fn token_from(r: &Row) -> Result<Token, StoreError> {
    let id = |i: usize| -> Result<Id, StoreError> {
        let b: Vec<u8> = r.try_get(i).map_err(be)?;
        id_from(&b)
    };
    Ok(Token {
        id: id(0)?,
        group_id: id(1)?,
        team_id: id(2)?,
        name: r.try_get(3).map_err(be)?,
        name_epoch: r.try_get::<_, i64>(4).map_err(be)? as u64,
        exchange_public: r.try_get(5).map_err(be)?,
        signature: r.try_get(6).map_err(be)?,
        created_by: id(7)?,
        created_at: r.try_get(8).map_err(be)?,
        expires_at: r.try_get(9).map_err(be)?,
        revoked_at: r.try_get(10).map_err(be)?,
        last_used_at: r.try_get(11).map_err(be)?,
        pin: r.try_get(12).map_err(be)?,
    })
}

/// Inside a rotation's transaction (the group row is locked): every token live at `r.now` must
/// get a key (else [`StoreError::StaleEpoch`]: one was created after the caller looked); store
/// the keys.
pub(super) async fn rotate_keys(tx: &impl GenericClient, r: &Rotation) -> Result<(), StoreError> {
    let g = r.group.0.as_slice();
    let rows = tx
        .query(
            "SELECT id FROM machine_tokens
             WHERE group_id = $1 AND revoked_at IS NULL AND expires_at > $2",
            &[&g, &r.now],
        )
        .await
        .map_err(be)?;
    let live = rows
        .iter()
        .map(|row| id_from(row.try_get(0).map_err(be)?))
        .collect::<Result<Vec<Id>, StoreError>>()?;
    rules::tokens_covered(live, &r.token_keys)?;
    let ids: Vec<&[u8]> = r.token_keys.iter().map(|(t, _)| t.0.as_slice()).collect();
    let keys: Vec<&[u8]> = r.token_keys.iter().map(|(_, k)| k.as_slice()).collect();
    tx.execute(
        "INSERT INTO token_keys (token_id, epoch, wrapped)
         SELECT t.id, $2, u.k FROM UNNEST($3::bytea[], $4::bytea[]) AS u(t, k)
         JOIN machine_tokens t ON t.id = u.t AND t.group_id = $1",
        &[&g, &(r.epoch as i64), &ids, &keys],
    )
    .await
    .map_err(be)?;
    Ok(())
}

impl TokenStore for PgStore {
    fn create_token(&self, t: NewToken, audit: Audit<()>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let g = t.group_id.0.as_slice();
            let epoch = tx
                .query_opt(
                    "SELECT epoch FROM groups WHERE id = $1 AND team_id = $2 FOR UPDATE",
                    &[&g, &t.team_id.0.as_slice()],
                )
                .await
                .map_err(be)?
                .map(|r| r.get::<_, i64>(0) as u64);
            rules::current_epoch(epoch, t.epoch)?;
            let epoch = t.epoch as i64;
            tx.execute(
                "INSERT INTO machine_tokens (id, group_id, team_id, name, name_epoch,
                     exchange_public, signature, token_hash, created_by, created_at, expires_at,
                     revoked_at, last_used_at, pin)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, $12)",
                &[
                    &t.id.0.as_slice(),
                    &g,
                    &t.team_id.0.as_slice(),
                    &t.name,
                    &epoch,
                    &t.exchange_public,
                    &t.signature,
                    &t.token_hash.as_slice(),
                    &t.created_by.0.as_slice(),
                    &t.created_at,
                    &t.expires_at,
                    &t.pin,
                ],
            )
            .await
            .map_err(unique)?;
            tx.execute(
                "INSERT INTO token_keys (token_id, epoch, wrapped) VALUES ($1, $2, $3)",
                &[&t.id.0.as_slice(), &epoch, &t.key],
            )
            .await
            .map_err(be)?;
            audit::commit(tx, audit, &()).await
        })
    }

    fn group_tokens(&self, group: Id) -> StoreFuture<'_, Vec<Token>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {TOKEN_COLS} FROM machine_tokens WHERE group_id = $1
                         ORDER BY created_at, id"
                    ),
                    &[&group.0.as_slice()],
                )
                .await
                .map_err(be)?;
            rows.iter().map(token_from).collect()
        })
    }

    fn token_by_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Token>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    &format!("SELECT {TOKEN_COLS} FROM machine_tokens WHERE token_hash = $1"),
                    &[&hash.as_slice()],
                )
                .await
                .map_err(be)?;
            row.as_ref().map(token_from).transpose()
        })
    }

    fn revoke_token(
        &self,
        group: Id,
        token: Id,
        now: i64,
        audit: Audit<bool>,
    ) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let n = tx
                .execute(
                    "UPDATE machine_tokens SET revoked_at = $3
                     WHERE id = $1 AND group_id = $2 AND revoked_at IS NULL",
                    &[&token.0.as_slice(), &group.0.as_slice(), &now],
                )
                .await
                .map_err(be)?;
            let revoked = n > 0;
            audit::commit(tx, audit, &revoked).await?;
            Ok(revoked)
        })
    }

    fn touch_token(&self, token: Id, now: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.execute(
                "UPDATE machine_tokens SET last_used_at = $2 WHERE id = $1",
                &[&token.0.as_slice(), &now],
            )
            .await
            .map_err(be)?;
            Ok(())
        })
    }

    fn token_keys(&self, token: Id) -> StoreFuture<'_, Vec<EpochKey>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let rows = c
                .query(
                    "SELECT e.epoch, e.prev, k.wrapped FROM machine_tokens t
                     JOIN group_epochs e ON e.group_id = t.group_id
                     LEFT JOIN token_keys k ON k.token_id = t.id AND k.epoch = e.epoch
                     WHERE t.id = $1 ORDER BY e.epoch",
                    &[&token.0.as_slice()],
                )
                .await
                .map_err(be)?;
            rows.iter()
                .map(|r| {
                    let wrapped: Option<Vec<u8>> = r.try_get(2).map_err(be)?;
                    Ok(EpochKey {
                        epoch: r.try_get::<_, i64>(0).map_err(be)? as u64,
                        prev: Blob(r.try_get(1).map_err(be)?),
                        wrapped: Blob(wrapped.unwrap_or_default()),
                    })
                })
                .collect()
        })
    }
}
