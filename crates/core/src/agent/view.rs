//! What the agent (and later the desktop shell) sends to clients: items as they are shown,
//! with concealed values left out unless the user asked to reveal them.
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::item::{FieldKind, Item, ItemKind, SecretText};
use crate::search::{Collection, Query, TrashFilter};
use crate::vault::{GroupView, HistoryEntry, Vault};

/// The reply to an export: the encrypted file (base64 on the wire) and what it holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportView {
    /// The whole export file; ciphertext apart from its small header.
    pub file: tessera_protocol::Blob,
    /// What it holds.
    #[serde(flatten)]
    pub summary: crate::vault::export::ExportSummary,
}

/// One field as shown.
#[derive(Debug, Serialize, Deserialize)]
pub struct FieldView {
    /// The name.
    pub name: String,
    /// How the value is treated.
    pub kind: FieldKind,
    /// The value: always for text fields, for concealed ones only when revealed.
    pub value: Option<SecretText>,
}

/// A group's items as a read found them: those that opened, and the records that did not.
#[derive(Debug, Serialize, Deserialize)]
pub struct GroupItemsView {
    /// The items that opened.
    pub items: Vec<ItemSummary>,
    /// The records that did not, named.
    pub damaged: Vec<crate::vault::DamagedRecord>,
}

/// An item in a list.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemSummary {
    /// The id.
    pub id: String,
    /// The type.
    pub kind: ItemKind,
    /// The title.
    pub title: String,
    /// A second line: the username, host or URL.
    pub subtitle: String,
    /// Favourite.
    pub favourite: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Folder.
    pub folder: Option<String>,
    /// In the trash.
    pub trashed: bool,
    /// The group that holds it, for a shared item: its id and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupTag>,
}

/// The group of a shared item in a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupTag {
    /// The group id (hex).
    pub id: String,
    /// Its name.
    pub name: String,
}

/// One item in full.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemView {
    /// The id.
    pub id: String,
    /// The type.
    pub kind: ItemKind,
    /// The title.
    pub title: String,
    /// Current version.
    pub version: u64,
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time of the current version.
    pub updated_at: i64,
    /// Unix time the secrets last changed.
    pub secret_changed_at: i64,
    /// Unix time it went to the trash.
    pub trashed_at: Option<i64>,
    /// Fields in order.
    pub fields: Vec<FieldView>,
    /// Notes, when revealed (notes are concealed).
    pub notes: Option<SecretText>,
    /// True when the item has notes.
    pub has_notes: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Folder.
    pub folder: Option<String>,
    /// Favourite.
    pub favourite: bool,
    /// Rotation policy in days.
    pub rotation_days: Option<u32>,
    /// Days overdue under the rotation policy, if overdue.
    pub rotation_overdue_days: Option<i64>,
    /// Expiry, Unix time.
    pub expires_at: Option<i64>,
}

/// The agent's state.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusView {
    /// Unlocked or not.
    pub unlocked: bool,
    /// The vault file.
    pub vault: String,
    /// Items, trash included (known even while locked).
    pub items: u64,
    /// Items in the trash.
    pub trashed: u64,
    /// Items that failed to decrypt at unlock, or whose row does not match its MAC.
    pub damaged: Vec<String>,
    /// What is wrong with the vault file as a whole (an item removed outside Tessera), each
    /// saying what to do.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The KDF in force, e.g. `Argon2id(m=65536 KiB, t=3, p=4)`.
    pub kdf: Option<String>,
    /// Seconds of inactivity before the agent locks itself.
    pub idle_timeout_secs: u64,
    /// Seconds until it does, at the current idleness.
    pub locks_in_secs: Option<u64>,
    /// The team server this vault syncs with (known only while unlocked).
    #[serde(default)]
    pub link: Option<crate::vault::LinkInfo>,
}

/// One version in an item's history.
#[derive(Debug, Serialize, Deserialize)]
pub struct HistoryView {
    /// The version number.
    pub version: u64,
    /// Unix time it was written.
    pub created_at: i64,
    /// Its title then.
    pub title: String,
    /// Names of the fields whose values differ from the previous version.
    pub changed: Vec<String>,
}

impl ItemSummary {
    /// The list form of an item.
    pub fn of(item: &Item) -> Self {
        let d = &item.data;
        let subtitle = ["username", "host", "url"]
            .iter()
            .find_map(|n| {
                d.field(n)
                    .filter(|f| f.kind == FieldKind::Text && !f.value.is_empty())
            })
            .map(|f| f.value.expose_secret().to_owned())
            .unwrap_or_default();
        Self {
            id: item.id.to_hex(),
            kind: d.kind,
            title: d.title.clone(),
            subtitle,
            favourite: d.favourite,
            tags: d.tags.clone(),
            folder: d.folder.clone(),
            trashed: item.trashed_at.is_some(),
            group: None,
        }
    }

    /// The list form of a shared item of `group`.
    pub fn shared(group: &GroupView, item: &Item) -> Self {
        Self {
            group: Some(GroupTag {
                id: group.id.clone(),
                name: group.name.clone(),
            }),
            ..Self::of(item)
        }
    }
}

