//! The SQLite backend: one file, WAL, numbered append-only migrations (`PRAGMA user_version`).
//! One connection behind a mutex; every call runs on the blocking pool, never on the executor.
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use tessera_protocol::{AccountKeys, Blob, Id, ItemRecord, KdfInfo, PushChange, PushResult};
use tokio::sync::broadcast;

use crate::events::{Change, ChangeHub};

use super::{
    decide_push, id_from, Account, LoginPolicy, NewAccountRow, NewInvite, NewSession, PullPage,
    Role, Session, Store, StoreError, StoreFuture, Team,
};

/// Migrations, applied in order; `PRAGMA user_version` records how many ran. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: teams, accounts, sessions, invitations, login throttling, second factor, items.
    "CREATE TABLE server_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
     CREATE TABLE teams (
         id BLOB PRIMARY KEY,
         root_public BLOB NOT NULL,
         require_mfa INTEGER NOT NULL DEFAULT 0,
         seq INTEGER NOT NULL DEFAULT 0,
         created_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE accounts (
         id BLOB PRIMARY KEY,
         team_id BLOB NOT NULL REFERENCES teams(id),
         email TEXT NOT NULL UNIQUE,
         role TEXT NOT NULL,
         auth_hash TEXT NOT NULL,
         kdf_memory_kib INTEGER NOT NULL,
         kdf_iterations INTEGER NOT NULL,
         kdf_parallelism INTEGER NOT NULL,
         kdf_salt BLOB NOT NULL,
         exchange_public BLOB NOT NULL,
         signing_public BLOB NOT NULL,
         header BLOB NOT NULL,
         wrapped_keyset BLOB NOT NULL,
         created_at INTEGER NOT NULL,
         failed_logins INTEGER NOT NULL DEFAULT 0,
         locked_until INTEGER,
         mfa_secret BLOB,
         mfa_enabled INTEGER NOT NULL DEFAULT 0,
         mfa_last_step INTEGER NOT NULL DEFAULT 0
     ) WITHOUT ROWID;
     CREATE INDEX accounts_team ON accounts(team_id);
     CREATE TABLE recovery_codes (
         account_id BLOB NOT NULL REFERENCES accounts(id),
         code_hash BLOB NOT NULL,
         PRIMARY KEY (account_id, code_hash)
     ) WITHOUT ROWID;
     CREATE TABLE sessions (
         id BLOB PRIMARY KEY,
         account_id BLOB NOT NULL REFERENCES accounts(id),
         token_hash BLOB NOT NULL UNIQUE,
         device_name TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         last_seen_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL,
         revoked_at INTEGER
     ) WITHOUT ROWID;
     CREATE INDEX sessions_account ON sessions(account_id);
     CREATE TABLE invites (
         token_hash BLOB PRIMARY KEY,
         team_id BLOB NOT NULL REFERENCES teams(id),
         email TEXT NOT NULL,
         created_by BLOB NOT NULL REFERENCES accounts(id),
         created_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL,
         used_at INTEGER
     ) WITHOUT ROWID;
     CREATE TABLE login_addresses (
         address TEXT PRIMARY KEY,
         window_start INTEGER NOT NULL,
         failures INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE items (
         account_id BLOB NOT NULL REFERENCES accounts(id),
         item_id BLOB NOT NULL,
         version INTEGER NOT NULL,
         seq INTEGER NOT NULL,
         deleted INTEGER NOT NULL,
         blob BLOB NOT NULL,
         PRIMARY KEY (account_id, item_id)
     ) WITHOUT ROWID;
     CREATE INDEX items_account_seq ON items(account_id, seq);
     CREATE TABLE item_versions (
         account_id BLOB NOT NULL REFERENCES accounts(id),
         item_id BLOB NOT NULL,
         version INTEGER NOT NULL,
         team_id BLOB NOT NULL,
         seq INTEGER NOT NULL,
         deleted INTEGER NOT NULL,
         blob BLOB NOT NULL,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (account_id, item_id, version)
     ) WITHOUT ROWID;",
];

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    hub: ChangeHub,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn be(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

impl SqliteStore {
    /// Open (or create) the database file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(be)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(be)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(be)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(be)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(be)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(be)?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::Backend(
                format!(
                    "the database has schema {version}, newer than this server ({}); \
                     upgrade the server",
                    MIGRATIONS.len()
                )
                .into(),
            ));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(be)?;
            tx.execute_batch(sql).map_err(be)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(be)?;
            tx.commit().map_err(be)?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            hub: ChangeHub::new(),
        })
    }

    /// Run `f` with the connection on the blocking pool.
    fn run<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // A panic while holding the lock leaves the connection usable: SQLite rolls an
                // unfinished transaction back when the next one begins.
                let mut guard = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&mut guard)
            })
            .await
            .map_err(StoreError::backend)?
        })
    }
}

