//! Reading a group's records safely: per-group high-water marks, the newest version of each
//! shared item this device has been served, kept sealed under the vault key, so a server
//! replaying an older pull of a group (an item's earlier secret, or an item that left the group
//! shown again) is refused with [`Error::Rollback`] naming the item, as personal sync refuses
//! it; and the group's manifest ([`crate::vault::manifest`]), signed by the editor or admin who
//! last pushed, so a record the server leaves out is refused with [`Error::Omitted`].
use std::collections::BTreeMap;

use tessera_crypto::statement;
use tessera_protocol as proto;
use tessera_protocol::{Blob, Id, Manifest, SignedManifest};

use super::log::GroupState;
use super::{GroupKeys, TeamContext};
use crate::error::{Error, Result};
use crate::vault::manifest::{missing, put_manifest};
use crate::vault::Vault;

/// What the marks are sealed with.
const LABEL: &str = "tessera group item marks";

/// One mark: an item id and the newest version seen.
const MARK: usize = 16 + 8;

fn meta_key(group: &str) -> String {
    format!("group_seen:{group}")
}

impl Vault {
    /// The marks of `group` (hex id) this device keeps.
    fn marks(&self, group: &str) -> Result<BTreeMap<Id, u64>> {
        let what = "the remembered item versions";
        let Some(plain) = self.sealed_meta(&meta_key(group), LABEL, group, what)? else {
            return Ok(BTreeMap::new());
        };
        if plain.len() % MARK != 0 {
            return Err(Error::TamperedHeader(format!(
                "{what} of group {group} is damaged"
            )));
        }
        Ok(plain
            .chunks_exact(MARK)
            .map(|m| {
                let id = Id(m[..16].try_into().expect("16 bytes"));
                (id, u64::from_be_bytes(m[16..].try_into().expect("8 bytes")))
            })
            .collect())
    }

    /// The current record of every item of a group, each change the server serves checked
    /// against the newest version this device was served before (an older one is a rollback)
    /// and the group's manifest checked against what is then held (one it names and the server
    /// left out is refused); the marks move up, and the group's replica holds the result
    /// ([`super::replica`]). Only what changed since the group's cursor is fetched.
    pub(in crate::vault) fn pull_group(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
    ) -> Result<Vec<proto::ItemRecord>> {
        self.refresh_group(ctx, keys)?;
        self.held_records(keys.info.group_id)
    }

    /// [`Vault::pull_group`] without reading the records back: the manifest accepted (`None`:
    /// the group has none yet, or has no signed log to check one against) and how many records
    /// changed here.
    pub(in crate::vault) fn refresh_group(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
    ) -> Result<(Option<Manifest>, usize)> {
        let group = keys.info.group_id;
        let path = format!("/v1/groups/{group}/sync");
        let (mut cursor, mut held) = self.pull_start(group);
        let mut from_start = cursor == 0;
        let mut changed: BTreeMap<Id, proto::ItemRecord> = BTreeMap::new();
        let mut second = false;
        let (manifest, ended) = loop {
            let served = super::pull_since(&ctx.remote, &path, cursor)?;
            if !from_start && !second && self.ended_share_back(group, &served.ended) {
                // A share that had ended is live again: its record is not a change, so start over.
                (cursor, held) = (0, BTreeMap::new());
                changed.clear();
                (from_start, second) = (true, true);
                continue;
            }
            for r in served.records.into_values() {
                held.insert(r.item_id, r.version);
                changed.insert(r.item_id, r);
            }
            cursor = served.cursor;
            let manifest = self.accept_group_manifest(ctx, keys, served.manifest.as_ref())?;
            let held_list: Vec<(Id, u64)> = held.iter().map(|(i, v)| (*i, *v)).collect();
            match manifest
                .as_ref()
                .and_then(|m| missing(&m.items, &held_list))
            {
                None => break (manifest, served.ended),
                // A push may have landed between the pages and the manifest: read once more.
                Some(_) if !second => second = true,
                Some((item, version)) => {
                    return Err(Error::Omitted {
                        collection: format!("group {group}"),
                        item: item.to_hex(),
                        version,
                    })
                }
            }
        };
        let changed: Vec<proto::ItemRecord> = changed.into_values().collect();
        self.move_marks(&group.to_hex(), &changed)?;
        let pulled = super::replica::Pulled {
            changed,
            ended,
            cursor,
        };
        let n = self.hold(&ctx.team_id, keys, &pulled, from_start)?;
        Ok((manifest, n))
    }

