//! The local vault file: SQLite (bundled), WAL, numbered append-only migrations.
//!
//! Rows hold ids, versions, timestamps and ciphertext only. Every edit adds a row to
//! `item_versions` (history); `items` points at the current version and marks the trash.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::item::ItemId;

/// `PRAGMA application_id`: marks the file as a Tessera vault ("TSV1").
const APPLICATION_ID: i64 = 0x5453_5631;

/// One schema step: SQL, then, for a step that must compute something, Rust in the same
/// transaction.
struct Migration {
    sql: &'static str,
    then: Option<fn(&Transaction<'_>) -> Result<()>>,
}

/// Migrations, applied in order; `PRAGMA user_version` records how many ran. Append only.
const MIGRATIONS: &[Migration] = &[
    // 1: the vault header, items and their versions.
    Migration {
        sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
     CREATE TABLE items (
         id BLOB PRIMARY KEY,
         version INTEGER NOT NULL,
         created_at INTEGER NOT NULL,
         trashed_at INTEGER
     ) WITHOUT ROWID;
     CREATE TABLE item_versions (
         item_id BLOB NOT NULL REFERENCES items(id) ON DELETE CASCADE,
         version INTEGER NOT NULL,
         created_at INTEGER NOT NULL,
         secret_changed_at INTEGER NOT NULL,
         format INTEGER NOT NULL,
         item_key BLOB NOT NULL,
         content BLOB NOT NULL,
         PRIMARY KEY (item_id, version)
     ) WITHOUT ROWID;",
        then: None,
    },
    // 2: sync. `outbox`: versions (and deletions) not yet acknowledged by the team server.
    // `seen`: the highest version of each item the server has shown, so an older one offered
    // later (a rollback) is refused even after the item is deleted here.
    Migration {
        sql: "CREATE TABLE outbox (
         item_id BLOB NOT NULL,
         version INTEGER NOT NULL,
         deleted INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (item_id, version)
     ) WITHOUT ROWID;
     CREATE TABLE seen (item_id BLOB PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;",
        then: None,
    },
    // 3: `meta.keyset_sha256`, the SHA-256 of the wrapped keyset, computed here for existing
    // vaults. Unkeyed, so unlock checks it before any key derivation: a damaged keyset is told
    // apart from a wrong password.
    Migration {
        sql: "",
        then: Some(checksum_keyset),
    },
];

/// `meta` key of the wrapped keyset (sealed under the key-encryption key).
const META_KEYSET: &str = "keyset";
/// `meta` key of the wrapped keyset's SHA-256.
const META_KEYSET_SUM: &str = "keyset_sha256";

/// The newest schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Item id → version.
pub type VersionMap = HashMap<Vec<u8>, i64>;

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

/// An item's current version with its row metadata.
#[derive(Debug, Clone)]
pub struct CurrentRow {
    /// The current version.
    pub row: VersionRow,
    /// Unix time the item was created.
    pub item_created_at: i64,
    /// Unix time it went to the trash.
    pub trashed_at: Option<i64>,
}

/// An open vault file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    outbox: bool,
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
        let current: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tx = self.conn.transaction()?;
        for (i, step) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(current).unwrap_or(0))
        {
            tx.execute_batch(step.sql)?;
            if let Some(then) = step.then {
                then(&tx)?;
            }
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Record every new version and deletion in the outbox (the vault is linked to a team
    /// server).
    pub fn set_outbox(&mut self, on: bool) {
        self.outbox = on;
    }

    /// Run `f` in one transaction: everything or nothing is written.
    pub fn write<T>(&mut self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = f(&Writer {
            tx: &tx,
            outbox: self.outbox,
        })?;
        tx.commit()?;
        Ok(out)
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

    /// Every item's current version, in one query.
    pub fn current_rows(&self) -> Result<Vec<CurrentRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT v.item_id, v.version, v.created_at, v.secret_changed_at, v.format, v.item_key, v.content,
                    i.created_at, i.trashed_at
             FROM items i JOIN item_versions v ON v.item_id = i.id AND v.version = i.version",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CurrentRow {
                row: version_row(r)?,
                item_created_at: r.get(7)?,
                trashed_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One item's current version, if the item exists.
    pub fn current_row(&self, id: &[u8]) -> Result<Option<CurrentRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT v.item_id, v.version, v.created_at, v.secret_changed_at, v.format, v.item_key, v.content,
                        i.created_at, i.trashed_at
                 FROM items i JOIN item_versions v ON v.item_id = i.id AND v.version = i.version
                 WHERE i.id = ?1",
                [id],
                |r| Ok(CurrentRow { row: version_row(r)?, item_created_at: r.get(7)?, trashed_at: r.get(8)? }),
            )
            .optional()?)
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

    /// The outbox, oldest first: `(item id, version, deleted)`.
    pub fn outbox(&self) -> Result<Vec<(Vec<u8>, i64, bool)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT item_id, version, deleted FROM outbox ORDER BY version, item_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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

    /// For every item: the highest version the server has shown, and the current local version.
    pub fn sync_states(&self) -> Result<(VersionMap, VersionMap)> {
        let map = |sql: &str| -> Result<VersionMap> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
        };
        Ok((
            map("SELECT item_id, version FROM seen")?,
            map("SELECT id, version FROM items")?,
        ))
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

/// Writes inside one transaction.
pub struct Writer<'a> {
    tx: &'a Transaction<'a>,
    outbox: bool,
}

