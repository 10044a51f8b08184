//! The vault facade: create, unlock, read and change items, lock.
//!
//! An unlocked [`Vault`] holds the keyset and every decrypted item; dropping it (locking)
//! zeroizes all of them. A locked vault is simply no `Vault` value: callers keep an
//! `Option<Vault>`, and `None` is locked.
//!
//! Keys, per DESIGN.md: the KEK (from the master password and the Account Secret Key) unwraps
//! the keyset; the keyset's vault key wraps one random key per item *version*; that key
//! encrypts the version's content with associated data binding the vault id, item id, version,
//! format and timestamps, so a ciphertext cannot be moved to another item or version unnoticed.
//! Which version is current, and whether the item is in the trash, are plain columns with a MAC
//! under a key derived from the vault key (`store::auth`), so an older version cannot be made
//! current again, nor an item hidden, from outside.
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tessera_crypto::envelope::{associated_data, Sealed};
use tessera_crypto::kdf::{self, KdfParams};
use tessera_crypto::keyset::Keyset;
use tessera_crypto::{AccountSecretKey, CryptoError};

use crate::error::{Error, Result};
use crate::item::{Item, ItemData, ItemId};
use crate::search::{Query, SearchDoc, SearchIndex, SearchResults};
use crate::store::{RowAuth, Store, VersionRow};
use sealer::{Damage, Sealer};

mod audit;
pub mod export;
mod groups;
mod header;
mod manifest;
mod offboard;
mod sealer;
mod sync;

pub use audit::{AuditFilter, AuditRow, AuditVerdict, TeamMember};
pub use groups::{
    verify_group_log, AccessRequestView, AccessView, CreatedToken, DamagedRecord, GroupItems,
    GroupKeyring, GroupView, MachineToken, MemberView, SharedItem, TokenClient, TokenView,
};
pub use header::Header;
pub use offboard::{
    ExposedSecret, OffboardOutcome, OffboardingReport, RotationDue, UnreadableGroup, WindowView,
};
pub use sync::{root_fingerprint, Credentials, LinkInfo, SyncReport};
/// Roles and audit actions, as the shell and the CLI name them.
pub use tessera_protocol::{AuditAction, GroupRole};

const META_HEADER: &str = "header";

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A Unix time as `YYYY-MM-DD HH:MM` UTC.
pub fn utc_minute(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// One past version of an item, decrypted.
#[derive(Debug)]
pub struct HistoryEntry {
    /// The version number.
    pub version: u64,
    /// Unix time it was written.
    pub created_at: i64,
    /// Its content.
    pub data: ItemData,
}

/// An unlocked vault.
pub struct Vault {
    store: Store,
    header: Header,
    keyset: Keyset,
    items: HashMap<ItemId, Item>,
    /// Items that did not open, by id (hex), with why.
    damaged: BTreeMap<String, Damage>,
    /// What is wrong with the vault as a whole (an item row removed from outside).
    warnings: Vec<String>,
    /// Over personal and held shared items. In a cell, as is the replica: a verified pull of a
    /// group (which reads may make) updates both.
    index: RefCell<SearchIndex>,
    /// Every group this account reads, as this device holds it (`groups::replica`).
    replica: RefCell<groups::Replica>,
    /// The replica is kept up to date by a change stream this process follows.
    live: std::cell::Cell<bool>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Vault({}, {} items)",
            self.store.path().display(),
            self.items.len()
        )
    }
}

impl Vault {
    /// Create this user's vault in `dir`: a new Account Secret Key (its device copy written to
    /// `dir`) and a new vault file, unlocked. Refuses when a vault exists there already.
    pub fn create_in(
        dir: &crate::paths::VaultDir,
        password: &[u8],
        params: KdfParams,
    ) -> Result<(Self, AccountSecretKey)> {
        if dir.vault_file().exists() {
            return Err(Error::AlreadyExists(dir.vault_file().display().to_string()));
        }
        crate::store::create_private_dir(dir.dir())?;
        let secret_key = AccountSecretKey::generate();
        dir.write_secret_key(&secret_key)?;
        let vault =
            Self::create(&dir.vault_file(), password, &secret_key, params).inspect_err(|_| {
                #[allow(clippy::let_underscore_must_use)] // cleanup: the create error is reported
                let _ = std::fs::remove_file(dir.secret_key_file());
            })?;
        Ok((vault, secret_key))
    }