const ACCOUNT_COLS: &str = "id, team_id, email, role, auth_hash, kdf_memory_kib, kdf_iterations,
    kdf_parallelism, kdf_salt, exchange_public, signing_public, header, wrapped_keyset,
    failed_logins, locked_until, mfa_secret, mfa_enabled, mfa_last_step";

fn account_row(r: &Row<'_>) -> rusqlite::Result<(Vec<u8>, Vec<u8>, Account)> {
    let id: Vec<u8> = r.get(0)?;
    let team: Vec<u8> = r.get(1)?;
    let role: String = r.get(3)?;
    Ok((
        id,
        team,
        Account {
            id: Id([0; 16]),
            team_id: Id([0; 16]),
            email: r.get(2)?,
            role: Role::parse(&role),
            auth_hash: r.get(4)?,
            kdf: KdfInfo {
                memory_kib: r.get(5)?,
                iterations: r.get(6)?,
                parallelism: r.get(7)?,
                salt: Blob(r.get(8)?),
            },
            keys: AccountKeys {
                exchange_public: Blob(r.get(9)?),
                signing_public: Blob(r.get(10)?),
                header: Blob(r.get(11)?),
                wrapped_keyset: Blob(r.get(12)?),
            },
            failed_logins: r.get(13)?,
            locked_until: r.get(14)?,
            mfa_secret: r.get(15)?,
            mfa_enabled: r.get(16)?,
            mfa_last_step: r.get(17)?,
        },
    ))
}

fn account_where(
    conn: &Connection,
    clause: &str,
    arg: &dyn rusqlite::ToSql,
) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE {clause}");
    let row = conn
        .query_row(&sql, [arg], account_row)
        .optional()
        .map_err(be)?;
    row.map(|(id, team, mut a)| {
        a.id = id_from(&id)?;
        a.team_id = id_from(&team)?;
        Ok(a)
    })
    .transpose()
}

fn insert_account(conn: &Connection, a: &NewAccountRow) -> Result<(), StoreError> {
    let taken: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM accounts WHERE email = ?1)",
            [&a.email],
            |r| r.get(0),
        )
        .map_err(be)?;
    if taken {
        return Err(StoreError::EmailTaken);
    }
    conn.execute(
        "INSERT INTO accounts (id, team_id, email, role, auth_hash, kdf_memory_kib,
             kdf_iterations, kdf_parallelism, kdf_salt, exchange_public, signing_public, header,
             wrapped_keyset, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            a.id.0,
            a.team_id.0,
            a.email,
            a.role.as_str(),
            a.auth_hash,
            a.kdf.memory_kib,
            a.kdf.iterations,
            a.kdf.parallelism,
            a.kdf.salt.0,
            a.keys.exchange_public.0,
            a.keys.signing_public.0,
            a.keys.header.0,
            a.keys.wrapped_keyset.0,
            a.created_at,
        ],
    )
    .map_err(unique_to(StoreError::IdTaken))?;
    Ok(())
}

fn insert_session(conn: &Connection, account: Id, s: &NewSession) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sessions (id, account_id, token_hash, device_name, created_at,
             last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        params![
            s.id.0,
            account.0,
            s.token_hash,
            s.device_name,
            s.created_at,
            s.expires_at
        ],
    )
    .map_err(unique_to(StoreError::IdTaken))?;
    Ok(())
}

/// Map a uniqueness violation to `err`, anything else to a backend error.
fn unique_to(err: StoreError) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => err,
        _ => be(e),
    }
}

fn session_row(r: &Row<'_>) -> rusqlite::Result<(Vec<u8>, Vec<u8>, Session)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        Session {
            id: Id([0; 16]),
            account_id: Id([0; 16]),
            device_name: r.get(2)?,
            created_at: r.get(3)?,
            last_seen_at: r.get(4)?,
            expires_at: r.get(5)?,
            revoked_at: r.get(6)?,
        },
    ))
}

fn finish_session(
    (id, account, mut s): (Vec<u8>, Vec<u8>, Session),
) -> Result<Session, StoreError> {
    s.id = id_from(&id)?;
    s.account_id = id_from(&account)?;
    Ok(s)
}

const SESSION_COLS: &str =
    "id, account_id, device_name, created_at, last_seen_at, expires_at, revoked_at";

