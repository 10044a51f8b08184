//! The local vault file: SQLite (bundled), WAL, numbered append-only migrations.
//!
//! Rows hold ids, versions, timestamps and ciphertext only. Every edit adds a row to
//! `item_versions` (history); `items` points at the current version and marks the trash. The
//! plain values that change what the user is shown carry MACs ([`auth`]); once the vault is
//! unlocked ([`Store::set_auth`]) every write computes them and every write that reads a row
//! first checks it, so an edit made outside Tessera is refused, not built upon.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::item::{hex, ItemId};

pub mod auth;
mod schema;
mod writer;

pub use auth::{ItemState, RowAuth};
pub use schema::SCHEMA_VERSION;
pub use writer::Writer;

/// `PRAGMA application_id`: marks the file as a Tessera vault ("TSV1").
const APPLICATION_ID: i64 = 0x5453_5631;

/// `meta` key of the wrapped keyset (sealed under the key-encryption key).
const META_KEYSET: &str = "keyset";
/// `meta` key of the wrapped keyset's SHA-256.
const META_KEYSET_SUM: &str = "keyset_sha256";

/// `meta` key of the MACed item count ([`RowAuth::count`]).
const META_ITEM_COUNT: &str = "item_count";

/// What [`Error::TamperedRecord`] says of an item row whose MAC does not match.
pub const ITEM_STATE_CHANGED: &str =
    "its current version, creation time or trash state does not match its MAC";
/// What [`Error::TamperedRecord`] says of an outbox entry whose MAC does not match.
const OUTBOX_CHANGED: &str = "its entry in the upload queue (outbox) does not match its MAC";
/// What [`Error::TamperedRecord`] says of a `seen` row whose MAC does not match.
const SEEN_CHANGED: &str =
    "the record of the newest version the team server has shown does not match its MAC";

/// Item id → version.
pub type VersionMap = HashMap<Vec<u8>, i64>;

/// One record of a group's replica, sealed as the server served it.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    /// The item id.
    pub item_id: Vec<u8>,
    /// Its version.
    pub version: i64,
    /// A tombstone.
    pub deleted: bool,
    /// The sealed version (empty for a tombstone).
    pub blob: Vec<u8>,
}

/// One stored item version, still encrypted.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// The item id (as stored).
    pub item_id: Vec<u8>,
    /// The version number.
    pub version: i64,
    /// Unix time this version was written.
    pub created_at: i64,
    /// Unix time the item's secrets last changed, as of this version.
    pub secret_changed_at: i64,
    /// The content format number.
    pub format: i64,
    /// The item key, sealed under the vault key.
    pub item_key: Vec<u8>,
    /// The content, sealed under the item key.
    pub content: Vec<u8>,
}

/// An item's row and its current version, as stored (nothing checked yet).
#[derive(Debug, Clone)]
pub struct CurrentRow {
    /// The item id (as stored).
    pub item_id: Vec<u8>,
    /// The row's plain values.
    pub state: ItemState,
    /// The row's MAC (`None`: the column is empty).
    pub mac: Option<Vec<u8>>,
    /// The version the row points at; `None` when that version is missing from the file.
    pub row: Option<VersionRow>,
}

/// One outbox entry: a version (or a deletion) waiting for the team server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The item id (as stored).
    pub item_id: Vec<u8>,
    /// The version to upload (for a deletion: the version the deletion makes).
    pub version: i64,
    /// A deletion.
    pub deleted: bool,
}

/// The newest version of each item the team server has shown; each is checked against its MAC
/// when it is looked up.
#[derive(Debug)]
pub struct Seen<'a> {
    rows: HashMap<Vec<u8>, (i64, Option<Vec<u8>>)>,
    auth: &'a RowAuth,
}

impl Seen<'_> {
    /// The newest version the server has shown of `item_id`, if any; an entry whose MAC does not
    /// match is [`Error::TamperedRecord`].
    pub fn get(&self, item_id: &[u8]) -> Result<Option<i64>> {
        match self.rows.get(item_id) {
            None => Ok(None),
            Some((v, mac)) if self.auth.seen_ok(item_id, *v, mac.as_deref()) => Ok(Some(*v)),
            Some(_) => Err(tampered(item_id, SEEN_CHANGED)),
        }
    }

    /// Every item the server has shown, with the newest version of each; an entry whose MAC
    /// does not match is [`Error::TamperedRecord`].
    pub fn all(&self) -> Result<Vec<(Vec<u8>, i64)>> {
        self.rows
            .keys()
            .map(|id| Ok((id.clone(), self.get(id)?.unwrap_or_default())))
            .collect()
    }
}

fn tampered(item_id: &[u8], what: &str) -> Error {
    Error::TamperedRecord {
        item: hex(item_id),
        title: None,
        what: what.into(),
    }
}

/// An open vault file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    outbox: bool,
    auth: Option<RowAuth>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

