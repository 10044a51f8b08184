//! The SQLite backend: one file, WAL, numbered append-only migrations (`PRAGMA user_version`).
//! One connection behind a mutex; every call runs on the blocking pool, never on the executor.
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use tessera_protocol::{
    AccountKeys, AuditEvent, AuditPage, AuditQuery, Blob, DirectoryEntry, ExposedRecord, GroupInfo,
    GroupMember, GroupRole, Id, ItemRecord, KdfInfo, MembershipWindow, OffboardResponse,
    PushChange, PushResult, SignedLogEntry,
};
use tokio::sync::broadcast;

use crate::events::{Change, ChangeHub};

mod access_request;
pub(crate) mod backup;
mod token;

use super::{
    id_from, rules, schema, Account, Audit, Group, LoginPolicy, Membership, NewAccountRow,
    NewGroup, NewInvite, NewSession, PullPage, Role, Rotation, Session, SetMember, Store,
    StoreError, StoreFuture, Team,
};

mod audit;
mod group_log;
mod manifest;
mod offboard;
mod share;

/// Where a push or pull goes: an account's own items or a group's.
#[derive(Clone, Copy)]
struct Space {
    items: &'static str,
    versions: &'static str,
    owner: &'static str,
}

const PERSONAL: Space = Space {
    items: "items",
    versions: "item_versions",
    owner: "account_id",
};

const GROUP: Space = Space {
    items: "group_items",
    versions: "group_item_versions",
    owner: "group_id",
};

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
        for (version, sql) in schema::pending(version, schema::SQLITE)? {
            let tx = conn.transaction().map_err(be)?;
            tx.execute_batch(sql).map_err(be)?;
            tx.pragma_update(None, "user_version", version)
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

    /// Run `f` in an immediate transaction on the blocking pool and commit it with the entries
    /// `audit` records for its result ([`audit::commit`]): both or neither.
    fn audited<T, F>(&self, audit: Audit<T>, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let out = f(&tx)?;
            audit::commit(tx, audit, &out)?;
            Ok(out)
        })
    }
}

/// A transaction that takes the write lock when it begins.
fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(be)
}

const ACCOUNT_COLS: &str = "id, team_id, email, role, auth_hash, kdf_memory_kib, kdf_iterations,
    kdf_parallelism, kdf_salt, exchange_public, signing_public, header, wrapped_keyset,
    failed_logins, locked_until, mfa_secret, mfa_enabled, mfa_last_step, root_pin";

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
            root_pin: r.get(18)?,
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

