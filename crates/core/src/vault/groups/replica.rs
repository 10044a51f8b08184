//! The replica: every group this account reads, held on this device, so shared items are read,
//! listed and searched like personal ones, and stay readable with the server out of reach.
//!
//! Each group's records are kept in `group_records` exactly as the server served them (each
//! version sealed under its own item key, wrapped by the group key of its epoch). Beside them, a
//! snapshot sealed under the vault key (`meta` `group_replica:<id>`) holds what the verified
//! pull established: the group's name, the caller's role and end of access as the group's
//! signed log gives them, its epoch keys, the pull cursor, and the version and state of every
//! record held. Nothing enters either before [`Vault::pull_group`] has checked it (the group's
//! log, the keys sealed to this account, the manifest, the high-water marks). At unlock every
//! row is compared with the snapshot: a row changed, added or removed outside Tessera is named
//! as damage, and the next pull fetches the group whole again.
//!
//! Pulls are incremental: only records changed since the group's cursor are served, opened
//! and written. A share that ended for the caller is named in the pull's `ended` list and is
//! dropped here; when it is no longer named (the share was extended) the group is pulled whole
//! again, since its record will not be served as a change.
use std::collections::{BTreeMap, HashMap};

use tessera_crypto::SymmetricKey;
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id};
use zeroize::Zeroizing;

use super::version::open_record;
use super::{group_view, DamagedRecord, GroupItems, GroupKeys, GroupView, SharedItem};
use crate::error::{Error, Result};
use crate::item::{Item, ItemId};
use crate::search::SearchDoc;
use crate::store::GroupRecord;
use crate::vault::Vault;

/// What a snapshot is sealed with.
const LABEL: &str = "tessera group replica";
/// The `meta` key prefix of the snapshots.
const PREFIX: &str = "group_replica:";
/// The snapshot layout's version.
const FORMAT: u8 = 1;

/// A record's state as held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Live = 0,
    Deleted = 1,
    /// Its share ended for this account: held as a tombstone until it is served again.
    Ended = 2,
}

impl State {
    fn of(rec: &proto::ItemRecord) -> Self {
        if rec.deleted {
            State::Deleted
        } else {
            State::Live
        }
    }
}

/// One group as this device holds it.
pub(in crate::vault) struct HeldGroup {
    /// Its view: name, role and end of access as its log gave them at the last pull.
    pub(in crate::vault) view: GroupView,
    keys: BTreeMap<u64, SymmetricKey>,
    /// Where the next pull starts.
    cursor: u64,
    /// The version and state of every record held, by item.
    records: BTreeMap<Id, (u64, State)>,
}

/// A shared item as this device holds it.
pub(in crate::vault) struct HeldItem {
    /// Its group.
    pub(in crate::vault) group: Id,
    /// The key epoch of its version.
    epoch: u64,
    /// The item (never in the trash: a shared item moves out by `rm`, which deletes it).
    pub(in crate::vault) item: Item,
}

impl HeldItem {
    fn shared(&self) -> SharedItem {
        SharedItem {
            group_id: self.group.to_hex(),
            id: self.item.id,
            version: self.item.version,
            epoch: self.epoch,
            updated_at: self.item.updated_at,
            secret_changed_at: self.item.secret_changed_at,
            data: self.item.data.duplicate(),
        }
    }
}

/// Every group held, their items, and the records that did not open.
#[derive(Default)]
pub(in crate::vault) struct Replica {
    pub(in crate::vault) groups: BTreeMap<Id, HeldGroup>,
    pub(in crate::vault) items: HashMap<ItemId, HeldItem>,
    /// Records that did not open or do not match the snapshot: group, item (hex) → why.
    damaged: BTreeMap<(Id, String), String>,
}

fn role_code(r: GroupRole) -> u8 {
    match r {
        GroupRole::Viewer => 0,
        GroupRole::Editor => 1,
        GroupRole::Admin => 2,
    }
}

impl HeldGroup {
    fn empty(view: GroupView) -> Self {
        Self {
            view,
            keys: BTreeMap::new(),
            cursor: 0,
            records: BTreeMap::new(),
        }
    }

