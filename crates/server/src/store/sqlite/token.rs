//! Machine tokens on SQLite.
use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_protocol::{Blob, EpochKey, Id};

use super::{be, opt_blob, unique_to, SqliteStore};
use crate::store::rules;
use crate::store::{
    id_from, Audit, NewToken, Rotation, StoreError, StoreFuture, Token, TokenStore,
};

const TOKEN_COLS: &str = "id, group_id, team_id, name, name_epoch, exchange_public, signature,
     created_by, created_at, expires_at, revoked_at, last_used_at, pin";

fn token_row(r: &Row<'_>) -> rusqlite::Result<([Vec<u8>; 4], Token)> {
    let ids = [r.get(0)?, r.get(1)?, r.get(2)?, r.get(7)?];
    let zero = Id([0; 16]);
    Ok((
        ids,
        Token {
            id: zero,
            group_id: zero,
            team_id: zero,
            name: r.get(3)?,
            name_epoch: r.get::<_, i64>(4)? as u64,
            exchange_public: r.get(5)?,
            signature: r.get(6)?,
            created_by: zero,
            created_at: r.get(8)?,
            expires_at: r.get(9)?,
            revoked_at: r.get(10)?,
            last_used_at: r.get(11)?,
            pin: r.get(12)?,
        },
    ))
}

fn finish(([id, group, team, by], t): ([Vec<u8>; 4], Token)) -> Result<Token, StoreError> {
    Ok(Token {
        id: id_from(&id)?,
        group_id: id_from(&group)?,
        team_id: id_from(&team)?,
        created_by: id_from(&by)?,
        ..t
    })
}

/// Inside a rotation's transaction: every token live at `r.now` must get a key (else
/// [`StoreError::StaleEpoch`]: one was created after the caller looked); store the keys.
pub(super) fn rotate_keys(tx: &Connection, r: &Rotation) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT id FROM machine_tokens
             WHERE group_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        )
        .map_err(be)?;
    let live = stmt
        .query_map(params![r.group.0, r.now], |row| row.get::<_, Vec<u8>>(0))
        .map_err(be)?
        .map(|b| b.map_err(be).and_then(|b| id_from(&b)))
        .collect::<Result<Vec<Id>, StoreError>>()?;
    rules::tokens_covered(live, &r.token_keys)?;
    let mut key = tx
        .prepare_cached(
            "INSERT INTO token_keys (token_id, epoch, wrapped)
             SELECT id, ?2, ?3 FROM machine_tokens WHERE id = ?1 AND group_id = ?4",
        )
        .map_err(be)?;
    for (t, k) in &r.token_keys {
        key.execute(params![t.0, r.epoch as i64, k, r.group.0])
            .map_err(be)?;
    }
    Ok(())
}

impl TokenStore for SqliteStore {
    fn create_token(&self, t: NewToken, audit: Audit<()>) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
            let epoch: Option<i64> = tx
                .query_row(
                    "SELECT epoch FROM groups WHERE id = ?1 AND team_id = ?2",
                    params![t.group_id.0, t.team_id.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(be)?;
            rules::current_epoch(epoch.map(|e| e as u64), t.epoch)?;
            let epoch = t.epoch as i64;
            tx.execute(
                "INSERT INTO machine_tokens (id, group_id, team_id, name, name_epoch,
                     exchange_public, signature, token_hash, created_by, created_at, expires_at,
                     revoked_at, last_used_at, pin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, ?12)",
                params![
                    t.id.0,
                    t.group_id.0,
                    t.team_id.0,
                    t.name,
                    epoch,
                    t.exchange_public,
                    t.signature,
                    t.token_hash,
                    t.created_by.0,
                    t.created_at,
                    t.expires_at,
                    t.pin
                ],
            )
            .map_err(unique_to(StoreError::IdTaken))?;
            tx.execute(
                "INSERT INTO token_keys (token_id, epoch, wrapped) VALUES (?1, ?2, ?3)",
                params![t.id.0, epoch, t.key],
            )
            .map_err(be)?;
            Ok(())
        })
    }

    fn group_tokens(&self, group: Id) -> StoreFuture<'_, Vec<Token>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLS} FROM machine_tokens WHERE group_id = ?1
                     ORDER BY created_at, id"
                ))
                .map_err(be)?;
            let rows = stmt.query_map([group.0], token_row).map_err(be)?;
            rows.map(|r| r.map_err(be).and_then(finish)).collect()
        })
    }

    fn token_by_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Token>> {
        self.run(move |conn| {
            conn.query_row(
                &format!("SELECT {TOKEN_COLS} FROM machine_tokens WHERE token_hash = ?1"),
                [hash],
                token_row,
            )
            .optional()
            .map_err(be)?
            .map(finish)
            .transpose()
        })
    }

    fn revoke_token(
        &self,
        group: Id,
        token: Id,
        now: i64,
        audit: Audit<bool>,
    ) -> StoreFuture<'_, bool> {
        self.audited(audit, move |tx| {
            let n = tx
                .execute(
                    "UPDATE machine_tokens SET revoked_at = ?3
                     WHERE id = ?1 AND group_id = ?2 AND revoked_at IS NULL",
                    params![token.0, group.0, now],
                )
                .map_err(be)?;
            Ok(n > 0)
        })
    }

    fn touch_token(&self, token: Id, now: i64) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE machine_tokens SET last_used_at = ?2 WHERE id = ?1",
                params![token.0, now],
            )
            .map_err(be)?;
            Ok(())
        })
    }

    fn token_keys(&self, token: Id) -> StoreFuture<'_, Vec<EpochKey>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT e.epoch, e.prev, k.wrapped FROM machine_tokens t
                     JOIN group_epochs e ON e.group_id = t.group_id
                     LEFT JOIN token_keys k ON k.token_id = t.id AND k.epoch = e.epoch
                     WHERE t.id = ?1 ORDER BY e.epoch",
                )
                .map_err(be)?;
            let rows = stmt
                .query_map([token.0], |r| {
                    Ok(EpochKey {
                        epoch: r.get::<_, i64>(0)? as u64,
                        prev: Blob(r.get(1)?),
                        wrapped: opt_blob(r.get(2)?),
                    })
                })
                .map_err(be)?;
            rows.map(|r| r.map_err(be)).collect()
        })
    }
}
