//! Browsing, reading, copying and editing items. Lists and item views leave concealed values
//! out; one value crosses to the web view only when the user reveals it.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tessera_core::agent::{Filter, HistoryView, ItemSummary, ItemView, Request};
use tessera_core::item::{Field, FieldKind, Item, ItemData, ItemId, ItemKind, SecretText};
use tessera_core::totp::TotpSpec;
use tessera_core::Vault;

use crate::error::{CmdError, CmdResult, Code};
use crate::state::AppState;

/// How many of each thing there is, for the sidebar.
#[derive(Serialize, Default)]
pub struct Facets {
    tags: Vec<Count>,
    folders: Vec<Count>,
    kinds: Vec<KindCount>,
    favourites: usize,
    trashed: usize,
    all: usize,
}

#[derive(Serialize)]
struct Count {
    name: String,
    count: usize,
}

#[derive(Serialize)]
struct KindCount {
    kind: ItemKind,
    count: usize,
}

#[tauri::command]
pub fn facets(state: State<'_, AppState>) -> CmdResult<Facets> {
    Ok(state.agent.with_vault(|v| Ok(facets_of(v)))?)
}

/// Counts for the sidebar over personal and shared items (shared ones are never in the trash).
fn facets_of(v: &Vault) -> Facets {
    let mut f = Facets::default();
    let mut tags = BTreeMap::<String, usize>::new();
    let mut folders = BTreeMap::<String, usize>::new();
    let mut kinds = BTreeMap::<&str, (ItemKind, usize)>::new();
    let mut count = |item: &Item| {
        if item.trashed_at.is_some() {
            f.trashed += 1;
            return;
        }
        f.all += 1;
        let d = &item.data;
        f.favourites += usize::from(d.favourite);
        for t in &d.tags {
            *tags.entry(t.clone()).or_default() += 1;
        }
        if let Some(folder) = &d.folder {
            *folders.entry(folder.clone()).or_default() += 1;
        }
        kinds.entry(d.kind.as_str()).or_insert((d.kind, 0)).1 += 1;
    };
    v.items().for_each(&mut count);
    v.each_shared(|_, item| count(item));
    let counted = |m: BTreeMap<String, usize>| {
        m.into_iter()
            .map(|(name, count)| Count { name, count })
            .collect()
    };
    f.tags = counted(tags);
    f.folders = counted(folders);
    f.kinds = ItemKind::ALL
        .iter()
        .filter_map(|k| kinds.get(k.as_str()))
        .map(|&(kind, count)| KindCount { kind, count })
        .collect();
    f
}

#[tauri::command]
pub fn list_items(state: State<'_, AppState>, filter: Filter) -> CmdResult<Vec<ItemSummary>> {
    Ok(state.agent.call(&Request::List { filter })?)
}

#[tauri::command]
pub fn search_items(
    state: State<'_, AppState>,
    query: String,
    filter: Filter,
    limit: Option<usize>,
) -> CmdResult<Vec<ItemSummary>> {
    Ok(state.agent.call(&Request::Search {
        query,
        filter,
        limit: Some(limit.unwrap_or(200).min(10_000)),
    })?)
}

#[tauri::command]
pub fn get_item(state: State<'_, AppState>, id: String) -> CmdResult<ItemView> {
    Ok(state.agent.call(&Request::Get {
        item: id,
        reveal: false,
    })?)
}

fn item<'v>(v: &'v Vault, id: &str) -> tessera_core::Result<&'v Item> {
    let id: ItemId = id.parse()?;
    v.get(&id)
}

/// The stored value of `field` ("notes" for the notes), or a not-found error naming it.
fn value_of(item: &Item, field: &str) -> CmdResult<SecretText> {
    if field == "notes" && item.data.field("notes").is_none() {
        return Ok(item.data.notes.duplicate());
    }
    item.data
        .field(field)
        .map(|f| f.value.duplicate())
        .ok_or_else(|| {
            CmdError::new(
                Code::NotFound,
                format!("\u{201c}{}\u{201d} has no field {field}.", item.data.title),
            )
        })
}

#[tauri::command]
pub fn reveal_field(state: State<'_, AppState>, id: String, field: String) -> CmdResult<String> {
    let value = state
        .agent
        .with_vault(|v| Ok(value_of(item(v, &id)?, &field)))??;
    Ok(value.expose_secret().to_owned())
}

/// The result of a copy.
#[derive(Serialize)]
pub struct CopyResult {
    pub(crate) clears_in_secs: u32,
}

#[tauri::command]
pub fn copy_field(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    field: String,
) -> CmdResult<CopyResult> {
    let value = state.agent.with_vault(|v| {
        let item = item(v, &id)?;
        // A TOTP field copies its current code, never the seed.
        let is_totp = field == "totp"
            || item
                .data
                .field(&field)
                .is_some_and(|f| f.kind == FieldKind::Totp);
        if !is_totp {
            return Ok(value_of(item, &field));
        }
        let seed = match totp_seed(&item.data, &field) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(SecretText::new(
            TotpSpec::parse(seed.expose_secret())?.now().0,
        )))
    })??;
    if value.is_empty() {
        return Err(CmdError::new(
            Code::NotFound,
            format!("The {field} field is empty; there is nothing to copy."),
        ));
    }
    let seconds = state.settings().clipboard_seconds;
    state.clipboard.copy(
        value.expose_secret(),
        Duration::from_secs(u64::from(seconds)),
        move || {
            crate::notify(&app, "clipboard-cleared", ());
        },
    )?;
    Ok(CopyResult {
        clears_in_secs: seconds,
    })
}

