//! Online backup and restore of the team server's database, the same on both backends.
//!
//! A backup is a *logical* snapshot ([`format`]): every table's rows with typed values (integer,
//! text, bytes, null), read in one transaction while servers keep serving (SQLite: one read
//! transaction, which WAL keeps consistent beside writers; PostgreSQL: one `SERIALIZABLE READ
//! ONLY DEFERRABLE` transaction). Because the values are backend-neutral, a backup of a SQLite
//! server restores into PostgreSQL: the way from one machine to several nodes.
//!
//! A restore writes into a fresh database in one transaction: it replays the migrations up to
//! the backup's schema, inserts every table in dependency order, replays the migrations after
//! it, and rebuilds what the store derives (`audit_heads`). Before writing it
//! checks the file's checksum and every team's audit chain; after committing it reads every
//! chain back through the [`Store`](crate::Store) and verifies it again.
//!
//! The file holds hashes of session tokens and the server secret: [`backup_to_file`] creates
//! it with mode 0600 under a temporary name and renames it into place only when complete.
use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_protocol::{
    audit_limits, AuditAction, AuditEntry, AuditQuery, Blob, ChainVerifier, Id,
};

use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{actor_from, postgres, sqlite};
use crate::Store;

pub mod format;

use format::Writer;
pub use format::{Backup, Header, Table, Value};

/// The schema (number of migrations) this server knows; the same on both backends.
pub const SCHEMA: u32 = crate::store::schema::SCHEMA;

/// Every table a backup holds, in dependency order (a table after those it references), with
/// the migration that created it. A new migration that creates a table adds it here; a backup
/// refuses a database holding a table it does not know.
pub(crate) const TABLES: &[(&str, u32)] = &[
    ("server_meta", 1),
    ("teams", 1),
    ("accounts", 1),
    ("recovery_codes", 1),
    ("sessions", 1),
    ("invites", 1),
    ("login_addresses", 1),
    ("items", 1),
    ("item_versions", 1),
    ("groups", 2),
    ("group_epochs", 2),
    ("group_keys", 2),
    ("group_members", 2),
    ("group_items", 2),
    ("group_item_versions", 2),
    ("audit_log", 3),
    ("offboarded", 4),
    ("access_requests", 5),
    ("machine_tokens", 6),
    ("token_keys", 6),
    ("share_expiry", 7),
    ("group_log", 9),
    ("manifests", 11),
];

/// Tables a backend keeps that a backup leaves out: migration bookkeeping and
/// `audit_heads` (each team's newest audit entry, rebuilt from `audit_log` on restore).
pub(crate) const NOT_BACKED_UP: &[&str] = &["schema_migrations", "audit_heads"];

/// The tables a database at `schema` has, in dependency order.
pub fn tables_at(schema: u32) -> impl Iterator<Item = &'static str> {
    TABLES
        .iter()
        .filter(move |(_, since)| *since <= schema)
        .map(|(name, _)| *name)
}

/// Refuse a database holding a table this code would leave out of a backup.
pub(crate) fn check_known(found: &[String]) -> Result<(), BackupError> {
    match found
        .iter()
        .find(|t| !TABLES.iter().any(|(n, _)| n == t) && !NOT_BACKED_UP.contains(&t.as_str()))
    {
        Some(t) => Err(BackupError::UnknownTable(t.clone())),
        None => Ok(()),
    }
}

/// Check a database about to be backed up (`schema`: how many migrations it has had, `found`:
/// its tables; `missing` names it when it has none) and make the backup's header.
pub(crate) fn source_header(
    schema: u32,
    found: &[String],
    source: &str,
    missing: impl FnOnce() -> String,
) -> Result<Header, BackupError> {
    if schema == 0 {
        return Err(BackupError::NoDatabase(missing()));
    }
    if schema > SCHEMA {
        return Err(BackupError::DatabaseTooNew {
            database: schema,
            server: SCHEMA,
        });
    }
    check_known(found)?;
    Ok(header(schema, source))
}