impl Store {
    /// Create a new, empty vault file. Refuses to overwrite an existing file.
    pub fn create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Err(Error::AlreadyExists(path.display().to_string()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        restrict_mode(path)?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            outbox: false,
            auth: None,
        };
        store
            .conn
            .pragma_update(None, "application_id", APPLICATION_ID)?;
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Open an existing vault file, checking it is one and that this build can read it.
    pub fn open(path: &Path) -> Result<Self> {
        let not_a_vault = |reason: &str| Error::NotAVault {
            path: path.display().to_string(),
            reason: reason.into(),
        };
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!(
                "no vault at {}; create one with `tessera init`",
                path.display()
            )),
            _ => Error::Io {
                context: format!("reading {}", path.display()),
                source: e,
            },
        })?;
        if !meta.is_file() {
            return Err(not_a_vault("it is not a regular file"));
        }
        check_sqlite_header(path).map_err(&not_a_vault)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_a_vault(&format!("SQLite cannot open it ({e})")))?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
            outbox: false,
            auth: None,
        };
        let app: i64 = store
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| not_a_vault(&format!("the database is damaged or truncated ({e})")))?;
        if app != APPLICATION_ID {
            return Err(not_a_vault(
                "it is an SQLite database of another application",
            ));
        }
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::NewerFormat {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let mut store = store;
        store
            .configure()
            .map_err(|e| not_a_vault(&format!("the database is damaged ({e})")))?;
        store.migrate()?;
        // Reading every table once catches truncation now, with a clear message, instead of later.
        let check: String = store
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| not_a_vault(&format!("the database is damaged or truncated ({e})")))?;
        if check != "ok" {
            return Err(not_a_vault(&format!("the database is damaged: {check}")));
        }
        Ok(store)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> rusqlite::Result<()> {
        // WAL with FULL sync: a transaction that returned is on disk, whatever happens after.
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows (purged items, old headers) are overwritten, not left in free pages.
        self.conn.pragma_update(None, "secure_delete", "ON")?;
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        schema::migrate(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Authenticate rows from now on: the vault is unlocked and its MAC key known.
    pub fn set_auth(&mut self, auth: RowAuth) {
        self.auth = Some(auth);
    }

    /// The MAC key of an unlocked vault.
    pub fn auth(&self) -> Result<&RowAuth> {
        self.auth.as_ref().ok_or(Error::Locked)
    }

    /// Record every new version and deletion in the outbox (the vault is linked to a team
    /// server).
    pub fn set_outbox(&mut self, on: bool) {
        self.outbox = on;
    }

    /// Run `f` in one transaction: everything or nothing is written.
    /// When the set of items changed, the MACed item count is rewritten before the commit.
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let w = Writer::new(&tx, self.outbox, self.auth.as_ref());
        let out = f(&w)?;
        if w.members_changed.get() {
            w.record_count()?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Run `f` in one transaction over the group replica's rows and `meta` values only (never
    /// items: their count is not recorded again), from a shared borrow.
    pub fn write_replica<T>(&self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.unchecked_transaction()?;
        let w = Writer::new(&tx, false, self.auth.as_ref());
        let out = f(&w)?;
        tx.commit()?;
        Ok(out)
    }

    /// Set one `meta` value on its own (one statement, so it is written whole or not at all).
    pub fn put_meta_now(&self, key: &str, value: &[u8]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, value],
        )?;
        Ok(())
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// The wrapped keyset, checked against its checksum first: a mismatch is damage (a flipped
    /// bit on disk, an edit), named as such before any key derivation, where a wrong password
    /// could not be told from it. `None` before the keyset is written.
    pub fn keyset(&self) -> Result<Option<Vec<u8>>> {
        let Some(wrapped) = self.meta(META_KEYSET)? else {
            return Ok(None);
        };
        let damaged = |why: &str| Error::DamagedKeyset {
            path: self.path.display().to_string(),
            why: why.into(),
        };
        let sum = self
            .meta(META_KEYSET_SUM)?
            .ok_or_else(|| damaged("its checksum is missing"))?;
        if Sha256::digest(&wrapped)[..] != sum[..] {
            return Err(damaged("its checksum does not match"));
        }
        Ok(Some(wrapped))
    }

    /// Every item's row and current version, in one query.
    pub fn current_rows(&self) -> Result<Vec<CurrentRow>> {
        let mut stmt = self.conn.prepare(CURRENT)?;
        let rows = stmt.query_map([], current_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One item's row and current version, if the item exists.
    pub fn current_row(&self, id: &[u8]) -> Result<Option<CurrentRow>> {
        Ok(self
            .conn
            .query_row(&format!("{CURRENT} WHERE i.id = ?1"), [id], current_row)
            .optional()?)
    }

    /// The item count recorded with the last change to the set of items, if it is there and
    /// its MAC matches.
    pub fn recorded_count(&self) -> Result<Option<u64>> {
        let auth = self.auth()?;
        Ok(self
            .meta(META_ITEM_COUNT)?
            .and_then(|raw| auth.read_count(&raw)))
    }

    /// All stored versions of one item, oldest first.
    pub fn versions(&self, id: &ItemId) -> Result<Vec<VersionRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT item_id, version, created_at, secret_changed_at, format, item_key, content
             FROM item_versions WHERE item_id = ?1 ORDER BY version",
        )?;
        let rows = stmt.query_map([&id.0[..]], version_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The outbox, oldest first, each entry checked against its MAC: one that does not match
    /// is [`Error::TamperedRecord`] and nothing is returned (nothing is uploaded).
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let auth = self.auth()?;
        let mut stmt = self.conn.prepare(
            "SELECT item_id, version, deleted, mac FROM outbox ORDER BY version, item_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                OutboxEntry {
                    item_id: r.get(0)?,
                    version: r.get(1)?,
                    deleted: r.get(2)?,
                },
                r.get::<_, Option<Vec<u8>>>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (e, mac) = row?;
            if auth.outbox_ok(&e.item_id, e.version, e.deleted, mac.as_deref()) {
                Ok(e)
            } else {
                Err(tampered(&e.item_id, OUTBOX_CHANGED))
            }
        })
        .collect()
    }

    /// One stored version.
    pub fn version(&self, item_id: &[u8], version: i64) -> Result<Option<VersionRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT item_id, version, created_at, secret_changed_at, format, item_key, content
                 FROM item_versions WHERE item_id = ?1 AND version = ?2",
                params![item_id, version],
                version_row,
            )
            .optional()?)
    }

    /// For every item: the highest version the server has shown (checked when looked up), and
    /// the current local version as stored (writes check it again before they build on it).
    pub fn sync_states(&self) -> Result<(Seen<'_>, VersionMap)> {
        let auth = self.auth()?;
        let mut stmt = self
            .conn
            .prepare("SELECT item_id, version, mac FROM seen")?;
        let seen = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        let mut stmt = self.conn.prepare("SELECT id, version FROM items")?;
        let local = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<VersionMap>>()?;
        Ok((Seen { rows: seen, auth }, local))
    }

    /// Every record this device holds of `group`, ascending by item id.
    pub fn group_records(&self, group: &[u8]) -> Result<Vec<GroupRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT item_id, version, deleted, blob FROM group_records
             WHERE group_id = ?1 ORDER BY item_id",
        )?;
        let rows = stmt.query_map([group], |r| {
            Ok(GroupRecord {
                item_id: r.get(0)?,
                version: r.get(1)?,
                deleted: r.get(2)?,
                blob: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The `meta` keys that start with `prefix`, and their values.
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1")?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Number of items, and of those in the trash. Needs no key.
    pub fn counts(&self) -> Result<(u64, u64)> {
        Ok(self
            .conn
            .query_row("SELECT count(*), count(trashed_at) FROM items", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
            })?)
    }
}

/// The item rows with their current versions; a row whose version is missing still comes back.
const CURRENT: &str =
    "SELECT i.id, i.version, i.created_at, i.trashed_at, i.mac, v.version, v.created_at,
            v.secret_changed_at, v.format, v.item_key, v.content
     FROM items i LEFT JOIN item_versions v ON v.item_id = i.id AND v.version = i.version";

fn current_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CurrentRow> {
    let item_id: Vec<u8> = r.get(0)?;
    let row = match r.get::<_, Option<i64>>(5)? {
        None => None,
        Some(version) => Some(VersionRow {
            item_id: item_id.clone(),
            version,
            created_at: r.get(6)?,
            secret_changed_at: r.get(7)?,
            format: r.get(8)?,
            item_key: r.get(9)?,
            content: r.get(10)?,
        }),
    };
    Ok(CurrentRow {
        item_id,
        state: ItemState {
            version: r.get(1)?,
            created_at: r.get(2)?,
            trashed_at: r.get(3)?,
        },
        mac: r.get(4)?,
        row,
    })
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        item_id: r.get(0)?,
        version: r.get(1)?,
        created_at: r.get(2)?,
        secret_changed_at: r.get(3)?,
        format: r.get(4)?,
        item_key: r.get(5)?,
        content: r.get(6)?,
    })
}

/// SQLite files start with a fixed 16-byte magic and a header of at least 100 bytes.
fn check_sqlite_header(path: &Path) -> std::result::Result<(), &'static str> {
    use std::io::Read;
    let mut head = [0u8; 100];
    let mut f = std::fs::File::open(path).map_err(|_| "it cannot be read")?;
    let n = f.read(&mut head).map_err(|_| "it cannot be read")?;
    if n == 0 {
        return Err("the file is empty");
    }
    if n < 16 || &head[..16] != b"SQLite format 3\0" {
        return Err("it is not an SQLite database");
    }
    if n < 100 {
        return Err("the file is truncated");
    }
    Ok(())
}

/// Create a directory (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Io {
            context: format!("creating {}", dir.display()),
            source: e,
        })
}

fn restrict_mode(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| Error::Io {
        context: format!("restricting {}", path.display()),
        source: e,
    })
}