    /// `FORMAT | cursor | epoch | role | signed | has_end | end | name length |
    /// name | key count | (epoch, key)* | record count | (item, version, state)*`.
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let v = &self.view;
        let mut b = Zeroizing::new(Vec::with_capacity(
            64 + v.name.len() + self.keys.len() * 40 + self.records.len() * 25,
        ));
        b.push(FORMAT);
        b.extend_from_slice(&self.cursor.to_be_bytes());
        b.extend_from_slice(&v.epoch.to_be_bytes());
        b.push(role_code(v.role));
        b.push(u8::from(v.signed));
        b.push(u8::from(v.expires_at.is_some()));
        b.extend_from_slice(&v.expires_at.unwrap_or(0).to_be_bytes());
        b.extend_from_slice(&(v.name.len() as u32).to_be_bytes());
        b.extend_from_slice(v.name.as_bytes());
        b.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
        for (epoch, key) in &self.keys {
            b.extend_from_slice(&epoch.to_be_bytes());
            b.extend_from_slice(key.expose_secret());
        }
        b.extend_from_slice(&(self.records.len() as u32).to_be_bytes());
        for (id, (version, state)) in &self.records {
            b.extend_from_slice(&id.0);
            b.extend_from_slice(&version.to_be_bytes());
            b.push(*state as u8);
        }
        b
    }

    /// The snapshot of `group`; `None` when it is not one this build wrote.
    fn decode(group: Id, b: &[u8]) -> Option<Self> {
        let mut r = Reader(b);
        if r.take(1)?[0] != FORMAT {
            return None;
        }
        let cursor = r.u64()?;
        let epoch = r.u64()?;
        let role = match r.take(1)?[0] {
            0 => GroupRole::Viewer,
            1 => GroupRole::Editor,
            2 => GroupRole::Admin,
            _ => return None,
        };
        let signed = r.take(1)?[0] == 1;
        let has_end = r.take(1)?[0] == 1;
        let end = r.u64()? as i64;
        let name_len = r.u32()? as usize;
        let name = String::from_utf8(r.take(name_len)?.to_vec()).ok()?;
        let mut keys = BTreeMap::new();
        for _ in 0..r.u32()? {
            let e = r.u64()?;
            keys.insert(e, SymmetricKey::from_slice(r.take(32)?).ok()?);
        }
        let mut records = BTreeMap::new();
        for _ in 0..r.u32()? {
            let id = Id(r.take(16)?.try_into().ok()?);
            let version = r.u64()?;
            let state = match r.take(1)?[0] {
                0 => State::Live,
                1 => State::Deleted,
                2 => State::Ended,
                _ => return None,
            };
            records.insert(id, (version, state));
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(Self {
            view: GroupView {
                id: group.to_hex(),
                name,
                role,
                epoch,
                expires_at: has_end.then_some(end),
                signed,
                refused: None,
            },
            keys,
            cursor,
            records,
        })
    }
}

/// Reads a snapshot front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

fn as_record(r: GroupRecord) -> Option<proto::ItemRecord> {
    Some(proto::ItemRecord {
        item_id: Id(r.item_id.as_slice().try_into().ok()?),
        version: u64::try_from(r.version).ok()?,
        seq: 0,
        deleted: r.deleted,
        blob: Blob(r.blob),
    })
}

fn meta_key(group: Id) -> String {
    format!("{PREFIX}{group}")
}

/// What a pull of one group brought, checked: every changed record, the items whose share
/// ended, and the cursor after it.
pub(in crate::vault) struct Pulled {
    pub(in crate::vault) changed: Vec<proto::ItemRecord>,
    pub(in crate::vault) ended: Vec<Id>,
    pub(in crate::vault) cursor: u64,
}

/// What one pull changes in a group's replica.
struct Plan<'a> {
    /// Records whose version or state changed, or whose copy here is damaged, with their state.
    writes: Vec<(&'a proto::ItemRecord, State)>,
    /// Live items held, not served as changes, whose share has ended: held as tombstones.
    ended: Vec<(Id, u64)>,
    /// Items held that a pull from the start did not serve.
    gone: Vec<Id>,
}