/// Write the end of a backup of a database at `schema` and say what it holds.
pub(crate) fn finish<W: Write>(w: Writer<W>, schema: u32) -> Result<(W, Summary), BackupError> {
    let (out, tables, rows, bytes) = w.finish()?;
    Ok((
        out,
        Summary {
            schema,
            tables,
            rows,
            bytes,
        },
    ))
}

/// Whether a restore of a backup at `target` into a database at `current` (with the tables
/// `found`) starts from scratch (`true`: migrate an empty database) or into a database already
/// at the backup's schema (`false`: each table must be empty, see [`emptiness_probes`]).
pub(crate) fn restore_from_scratch(
    current: u32,
    target: u32,
    found: &[String],
) -> Result<bool, BackupError> {
    if current > SCHEMA {
        return Err(BackupError::DatabaseTooNew {
            database: current,
            server: SCHEMA,
        });
    }
    if current == 0 {
        return match found.iter().find(|t| *t != "schema_migrations") {
            Some(t) => Err(BackupError::NotEmpty { table: t.clone() }),
            None => Ok(true),
        };
    }
    if current == target {
        return Ok(false);
    }
    Err(BackupError::SchemaMismatch {
        database: current,
        backup: target,
    })
}

/// For each table of `schema`, a query whose one value is true when a restore target's table
/// holds rows (but the server secret a server made when it opened the fresh database: the
/// backup's replaces it).
pub(crate) fn emptiness_probes(schema: u32) -> impl Iterator<Item = (&'static str, String)> {
    tables_at(schema).map(|name| {
        let filter = if name == "server_meta" {
            " WHERE key <> 'secret'"
        } else {
            ""
        };
        (
            name,
            format!("SELECT EXISTS (SELECT 1 FROM \"{name}\"{filter})"),
        )
    })
}

/// Refuse a backup's table `name` whose `columns` are not the ones the database's table at
/// schema `target` has (`have`), or name one twice.
pub(crate) fn check_columns(
    name: &str,
    target: u32,
    columns: &[String],
    have: &[&String],
) -> Result<(), BackupError> {
    let want: HashSet<&String> = columns.iter().collect();
    if want.len() == columns.len() && have.iter().copied().collect::<HashSet<_>>() == want {
        return Ok(());
    }
    Err(BackupError::Malformed {
        line: 0,
        reason: format!("table {name} has columns {columns:?}, schema {target} has {have:?}"),
    })
}

/// Column names quoted for SQL, comma-separated.
pub(crate) fn quoted(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    quoted.join(", ")
}

/// Where the database is.
#[derive(Clone)]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            // The URL may carry a password.
            Self::Postgres(_) => f.write_str("Postgres(***)"),
        }
    }
}

/// Told about each table as it is written or restored (a command prints it).
pub trait Progress: Send + Sync {
    /// `rows` rows of `table` are done.
    fn table(&self, table: &str, rows: u64);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn table(&self, _: &str, _: u64) {}
}

/// What a backup or restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The schema of the data.
    pub schema: u32,
    /// Tables written or restored.
    pub tables: u64,
    /// Rows written or restored.
    pub rows: u64,
    /// Bytes of the backup file.
    pub bytes: u64,
}