impl ItemView {
    /// The full form; concealed values only when `reveal`.
    pub fn of(item: &Item, reveal: bool, now: i64) -> Self {
        let d = &item.data;
        Self {
            id: item.id.to_hex(),
            kind: d.kind,
            title: d.title.clone(),
            version: item.version,
            created_at: item.created_at,
            updated_at: item.updated_at,
            secret_changed_at: item.secret_changed_at,
            trashed_at: item.trashed_at,
            fields: d
                .fields
                .iter()
                .map(|f| FieldView {
                    name: f.name.clone(),
                    kind: f.kind,
                    value: (reveal || !f.kind.is_secret()).then(|| f.value.duplicate()),
                })
                .collect(),
            notes: (reveal && !d.notes.is_empty()).then(|| d.notes.duplicate()),
            has_notes: !d.notes.is_empty(),
            tags: d.tags.clone(),
            folder: d.folder.clone(),
            favourite: d.favourite,
            rotation_days: d.rotation_days,
            rotation_overdue_days: item.rotation_overdue(now),
            expires_at: d.expires_at,
        }
    }
}

impl HistoryView {
    /// Summaries of a history, oldest first, each naming what changed from the one before.
    pub fn of(history: &[HistoryEntry]) -> Vec<Self> {
        let mut out = Vec::with_capacity(history.len());
        for (i, h) in history.iter().enumerate() {
            let changed = match i.checked_sub(1).map(|p| &history[p].data) {
                None => Vec::new(),
                Some(prev) => {
                    let mut names: Vec<String> = h
                        .data
                        .fields
                        .iter()
                        .filter(|f| prev.field(&f.name).is_none_or(|p| p.value != f.value))
                        .map(|f| f.name.clone())
                        .collect();
                    names.extend(
                        prev.fields
                            .iter()
                            .filter(|p| h.data.field(&p.name).is_none())
                            .map(|p| p.name.clone()),
                    );
                    if prev.title != h.data.title {
                        names.insert(0, "title".into());
                    }
                    if prev.notes != h.data.notes {
                        names.push("notes".into());
                    }
                    if prev.tags != h.data.tags
                        || prev.folder != h.data.folder
                        || prev.favourite != h.data.favourite
                    {
                        names.push("tags/folder".into());
                    }
                    names
                }
            };
            out.push(Self {
                version: h.version,
                created_at: h.created_at,
                title: h.data.title.clone(),
                changed,
            });
        }
        out
    }
}

/// Which collection a filter asks for: `personal`, a held group's name or id, or all.
fn collection(vault: &Vault, f: &super::Filter) -> Result<Collection, Error> {
    Ok(match f.group.as_deref().map(str::trim) {
        None | Some("") => Collection::Any,
        Some(g) if g.eq_ignore_ascii_case("personal") => Collection::Personal,
        Some(g) => {
            let held = vault.held_groups();
            let found: Vec<&GroupView> = held
                .iter()
                .filter(|v| v.id == g.to_ascii_lowercase() || v.name.eq_ignore_ascii_case(g))
                .collect();
            match found.as_slice() {
                [one] => Collection::Group(
                    tessera_protocol::Id::parse(&one.id)
                        .expect("held group ids are valid")
                        .0,
                ),
                [] => {
                    return Err(Error::NotFound(format!(
                        "no group {g:?} on this device (`tessera group list`; `personal` for your own items)"
                    )))
                }
                many => {
                    return Err(Error::Ambiguous {
                        query: g.to_owned(),
                        count: many.len(),
                    })
                }
            }
        }
    })
}

/// Items passing `filter`, personal and shared, sorted by title (case-insensitive).
pub fn list(vault: &Vault, filter: &super::Filter) -> Result<Vec<ItemSummary>, Error> {
    let c = collection(vault, filter)?;
    let mut out: Vec<ItemSummary> = Vec::new();
    if matches!(c, Collection::Any | Collection::Personal) {
        out.extend(
            vault
                .items()
                .filter(|i| matches(i, filter))
                .map(ItemSummary::of),
        );
    }
    if !filter.trash && c != Collection::Personal {
        vault.each_shared(|g, item| {
            let in_collection = match c {
                Collection::Group(id) => g.id == tessera_protocol::Id(id).to_hex(),
                _ => true,
            };
            if in_collection && matches(item, filter) {
                out.push(ItemSummary::shared(g, item));
            }
        });
    }
    out.sort_by_cached_key(|i| i.title.to_lowercase());
    Ok(out)
}

/// True when an item passes the filter.
pub fn matches(item: &Item, f: &super::Filter) -> bool {
    let d = &item.data;
    item.trashed_at.is_some() == f.trash
        && f.kind.is_none_or(|k| k == d.kind)
        && f.tag
            .as_ref()
            .is_none_or(|t| d.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
        && f.folder.as_ref().is_none_or(|p| {
            d.folder
                .as_ref()
                .is_some_and(|x| x == p || x.starts_with(&format!("{}/", p.trim_end_matches('/'))))
        })
        && (!f.favourites || d.favourite)
}

/// Ranked search with filters over personal and shared items, best first.
pub fn search(
    vault: &Vault,
    text: &str,
    f: &super::Filter,
    limit: usize,
) -> Result<Vec<ItemSummary>, Error> {
    let mut q = Query::new(text)
        .limit(limit)
        .trash(if f.trash {
            TrashFilter::Only
        } else {
            TrashFilter::Exclude
        })
        .collection(collection(vault, f)?);
    if let Some(k) = f.kind {
        q = q.kind(k);
    }
    if let Some(t) = &f.tag {
        q = q.tag(t);
    }
    if let Some(folder) = &f.folder {
        q = q.folder(folder);
    }
    if f.favourites {
        q = q.favourites_only();
    }
    Ok(vault
        .search(&q)
        .hits
        .iter()
        .filter_map(|h| match vault.get(&h.id) {
            Ok(item) => Some(ItemSummary::of(item)),
            Err(_) => vault.with_shared(&h.id, ItemSummary::shared),
        })
        .collect())
}