impl<'a> Plan<'a> {
    fn new(rep: &Replica, gid: Id, g: &HeldGroup, pulled: &'a Pulled, from_start: bool) -> Self {
        let served: std::collections::HashSet<Id> =
            pulled.changed.iter().map(|r| r.item_id).collect();
        let writes = pulled
            .changed
            .iter()
            .map(|r| {
                let state = if pulled.ended.contains(&r.item_id) {
                    State::Ended
                } else {
                    State::of(r)
                };
                (r, state)
            })
            .filter(|(r, state)| {
                g.records.get(&r.item_id) != Some(&(r.version, *state))
                    || rep.damaged.contains_key(&(gid, r.item_id.to_hex()))
            })
            .collect();
        let ended = pulled
            .ended
            .iter()
            .filter(|id| !served.contains(*id))
            .filter_map(|id| match g.records.get(id) {
                Some((v, State::Live)) => Some((*id, *v)),
                _ => None,
            })
            .collect();
        let gone = if from_start {
            g.records
                .keys()
                .filter(|id| !served.contains(*id))
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        Self {
            writes,
            ended,
            gone,
        }
    }
}

impl Vault {
    /// Where the next pull of `group` starts, and the version of every record held (ended
    /// shares as tombstones), for checking the pull against the group's manifest. Starts from
    /// nothing when the group is not held, and from the start when one of its shares that had
    /// ended is no longer said to have (see the module docs) or its copy here is damaged.
    pub(in crate::vault) fn pull_start(&self, group: Id) -> (u64, BTreeMap<Id, u64>) {
        let rep = self.replica.borrow();
        let Some(g) = rep.groups.get(&group) else {
            return (0, BTreeMap::new());
        };
        let damaged = rep.damaged.keys().any(|(gid, _)| *gid == group);
        let cursor = if damaged { 0 } else { g.cursor };
        (
            cursor,
            g.records.iter().map(|(id, (v, _))| (*id, *v)).collect(),
        )
    }

    /// Whether a pull must start over: an item held as ended is no longer named as ended.
    pub(in crate::vault) fn ended_share_back(&self, group: Id, ended: &[Id]) -> bool {
        self.replica.borrow().groups.get(&group).is_some_and(|g| {
            g.records
                .iter()
                .any(|(id, (_, s))| *s == State::Ended && !ended.contains(id))
        })
    }

    /// Hold what a checked pull of a group brought: its rows and snapshot in one transaction,
    /// then its items in memory and in the search index. Returns how many records changed.
    pub(in crate::vault) fn hold(
        &self,
        team: &[u8; 16],
        keys: &GroupKeys,
        pulled: &Pulled,
        from_start: bool,
    ) -> Result<usize> {
        let gid = keys.info.group_id;
        let view = group_view(team, keys)?;
        let mut rep = self.replica.borrow_mut();
        let mut g = rep
            .groups
            .remove(&gid)
            .unwrap_or_else(|| HeldGroup::empty(view.clone()));
        g.view = view;
        g.keys = keys
            .keys
            .iter()
            .filter_map(|(e, k)| Some((*e, SymmetricKey::from_slice(k.expose_secret()).ok()?)))
            .collect();
        g.cursor = pulled.cursor;
        let plan = Plan::new(&rep, gid, &g, pulled, from_start);
        for (r, state) in &plan.writes {
            g.records.insert(r.item_id, (r.version, *state));
        }
        for (id, v) in &plan.ended {
            g.records.insert(*id, (*v, State::Ended));
        }
        for id in &plan.gone {
            g.records.remove(id);
        }
        let written = self.write_plan(gid, &g, &plan);
        if written.is_ok() {
            self.follow_plan(&mut rep, team, gid, &g, &plan, from_start);
        }
        let n = plan.writes.len() + plan.ended.len() + plan.gone.len();
        rep.groups.insert(gid, g);
        written.map(|()| n)
    }

