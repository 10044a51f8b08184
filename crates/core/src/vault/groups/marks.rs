//! Per-group high-water marks: the newest version of each shared item this device has been
//! served, kept sealed under the vault key, so a server replaying an older pull of a group (an
//! item's earlier secret, or an item that left the group shown again) is refused with
//! [`Error::Rollback`] naming the item, as personal sync refuses it.
use std::collections::BTreeMap;

use tessera_protocol as proto;
use tessera_protocol::Id;

use super::TeamContext;
use crate::error::{Error, Result};
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

    /// The current record of every item of a group from the server, each checked against the
    /// newest version this device was served before (an older one is a rollback); the marks
    /// move up to what was served.
    pub(in crate::vault) fn pull_group(
        &self,
        ctx: &TeamContext,
        group: &str,
    ) -> Result<Vec<proto::ItemRecord>> {
        let records = super::fetch_group(ctx, group)?;
        let mut marks = self.marks(group)?;
        let mut moved = false;
        for r in &records {
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
        Ok(records)
    }
}
