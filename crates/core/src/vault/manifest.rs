//! Collection manifests, client side ([`tessera_protocol::Manifest`]): after each push the
//! writer hands the server a manifest naming every item of the collection with its newest
//! version, authenticated by what the server cannot make; a reader checks that it was served
//! everything the newest manifest names, and says which item is missing when it was not.
//!
//! - Personal items: an HMAC-SHA256 tag under a key derived from the vault key, which every
//!   device of the account holds. The items named are those the device knows the server holds
//!   (its authenticated `seen` versions), so the manifest is exactly the set writers committed.
//! - A group: the Ed25519 signature of the editor or admin who pushed, checked against the
//!   signing key their certificate chain names; the signer must be in the group's verified log
//!   with a role that writes.
//!
//! Each device remembers the newest manifest it accepted per collection (number and hash,
//! sealed under the vault key): an older one is a rollback, another one with the same number a
//! fork, none at all after one was seen a withheld answer. All are refused by name.
use sha2::Digest as _;
use tessera_crypto::mac::MacKey;
use tessera_protocol as proto;
use tessera_protocol::{Blob, Id, Manifest, SignedManifest};

use super::Vault;
use crate::error::{Error, Result};

/// What a device's remembered manifest position is sealed with.
const SEEN_LABEL: &str = "tessera manifest seen";
/// The HKDF label of the personal manifest MAC key.
const PERSONAL_KEY: &str = "tessera personal manifest key v1";
/// The MAC label of a personal manifest.
const PERSONAL_TAG: &str = "tessera personal manifest v1";

fn seen_meta(collection: Id) -> String {
    format!("manifest_seen:{collection}")
}

/// The remembered position: the manifest's number and the SHA-256 of its body.
pub(super) type Position = (u64, [u8; 32]);

/// The position of a manifest body.
pub(super) fn position_of(m: &Manifest, body: &[u8]) -> Position {
    (m.seq, sha2::Sha256::digest(body).into())
}

/// Check a served manifest of `collection` (named `what` in errors) against the newest position
/// the reader accepted before (`seen`): `auth` says whether its tag or signature is right; it
/// must not be older than `seen`, nor another with the same number, nor missing when one was
/// accepted. Returns it decoded with whether it is newer than `seen` (`None`: none yet).
pub(super) fn check_manifest(
    collection: Id,
    what: &str,
    seen: Option<Position>,
    served: Option<&SignedManifest>,
    auth: impl FnOnce(&SignedManifest) -> std::result::Result<(), String>,
) -> Result<Option<(Manifest, bool)>> {
    let refused = |why: String| Error::Manifest {
        collection: what.to_owned(),
        why,
    };
    let Some(m) = served else {
        return match seen {
            Some((seq, _)) => Err(refused(format!(
                "the server sent none, and this reader has seen number {seq} (it was withheld)"
            ))),
            None => Ok(None),
        };
    };
    auth(m).map_err(refused)?;
    let body = Manifest::decode(&m.body.0).map_err(&refused)?;
    if body.collection != collection {
        return Err(refused("it describes another collection".into()));
    }
    let newer = match seen {
        Some((seq, _)) if body.seq < seq => {
            return Err(refused(format!(
                "it is number {}, older than number {seq} this reader has seen (a rollback)",
                body.seq
            )))
        }
        Some((seq, hash)) if body.seq == seq => {
            if position_of(&body, &m.body.0).1 != hash {
                return Err(refused(format!(
                    "it is not the number {seq} this reader saw before (the list was forked)"
                )));
            }
            false
        }
        _ => true,
    };
    Ok(Some((body, newer)))
}

impl Vault {
    pub(super) fn seen_manifest(&self, collection: Id) -> Result<Option<Position>> {
        let what = "the remembered item list";
        self.sealed_position(&seen_meta(collection), SEEN_LABEL, collection, what)
    }

    pub(super) fn remember_manifest(&self, collection: Id, body: &[u8]) -> Result<()> {
        let m = Manifest::decode(body).map_err(|why| Error::Manifest {
            collection: collection.to_hex(),
            why,
        })?;
        let position = position_of(&m, body);
        self.put_sealed_position(&seen_meta(collection), SEEN_LABEL, collection, position)
    }