impl Writer<'_> {
    /// Remove a `meta` value.
    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.tx.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Set a `meta` value.
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Store the wrapped keyset with its checksum.
    pub fn put_keyset(&self, wrapped: &[u8]) -> Result<()> {
        self.put_meta(META_KEYSET, wrapped)?;
        self.put_meta(META_KEYSET_SUM, &Sha256::digest(wrapped))
    }

    /// Add a version and make it the item's current one, creating the item row for version 1.
    pub fn put_version(&self, row: &VersionRow) -> Result<()> {
        if row.version == 1 {
            self.tx.execute(
                "INSERT INTO items (id, version, created_at) VALUES (?1, 1, ?2)",
                params![row.item_id, row.created_at],
            )?;
        } else {
            let n = self.tx.execute(
                "UPDATE items SET version = ?2 WHERE id = ?1 AND version = ?2 - 1",
                params![row.item_id, row.version],
            )?;
            if n != 1 {
                return Err(Error::Database(format!(
                    "item {} changed underneath this edit; reopen the vault and try again",
                    crate::item::hex(&row.item_id)
                )));
            }
        }
        self.tx.execute(
            "INSERT INTO item_versions (item_id, version, created_at, secret_changed_at, format, item_key, content)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![row.item_id, row.version, row.created_at, row.secret_changed_at, row.format, row.item_key, row.content],
        )?;
        if self.outbox {
            self.tx.execute(
                "INSERT OR IGNORE INTO outbox (item_id, version, deleted) VALUES (?1, ?2, 0)",
                params![row.item_id, row.version],
            )?;
        }
        Ok(())
    }

    /// Store a version that came from the server: the item is created if new, and the version
    /// becomes current when it is newer than the current one. An existing row of the same
    /// version (a local edit the server did not take) is replaced.
    pub fn put_remote_version(&self, row: &VersionRow) -> Result<()> {
        self.tx.execute(
            "INSERT INTO items (id, version, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET version = max(version, excluded.version)",
            params![row.item_id, row.version, row.created_at],
        )?;
        self.tx.execute(
            "INSERT OR REPLACE INTO item_versions (item_id, version, created_at, secret_changed_at, format, item_key, content)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![row.item_id, row.version, row.created_at, row.secret_changed_at, row.format, row.item_key, row.content],
        )?;
        self.set_seen(&row.item_id, row.version)
    }

    /// Remember the highest version the server has shown for an item.
    pub fn set_seen(&self, item_id: &[u8], version: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO seen (item_id, version) VALUES (?1, ?2)
             ON CONFLICT(item_id) DO UPDATE SET version = max(version, excluded.version)",
            params![item_id, version],
        )?;
        Ok(())
    }

    /// Delete an item the server deleted (no tombstone is queued: it came from there).
    pub fn purge_remote(&self, id: &ItemId) -> Result<()> {
        self.tx
            .execute("DELETE FROM items WHERE id = ?1", [&id.0[..]])?;
        Ok(())
    }

    /// Put every current version in the outbox (first upload after linking).
    pub fn queue_everything(&self) -> Result<()> {
        self.tx.execute("INSERT OR IGNORE INTO outbox (item_id, version, deleted) SELECT id, version, 0 FROM items", [])?;
        Ok(())
    }

    /// Drop outbox entries of an item up to a version (acknowledged or superseded).
    pub fn clear_outbox(&self, item_id: &[u8], up_to: i64) -> Result<()> {
        self.tx.execute(
            "DELETE FROM outbox WHERE item_id = ?1 AND version <= ?2",
            params![item_id, up_to],
        )?;
        Ok(())
    }

    /// Delete one version row (a local edit replaced after a conflict).
    pub fn delete_version(&self, item_id: &[u8], version: i64) -> Result<()> {
        self.tx.execute(
            "DELETE FROM item_versions WHERE item_id = ?1 AND version = ?2",
            params![item_id, version],
        )?;
        Ok(())
    }

    /// Set an item's creation time (an import keeps the original one).
    pub fn set_created_at(&self, id: &ItemId, at: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE items SET created_at = ?2 WHERE id = ?1",
            params![&id.0[..], at],
        )?;
        Ok(())
    }

    /// Move to the trash (`Some(time)`) or back out of it (`None`).
    pub fn set_trashed(&self, id: &ItemId, at: Option<i64>) -> Result<()> {
        self.tx.execute(
            "UPDATE items SET trashed_at = ?2 WHERE id = ?1",
            params![&id.0[..], at],
        )?;
        Ok(())
    }

    /// Delete an item and its whole history for good (queuing a tombstone when linked).
    pub fn purge(&self, id: &ItemId) -> Result<()> {
        if self.outbox {
            self.tx.execute(
                "INSERT OR IGNORE INTO outbox (item_id, version, deleted) SELECT id, version + 1, 1 FROM items WHERE id = ?1",
                [&id.0[..]],
            )?;
        }
        self.tx
            .execute("DELETE FROM items WHERE id = ?1", [&id.0[..]])?;
        Ok(())
    }
}

/// Migration 3: the checksum of an existing vault's wrapped keyset.
fn checksum_keyset(tx: &Transaction<'_>) -> Result<()> {
    let wrapped: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [META_KEYSET],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(wrapped) = wrapped {
        Writer { tx, outbox: false }.put_keyset(&wrapped)?;
    }
    Ok(())
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
