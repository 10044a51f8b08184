//! The plain import: a JSON array of items, as `tessera show --json --reveal` prints them or a
//! script writes them, each with or without its `id`.
//!
//! It follows the encrypted import's rule ([`super`]), so importing the same file twice adds
//! nothing the second time. An item *with* an id is placed by its id: new to the vault, it
//! comes in under that id; there with the same content, it is skipped; there with other content
//! (or damaged), it comes in as a copy titled "… (imported)". An item *without* an id has
//! nothing to match but its content: when an item here (or earlier in the same file) holds
//! exactly the same content, it is skipped; otherwise it comes in under a new id.
//!
//! Everything is checked before anything is written, and the import is one transaction.
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use super::document::{Document, Entry, Version};
use crate::error::{Error, Result};
use crate::item::{ItemData, ItemId};
use crate::vault::{now, Vault};

/// One item of a plain import: its content, and its id when the file names one.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlainItem {
    /// The id the item had where it came from, if the file has it.
    #[serde(default)]
    pub id: Option<ItemId>,
    /// The content.
    pub data: ItemData,
}

/// What a plain import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlainImportReport {
    /// Items added (new ones and copies).
    pub imported: usize,
    /// Of those, copies of items whose id was already here with other content, titled
    /// "… (imported)".
    pub copies: usize,
    /// Items already here with the same content (and the same id, when the file gave one).
    pub skipped: usize,
    /// The ids of the items added, in the file's order.
    pub ids: Vec<String>,
}

impl Vault {
    /// Import items from a plain file in one transaction, by the rule in the module
    /// documentation. An item that breaks a limit, or an id given twice, stops the import before
    /// anything is written; the message numbers the item from 1 in the file's order.
    pub fn import_plain(&mut self, items: Vec<PlainItem>) -> Result<PlainImportReport> {
        let t = now();
        let mut skipped = 0;
        let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
        // Items here by a hash of their title, so an id-less item is compared only with likely
        // twins (a hash, not a copy: titles are user data and stay in zeroizing values).
        let mut here: HashMap<u64, Vec<&ItemData>> = HashMap::new();
        for item in self.items.values() {
            here.entry(title_hash(&item.data))
                .or_default()
                .push(&item.data);
        }
        // The same for the entries taken so far, by their index.
        let mut taken: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut ids_seen: HashMap<ItemId, usize> = HashMap::new();
        for (n, PlainItem { id, data }) in items.into_iter().enumerate() {
            let number = n + 1;
            data.validate()
                .map_err(|e| Error::Invalid(format!("item {number}: {e}")))?;
            let key = title_hash(&data);
            let id = match id {
                Some(id) => {
                    if let Some(first) = ids_seen.insert(id, number) {
                        return Err(Error::Invalid(format!(
                            "items {first} and {number} have the same id {}; an id names one \
                             item, so remove one of them or its id",
                            id.to_hex()
                        )));
                    }
                    id
                }
                None => {
                    let is_here = here
                        .get(&key)
                        .is_some_and(|same| same.iter().any(|d| **d == data));
                    let is_earlier = taken.get(&key).is_some_and(|same| {
                        same.iter().any(|i| entries[*i].current().data == data)
                    });
                    if is_here || is_earlier {
                        skipped += 1;
                        continue;
                    }
                    ItemId::random()
                }
            };
            taken.entry(key).or_default().push(entries.len());
            entries.push(Entry {
                id,
                created_at: t,
                trashed_at: None,
                versions: vec![Version {
                    number: 1,
                    created_at: t,
                    secret_changed_at: t,
                    data,
                }],
            });
        }
        drop(here);
        let (report, ids) = self.import_document(Document {
            exported_at: t,
            items: entries,
        })?;
        Ok(PlainImportReport {
            imported: report.imported,
            copies: report.copies,
            skipped: report.skipped + skipped,
            ids: ids.iter().map(ItemId::to_hex).collect(),
        })
    }
}

/// A hash of an item's kind and title, to find items that may hold the same content.
fn title_hash(d: &ItemData) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    d.kind.as_str().hash(&mut h);
    d.title.hash(&mut h);
    h.finish()
}