    /// Create a new vault file protected by `password` and `secret_key`, unlocked.
    pub fn create(
        path: &Path,
        password: &[u8],
        secret_key: &AccountSecretKey,
        params: KdfParams,
    ) -> Result<Self> {
        params.check()?;
        let mut vault_id = [0u8; 16];
        tessera_crypto::random_bytes(&mut vault_id);
        let header = Header {
            format: header::HEADER_FORMAT,
            vault_id,
            kdf: params,
            salt: kdf::random_salt(),
            created_at: now(),
        };
        let keyset = Keyset::generate();
        let kek =
            kdf::derive_master_key(password, secret_key, &header.salt, params)?.encryption_key();
        let wrapped = keyset.wrap(&kek, &keyset_ad(&header));
        let mut store = Store::create(path)?;
        store.set_auth(RowAuth::new(keyset.vault_key(), header.vault_id));
        store.write(|w| {
            w.put_meta(META_HEADER, &header.encode())?;
            w.put_keyset(wrapped.as_bytes())?;
            w.authenticate_all()
        })?;
        Ok(Self::with_keys(store, header, keyset))
    }

    /// An unlocked vault with no items loaded yet.
    fn with_keys(store: Store, header: Header, keyset: Keyset) -> Self {
        Self {
            store,
            header,
            keyset,
            items: HashMap::new(),
            damaged: BTreeMap::new(),
            warnings: Vec::new(),
            index: RefCell::new(SearchIndex::new()),
            replica: RefCell::default(),
            live: std::cell::Cell::new(false),
        }
    }

    /// Unlock with the master password and Account Secret Key. Items that fail to decrypt, or
    /// whose row does not match its MAC, are listed by [`Vault::damaged`]; every other item
    /// opens. When the header's KDF parameters are weaker than `target`, they are upgraded (the
    /// keyset is re-wrapped); a vault written before rows carried MACs gets them now.
    ///
    /// A wrong password or secret key gives [`Error::WrongPassword`] after the full key
    /// derivation, and writes nothing.
    pub fn unlock(
        path: &Path,
        password: &[u8],
        secret_key: &AccountSecretKey,
        target: KdfParams,
    ) -> Result<Self> {
        Self::open(Store::open(path)?, password, secret_key, target, false)
    }

    /// Unlock an open store; `fresh` for a file just made from the server's copy of the keys,
    /// with no rows yet (its item count is recorded now).
    fn open(
        mut store: Store,
        password: &[u8],
        secret_key: &AccountSecretKey,
        target: KdfParams,
        fresh: bool,
    ) -> Result<Self> {
        let (header, wrapped) = read_header(&store)?;
        header.kdf.check().map_err(|e| match e {
            CryptoError::WeakKdf { found, floor } => Error::TamperedHeader(format!(
                "it asks for key derivation {found}, below the minimum {floor}; someone may have edited the file"
            )),
            other => Error::TamperedHeader(other.to_string()),
        })?;
        let kek = kdf::derive_master_key(password, secret_key, &header.salt, header.kdf)?
            .encryption_key();
        let keyset = Keyset::unwrap(&kek, &wrapped, &keyset_ad(&header)).map_err(|e| match e {
            CryptoError::Decrypt => Error::WrongPassword,
            other => Error::Crypto(other),
        })?;
        store.set_auth(RowAuth::new(keyset.vault_key(), header.vault_id));
        // One rewrite of the header and keyset for whatever is due: stronger KDF parameters,
        // or the first unlock of a format 1 vault, whose rows get their MACs (trusting what the
        // file holds now, as every unlock before this build did).
        let stronger = header.kdf.weaker_than(&target) && target.check().is_ok();
        let adopt = header.format < header::HEADER_FORMAT || fresh;
        let header = if stronger || adopt {
            let next = Header {
                format: header::HEADER_FORMAT,
                kdf: if stronger { target } else { header.kdf },
                salt: if stronger {
                    kdf::random_salt()
                } else {
                    header.salt
                },
                ..header
            };
            let kek = if stronger {
                kdf::derive_master_key(password, secret_key, &next.salt, target)?.encryption_key()
            } else {
                kek
            };
            let wrapped = keyset.wrap(&kek, &keyset_ad(&next));
            store.write(|w| {
                if adopt {
                    w.authenticate_all()?;
                }
                w.put_meta(META_HEADER, &next.encode())?;
                w.put_keyset(wrapped.as_bytes())
            })?;
            next
        } else {
            drop(kek);
            header
        };
        let mut vault = Self::with_keys(store, header, keyset);
        vault.load_items()?;
        vault.load_replica()?;
        vault.build_index();
        vault.enable_outbox_if_linked()?;
        Ok(vault)
    }

