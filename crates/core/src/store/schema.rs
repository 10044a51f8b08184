//! The vault file's schema: numbered, append-only migrations, each run once in order;
//! `PRAGMA user_version` records how many ran. A file with more than this build knows is refused
//! ([`super::Store::open`]), so an older Tessera never writes a newer vault.
use rusqlite::{OptionalExtension, Transaction};

use super::{Writer, META_KEYSET};
use crate::error::Result;

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
    // 4: a MAC beside each row whose plain values change what the user is shown or what is
    // uploaded (`store::auth`). Existing rows get theirs at the first unlock, when the key is
    // there: the vault header's format says whether that happened (`vault::header`).
    Migration {
        sql: "ALTER TABLE items ADD COLUMN mac BLOB;
              ALTER TABLE outbox ADD COLUMN mac BLOB;
              ALTER TABLE seen ADD COLUMN mac BLOB;",
        then: None,
    },
    // 5: the replica of the groups this account reads: each group's records sealed as the
    // server serves them. What is held (ids, versions, tombstones) is named in the group's
    // sealed snapshot in `meta` (`vault::groups::replica`), which a change from outside breaks.
    Migration {
        sql: "CREATE TABLE group_records (
         group_id BLOB NOT NULL,
         item_id BLOB NOT NULL,
         version INTEGER NOT NULL,
         deleted INTEGER NOT NULL,
         blob BLOB NOT NULL,
         PRIMARY KEY (group_id, item_id)
     ) WITHOUT ROWID;",
        then: None,
    },
];

/// The newest schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Run the migrations `tx`'s file has not had yet.
pub(super) fn migrate(tx: &Transaction<'_>) -> Result<()> {
    let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.execute_batch(step.sql)?;
        if let Some(then) = step.then {
            then(tx)?;
        }
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    Ok(())
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
        Writer::new(tx, false, None).put_keyset(&wrapped)?;
    }
    Ok(())
}