pub(super) fn item_row(r: &Row<'_>) -> rusqlite::Result<(Vec<u8>, ItemRecord)> {
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

    fn rotate_server_secret(&self) -> StoreFuture<'_, ()> {
        self.run(|conn| {
            let fresh: [u8; 32] = rand::random();
            conn.execute(
                "INSERT INTO server_meta (key, value) VALUES ('secret', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [fresh],
            )
            .map(drop)
            .map_err(be)
        })
    }

    fn create_team(
        &self,
        team: Team,
        admin: NewAccountRow,
        session: NewSession,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
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
            insert_account(tx, &admin)?;
            insert_session(tx, admin.id, &session)
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

    fn set_require_mfa(&self, team: Id, require: bool, audit: Audit<()>) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
            let n = tx
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

    fn create_session(
        &self,
        account: Id,
        session: NewSession,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| insert_session(tx, account, &session))
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

    fn revoke_session(
        &self,
        account: Id,
        id: Id,
        now: i64,
        audit: Audit<bool>,
    ) -> StoreFuture<'_, bool> {
        self.audited(audit, move |tx| {
            let n = tx
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

    fn create_invite(&self, invite: NewInvite, audit: Audit<()>) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
            tx.execute(
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
        audit: Audit<Team>,
    ) -> StoreFuture<'_, Team> {
        self.audited(audit, move |tx| {
            let invite = tx
                .query_row(
                    "SELECT team_id, email, expires_at, used_at FROM invites
                     WHERE token_hash = ?1",
                    [token_hash],
                    |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(be)?
                .map(|(team, email, expires_at, used_at)| {
                    Ok::<_, StoreError>(rules::Invite {
                        team: id_from(&team)?,
                        email,
                        expires_at,
                        used_at,
                    })
                })
                .transpose()?;
            let team_id = rules::join(invite, &account.email, now)?;
            tx.execute(
                "UPDATE invites SET used_at = ?2 WHERE token_hash = ?1",
                params![token_hash, now],
            )
            .map_err(be)?;
            let account = NewAccountRow { team_id, ..account };
            insert_account(tx, &account)?;
            insert_session(tx, account.id, &session)?;
            tx.query_row(
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
            .map_err(be)
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
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
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
            Ok(())
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
        audit: Audit<Vec<PushResult>>,
    ) -> StoreFuture<'_, Vec<PushResult>> {
        let hub = self.hub.clone();
        self.run(move |conn| {
            let tx = immediate(conn)?;
            let (results, last) = push_into(&tx, PERSONAL, team, account, changes, now)?;
            audit::commit(tx, audit, &results)?;
            // One node: the local hub is the whole fan-out.
            if let Some(seq) = last {
                hub.publish(Change { account, seq });
            }
            Ok(results)
        })
    }

    fn pull(&self, account: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage> {
        self.run(move |conn| pull_from(conn, PERSONAL, account, since, limit))
    }

    fn directory(&self, team: Id) -> StoreFuture<'_, Vec<DirectoryEntry>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, email, role, exchange_public, signing_public, certificate
                     FROM accounts WHERE team_id = ?1 ORDER BY email",
                )
                .map_err(be)?;
            let rows = stmt
                .query_map([team.0], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        DirectoryEntry {
                            account_id: Id([0; 16]),
                            email: r.get(1)?,
                            team_role: r.get(2)?,
                            exchange_public: Blob(r.get(3)?),
                            signing_public: Blob(r.get(4)?),
                            certificate: opt_blob(r.get(5)?),
                        },
                    ))
                })
                .map_err(be)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, e) = row.map_err(be)?;
                out.push(DirectoryEntry {
                    account_id: id_from(&id)?,
                    ..e
                });
            }
            Ok(out)
        })
    }

    fn set_certificate(
        &self,
        account: Id,
        chain: Vec<u8>,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
            let n = tx
                .execute(
                    "UPDATE accounts SET certificate = ?2 WHERE id = ?1",
                    params![account.0, chain],
                )
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn set_root_pin(&self, account: Id, pin: Vec<u8>) -> StoreFuture<'_, ()> {
        self.run(move |conn| {
            let n = conn
                .execute(
                    "UPDATE accounts SET root_pin = ?2 WHERE id = ?1",
                    params![account.0, pin],
                )
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn create_group(&self, g: NewGroup, audit: Audit<()>) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
            tx.execute(
                "INSERT INTO groups (id, team_id, epoch, name, created_by, created_at)
                 VALUES (?1, ?2, 1, ?3, ?4, ?5)",
                params![g.id.0, g.team_id.0, g.name, g.created_by.0, g.created_at],
            )
            .map_err(unique_to(StoreError::IdTaken))?;
            tx.execute(
                "INSERT INTO group_epochs (group_id, epoch, prev, created_by, created_at)
                 VALUES (?1, 1, x'', ?2, ?3)",
                params![g.id.0, g.created_by.0, g.created_at],
            )
            .map_err(be)?;
            tx.execute(
                "INSERT INTO group_keys (group_id, account_id, epoch, wrapped)
                 VALUES (?1, ?2, 1, ?3)",
                params![g.id.0, g.created_by.0, g.key],
            )
            .map_err(be)?;
            tx.execute(
                "INSERT INTO group_members (group_id, account_id, role, expires_at, added_by,
                     added_at, removed_at)
                 VALUES (?1, ?2, 'admin', NULL, ?2, ?3, NULL)",
                params![g.id.0, g.created_by.0, g.created_at],
            )
            .map_err(be)?;
            group_log::append(tx, g.id, &g.log)
        })
    }

    fn group(&self, id: Id) -> StoreFuture<'_, Option<Group>> {
        self.run(move |conn| {
            let row = conn
                .query_row(
                    "SELECT team_id, epoch, name FROM groups WHERE id = ?1",
                    [id.0],
                    |r| {
                        Ok((
                            r.get::<_, Vec<u8>>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(be)?;
            row.map(|(team, epoch, name)| {
                Ok(Group {
                    id,
                    team_id: id_from(&team)?,
                    epoch: epoch as u64,
                    name,
                })
            })
            .transpose()
        })
    }

    fn membership(&self, group: Id, account: Id) -> StoreFuture<'_, Option<Membership>> {
        self.run(move |conn| {
            conn.query_row(
                "SELECT role, expires_at, removed_at FROM group_members
                 WHERE group_id = ?1 AND account_id = ?2",
                params![group.0, account.0],
                |r| {
                    Ok(Membership {
                        role: GroupRole::parse(&r.get::<_, String>(0)?),
                        expires_at: r.get(1)?,
                        removed_at: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(be)
        })
    }

    fn groups_of(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<GroupInfo>> {
        self.run(move |conn| {
            let live = "FROM group_members m JOIN groups g ON g.id = m.group_id
                 WHERE m.account_id = ?1 AND m.removed_at IS NULL
                   AND (m.expires_at IS NULL OR m.expires_at > ?2)";
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT g.id, g.epoch, g.name, m.role, m.expires_at {live} ORDER BY g.id"
                ))
                .map_err(be)?;
            let rows = stmt
                .query_map(params![account.0, now], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })
                .map_err(be)?;
            let mut out = Vec::new();
            let mut index = HashMap::new();
            for row in rows {
                let (id, epoch, name, role, expires_at) = row.map_err(be)?;
                let group_id = id_from(&id)?;
                index.insert(group_id, out.len());
                out.push(GroupInfo {
                    group_id,
                    epoch: epoch as u64,
                    name: Blob(name),
                    role: GroupRole::parse(&role),
                    expires_at,
                    keys: Vec::new(),
                });
            }
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT e.group_id, e.epoch, e.prev, k.wrapped FROM group_epochs e
                     LEFT JOIN group_keys k ON k.group_id = e.group_id AND k.epoch = e.epoch
                         AND k.account_id = ?1
                     WHERE e.group_id IN (SELECT g.id {live})
                     ORDER BY e.group_id, e.epoch"
                ))
                .map_err(be)?;
            let rows = stmt
                .query_map(params![account.0, now], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                })
                .map_err(be)?;
            for row in rows {
                let (id, epoch, prev, wrapped) = row.map_err(be)?;
                if let Some(&i) = index.get(&id_from(&id)?) {
                    out[i].keys.push(tessera_protocol::EpochKey {
                        epoch: epoch as u64,
                        wrapped: opt_blob(wrapped),
                        prev: Blob(prev),
                    });
                }
            }
            Ok(out)
        })
    }

    fn group_members(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<GroupMember>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT m.account_id, a.email, m.role, m.expires_at, m.added_by, m.added_at,
                         EXISTS (SELECT 1 FROM group_keys k WHERE k.group_id = m.group_id
                             AND k.account_id = m.account_id AND k.epoch = g.epoch)
                     FROM group_members m JOIN accounts a ON a.id = m.account_id
                         JOIN groups g ON g.id = m.group_id
                     WHERE m.group_id = ?1 AND m.removed_at IS NULL
                       AND (m.expires_at IS NULL OR m.expires_at > ?2)
                     ORDER BY a.email",
                )
                .map_err(be)?;
            let rows = stmt
                .query_map(params![group.0, now], member_row)
                .map_err(be)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, by, m) = row.map_err(be)?;
                out.push(GroupMember {
                    account_id: id_from(&id)?,
                    added_by: id_from(&by)?,
                    ..m
                });
            }
            Ok(out)
        })
    }

    fn set_member(&self, m: SetMember, audit: Audit<()>) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| set_member_in(tx, &m))
    }

    fn rotate_group(&self, r: Rotation, audit: Audit<()>) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
            rules::next_epoch(group_epoch(tx, r.group)?, r.epoch)?;
            group_log::append(tx, r.group, &r.log)?;
            {
                let mut rm = tx
                    .prepare_cached(
                        "UPDATE group_members SET removed_at = ?3
                         WHERE group_id = ?1 AND account_id = ?2 AND removed_at IS NULL",
                    )
                    .map_err(be)?;
                for a in &r.remove {
                    rm.execute(params![r.group.0, a.0, r.now]).map_err(be)?;
                }
                let mut key = tx
                    .prepare_cached(
                        "INSERT INTO group_keys (group_id, account_id, epoch, wrapped)
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(be)?;
                for (a, k) in &r.keys {
                    key.execute(params![r.group.0, a.0, r.epoch as i64, k])
                        .map_err(be)?;
                }
            }
            token::rotate_keys(tx, &r)?;
            tx.execute(
                "INSERT INTO group_epochs (group_id, epoch, prev, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.group.0, r.epoch as i64, r.prev, r.by.0, r.now],
            )
            .map_err(be)?;
            tx.execute(
                "UPDATE groups SET epoch = ?2, name = ?3 WHERE id = ?1",
                params![r.group.0, r.epoch as i64, r.name],
            )
            .map_err(be)?;
            Ok(())
        })
    }

    fn group_push(
        &self,
        team: Id,
        group: Id,
        changes: Vec<PushChange>,
        now: i64,
        audit: Audit<Vec<PushResult>>,
    ) -> StoreFuture<'_, Vec<PushResult>> {
        self.audited(audit, move |tx| {
            Ok(push_into(tx, GROUP, team, group, changes, now)?.0)
        })
    }

    fn group_pull(&self, group: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage> {
        self.run(move |conn| pull_from(conn, GROUP, group, since, limit))
    }

    fn group_log(&self, group: Id, since: u64) -> StoreFuture<'_, Vec<SignedLogEntry>> {
        self.run(move |conn| group_log::entries(conn, group, since))
    }

    fn group_log_head(&self, group: Id) -> StoreFuture<'_, Option<(u64, Vec<u8>)>> {
        self.run(move |conn| group_log::head(conn, group))
    }

    fn group_of_item(&self, team: Id, item: Id) -> StoreFuture<'_, Option<Id>> {
        self.run(move |conn| {
            let id: Option<Vec<u8>> = conn
                .query_row(
                    "SELECT i.group_id FROM group_items i JOIN groups g ON g.id = i.group_id
                     WHERE i.item_id = ?1 AND g.team_id = ?2 AND i.deleted = 0
                     ORDER BY i.seq DESC LIMIT 1",
                    params![item.0, team.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(be)?;
            id.map(|b| id_from(&b)).transpose()
        })
    }

    fn append_audit(&self, team: Id, at: i64, events: Vec<AuditEvent>) -> StoreFuture<'_, ()> {
        self.run(move |conn| audit::append(conn, team, at, events))
    }

    fn audit_page(&self, team: Id, q: AuditQuery, limit: usize) -> StoreFuture<'_, AuditPage> {
        self.run(move |conn| audit::page(conn, team, &q, limit))
    }

    fn offboarding(
        &self,
        account: Id,
        now: i64,
    ) -> StoreFuture<'_, (Vec<MembershipWindow>, Vec<ExposedRecord>)> {
        self.run(move |conn| offboard::review(conn, account, now))
    }

    fn offboard(
        &self,
        account: Id,
        by: Id,
        now: i64,
        audit: Audit<OffboardResponse>,
    ) -> StoreFuture<'_, OffboardResponse> {
        self.audited(audit, move |tx| offboard::offboard(tx, account, by, now))
    }

    fn offboarded_at(&self, account: Id) -> StoreFuture<'_, Option<i64>> {
        self.run(move |conn| offboard::offboarded_at(conn, account))
    }

    fn set_share_expiry(
        &self,
        group: Id,
        item: Id,
        expires_at: Option<i64>,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| share::set(tx, group, item, expires_at))
    }

    fn share_expiry(&self, group: Id, item: Id) -> StoreFuture<'_, Option<i64>> {
        self.run(move |conn| share::get(conn, group, item))
    }

    fn manifest(&self, collection: Id) -> StoreFuture<'_, Option<super::StoredManifest>> {
        self.run(move |conn| manifest::get(conn, collection))
    }

    fn put_manifest(&self, collection: Id, m: super::StoredManifest) -> StoreFuture<'_, ()> {
        self.run(move |conn| manifest::put(conn, collection, &m))
    }

    fn ended_shares(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<Id>> {
        self.run(move |conn| share::ended(conn, group, now))
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.hub.subscribe()
    }

    fn pool_status(&self) -> Option<super::postgres::PoolStatus> {
        None
    }
}