    /// Decrypt every item's current version, on all cores, each after its row's MAC; then
    /// compare the number of rows with the recorded count.
    fn load_items(&mut self) -> Result<()> {
        let rows = self.store.current_rows()?;
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(8);
        let chunk = rows.len().div_ceil(threads).max(256);
        let this = self.sealer();
        let this = &this;
        let auth = self.store.auth()?;
        let results: Vec<Vec<std::result::Result<Item, (String, Damage)>>> =
            std::thread::scope(|s| {
                let handles: Vec<_> = rows
                    .chunks(chunk)
                    .map(|part| {
                        s.spawn(move || {
                            let out = part
                                .iter()
                                .map(|cur| {
                                    this.open_item(auth, cur)
                                        .map_err(|d| (crate::item::hex(&cur.item_id), d))
                                })
                                .collect();
                            tessera_crypto::scrub_stack();
                            out
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("decrypt workers do not panic"))
                    .collect()
            });
        self.items.reserve(rows.len());
        for r in results.into_iter().flatten() {
            match r {
                Ok(item) => {
                    self.items.insert(item.id, item);
                }
                Err((id, damage)) => {
                    self.damaged.insert(id, damage);
                }
            }
        }
        self.warnings = count_warning(self.store.recorded_count()?, rows.len() as u64)
            .into_iter()
            .collect();
        Ok(())
    }

    fn sealer(&self) -> Sealer<'_> {
        Sealer {
            vault_id: &self.header.vault_id,
            vault_key: self.keyset.vault_key(),
        }
    }

    /// The vault's id, in hex.
    pub fn vault_id(&self) -> String {
        ItemId(self.header.vault_id).to_hex()
    }

    /// The header in force (KDF parameters and so on).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The vault file's path.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// Ids of items whose stored data did not authenticate at unlock, sorted.
    pub fn damaged(&self) -> Vec<String> {
        self.damaged.keys().cloned().collect()
    }

    /// What is wrong with the vault file as a whole, found at unlock (an item removed from
    /// outside Tessera); each says what to do.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The error for reading a damaged item, by id (hex).
    fn damage_error(&self, id: &str) -> Option<Error> {
        self.damaged.get(id).map(|d| d.error(id))
    }

    /// Every decrypted item, trash included, in no particular order.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.items.values()
    }

    /// Number of decrypted items (trash included).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the vault holds no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// One item.
    pub fn get(&self, id: &ItemId) -> Result<&Item> {
        self.items.get(id).ok_or_else(|| {
            self.damage_error(&id.to_hex())
                .unwrap_or_else(|| Error::NotFound(format!("no item with id {id}")))
        })
    }

    /// Find an item by id, unique id prefix (4+ hex digits) or exact title (case-insensitive;
    /// items in the trash only when nothing outside it matches).
    pub fn resolve(&self, query: &str) -> Result<ItemId> {
        let q = query.trim();
        if let Ok(id) = q.parse::<ItemId>() {
            self.get(&id)?;
            return Ok(id);
        }
        let lower = q.to_lowercase();
        let hex_prefix = q.len() >= 4 && q.bytes().all(|c| c.is_ascii_hexdigit());
        if hex_prefix {
            let hits: Vec<ItemId> = self
                .items
                .keys()
                .filter(|id| id.to_hex().starts_with(&lower))
                .copied()
                .collect();
            if hits.len() == 1 {
                return Ok(hits[0]);
            }
        }
        for in_trash in [false, true] {
            let hits: Vec<ItemId> = self
                .items
                .values()
                .filter(|i| {
                    i.trashed_at.is_some() == in_trash && i.data.title.to_lowercase() == lower
                })
                .map(|i| i.id)
                .collect();
            match hits.len() {
                0 => {}
                1 => return Ok(hits[0]),
                n => {
                    return Err(Error::Ambiguous {
                        query: q.to_owned(),
                        count: n,
                    })
                }
            }
        }
        // A damaged item is named when the query is its id prefix or, if its content still
        // opened, its title.
        let damaged: Vec<&String> = self
            .damaged
            .iter()
            .filter(|(id, d)| {
                (hex_prefix && id.starts_with(&lower))
                    || d.title().is_some_and(|t| t.to_lowercase() == lower)
            })
            .map(|(id, _)| id)
            .collect();
        if let [id] = damaged[..] {
            return Err(self.damaged[id].error(id));
        }
        if !damaged.is_empty() {
            return Err(Error::Tampered { item: lower });
        }
        Err(Error::NotFound(format!(
            "no item is called {q:?}; `tessera search {q}` finds near matches"
        )))
    }

    /// Add a new item.
    pub fn add(&mut self, data: ItemData) -> Result<ItemId> {
        Ok(self.add_many(vec![data])?[0])
    }

    /// Add many items in one transaction (an import): all or none are stored.
    pub fn add_many(&mut self, items: Vec<ItemData>) -> Result<Vec<ItemId>> {
        for (i, d) in items.iter().enumerate() {
            d.validate().map_err(|e| {
                if items.len() > 1 {
                    Error::Invalid(format!("item {}: {e}", i + 1))
                } else {
                    e
                }
            })?;
        }
        let t = now();
        let ids: Vec<ItemId> = items.iter().map(|_| ItemId::random()).collect();
        let rows: Vec<VersionRow> = ids
            .iter()
            .zip(&items)
            .map(|(id, d)| self.sealer().seal_version(id, 1, t, t, d))
            .collect();
        tessera_crypto::scrub_stack();
        self.store
            .write(|w| rows.iter().try_for_each(|r| w.put_version(r)))?;
        for (id, data) in ids.iter().zip(items) {
            self.items.insert(
                *id,
                Item {
                    id: *id,
                    version: 1,
                    created_at: t,
                    updated_at: t,
                    secret_changed_at: t,
                    trashed_at: None,
                    data,
                },
            );
            self.reindex(id);
        }
        Ok(ids)
    }

    /// Replace an item's content with `data` as a new version; the old one stays in the history.
    /// Returns the new version number.
    pub fn update(&mut self, id: &ItemId, data: ItemData) -> Result<u64> {
        data.validate()?;
        let old = self.get(id)?;
        let t = now().max(old.updated_at);
        let secret_changed_at = if old.data.secrets_equal(&data) {
            old.secret_changed_at
        } else {
            t
        };
        let version = old.version + 1;
        let row = self
            .sealer()
            .seal_version(id, version, t, secret_changed_at, &data);
        tessera_crypto::scrub_stack();
        self.store.write(|w| w.put_version(&row))?;
        let item = self.items.get_mut(id).expect("get() found it above");
        item.version = version;
        item.updated_at = t;
        item.secret_changed_at = secret_changed_at;
        item.data = data;
        self.reindex(id);
        Ok(version)
    }

    fn reindex(&mut self, id: &ItemId) {
        if let Some(item) = self.items.get(id) {
            self.index.borrow_mut().upsert(&SearchDoc::from_item(item));
        }
    }

    /// Ranked fuzzy search over titles, text fields, tags and folders (never concealed values).
    pub fn search(&self, query: &Query<'_>) -> SearchResults {
        self.index.borrow().search(query)
    }

    /// Approximate bytes the search index holds.
    pub fn search_memory_bytes(&self) -> usize {
        self.index.borrow().memory_bytes()
    }

    /// Move an item to the trash (it keeps its history and can be restored).
    pub fn trash(&mut self, id: &ItemId) -> Result<()> {
        self.get(id)?;
        let t = now();
        self.store.write(|w| w.set_trashed(id, Some(t)))?;
        self.items.get_mut(id).expect("checked above").trashed_at = Some(t);
        self.reindex(id);
        Ok(())
    }

    /// Take an item out of the trash.
    pub fn untrash(&mut self, id: &ItemId) -> Result<()> {
        if self.get(id)?.trashed_at.is_none() {
            return Err(Error::Invalid(format!("item {id} is not in the trash")));
        }
        self.store.write(|w| w.set_trashed(id, None))?;
        self.items.get_mut(id).expect("checked above").trashed_at = None;
        self.reindex(id);
        Ok(())
    }

    /// Delete an item that is in the trash, with its history, for good.
    pub fn purge(&mut self, id: &ItemId) -> Result<()> {
        if self.get(id)?.trashed_at.is_none() {
            return Err(Error::Invalid(format!(
                "item {id} is not in the trash; move it there first"
            )));
        }
        self.store.write(|w| w.purge(id))?;
        self.items.remove(id);
        self.index.borrow_mut().remove(*id);
        Ok(())
    }

    /// Every version of an item, oldest first, decrypted.
    pub fn history(&self, id: &ItemId) -> Result<Vec<HistoryEntry>> {
        self.get(id)?;
        let sealer = self.sealer();
        let out = self
            .store
            .versions(id)?
            .iter()
            .map(|row| {
                Ok(HistoryEntry {
                    version: row.version as u64,
                    created_at: row.created_at,
                    data: sealer.open_version(row)?,
                })
            })
            .collect();
        tessera_crypto::scrub_stack();
        out
    }

    /// Make an old version current again (as a new version, so nothing is lost).
    pub fn restore_version(&mut self, id: &ItemId, version: u64) -> Result<u64> {
        let mut history = self.history(id)?;
        let pos = history
            .iter()
            .position(|h| h.version == version)
            .ok_or_else(|| Error::NotFound(format!("item {id} has no version {version}")))?;
        let entry = history.swap_remove(pos);
        self.update(id, entry.data)
    }

    /// Change the master password: `old` is checked first (wrong → [`Error::WrongPassword`]),
    /// then the keyset is re-wrapped under the new KEK; items are not touched.
    /// `secret_key` is the account's (unchanged) Account Secret Key.
    pub fn change_password(
        &mut self,
        old: &[u8],
        new_password: &[u8],
        secret_key: &AccountSecretKey,
        params: KdfParams,
    ) -> Result<()> {
        if self.link_info()?.is_some() {
            return Err(Error::Invalid(
                "this vault is linked to a team server, which keeps a copy of its keys for new devices; \
                 changing the master password of a linked vault is not supported yet, so nothing was changed"
                    .into(),
            ));
        }
        self.check_password(old, secret_key)?;
        params.check()?;
        let header = Header {
            kdf: params,
            salt: kdf::random_salt(),
            ..self.header.clone()
        };
        let kek = kdf::derive_master_key(new_password, secret_key, &header.salt, params)?
            .encryption_key();
        let wrapped = self.keyset.wrap(&kek, &keyset_ad(&header));
        self.store.write(|w| {
            w.put_meta(META_HEADER, &header.encode())?;
            w.put_keyset(wrapped.as_bytes())
        })?;
        self.header = header;
        Ok(())
    }

    /// Check `password` against the vault file without changing anything: `Ok` when it (with
    /// `secret_key`) opens the stored keyset, [`Error::WrongPassword`] when not. Costs one key
    /// derivation, as an unlock does.
    pub fn check_password(&self, password: &[u8], secret_key: &AccountSecretKey) -> Result<()> {
        let (header, wrapped) = read_header(&self.store)?;
        let kek = kdf::derive_master_key(password, secret_key, &header.salt, header.kdf)?
            .encryption_key();
        Keyset::unwrap(&kek, &wrapped, &keyset_ad(&header)).map_err(|_| Error::WrongPassword)?;
        Ok(())
    }

    /// Say whether this process follows the server's change stream and has synced since it
    /// opened (the agent does): while it does, reads of a group this device holds answer from
    /// its replica without asking the server first; otherwise each read brings the group up
    /// to date when the server answers.
    pub fn set_live(&self, live: bool) {
        self.live.set(live);
    }

    /// Lock: drop every key and decrypted item (each zeroizes itself).
    pub fn lock(self) {
        drop(self);
    }
}

/// The warning for an item count that does not match the rows found, if any.
fn count_warning(recorded: Option<u64>, found: u64) -> Option<String> {
    let restore = "restore the vault file from a backup";
    match recorded {
        None => Some(format!(
            "the vault file's record of how many items it holds is missing or does not match its MAC \
             (it was changed outside Tessera); {found} items were found; {restore}"
        )),
        Some(n) if n > found => Some(format!(
            "the vault file recorded {n} items but holds {found}: {} removed outside Tessera; {restore}",
            if n - found == 1 { "one was".to_owned() } else { format!("{} were", n - found) }
        )),
        Some(n) if n < found => Some(format!(
            "the vault file recorded {n} items but holds {found}: rows were added outside Tessera; {restore}"
        )),
        Some(_) => None,
    }
}

/// The number of items (and of those in the trash) in a vault file, without unlocking it.
pub fn locked_counts(path: &Path) -> Result<(u64, u64)> {
    Store::open(path)?.counts()
}

/// The header and the wrapped keyset, each checked against its checksum (no key needed).
fn read_header(store: &Store) -> Result<(Header, Sealed)> {
    let raw = store
        .meta(META_HEADER)?
        .ok_or_else(|| Error::TamperedHeader("the header is missing".into()))?;
    let header = Header::decode(&raw)?;
    let damaged = |why: &str| Error::DamagedKeyset {
        path: store.path().display().to_string(),
        why: why.into(),
    };
    let wrapped = store.keyset()?.ok_or_else(|| damaged("it is missing"))?;
    let wrapped = Sealed::from_bytes(wrapped).map_err(|_| damaged("it is truncated"))?;
    Ok((header, wrapped))
}

fn keyset_ad(header: &Header) -> Vec<u8> {
    associated_data("tessera keyset", &[&header.body()])
}
