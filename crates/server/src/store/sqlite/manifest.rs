//! Collection manifests in SQLite: the newest one per collection, replaced compare-and-set.
use rusqlite::{params, Connection, OptionalExtension};
use tessera_protocol::Id;

use super::be;
use crate::store::{id_from, rules, StoreError, StoredManifest};

pub(super) fn get(conn: &Connection, collection: Id) -> Result<Option<StoredManifest>, StoreError> {
    let row = conn
        .query_row(
            "SELECT seq, body, auth, signer FROM manifests WHERE collection = ?1",
            [collection.0],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(be)?;
    row.map(|(seq, body, auth, signer)| {
        Ok(StoredManifest {
            seq: u64::try_from(seq)
                .map_err(|_| StoreError::Backend("a bad manifest number".into()))?,
            body,
            auth,
            signer: signer.as_deref().map(id_from).transpose()?,
        })
    })
    .transpose()
}

pub(super) fn put(conn: &Connection, collection: Id, m: &StoredManifest) -> Result<(), StoreError> {
    let seq = i64::try_from(m.seq).map_err(|_| StoreError::StaleManifest)?;
    let signer = m.signer.map(|s| s.0.to_vec());
    let n = match rules::manifest_follows(m.seq)? {
        None => conn.execute(
            "INSERT INTO manifests (collection, seq, body, auth, signer) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (collection) DO NOTHING",
            params![collection.0, seq, m.body, m.auth, signer],
        ),
        Some(prev) => conn.execute(
            "UPDATE manifests SET seq = ?2, body = ?3, auth = ?4, signer = ?5
             WHERE collection = ?1 AND seq = ?6",
            params![
                collection.0,
                seq,
                m.body,
                m.auth,
                signer,
                i64::try_from(prev).map_err(|_| StoreError::StaleManifest)?
            ],
        ),
    }
    .map_err(be)?;
    if n == 0 {
        return Err(StoreError::StaleManifest);
    }
    Ok(())
}
