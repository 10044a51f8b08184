//! The schema: numbered SQL files per backend, `migrations/sqlite/NNNN_*.sql` and
//! `migrations/postgres/NNNN_*.sql` beside this crate's `Cargo.toml`, embedded at build time and
//! applied in order. SQLite records how many ran in `PRAGMA user_version`, PostgreSQL in the
//! `schema_migrations` table. A released file never changes; a change to the schema is a new
//! file in both directories, under the same name (backups record the number, so both backends
//! always have the same count). `tests/schema.rs` checks that both build the same tables,
//! columns, indexes and constraints, from empty and from the previous release's database.
use super::StoreError;

macro_rules! migrations {
    ($($file:literal),* $(,)?) => {
        /// The migration files, in order (the same names in both directories).
        pub const FILES: &[&str] = &[$($file),*];
        /// The SQLite migrations, in order.
        pub(crate) const SQLITE: &[&str] =
            &[$(include_str!(concat!("../../migrations/sqlite/", $file))),*];
        /// The PostgreSQL migrations, in order.
        pub(crate) const POSTGRES: &[&str] =
            &[$(include_str!(concat!("../../migrations/postgres/", $file))),*];
    };
}

migrations!(
    "0001_accounts_sessions_items.sql",
    "0002_groups.sql",
    "0003_audit.sql",
    "0004_offboarding.sql",
    "0005_access_requests.sql",
    "0006_machine_tokens.sql",
    "0007_share_expiry.sql",
    "0008_audit_heads.sql",
    "0009_group_log.sql",
    "0010_root_pin.sql",
    "0011_manifests.sql",
    "0012_token_pins.sql",
);

/// The schema this server creates: how many migrations there are.
pub const SCHEMA: u32 = FILES.len() as u32;

/// Each team's newest audit entry, where the next append continues the chain (rebuilt after a
/// restore, which copies the log but not the heads).
pub(crate) const REBUILD_AUDIT_HEADS: &str = "DELETE FROM audit_heads;
    INSERT INTO audit_heads (team_id, seq, hash)
    SELECT l.team_id, l.seq, l.hash FROM audit_log l
    WHERE l.seq = (SELECT max(m.seq) FROM audit_log m WHERE m.team_id = l.team_id);";

/// The migrations of `files` that a database with `done` of them applied still needs, each with
/// the version it brings the database to. Refuses a database newer than this server.
pub(crate) fn pending(
    done: i64,
    files: &'static [&'static str],
) -> Result<impl Iterator<Item = (i64, &'static str)>, StoreError> {
    if done > i64::from(SCHEMA) {
        return Err(StoreError::Backend(
            format!(
                "the database has schema {done}, newer than this server ({SCHEMA}); upgrade the \
                 server"
            )
            .into(),
        ));
    }
    let done = usize::try_from(done).unwrap_or(0);
    Ok(files
        .iter()
        .zip(1..)
        .skip(done)
        .map(|(sql, version)| (version, *sql)))
}