    /// Write a plan's rows and the group's snapshot in one transaction.
    fn write_plan(&self, gid: Id, g: &HeldGroup, plan: &Plan<'_>) -> Result<()> {
        let snapshot = self.seal_snapshot(gid, g);
        self.store.write_replica(|w| {
            for (r, state) in &plan.writes {
                let live = *state == State::Live;
                w.put_group_record(
                    &gid.0,
                    &GroupRecord {
                        item_id: r.item_id.0.to_vec(),
                        version: r.version as i64,
                        deleted: !live,
                        blob: if live { r.blob.0.clone() } else { Vec::new() },
                    },
                )?;
            }
            for (id, v) in &plan.ended {
                w.put_group_record(
                    &gid.0,
                    &GroupRecord {
                        item_id: id.0.to_vec(),
                        version: *v as i64,
                        deleted: true,
                        blob: Vec::new(),
                    },
                )?;
            }
            for id in &plan.gone {
                w.delete_group_record(&gid.0, &id.0)?;
            }
            w.put_meta(&meta_key(gid), &snapshot)
        })
    }

    /// Bring the items in memory and the search index in line with a written plan. Damage found
    /// at unlock is answered by a pull from the start, which serves every record again.
    fn follow_plan(
        &self,
        rep: &mut Replica,
        team: &[u8; 16],
        gid: Id,
        g: &HeldGroup,
        plan: &Plan<'_>,
        from_start: bool,
    ) {
        if from_start {
            rep.damaged.retain(|(group, _), _| *group != gid);
        }
        let mut index = self.index.borrow_mut();
        let removed = plan
            .ended
            .iter()
            .map(|(id, _)| *id)
            .chain(plan.gone.iter().copied())
            .chain(
                plan.writes
                    .iter()
                    .filter(|(_, s)| *s != State::Live)
                    .map(|(r, _)| r.item_id),
            );
        for id in removed {
            let item = ItemId(id.0);
            rep.items.remove(&item);
            rep.damaged.remove(&(gid, id.to_hex()));
            index.remove(item);
        }
        for (r, _) in plan.writes.iter().filter(|(_, s)| *s == State::Live) {
            rep.damaged.remove(&(gid, r.item_id.to_hex()));
            match open_record(team, gid, &g.keys, r) {
                Ok((it, _)) => {
                    let held = held_item(gid, it);
                    index.upsert(&SearchDoc::in_group(&held.item, gid.0));
                    rep.items.insert(held.item.id, held);
                }
                Err(e) => {
                    let item = ItemId(r.item_id.0);
                    rep.items.remove(&item);
                    index.remove(item);
                    rep.damaged.insert((gid, r.item_id.to_hex()), e.to_string());
                }
            }
        }
        tessera_crypto::scrub_stack();
    }

    fn seal_snapshot(&self, gid: Id, g: &HeldGroup) -> Vec<u8> {
        let ad = tessera_crypto::envelope::associated_data(
            LABEL,
            &[&self.header.vault_id, gid.to_hex().as_bytes()],
        );
        tessera_crypto::envelope::seal(self.keyset.vault_key(), &g.encode(), &ad).into_bytes()
    }

    /// Forget a group this account no longer reads (removed, or its membership ended).
    pub(in crate::vault) fn drop_held(&self, gid: Id) -> Result<()> {
        self.store.write_replica(|w| {
            w.delete_group_records(&gid.0)?;
            w.delete_meta(&meta_key(gid))
        })?;
        let mut rep = self.replica.borrow_mut();
        let mut index = self.index.borrow_mut();
        rep.groups.remove(&gid);
        rep.damaged.retain(|(g, _), _| *g != gid);
        rep.items.retain(|id, it| {
            let keep = it.group != gid;
            if !keep {
                index.remove(*id);
            }
            keep
        });
        Ok(())
    }

    /// Every record held of `group`, as the server served it (ended shares as tombstones).
    pub(in crate::vault) fn held_records(&self, group: Id) -> Result<Vec<proto::ItemRecord>> {
        Ok(self
            .store
            .group_records(&group.0)?
            .into_iter()
            .filter_map(as_record)
            .collect())
    }