/// The TOTP seed of an item: the named field, else its first TOTP field.
pub(crate) fn totp_seed(data: &ItemData, field: &str) -> CmdResult<SecretText> {
    data.field(field)
        .filter(|f| f.kind == FieldKind::Totp)
        .or_else(|| data.fields.iter().find(|f| f.kind == FieldKind::Totp))
        .filter(|f| !f.value.is_empty())
        .map(|f| f.value.duplicate())
        .ok_or_else(|| {
            CmdError::new(
                Code::NotFound,
                format!(
                    "\u{201c}{}\u{201d} has no one-time password set up.",
                    data.title
                ),
            )
        })
}

/// The current code of a TOTP seed.
pub(crate) fn totp_now(seed: &SecretText) -> tessera_core::Result<TotpCode> {
    let spec = TotpSpec::parse(seed.expose_secret())?;
    let (code, remaining) = spec.now();
    Ok(TotpCode {
        code,
        remaining,
        period: spec.period(),
        digits: spec.digits(),
    })
}

/// A live one-time code.
#[derive(Serialize)]
pub struct TotpCode {
    pub(crate) code: String,
    pub(crate) remaining: u32,
    pub(crate) period: u32,
    pub(crate) digits: u8,
}

#[tauri::command]
pub fn totp_code(state: State<'_, AppState>, id: String, field: String) -> CmdResult<TotpCode> {
    state.agent.with_vault(|v| {
        let seed = match totp_seed(&item(v, &id)?.data, &field) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(totp_now(&seed)?))
    })?
}

/// A field from a create/edit form; `value: None` on an update keeps the stored value.
#[derive(Deserialize)]
pub struct FieldInput {
    name: String,
    kind: FieldKind,
    value: Option<SecretText>,
}

/// An item from a create/edit form.
#[derive(Deserialize)]
pub struct ItemInput {
    kind: ItemKind,
    title: String,
    fields: Vec<FieldInput>,
    notes: Option<SecretText>,
    tags: Vec<String>,
    folder: Option<String>,
    favourite: bool,
    rotation_days: Option<u32>,
    expires_at: Option<i64>,
}

impl ItemInput {
    /// The item's content; unchanged values (None) are taken from `current`.
    pub(crate) fn into_data(self, current: Option<&ItemData>) -> CmdResult<ItemData> {
        let mut fields = Vec::with_capacity(self.fields.len());
        for f in self.fields {
            let value = match (f.value, current) {
                (Some(v), _) => v,
                (None, Some(cur)) => cur
                    .field(&f.name)
                    .map(|old| old.value.duplicate())
                    .unwrap_or_default(),
                (None, None) => SecretText::default(),
            };
            // Empty optional fields are left out rather than stored empty.
            if !value.is_empty() {
                fields.push(Field::new(f.name, f.kind, value));
            }
        }
        let notes = match (self.notes, current) {
            (Some(n), _) => n,
            (None, Some(cur)) => cur.notes.duplicate(),
            (None, None) => SecretText::default(),
        };
        let folder = self
            .folder
            .map(|f| f.trim().trim_matches('/').to_owned())
            .filter(|f| !f.is_empty());
        let mut tags: Vec<String> = self
            .tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        tags.dedup();
        let data = ItemData {
            kind: self.kind,
            title: self.title.trim().to_owned(),
            fields,
            notes,
            tags,
            folder,
            favourite: self.favourite,
            rotation_days: self.rotation_days.filter(|d| *d > 0),
            expires_at: self.expires_at,
        };
        data.validate()?;
        Ok(data)
    }
}

#[tauri::command]
pub fn add_item(state: State<'_, AppState>, item: ItemInput) -> CmdResult<String> {
    let data = item.into_data(None)?;
    let ids: Vec<String> = state.agent.call(&Request::Add { items: vec![data] })?;
    ids.into_iter()
        .next()
        .ok_or_else(|| CmdError::new(Code::Internal, "The item was not added."))
}

#[tauri::command]
pub fn update_item(state: State<'_, AppState>, id: String, item: ItemInput) -> CmdResult<u64> {
    let version = state.agent.with_vault(|v| {
        let id: ItemId = id.parse()?;
        let data = match item.into_data(Some(&v.get(&id)?.data)) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(v.update(&id, data)?))
    })??;
    state.agent.changed();
    Ok(version)
}

#[tauri::command]
pub fn trash_item(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.agent.call::<String>(&Request::Remove {
        item: id,
        purge: false,
    })?;
    Ok(())
}

#[tauri::command]
pub fn restore_item(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.agent.call::<u64>(&Request::Restore {
        item: id,
        version: None,
    })?;
    Ok(())
}

#[tauri::command]
pub fn purge_item(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.agent.call::<String>(&Request::Remove {
        item: id,
        purge: true,
    })?;
    Ok(())
}

#[tauri::command]
pub fn history(state: State<'_, AppState>, id: String) -> CmdResult<Vec<HistoryView>> {
    Ok(state.agent.call(&Request::History { item: id })?)
}

#[tauri::command]
pub fn restore_version(state: State<'_, AppState>, id: String, version: u64) -> CmdResult<u64> {
    Ok(state.agent.call(&Request::Restore {
        item: id,
        version: Some(version),
    })?)
}
