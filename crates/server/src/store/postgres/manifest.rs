//! Collection manifests in PostgreSQL: the newest one per collection, replaced compare-and-set.
use tessera_protocol::Id;
use tokio_postgres::Client;

use super::be;
use crate::store::{id_from, rules, StoreError, StoredManifest};

pub(super) async fn get(c: &Client, collection: Id) -> Result<Option<StoredManifest>, StoreError> {
    let Some(r) = c
        .query_opt(
            "SELECT seq, body, auth, signer FROM manifests WHERE collection = $1",
            &[&collection.0.as_slice()],
        )
        .await
        .map_err(be)?
    else {
        return Ok(None);
    };
    let seq: i64 = r.get(0);
    let signer: Option<Vec<u8>> = r.get(3);
    Ok(Some(StoredManifest {
        seq: u64::try_from(seq).map_err(|_| StoreError::Backend("a bad manifest number".into()))?,
        body: r.get(1),
        auth: r.get(2),
        signer: signer.as_deref().map(id_from).transpose()?,
    }))
}

pub(super) async fn put(c: &Client, collection: Id, m: &StoredManifest) -> Result<(), StoreError> {
    let seq = i64::try_from(m.seq).map_err(|_| StoreError::StaleManifest)?;
    let signer = m.signer.map(|s| s.0.to_vec());
    let col = collection.0.as_slice();
    let n = match rules::manifest_follows(m.seq)? {
        None => {
            c.execute(
                "INSERT INTO manifests (collection, seq, body, auth, signer)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (collection) DO NOTHING",
                &[&col, &seq, &m.body, &m.auth, &signer],
            )
            .await
        }
        Some(prev) => {
            let prev = i64::try_from(prev).map_err(|_| StoreError::StaleManifest)?;
            c.execute(
                "UPDATE manifests SET seq = $2, body = $3, auth = $4, signer = $5
                 WHERE collection = $1 AND seq = $6",
                &[&col, &seq, &m.body, &m.auth, &signer, &prev],
            )
            .await
        }
    }
    .map_err(be)?;
    if n == 0 {
        return Err(StoreError::StaleManifest);
    }
    Ok(())
}