    /// Open every group snapshot and its records (at unlock), checking each row against the
    /// snapshot; what does not match is named as damage and a warning, and the group is pulled
    /// whole at its next pull.
    pub(in crate::vault) fn load_replica(&mut self) -> Result<()> {
        let Some(team) = self.team_id()? else {
            return Ok(());
        };
        let mut rep = Replica::default();
        for (key, _) in self.store.meta_with_prefix(PREFIX)? {
            let Some(gid) = Id::parse(&key[PREFIX.len()..]) else {
                continue;
            };
            let what = "this device's copy";
            let plain = self
                .sealed_meta(&key, LABEL, &gid.to_hex(), what)?
                .ok_or_else(|| Error::Database(format!("{key} vanished")))?;
            let g = HeldGroup::decode(gid, &plain).ok_or_else(|| {
                Error::TamperedHeader(format!("{what} of group {gid} is damaged"))
            })?;
            let mut seen = 0usize;
            for row in self.store.group_records(&gid.0)? {
                let Some(rec) = as_record(row) else {
                    continue;
                };
                let hex = rec.item_id.to_hex();
                let expected = g.records.get(&rec.item_id).copied();
                let matches = expected
                    .is_some_and(|(v, s)| v == rec.version && (s == State::Live) != rec.deleted);
                if !matches {
                    rep.damaged.insert(
                        (gid, hex),
                        "its copy on this device was changed outside Tessera".into(),
                    );
                    continue;
                }
                seen += 1;
                if rec.deleted {
                    continue;
                }
                match open_record(&team, gid, &g.keys, &rec) {
                    Ok((it, _)) => {
                        let held = held_item(gid, it);
                        rep.items.insert(held.item.id, held);
                    }
                    Err(e) => {
                        rep.damaged.insert((gid, hex), e.to_string());
                    }
                }
            }
            if seen < g.records.len() {
                for id in g.records.keys() {
                    if !rep.items.contains_key(&ItemId(id.0))
                        && !rep.damaged.contains_key(&(gid, id.to_hex()))
                        && g.records[id].1 == State::Live
                    {
                        rep.damaged.insert(
                            (gid, id.to_hex()),
                            "its copy on this device was removed outside Tessera".into(),
                        );
                    }
                }
            }
            let bad = rep.damaged.keys().filter(|(g, _)| *g == gid).count();
            if bad > 0 {
                self.warnings.push(format!(
                    "{bad} record(s) of group {} on this device are damaged or were changed outside Tessera; \
                     `tessera sync` fetches the group again",
                    g.view.name
                ));
            }
            rep.groups.insert(gid, g);
        }
        tessera_crypto::scrub_stack();
        self.replica.replace(rep);
        Ok(())
    }