/// A group's current epoch (`None`: no such group).
fn group_epoch(tx: &Connection, group: Id) -> Result<Option<u64>, StoreError> {
    tx.query_row("SELECT epoch FROM groups WHERE id = ?1", [group.0], |r| {
        r.get::<_, i64>(0)
    })
    .optional()
    .map_err(be)
    .map(|e| e.map(|e| e as u64))
}

/// Add or change a membership inside a transaction (see [`Store::set_member`]).
fn set_member_in(tx: &Connection, m: &SetMember) -> Result<(), StoreError> {
    rules::current_epoch(group_epoch(tx, m.group)?, m.epoch)?;
    let epoch = m.epoch as i64;
    group_log::append(tx, m.group, &m.log)?;
    if let Some(key) = &m.key {
        tx.execute(
            "INSERT INTO group_keys (group_id, account_id, epoch, wrapped)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (group_id, account_id, epoch) DO UPDATE SET
                   wrapped = excluded.wrapped",
            params![m.group.0, m.account.0, epoch, key],
        )
        .map_err(be)?;
    } else {
        let has: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM group_keys
                     WHERE group_id = ?1 AND account_id = ?2 AND epoch = ?3)",
                params![m.group.0, m.account.0, epoch],
                |r| r.get(0),
            )
            .map_err(be)?;
        rules::member_key(false, has)?;
    }
    tx.execute(
        "INSERT INTO group_members (group_id, account_id, role, expires_at, added_by,
                 added_at, removed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
             ON CONFLICT (group_id, account_id) DO UPDATE SET
               role = excluded.role, expires_at = excluded.expires_at,
               added_by = CASE WHEN group_members.removed_at IS NULL
                   THEN group_members.added_by ELSE excluded.added_by END,
               added_at = CASE WHEN group_members.removed_at IS NULL
                   THEN group_members.added_at ELSE excluded.added_at END,
               removed_at = NULL",
        params![
            m.group.0,
            m.account.0,
            m.role.as_str(),
            m.expires_at,
            m.by.0,
            m.now
        ],
    )
    .map_err(be)?;
    Ok(())
}