/// Backup and restore failures, named for what the caller can do about them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The output file exists.
    #[error("{} already exists; choose another file or overwrite it (--force)", .0.display())]
    Exists(PathBuf),
    /// Writing the backup failed (disk full, closed pipe...).
    #[error("cannot write the backup")]
    Write(#[source] std::io::Error),
    /// Reading the backup file failed.
    #[error("cannot read the backup {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a backup at all.
    #[error("this is not a Tessera server backup (it lacks the tessera-server-backup header)")]
    NotABackup,
    /// The file was cut short.
    #[error("the backup is truncated: its end record is missing (was the copy cut short?)")]
    Truncated,
    /// The checksum does not match.
    #[error(
        "the backup's checksum does not match its contents: the file is corrupted or was edited"
    )]
    Checksum,
    /// The checksum matches but the content is not a valid backup.
    #[error("the backup is malformed (line {line}): {reason}")]
    Malformed {
        /// The line (1-based; 0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file format is newer than this server reads.
    #[error(
        "the backup's format version is {found}, newer than this server reads ({known}); \
         upgrade tessera-server first"
    )]
    FormatTooNew {
        /// The file's format version.
        found: u32,
        /// The newest this server reads.
        known: u32,
    },
    /// The backup's schema is newer than this server's.
    #[error(
        "the backup is from schema {backup}, newer than this server knows ({server}); \
         upgrade tessera-server first, then restore"
    )]
    SchemaTooNew {
        /// The backup's schema.
        backup: u32,
        /// This server's.
        server: u32,
    },
    /// The database's schema is newer than this server's.
    #[error(
        "the database has schema {database}, newer than this server knows ({server}); \
         use the newer tessera-server"
    )]
    DatabaseTooNew {
        /// The database's schema.
        database: u32,
        /// This server's.
        server: u32,
    },
    /// There is no Tessera database to back up.
    #[error("no Tessera database there ({0})")]
    NoDatabase(String),
    /// The database holds a table this server does not know.
    #[error(
        "the database holds a table this server does not know ({0}); back it up with the \
         tessera-server that created it"
    )]
    UnknownTable(String),
    /// The target database holds data.
    #[error(
        "the database is not empty (table {table} has rows); restore into a fresh database \
         (a new --data-dir, or a new empty PostgreSQL database)"
    )]
    NotEmpty {
        /// A table with rows.
        table: String,
    },
    /// The target database was set up at another schema than the backup's.
    #[error(
        "the database was already set up at schema {database}, the backup is at schema \
         {backup}; restore into a fresh database (a new --data-dir, or a new empty PostgreSQL \
         database)"
    )]
    SchemaMismatch {
        /// The target's schema.
        database: u32,
        /// The backup's.
        backup: u32,
    },
    /// A value does not fit its column.
    #[error("{table}.{column}: {reason}")]
    Column {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// A team's audit chain does not verify.
    #[error("the audit chain of team {team} does not verify: {reason}")]
    AuditChain {
        /// The team id (hex).
        team: String,
        /// The break.
        reason: String,
    },
    /// The database failed; the source says why.
    #[error("the database failed")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl BackupError {
    pub(crate) fn db(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Database(Box::new(e))
    }

    pub(crate) fn column(table: &str, column: &str, reason: impl Into<String>) -> Self {
        Self::Column {
            table: table.into(),
            column: column.into(),
            reason: reason.into(),
        }
    }
}

impl From<crate::store::StoreError> for BackupError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::db(e)
    }
}

/// The header of a backup of a database at `schema`, taken now.
pub(crate) fn header(schema: u32, source: &str) -> Header {
    Header {
        format: format::FORMAT.into(),
        format_version: format::FORMAT_VERSION,
        schema,
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        server_version: env!("CARGO_PKG_VERSION").into(),
        source: source.into(),
    }
}

/// Write a backup of `db` to `out` (a pipe, standard output...); returns `out`.
pub async fn backup_to_writer<W: Write + Send + 'static>(
    db: &Database,
    out: W,
    progress: Arc<dyn Progress>,
) -> Result<(W, Summary), BackupError> {
    let w = Writer::new(out);
    match db {
        Database::Sqlite(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || sqlite::backup::dump(&path, w, &*progress))
                .await
                .map_err(BackupError::db)?
        }
        Database::Postgres(url) => postgres::backup::dump(url, w, &*progress).await,
    }
}