    /// [`check_manifest`] against the newest manifest this device accepted, remembering a newer
    /// one.
    pub(super) fn accept_manifest(
        &self,
        collection: Id,
        what: &str,
        served: Option<&SignedManifest>,
        auth: impl FnOnce(&SignedManifest) -> std::result::Result<(), String>,
    ) -> Result<Option<Manifest>> {
        let seen = self.seen_manifest(collection)?;
        let Some((m, newer)) = check_manifest(collection, what, seen, served, auth)? else {
            return Ok(None);
        };
        if newer {
            let body = served.expect("a manifest was checked").body.0.as_slice();
            self.remember_manifest(collection, body)?;
        }
        Ok(Some(m))
    }

    fn personal_mac(&self) -> MacKey {
        MacKey::derive(self.keyset.vault_key(), PERSONAL_KEY)
    }

    /// Check the personal manifest served with the last pull against what this device holds,
    /// then, when this device knows of more than it names, write the next one. `Ok(false)` when
    /// the served manifest names a version this device has not received: pull again, and call
    /// with `last_try` to refuse it by name.
    pub(super) fn personal_manifest(
        &self,
        remote: &crate::remote::Remote,
        served: Option<&SignedManifest>,
        last_try: bool,
    ) -> Result<bool> {
        const WHAT: &str = "your personal items";
        let me = Id(self.header.vault_id);
        let mac = self.personal_mac();
        let accepted = self.accept_manifest(me, WHAT, served, |m| {
            let tag = mac.tag(PERSONAL_TAG, &[&m.body.0]);
            if m.signer.is_none() && m.auth.0 == tag {
                Ok(())
            } else {
                Err("its tag does not verify (the server changed or forged it)".into())
            }
        })?;
        let (seen, _) = self.store.sync_states()?;
        let mut held: Vec<(Id, u64)> = Vec::new();
        for (id, v) in seen.all()? {
            let id: [u8; 16] = id
                .as_slice()
                .try_into()
                .map_err(|_| Error::Database("a bad item id in the seen table".into()))?;
            held.push((Id(id), u64::try_from(v).unwrap_or(0)));
        }
        held.sort_unstable();
        if let Some(m) = &accepted {
            if let Some((item, version)) = missing(&m.items, &held) {
                if !last_try {
                    return Ok(false);
                }
                return Err(Error::Omitted {
                    collection: WHAT.into(),
                    item: item.to_hex(),
                    version,
                });
            }
            if m.items == held {
                return Ok(true);
            }
        }
        let next = Manifest {
            collection: me,
            seq: accepted.map_or(1, |m| m.seq + 1),
            items: held,
        };
        let body = next.encode();
        let signed = SignedManifest {
            auth: Blob(mac.tag(PERSONAL_TAG, &[&body]).to_vec()),
            body: Blob(body),
            signer: None,
        };
        put_manifest(remote, "/v1/sync/manifest", &signed)?;
        self.remember_manifest(me, &signed.body.0)?;
        Ok(true)
    }
}

/// Upload a manifest. Another writer's coming first is not an error: theirs names what they
/// committed, and the next sync of this device writes one naming what it did.
pub(super) fn put_manifest(
    remote: &crate::remote::Remote,
    path: &str,
    m: &SignedManifest,
) -> Result<()> {
    match remote.put::<_, ()>(path, m) {
        Err(Error::Remote {
            code: proto::ErrorCode::Conflict,
            ..
        }) => Ok(()),
        other => other,
    }
}

/// The first item of `named` (id, version) that `held` (ascending by id) lacks or holds only
/// at an older version.
pub(super) fn missing(named: &[(Id, u64)], held: &[(Id, u64)]) -> Option<(Id, u64)> {
    named.iter().copied().find(|(id, v)| {
        held.binary_search_by(|(h, _)| h.cmp(id))
            .map_or(true, |i| held[i].1 < *v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_entry_is_missing_when_absent_or_older() {
        let id = |n| Id([n; 16]);
        let held = [(id(1), 3), (id(4), 1)];
        assert_eq!(missing(&[(id(1), 3), (id(4), 1)], &held), None);
        assert_eq!(missing(&[(id(1), 2)], &held), None);
        assert_eq!(missing(&[(id(1), 4)], &held), Some((id(1), 4)));
        assert_eq!(missing(&[(id(2), 1)], &held), Some((id(2), 1)));
    }
}