/// Apply a batch to one space inside the caller's (immediate) transaction; returns the results
/// and the last applied sequence number.
fn push_into(
    tx: &Connection,
    space: Space,
    team: Id,
    owner: Id,
    changes: Vec<PushChange>,
    now: i64,
) -> Result<(Vec<PushResult>, Option<u64>), StoreError> {
    let Space {
        items,
        versions,
        owner: col,
    } = space;
    let seq: Option<i64> = tx
        .query_row("SELECT seq FROM teams WHERE id = ?1", [team.0], |r| {
            r.get(0)
        })
        .optional()
        .map_err(be)?;
    let seq = seq.ok_or(StoreError::NotFound)?;
    let mut current = HashMap::new();
    {
        // SQLite runs in-process: a prepared lookup per touched item costs no round trip.
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT item_id, version, seq, deleted, blob FROM {items}
                 WHERE {col} = ?1 AND item_id = ?2"
            ))
            .map_err(be)?;
        for c in &changes {
            if current.contains_key(&c.item_id) {
                continue;
            }
            if let Some((_, rec)) = stmt
                .query_row(params![owner.0, c.item_id.0], item_row)
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
    let (results, applied) = rules::push(&mut current, changes, seq as u64 + 1);
    if let Some(last) = applied.last() {
        let mut hist = tx
            .prepare_cached(&format!(
                "INSERT INTO {versions} ({col}, item_id, version, team_id, seq,
                     deleted, blob, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))
            .map_err(be)?;
        let mut cur = tx
            .prepare_cached(&format!(
                "INSERT INTO {items} ({col}, item_id, version, seq, deleted, blob)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT ({col}, item_id) DO UPDATE SET
                   version = excluded.version, seq = excluded.seq,
                   deleted = excluded.deleted, blob = excluded.blob"
            ))
            .map_err(be)?;
        for r in &applied {
            hist.execute(params![
                owner.0,
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
                owner.0,
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
    Ok((results, applied.last().map(|r| r.seq)))
}

/// One page of a space's changes after `since` (one query).
fn pull_from(
    conn: &mut Connection,
    space: Space,
    owner: Id,
    since: u64,
    limit: usize,
) -> Result<PullPage, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT item_id, version, seq, deleted, blob FROM {}
             WHERE {} = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            space.items, space.owner
        ))
        .map_err(be)?;
    let rows = stmt
        .query_map(params![owner.0, since as i64, limit as i64 + 1], item_row)
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
}

fn opt_blob(v: Option<Vec<u8>>) -> Blob {
    Blob(v.unwrap_or_default())
}

fn member_row(r: &Row<'_>) -> rusqlite::Result<(Vec<u8>, Vec<u8>, GroupMember)> {
    let role: String = r.get(2)?;
    Ok((
        r.get(0)?,
        r.get(4)?,
        GroupMember {
            account_id: Id([0; 16]),
            email: r.get(1)?,
            role: GroupRole::parse(&role),
            expires_at: r.get(3)?,
            added_by: Id([0; 16]),
            added_at: r.get(5)?,
            has_current_key: r.get(6)?,
        },
    ))
}