/// Write a backup of `db` to the file `path` (mode 0600), refusing to replace an existing file
/// unless `force`. It is written under a temporary name beside `path`, synced, and renamed into
/// place only when complete.
pub async fn backup_to_file(
    db: &Database,
    path: &Path,
    force: bool,
    progress: Arc<dyn Progress>,
) -> Result<Summary, BackupError> {
    if !force && path.exists() {
        return Err(BackupError::Exists(path.to_owned()));
    }
    let name = path
        .file_name()
        .ok_or_else(|| BackupError::Write(std::io::Error::other("the path names no file")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let file = create_private(&tmp).map_err(BackupError::Write)?;
    let written = async {
        let (out, summary) = backup_to_writer(db, BufWriter::new(file), progress).await?;
        let file = out
            .into_inner()
            .map_err(|e| BackupError::Write(e.into_error()))?;
        file.sync_all().map_err(BackupError::Write)?;
        if !force && path.exists() {
            return Err(BackupError::Exists(path.to_owned()));
        }
        std::fs::rename(&tmp, path).map_err(BackupError::Write)?;
        Ok(summary)
    }
    .await;
    if written.is_err() {
        #[allow(clippy::let_underscore_must_use)] // cleanup: the write's error is the one to report
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Create a new file readable and writable by its owner only.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Read and check a backup file: its checksum, its format version and its structure.
pub fn read(path: &Path) -> Result<Backup, BackupError> {
    let data = std::fs::read(path).map_err(|source| BackupError::Read {
        path: path.to_owned(),
        source,
    })?;
    format::parse(&data)
}

/// Each team's newest audit entry, `(seq, hash)`, by team id.
pub type AuditHeads = BTreeMap<[u8; 16], (u64, [u8; 32])>;

/// Check that `backup` can be restored by this server: its schema, its tables, and every
/// team's audit chain. Returns each team's newest audit entry, `(seq, hash)`.
pub fn check(backup: &Backup) -> Result<AuditHeads, BackupError> {
    let schema = backup.header.schema;
    if schema > SCHEMA {
        return Err(BackupError::SchemaTooNew {
            backup: schema,
            server: SCHEMA,
        });
    }
    if schema == 0 {
        return Err(BackupError::Malformed {
            line: 1,
            reason: "the header's schema is 0".into(),
        });
    }
    let expected: HashSet<&str> = tables_at(schema).collect();
    for t in &backup.tables {
        if !expected.contains(t.name.as_str()) {
            return Err(BackupError::Malformed {
                line: 0,
                reason: format!("table {} is not part of schema {schema}", t.name),
            });
        }
    }
    if let Some(missing) = tables_at(schema).find(|n| backup.table(n).is_none()) {
        return Err(BackupError::Malformed {
            line: 0,
            reason: format!("table {missing} is missing"),
        });
    }
    audit_heads(backup)
}

/// Verify every team's audit chain in the backup; each team's newest `(seq, hash)`.
fn audit_heads(backup: &Backup) -> Result<AuditHeads, BackupError> {
    let mut chains: BTreeMap<[u8; 16], Vec<AuditEntry>> = BTreeMap::new();
    if let Some(log) = backup.table("audit_log") {
        for row in &log.rows {
            let (team, entry) = audit_entry(log, row)?;
            chains.entry(team).or_default().push(entry);
        }
    }
    let mut heads = BTreeMap::new();
    for (team, mut entries) in chains {
        entries.sort_by_key(|e| e.seq);
        let mut v = ChainVerifier::new(Id(team), None);
        let broken = |b: tessera_protocol::ChainBreak| BackupError::AuditChain {
            team: Id(team).to_hex(),
            reason: b.to_string(),
        };
        for e in &entries {
            v.push(e).map_err(broken)?;
        }
        heads.insert(team, v.finish().map_err(broken)?);
    }
    Ok(heads)
}

/// One row of `audit_log` as an entry, with its team.
fn audit_entry(log: &Table, row: &[Value]) -> Result<([u8; 16], AuditEntry), BackupError> {
    let get = |c: &str| -> Result<&Value, BackupError> {
        log.columns
            .iter()
            .position(|x| x == c)
            .and_then(|i| row.get(i))
            .ok_or_else(|| BackupError::column("audit_log", c, "missing"))
    };
    let bad =
        |c: &str, v: &Value| BackupError::column("audit_log", c, format!("{} here", v.kind()));
    let int = |c: &str| match get(c)? {
        Value::Int(i) => Ok(*i),
        v => Err(bad(c, v)),
    };
    let bytes = |c: &str| match get(c)? {
        Value::Bytes(b) => Ok(Some(b.clone())),
        Value::Null => Ok(None),
        v => Err(bad(c, v)),
    };
    let id = |c: &str| -> Result<Option<Id>, BackupError> {
        bytes(c)?
            .map(|b| {
                <[u8; 16]>::try_from(b.as_slice())
                    .map(Id)
                    .map_err(|_| BackupError::column("audit_log", c, "not a 16-byte id"))
            })
            .transpose()
    };
    let text = |c: &str| match get(c)? {
        Value::Text(s) => Ok(s.clone()),
        v => Err(bad(c, v)),
    };
    let team = id("team_id")?.ok_or_else(|| bad("team_id", &Value::Null))?;
    let action = text("action")?;
    let actor_id = bytes("actor_id")?;
    let entry = AuditEntry {
        seq: int("seq")? as u64,
        at: int("at")?,
        actor: actor_from(int("actor_kind")?, actor_id.as_deref())
            .map_err(|e| BackupError::column("audit_log", "actor_kind", e.to_string()))?,
        action: AuditAction::parse(&action).ok_or_else(|| {
            BackupError::column("audit_log", "action", format!("unknown action {action}"))
        })?,
        item_id: id("item_id")?,
        group_id: id("group_id")?,
        subject: id("subject")?,
        detail: text("detail")?,
        prev: Blob(bytes("prev")?.unwrap_or_default()),
        hash: Blob(bytes("hash")?.unwrap_or_default()),
    };
    Ok((team.0, entry))
}

/// Restore `backup` into the fresh database `db` (see the module documentation), then verify
/// every team's audit chain through the store.
pub async fn restore(
    db: &Database,
    backup: Backup,
    progress: Arc<dyn Progress>,
) -> Result<Summary, BackupError> {
    let heads = check(&backup)?;
    let summary = Summary {
        schema: backup.header.schema,
        tables: backup.tables.len() as u64,
        rows: backup.rows(),
        bytes: 0,
    };
    let store: Arc<dyn Store> = match db {
        Database::Sqlite(path) => {
            let p = path.clone();
            tokio::task::spawn_blocking(move || sqlite::backup::load(&p, &backup, &*progress))
                .await
                .map_err(BackupError::db)??;
            Arc::new(SqliteStore::open(path)?)
        }
        Database::Postgres(url) => {
            postgres::backup::load(url, &backup, &*progress).await?;
            Arc::new(PgStore::connect(url).await?)
        }
    };
    verify_audit(&*store, &heads).await?;
    Ok(summary)
}

/// Read every team's audit chain back through the store and check it ends where the backup's
/// did.
async fn verify_audit(store: &dyn Store, heads: &AuditHeads) -> Result<(), BackupError> {
    for (team, head) in heads {
        let team = Id(*team);
        let mut v = ChainVerifier::new(team, Some(*head));
        let mut after = 0;
        loop {
            let q = AuditQuery {
                after,
                ..AuditQuery::default()
            };
            let page = store.audit_page(team, q, audit_limits::PAGE).await?;
            for e in &page.entries {
                v.push(e).map_err(|b| BackupError::AuditChain {
                    team: team.to_hex(),
                    reason: b.to_string(),
                })?;
                after = e.seq;
            }
            if !page.more {
                break;
            }
        }
        let end = v.finish().map_err(|b| BackupError::AuditChain {
            team: team.to_hex(),
            reason: b.to_string(),
        })?;
        if end != *head {
            return Err(BackupError::AuditChain {
                team: team.to_hex(),
                reason: format!(
                    "the restored chain ends at entry {}, the backup's at {}",
                    end.0, head.0
                ),
            });
        }
    }
    Ok(())
}