    /// Check a group's served manifest: signed by a member its verified log gives a role
    /// that writes, with the signing key their certificate chain names.
    fn accept_group_manifest(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
        served: Option<&SignedManifest>,
    ) -> Result<Option<Manifest>> {
        let Some(state) = &keys.state else {
            // No signed log yet: nothing to check a signer against (the group is shown as
            // unsigned until an admin signs it).
            return Ok(None);
        };
        let group = keys.info.group_id;
        self.accept_manifest(group, &format!("group {group}"), served, |m| {
            manifest_signed(ctx, state, &keys.directory, m)
        })
    }

    /// After a push to a group (editors and admins): read the group and sign the manifest that
    /// names what it now holds, so every member can tell when the server leaves one out.
    pub(in crate::vault) fn sign_group_manifest(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
    ) -> Result<()> {
        if keys.state.is_none() {
            return Ok(());
        }
        let group = keys.info.group_id;
        let (accepted, _) = self.refresh_group(ctx, keys)?;
        let records = self.held_records(group)?;
        let next = Manifest {
            collection: group,
            seq: accepted.map_or(1, |m| m.seq + 1),
            items: records.iter().map(|r| (r.item_id, r.version)).collect(),
        };
        let body = next.encode();
        let signed = SignedManifest {
            auth: Blob(statement::sign(&self.keyset, statement::GROUP_MANIFEST, &body).to_vec()),
            body: Blob(body),
            signer: Some(Id(self.account_id())),
        };
        put_manifest(
            &ctx.remote,
            &format!("/v1/groups/{group}/manifest"),
            &signed,
        )?;
        self.remember_manifest(group, &signed.body.0)
    }

    /// Check `records` against the marks of `group` and move the marks up to them.
    fn move_marks(&self, group: &str, records: &[proto::ItemRecord]) -> Result<()> {
        let mut marks = self.marks(group)?;
        let mut moved = false;
        for r in records {
            match marks.get(&r.item_id) {
                Some(&seen) if r.version < seen => {
                    return Err(Error::Rollback {
                        item: r.item_id.to_hex(),
                        offered: r.version,
                        seen,
                    })
                }
                Some(&seen) if r.version == seen => {}
                _ => {
                    marks.insert(r.item_id, r.version);
                    moved = true;
                }
            }
        }
        if moved {
            let mut plain = Vec::with_capacity(marks.len() * MARK);
            for (id, v) in &marks {
                plain.extend_from_slice(&id.0);
                plain.extend_from_slice(&v.to_be_bytes());
            }
            self.put_sealed_meta(&meta_key(group), LABEL, group, &plain)?;
        }
        Ok(())
    }
}

/// Whether a group's manifest is signed by a member its verified log (`state`) gives a role
/// that writes, with the signing key their certificate chain names.
pub(super) fn manifest_signed(
    ctx: &TeamContext,
    state: &GroupState,
    directory: &[proto::DirectoryEntry],
    m: &SignedManifest,
) -> std::result::Result<(), String> {
    let signer = m.signer.ok_or("it names no signer")?;
    if !state
        .members
        .get(&signer)
        .is_some_and(|s| s.role.can_write())
    {
        return Err(format!(
            "its signer {signer} is not an editor or admin in the group's log"
        ));
    }
    let key = super::log::author_key(ctx, directory, signer)?;
    statement::verify(&key, statement::GROUP_MANIFEST, &m.body.0, &m.auth.0)
        .map_err(|_| "its signature does not verify (the server changed or forged it)".into())
}

/// The first item `m` names that `records` (ascending by id) lacks or holds only older.
pub(super) fn omitted(m: &Manifest, records: &[proto::ItemRecord]) -> Option<(Id, u64)> {
    let held: Vec<(Id, u64)> = records.iter().map(|r| (r.item_id, r.version)).collect();
    missing(&m.items, &held)
}