    /// A held group by name or id.
    pub(in crate::vault) fn held_group(&self, query: &str) -> Result<Id> {
        let q = query.trim();
        let rep = self.replica.borrow();
        let found: Vec<Id> = rep
            .groups
            .iter()
            .filter(|(id, g)| {
                id.to_hex() == q.to_ascii_lowercase() || g.view.name.eq_ignore_ascii_case(q)
            })
            .map(|(id, _)| *id)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::NotFound(format!(
                "no group {q:?} on this device (`tessera group list`)"
            ))),
            many => Err(Error::Ambiguous {
                query: q.to_owned(),
                count: many.len(),
            }),
        }
    }

    /// Whether the caller's membership of a held group has not reached its end at `t`.
    pub(in crate::vault) fn held_access_open(&self, group: Id, t: i64) -> bool {
        self.replica
            .borrow()
            .groups
            .get(&group)
            .is_some_and(|g| g.view.expires_at.is_none_or(|end| end > t))
    }

    /// The held groups' views.
    pub fn held_groups(&self) -> Vec<GroupView> {
        self.replica
            .borrow()
            .groups
            .values()
            .map(|g| g.view.clone())
            .collect()
    }

    /// Every live item held of `group`, and the records that did not open.
    pub(in crate::vault) fn held_items(&self, group: Id) -> GroupItems {
        let rep = self.replica.borrow();
        let mut items: Vec<SharedItem> = rep
            .items
            .values()
            .filter(|it| it.group == group)
            .map(HeldItem::shared)
            .collect();
        items.sort_by_cached_key(|i| i.data.title.to_lowercase());
        GroupItems {
            items,
            damaged: rep
                .damaged
                .iter()
                .filter(|((g, _), _)| *g == group)
                .map(|((_, item), why)| DamagedRecord {
                    item: item.clone(),
                    why: why.clone(),
                })
                .collect(),
        }
    }

    /// One held item of `group` by id or exact title (case-insensitive); a damaged record asked
    /// for by id is named as such.
    pub(in crate::vault) fn held_item(&self, group: Id, query: &str) -> Result<SharedItem> {
        let q = query.trim().to_lowercase();
        let rep = self.replica.borrow();
        if rep.damaged.contains_key(&(group, q.clone())) {
            return Err(Error::Tampered { item: q });
        }
        let by_id = q
            .parse::<ItemId>()
            .ok()
            .and_then(|id| rep.items.get(&id))
            .filter(|it| it.group == group);
        let found: Vec<&HeldItem> = match by_id {
            Some(it) => vec![it],
            // By title, without a lowercase copy of every title.
            None => rep
                .items
                .values()
                .filter(|it| {
                    it.group == group
                        && it
                            .item
                            .data
                            .title
                            .chars()
                            .flat_map(char::to_lowercase)
                            .eq(q.chars())
                })
                .collect(),
        };
        match found.as_slice() {
            [one] => Ok(one.shared()),
            [] => {
                drop(rep);
                Err(self.held_items(group).not_found(Error::NotFound(format!(
                    "no item {query:?} in this group (`tessera group items GROUP` lists them)"
                ))))
            }
            many => Err(Error::Ambiguous {
                query: query.to_owned(),
                count: many.len(),
            }),
        }
    }

    /// A held shared item by id, unique id prefix (4+ hex digits) or exact title
    /// (case-insensitive): its group's id and its id, both hex.
    pub fn resolve_shared(&self, query: &str) -> Result<(String, String)> {
        let q = query.trim().to_lowercase();
        let hex_prefix = q.len() >= 4 && q.bytes().all(|c| c.is_ascii_hexdigit());
        let rep = self.replica.borrow();
        let pick = |hits: Vec<&HeldItem>| match hits.as_slice() {
            [one] => Some(Ok((one.group.to_hex(), one.item.id.to_hex()))),
            [] => None,
            many => Some(Err(Error::Ambiguous {
                query: query.trim().to_owned(),
                count: many.len(),
            })),
        };
        let by_id = |it: &&HeldItem| hex_prefix && it.item.id.to_hex().starts_with(&q);
        let by_title = |it: &&HeldItem| it.item.data.title.to_lowercase() == q;
        pick(rep.items.values().filter(by_id).collect())
            .or_else(|| pick(rep.items.values().filter(by_title).collect()))
            .unwrap_or_else(|| Err(Error::NotFound(format!("no item {:?}", query.trim()))))
    }

    /// Call `f` with the group view and item of a held shared item.
    pub fn with_shared<T>(&self, id: &ItemId, f: impl FnOnce(&GroupView, &Item) -> T) -> Option<T> {
        let rep = self.replica.borrow();
        let it = rep.items.get(id)?;
        let g = rep.groups.get(&it.group)?;
        Some(f(&g.view, &it.item))
    }

    /// Call `f` with every held shared item and its group's view.
    pub fn each_shared(&self, mut f: impl FnMut(&GroupView, &Item)) {
        let rep = self.replica.borrow();
        for it in rep.items.values() {
            if let Some(g) = rep.groups.get(&it.group) {
                f(&g.view, &it.item);
            }
        }
    }

    /// Build the search index over the personal items and every held shared item (at unlock).
    pub(in crate::vault) fn build_index(&self) {
        let rep = self.replica.borrow();
        let index = crate::search::SearchIndex::build(
            self.items.values().map(SearchDoc::from_item).chain(
                rep.items
                    .values()
                    .map(|it| SearchDoc::in_group(&it.item, it.group.0)),
            ),
        );
        self.index.replace(index);
    }
}

fn held_item(group: Id, it: SharedItem) -> HeldItem {
    HeldItem {
        group,
        epoch: it.epoch,
        item: it.into_item(),
    }
}