fn item_row(r: &Row<'_>) -> rusqlite::Result<(Vec<u8>, ItemRecord)> {
    Ok((
        r.get(0)?,
        ItemRecord {
            item_id: Id([0; 16]),
            version: r.get::<_, i64>(1)? as u64,
            seq: r.get::<_, i64>(2)? as u64,
            deleted: r.get(3)?,
            blob: Blob(r.get(4)?),
        },
    ))
}

impl Store for SqliteStore {
    fn server_secret(&self) -> StoreFuture<'_, [u8; 32]> {
        self.run(|conn| {
            let fresh: [u8; 32] = rand::random();
            conn.execute(
                "INSERT OR IGNORE INTO server_meta (key, value) VALUES ('secret', ?1)",
                [fresh],
            )
            .map_err(be)?;
            let v: Vec<u8> = conn
                .query_row(
                    "SELECT value FROM server_meta WHERE key = 'secret'",
                    [],
                    |r| r.get(0),
                )
                .map_err(be)?;
            <[u8; 32]>::try_from(v.as_slice())
                .map_err(|_| StoreError::Backend("the server secret is not 32 bytes".into()))
        })
    }

    fn create_team(
        &self,
        team: Team,
        admin: NewAccountRow,
        session: NewSession,
    ) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            tx.execute(
                "INSERT INTO teams (id, root_public, require_mfa, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    team.id.0,
                    team.root_public,
                    team.require_mfa,
                    team.created_at
                ],
            )
            .map_err(unique_to(StoreError::IdTaken))?;
            insert_account(&tx, &admin)?;
            insert_session(&tx, admin.id, &session)?;
            tx.commit().map_err(be)
        })
    }

    fn team(&self, id: Id) -> StoreFuture<'_, Option<Team>> {
        self.run(move |conn| {
            conn.query_row(
                "SELECT root_public, require_mfa, created_at FROM teams WHERE id = ?1",
                [id.0],
                |r| {
                    Ok(Team {
                        id,
                        root_public: r.get(0)?,
                        require_mfa: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(be)
        })
    }

    fn set_require_mfa(&self, team: Id, require: bool) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            let n = conn
                .execute(
                    "UPDATE teams SET require_mfa = ?2 WHERE id = ?1",
                    params![team.0, require],
                )
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn account_by_email(&self, email: String) -> StoreFuture<'_, Option<Account>> {
        self.run(move |conn| account_where(conn, "email = ?1", &email))
    }

    fn account_by_id(&self, id: Id) -> StoreFuture<'_, Option<Account>> {
        self.run(move |conn| account_where(conn, "id = ?1", &id.0))
    }

    fn create_session(&self, account: Id, session: NewSession) -> StoreFuture<'_, ()> {
        self.run(move |conn| insert_session(conn, account, &session))
    }

    fn session_by_token_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Session>> {
        self.run(move |conn| {
            let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE token_hash = ?1");
            conn.query_row(&sql, [hash], session_row)
                .optional()
                .map_err(be)?
                .map(finish_session)
                .transpose()
        })
    }

    fn touch_session(&self, id: Id, now: i64) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?2",
                params![id.0, now],
            )
            .map_err(be)?;
            Ok(())
        })
    }

    fn list_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<Session>> {
        self.run(move |conn| {
            let sql = format!(
                "SELECT {SESSION_COLS} FROM sessions
                 WHERE account_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
                 ORDER BY created_at, id"
            );
            let mut stmt = conn.prepare(&sql).map_err(be)?;
            let rows = stmt
                .query_map(params![account.0, now], session_row)
                .map_err(be)?;
            rows.map(|r| r.map_err(be).and_then(finish_session))
                .collect()
        })
    }

    fn revoke_session(&self, account: Id, id: Id, now: i64) -> StoreFuture<'_, bool> {
        self.run(move |conn| {
            let n = conn
                .execute(
                    "UPDATE sessions SET revoked_at = ?3
                     WHERE id = ?1 AND account_id = ?2 AND revoked_at IS NULL",
                    params![id.0, account.0, now],
                )
                .map_err(be)?;
            Ok(n > 0)
        })
    }

    fn revoke_all_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, u64> {
        self.run(move |conn| {
            let n = conn
                .execute(
                    "UPDATE sessions SET revoked_at = ?2
                     WHERE account_id = ?1 AND revoked_at IS NULL",
                    params![account.0, now],
                )
                .map_err(be)?;
            Ok(n as u64)
        })
    }

    fn set_session_expiry(&self, id: Id, expires_at: i64) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE sessions SET expires_at = ?2 WHERE id = ?1",
                params![id.0, expires_at],
            )
            .map_err(be)?;
            Ok(())
        })
    }

    fn create_invite(&self, invite: NewInvite) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO invites (token_hash, team_id, email, created_by, created_at,
                     expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    invite.token_hash,
                    invite.team_id.0,
                    invite.email,
                    invite.created_by.0,
                    invite.created_at,
                    invite.expires_at
                ],
            )
            .map_err(unique_to(StoreError::IdTaken))?;
            Ok(())
        })
    }

    fn join_team(
        &self,
        token_hash: [u8; 32],
        account: NewAccountRow,
        session: NewSession,
        now: i64,
    ) -> StoreFuture<'_, Team> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            let invite: Option<(Vec<u8>, String)> = tx
                .query_row(
                    "SELECT team_id, email FROM invites
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                    params![token_hash, now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(be)?;
            let Some((team_id, email)) = invite else {
                return Err(StoreError::InviteInvalid);
            };
            let team_id = id_from(&team_id)?;
            if email != account.email {
                return Err(StoreError::InviteForOtherEmail);
            }
            tx.execute(
                "UPDATE invites SET used_at = ?2 WHERE token_hash = ?1",
                params![token_hash, now],
            )
            .map_err(be)?;
            let account = NewAccountRow { team_id, ..account };
            insert_account(&tx, &account)?;
            insert_session(&tx, account.id, &session)?;
            let team = tx
                .query_row(
                    "SELECT root_public, require_mfa, created_at FROM teams WHERE id = ?1",
                    [team_id.0],
                    |r| {
                        Ok(Team {
                            id: team_id,
                            root_public: r.get(0)?,
                            require_mfa: r.get(1)?,
                            created_at: r.get(2)?,
                        })
                    },
                )
                .map_err(be)?;
            tx.commit().map_err(be)?;
            Ok(team)
        })
    }

    fn address_failures(
        &self,
        address: String,
        now: i64,
        policy: LoginPolicy,
    ) -> StoreFuture<'_, u32> {
        self.run(move |conn| {
            let n: Option<u32> = conn
                .query_row(
                    "SELECT failures FROM login_addresses
                     WHERE address = ?1 AND window_start > ?2",
                    params![address, now - policy.address_window_secs],
                    |r| r.get(0),
                )
                .optional()
                .map_err(be)?;
            Ok(n.unwrap_or(0))
        })
    }

    fn record_login_failure(
        &self,
        account: Option<Id>,
        address: String,
        now: i64,
        policy: LoginPolicy,
    ) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            tx.execute(
                "INSERT INTO login_addresses (address, window_start, failures) VALUES (?1, ?2, 1)
                 ON CONFLICT (address) DO UPDATE SET
                   failures = CASE WHEN window_start > ?2 - ?3 THEN failures + 1 ELSE 1 END,
                   window_start = CASE WHEN window_start > ?2 - ?3 THEN window_start ELSE ?2 END",
                params![address, now, policy.address_window_secs],
            )
            .map_err(be)?;
            if let Some(account) = account {
                tx.execute(
                    "UPDATE accounts SET
                       locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END,
                       failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0
                                            ELSE failed_logins + 1 END
                     WHERE id = ?1",
                    params![
                        account.0,
                        policy.account_max_failures,
                        now + policy.account_lock_secs
                    ],
                )
                .map_err(be)?;
            }
            tx.commit().map_err(be)
        })
    }

    fn clear_login_failures(&self, account: Id) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE accounts SET failed_logins = 0 WHERE id = ?1 AND failed_logins <> 0",
                [account.0],
            )
            .map_err(be)?;
            Ok(())
        })
    }

    fn unlock_account(&self, account: Id) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            let n = conn
                .execute(
                    "UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = ?1",
                    [account.0],
                )
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn set_mfa_pending(&self, account: Id, secret: Vec<u8>) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE accounts SET mfa_secret = ?2 WHERE id = ?1 AND mfa_enabled = 0",
                params![account.0, secret],
            )
            .map_err(be)?;
            Ok(())
        })
    }

    fn enable_mfa(&self, account: Id, recovery_hashes: Vec<[u8; 32]>) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            tx.execute(
                "UPDATE accounts SET mfa_enabled = 1 WHERE id = ?1 AND mfa_secret IS NOT NULL",
                [account.0],
            )
            .map_err(be)?;
            tx.execute(
                "DELETE FROM recovery_codes WHERE account_id = ?1",
                [account.0],
            )
            .map_err(be)?;
            {
                let mut stmt = tx
                    .prepare("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?1, ?2)")
                    .map_err(be)?;
                for h in &recovery_hashes {
                    stmt.execute(params![account.0, h]).map_err(be)?;
                }
            }
            tx.commit().map_err(be)
        })
    }

    fn disable_mfa(&self, account: Id) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            tx.execute(
                "UPDATE accounts SET mfa_enabled = 0, mfa_secret = NULL WHERE id = ?1",
                [account.0],
            )
            .map_err(be)?;
            tx.execute(
                "DELETE FROM recovery_codes WHERE account_id = ?1",
                [account.0],
            )
            .map_err(be)?;
            tx.commit().map_err(be)
        })
    }

    fn use_totp_step(&self, account: Id, step: i64) -> StoreFuture<'_, bool> {
        self.run(move |conn| {
            let n = conn
                .execute(
                    "UPDATE accounts SET mfa_last_step = ?2 WHERE id = ?1 AND mfa_last_step < ?2",
                    params![account.0, step],
                )
                .map_err(be)?;
            Ok(n > 0)
        })
    }

    fn use_recovery_code(&self, account: Id, hash: [u8; 32]) -> StoreFuture<'_, bool> {
        self.run(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM recovery_codes WHERE account_id = ?1 AND code_hash = ?2",
                    params![account.0, hash],
                )
                .map_err(be)?;
            Ok(n > 0)
        })
    }

    fn recovery_codes_left(&self, account: Id) -> StoreFuture<'_, u32> {
        self.run(move |conn| {
            conn.query_row(
                "SELECT count(*) FROM recovery_codes WHERE account_id = ?1",
                [account.0],
                |r| r.get(0),
            )
            .map_err(be)
        })
    }

    fn push(
        &self,
        team: Id,
        account: Id,
        changes: Vec<PushChange>,
        now: i64,
    ) -> StoreFuture<'_, Vec<PushResult>> {
        let hub = self.hub.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            let seq: Option<i64> = tx
                .query_row("SELECT seq FROM teams WHERE id = ?1", [team.0], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(be)?;
            let seq = seq.ok_or(StoreError::NotFound)?;
            let mut current = HashMap::new();
            {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT item_id, version, seq, deleted, blob FROM items
                         WHERE account_id = ?1 AND item_id = ?2",
                    )
                    .map_err(be)?;
                for c in &changes {
                    if current.contains_key(&c.item_id) {
                        continue;
                    }
                    if let Some((_, rec)) = stmt
                        .query_row(params![account.0, c.item_id.0], item_row)
                        .optional()
                        .map_err(be)?
                    {
                        current.insert(
                            c.item_id,
                            ItemRecord {
                                item_id: c.item_id,
                                ..rec
                            },
                        );
                    }
                }
            }
            let (results, applied) = decide_push(&mut current, changes, seq as u64 + 1);
            if let Some(last) = applied.last() {
                let mut hist = tx
                    .prepare_cached(
                        "INSERT INTO item_versions (account_id, item_id, version, team_id, seq,
                             deleted, blob, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .map_err(be)?;
                let mut cur = tx
                    .prepare_cached(
                        "INSERT INTO items (account_id, item_id, version, seq, deleted, blob)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (account_id, item_id) DO UPDATE SET
                           version = excluded.version, seq = excluded.seq,
                           deleted = excluded.deleted, blob = excluded.blob",
                    )
                    .map_err(be)?;
                for r in &applied {
                    hist.execute(params![
                        account.0,
                        r.item_id.0,
                        r.version as i64,
                        team.0,
                        r.seq as i64,
                        r.deleted,
                        r.blob.0,
                        now
                    ])
                    .map_err(be)?;
                    cur.execute(params![
                        account.0,
                        r.item_id.0,
                        r.version as i64,
                        r.seq as i64,
                        r.deleted,
                        r.blob.0
                    ])
                    .map_err(be)?;
                }
                tx.execute(
                    "UPDATE teams SET seq = ?2 WHERE id = ?1",
                    params![team.0, last.seq as i64],
                )
                .map_err(be)?;
            }
            let last = applied.last().map(|r| r.seq);
            tx.commit().map_err(be)?;
            // One node: the local hub is the whole fan-out.
            if let Some(seq) = last {
                hub.publish(Change { account, seq });
            }
            Ok(results)
        })
    }

    fn pull(&self, account: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT item_id, version, seq, deleted, blob FROM items
                     WHERE account_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(be)?;
            let rows = stmt
                .query_map(params![account.0, since as i64, limit as i64 + 1], item_row)
                .map_err(be)?;
            let mut changes = Vec::new();
            for row in rows {
                let (id, rec) = row.map_err(be)?;
                changes.push(ItemRecord {
                    item_id: id_from(&id)?,
                    ..rec
                });
            }
            let more = changes.len() > limit;
            changes.truncate(limit);
            Ok(PullPage { changes, more })
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.hub.subscribe()
    }
}
