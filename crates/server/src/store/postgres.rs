//! The PostgreSQL backend: a small pool of connections, numbered append-only migrations
//! (recorded in `schema_migrations`, applied under an advisory lock so several nodes can start
//! at once). Sync paths are set-based: a pull is one query, a push loads the touched items in one
//! query and writes with `UNNEST` arrays, all in one transaction.
//!
//! A push that applies changes also runs `NOTIFY tessera_changes, '<account>:<seq>'` in its
//! transaction, so PostgreSQL delivers it only on commit. Each store keeps one more connection
//! that `LISTEN`s on the channel (reconnecting with backoff when it drops) and publishes every
//! notification to the node's [`ChangeHub`]: the change reaches event streams on every node,
//! this one included.
use std::collections::HashMap;
use std::time::Duration;

use tessera_protocol::{
    AccountKeys, AuditEvent, AuditPage, AuditQuery, Blob, DirectoryEntry, ExposedRecord, GroupInfo,
    GroupMember, GroupRole, Id, ItemRecord, KdfInfo, MembershipWindow, OffboardResponse,
    PushChange, PushResult, SignedLogEntry,
};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, GenericClient, NoTls, Row};

use crate::events::{Change, ChangeHub, PG_CHANNEL};

mod access_request;
pub(crate) mod backup;
mod pool;
mod token;

pub use pool::{PoolOptions, PoolStatus};

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
    /// Announce applied changes on the change channel.
    notify: bool,
}

const PERSONAL: Space = Space {
    items: "items",
    versions: "item_versions",
    owner: "account_id",
    notify: true,
};

const GROUP: Space = Space {
    items: "group_items",
    versions: "group_item_versions",
    owner: "group_id",
    notify: false,
};

/// The PostgreSQL store.
pub struct PgStore {
    pool: pool::Pool,
    hub: ChangeHub,
    listener: JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping the task drops its client, which closes the LISTEN connection.
        self.listener.abort();
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.write_str("PgStore")
    }
}

fn be(e: tokio_postgres::Error) -> StoreError {
    StoreError::backend(e)
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(be)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "postgres connection closed");
        }
    });
    Ok(client)
}

impl PgStore {
    /// Connect to `url` (`postgres://user@host/db`) with the default pool and bring the schema
    /// up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// Connect to `url` with a pool of `options` and bring the schema up to date.
    pub async fn connect_with(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let pool = pool::Pool::new(url, options)?;
        migrate(&mut *pool.get().await?).await?;
        let hub = ChangeHub::new();
        // The first LISTEN is in place before `connect` returns, so no commit after it is missed.
        let first = listen(url, &hub).await.map_err(be)?;
        let listener = tokio::spawn(keep_listening(url.to_owned(), hub.clone(), first));
        Ok(Self {
            pool,
            hub,
            listener,
        })
    }

    #[allow(clippy::too_many_lines)] // one transaction, read then two set-based writes
    async fn push_into(
        &self,
        space: Space,
        team: Id,
        account: Id,
        changes: Vec<PushChange>,
        now: i64,
        audit: Audit<Vec<PushResult>>,
    ) -> Result<Vec<PushResult>, StoreError> {
        let Space {
            items,
            versions: history,
            owner: col,
            notify,
        } = space;
        {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            // Lock the team row: pushes of one team commit in sequence order.
            let seq: i64 = tx
                .query_opt(
                    "SELECT seq FROM teams WHERE id = $1 FOR UPDATE",
                    &[&team.0.as_slice()],
                )
                .await
                .map_err(be)?
                .ok_or(StoreError::NotFound)?
                .get(0);
            let ids: Vec<&[u8]> = changes.iter().map(|c| c.item_id.0.as_slice()).collect();
            let rows = tx
                .query(
                    &format!(
                        "SELECT item_id, version, seq, deleted, blob FROM {items}
                         WHERE {col} = $1 AND item_id = ANY($2)"
                    ),
                    &[&account.0.as_slice(), &ids],
                )
                .await
                .map_err(be)?;
            let mut current = HashMap::with_capacity(rows.len());
            for r in &rows {
                let rec = item_from(r)?;
                current.insert(rec.item_id, rec);
            }
            let (results, applied) = rules::push(&mut current, changes, seq as u64 + 1);
            if let Some(last) = applied.last() {
                let ids: Vec<&[u8]> = applied.iter().map(|r| r.item_id.0.as_slice()).collect();
                let versions: Vec<i64> = applied.iter().map(|r| r.version as i64).collect();
                let seqs: Vec<i64> = applied.iter().map(|r| r.seq as i64).collect();
                let deleted: Vec<bool> = applied.iter().map(|r| r.deleted).collect();
                let blobs: Vec<&[u8]> = applied.iter().map(|r| r.blob.0.as_slice()).collect();
                tx.execute(
                    &format!(
                        "INSERT INTO {history} ({col}, item_id, version, team_id, seq,
                             deleted, blob, created_at)
                         SELECT $1, u.i, u.v, $2, u.s, u.d, u.b, $3
                         FROM UNNEST($4::bytea[], $5::int8[], $6::int8[], $7::bool[],
                             $8::bytea[]) AS u(i, v, s, d, b)"
                    ),
                    &[
                        &account.0.as_slice(),
                        &team.0.as_slice(),
                        &now,
                        &ids,
                        &versions,
                        &seqs,
                        &deleted,
                        &blobs,
                    ],
                )
                .await
                .map_err(be)?;
                // One row per item (its last applied change): an upsert may touch a row once.
                let mut last_of = HashMap::new();
                for (i, r) in applied.iter().enumerate() {
                    last_of.insert(r.item_id, i);
                }
                let mut keep: Vec<usize> = last_of.into_values().collect();
                keep.sort_unstable();
                let pick = |v: &[_]| keep.iter().map(|&i| v[i]).collect::<Vec<_>>();
                let (ids, blobs) = (pick(&ids), pick(&blobs));
                let versions: Vec<i64> = keep.iter().map(|&i| versions[i]).collect();
                let seqs: Vec<i64> = keep.iter().map(|&i| seqs[i]).collect();
                let deleted: Vec<bool> = keep.iter().map(|&i| deleted[i]).collect();
                tx.execute(
                    &format!(
                        "INSERT INTO {items} ({col}, item_id, version, seq, deleted, blob)
                         SELECT $1, u.i, u.v, u.s, u.d, u.b
                         FROM UNNEST($2::bytea[], $3::int8[], $4::int8[], $5::bool[],
                             $6::bytea[]) AS u(i, v, s, d, b)
                         ON CONFLICT ({col}, item_id) DO UPDATE SET
                           version = excluded.version, seq = excluded.seq,
                           deleted = excluded.deleted, blob = excluded.blob"
                    ),
                    &[
                        &account.0.as_slice(),
                        &ids,
                        &versions,
                        &seqs,
                        &deleted,
                        &blobs,
                    ],
                )
                .await
                .map_err(be)?;
                tx.execute(
                    "UPDATE teams SET seq = $2 WHERE id = $1",
                    &[&team.0.as_slice(), &(last.seq as i64)],
                )
                .await
                .map_err(be)?;
                // Delivered by PostgreSQL only if the transaction commits.
                if notify {
                    let payload = Change {
                        account,
                        seq: last.seq,
                    }
                    .to_payload();
                    tx.execute("SELECT pg_notify($1, $2)", &[&PG_CHANNEL, &payload])
                        .await
                        .map_err(be)?;
                }
            }
            audit::commit(tx, audit, &results).await?;
            Ok(results)
        }
    }

    async fn pull_from(
        &self,
        space: Space,
        account: Id,
        since: u64,
        limit: usize,
    ) -> Result<PullPage, StoreError> {
        {
            let c = self.conn().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT item_id, version, seq, deleted, blob FROM {}
                         WHERE {} = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                        space.items, space.owner
                    ),
                    &[&account.0.as_slice(), &(since as i64), &(limit as i64 + 1)],
                )
                .await
                .map_err(be)?;
            let mut changes = rows.iter().map(item_from).collect::<Result<Vec<_>, _>>()?;
            let more = changes.len() > limit;
            changes.truncate(limit);
            Ok(PullPage { changes, more })
        }
    }

    /// A connection from the pool.
    async fn conn(&self) -> Result<pool::Conn, StoreError> {
        self.pool.get().await
    }
}

/// A live `LISTEN` connection: its client (kept so the connection stays open) and the task that
/// reads its messages, which ends when the connection does.
struct Listening {
    _client: Client,
    pump: JoinHandle<()>,
}

/// Open a connection, start publishing its notifications to `hub`, and `LISTEN`.
async fn listen(url: &str, hub: &ChangeHub) -> Result<Listening, tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let hub = hub.clone();
    let pump = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) if n.channel() == PG_CHANNEL => {
                    match Change::from_payload(n.payload()) {
                        Some(change) => hub.publish(change),
                        None => tracing::warn!("ignoring a malformed change notification"),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "the LISTEN connection failed");
                    return;
                }
                None => return,
            }
        }
    });
    if let Err(e) = client.batch_execute(&format!("LISTEN {PG_CHANNEL}")).await {
        pump.abort();
        return Err(e);
    }
    Ok(Listening {
        _client: client,
        pump,
    })
}

/// Keep a `LISTEN` connection open: when it drops, reconnect with exponential backoff (100 ms
/// doubling to 30 s, reset once listening again). Changes committed while no connection
/// listens are not announced; clients catch up on their next pull.
async fn keep_listening(url: String, hub: ChangeHub, mut current: Listening) {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(30);
    loop {
        if let Err(e) = (&mut current.pump).await {
            tracing::warn!(error = %e, "the task reading the LISTEN connection failed");
        }
        let mut backoff = FIRST;
        current = loop {
            tokio::time::sleep(backoff).await;
            match listen(&url, &hub).await {
                Ok(l) => {
                    tracing::info!("listening for changes again");
                    break l;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_ms = backoff.as_millis() as u64, "could not LISTEN for changes");
                    backoff = (backoff * 2).min(MAX);
                }
            }
        };
    }
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(be)?;
    // Serialise nodes starting together; the lock ends with the transaction.
    tx.execute("SELECT pg_advisory_xact_lock(5453563101)", &[])
        .await
        .map_err(be)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
        .await
        .map_err(be)?;
    let done: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(be)?
        .get(0);
    for (version, sql) in schema::pending(done, schema::POSTGRES)? {
        tx.batch_execute(sql).await.map_err(be)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(be)?;
    }
    tx.commit().await.map_err(be)
}

/// A group's current epoch (`None`: no such group), locking its row.
async fn group_epoch(tx: &impl GenericClient, group: Id) -> Result<Option<u64>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT epoch FROM groups WHERE id = $1 FOR UPDATE",
            &[&group.0.as_slice()],
        )
        .await
        .map_err(be)?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}

/// Add or change a membership inside a transaction (see [`Store::set_member`]); locks the
/// group row.
async fn set_member_in(tx: &impl GenericClient, m: &SetMember) -> Result<(), StoreError> {
    let (g, a) = (m.group.0.as_slice(), m.account.0.as_slice());
    rules::current_epoch(group_epoch(tx, m.group).await?, m.epoch)?;
    let epoch = m.epoch as i64;
    group_log::append(tx, m.group, &m.log).await?;
    if let Some(key) = &m.key {
        tx.execute(
            "INSERT INTO group_keys (group_id, account_id, epoch, wrapped)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, account_id, epoch) DO UPDATE SET
               wrapped = excluded.wrapped",
            &[&g, &a, &epoch, key],
        )
        .await
        .map_err(be)?;
    } else {
        let has: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM group_keys
                 WHERE group_id = $1 AND account_id = $2 AND epoch = $3)",
                &[&g, &a, &epoch],
            )
            .await
            .map_err(be)?
            .get(0);
        rules::member_key(false, has)?;
    }
    tx.execute(
        "INSERT INTO group_members AS gm (group_id, account_id, role, expires_at,
             added_by, added_at, removed_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)
         ON CONFLICT (group_id, account_id) DO UPDATE SET
           role = excluded.role, expires_at = excluded.expires_at,
           added_by = CASE WHEN gm.removed_at IS NULL
               THEN gm.added_by ELSE excluded.added_by END,
           added_at = CASE WHEN gm.removed_at IS NULL
               THEN gm.added_at ELSE excluded.added_at END,
           removed_at = NULL",
        &[
            &g,
            &a,
            &m.role.as_str(),
            &m.expires_at,
            &m.by.0.as_slice(),
            &m.now,
        ],
    )
    .await
    .map_err(be)?;
    Ok(())
}

/// Map a uniqueness violation to `EmailTaken` (on the e-mail) or `IdTaken`.
fn unique(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        let on_email = e
            .as_db_error()
            .and_then(|d| d.constraint())
            .is_some_and(|c| c.contains("email"));
        if on_email {
            return StoreError::EmailTaken;
        }
        return StoreError::IdTaken;
    }
    be(e)
}

const ACCOUNT_COLS: &str = "id, team_id, email, role, auth_hash, kdf_memory_kib, kdf_iterations,
    kdf_parallelism, kdf_salt, exchange_public, signing_public, header, wrapped_keyset,
    failed_logins, locked_until, mfa_secret, mfa_enabled, mfa_last_step, root_pin";

fn account_from(r: &Row) -> Result<Account, StoreError> {
    let id: Vec<u8> = r.try_get(0).map_err(be)?;
    let team: Vec<u8> = r.try_get(1).map_err(be)?;
    let role: String = r.try_get(3).map_err(be)?;
    let n = |i: usize| -> Result<u32, StoreError> {
        let v: i64 = r.try_get(i).map_err(be)?;
        u32::try_from(v).map_err(|_| StoreError::Backend("a count column is out of range".into()))
    };
    Ok(Account {
        id: id_from(&id)?,
        team_id: id_from(&team)?,
        email: r.try_get(2).map_err(be)?,
        role: Role::parse(&role),
        auth_hash: r.try_get(4).map_err(be)?,
        kdf: KdfInfo {
            memory_kib: n(5)?,
            iterations: n(6)?,
            parallelism: n(7)?,
            salt: Blob(r.try_get(8).map_err(be)?),
        },
        keys: AccountKeys {
            exchange_public: Blob(r.try_get(9).map_err(be)?),
            signing_public: Blob(r.try_get(10).map_err(be)?),
            header: Blob(r.try_get(11).map_err(be)?),
            wrapped_keyset: Blob(r.try_get(12).map_err(be)?),
        },
        failed_logins: n(13)?,
        locked_until: r.try_get(14).map_err(be)?,
        mfa_secret: r.try_get(15).map_err(be)?,
        mfa_enabled: r.try_get(16).map_err(be)?,
        mfa_last_step: r.try_get(17).map_err(be)?,
        root_pin: r.try_get(18).map_err(be)?,
    })
}

async fn insert_account(c: &impl GenericClient, a: &NewAccountRow) -> Result<(), StoreError> {
    let taken: bool = c
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM accounts WHERE email = $1)",
            &[&a.email],
        )
        .await
        .map_err(be)?
        .get(0);
    if taken {
        return Err(StoreError::EmailTaken);
    }
    c.execute(
        "INSERT INTO accounts (id, team_id, email, role, auth_hash, kdf_memory_kib,
             kdf_iterations, kdf_parallelism, kdf_salt, exchange_public, signing_public, header,
             wrapped_keyset, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &a.id.0.as_slice(),
            &a.team_id.0.as_slice(),
            &a.email,
            &a.role.as_str(),
            &a.auth_hash,
            &i64::from(a.kdf.memory_kib),
            &i64::from(a.kdf.iterations),
            &i64::from(a.kdf.parallelism),
            &a.kdf.salt.0,
            &a.keys.exchange_public.0,
            &a.keys.signing_public.0,
            &a.keys.header.0,
            &a.keys.wrapped_keyset.0,
            &a.created_at,
        ],
    )
    .await
    .map_err(unique)?;
    Ok(())
}

async fn insert_session(
    c: &impl GenericClient,
    account: Id,
    s: &NewSession,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sessions (id, account_id, token_hash, device_name, created_at,
             last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
        &[
            &s.id.0.as_slice(),
            &account.0.as_slice(),
            &s.token_hash.as_slice(),
            &s.device_name,
            &s.created_at,
            &s.expires_at,
        ],
    )
    .await
    .map_err(unique)?;
    Ok(())
}

const SESSION_COLS: &str =
    "id, account_id, device_name, created_at, last_seen_at, expires_at, revoked_at";

fn session_from(r: &Row) -> Result<Session, StoreError> {
    let id: Vec<u8> = r.try_get(0).map_err(be)?;
    let account: Vec<u8> = r.try_get(1).map_err(be)?;
    Ok(Session {
        id: id_from(&id)?,
        account_id: id_from(&account)?,
        device_name: r.try_get(2).map_err(be)?,
        created_at: r.try_get(3).map_err(be)?,
        last_seen_at: r.try_get(4).map_err(be)?,
        expires_at: r.try_get(5).map_err(be)?,
        revoked_at: r.try_get(6).map_err(be)?,
    })
}

pub(super) fn item_from(r: &Row) -> Result<ItemRecord, StoreError> {
    let id: Vec<u8> = r.try_get(0).map_err(be)?;
    let version: i64 = r.try_get(1).map_err(be)?;
    let seq: i64 = r.try_get(2).map_err(be)?;
    Ok(ItemRecord {
        item_id: id_from(&id)?,
        version: version as u64,
        seq: seq as u64,
        deleted: r.try_get(3).map_err(be)?,
        blob: Blob(r.try_get(4).map_err(be)?),
    })
}

fn team_from(id: Id, r: &Row) -> Result<Team, StoreError> {
    Ok(Team {
        id,
        root_public: r.try_get(0).map_err(be)?,
        require_mfa: r.try_get(1).map_err(be)?,
        created_at: r.try_get(2).map_err(be)?,
    })
}

impl Store for PgStore {
    fn server_secret(&self) -> StoreFuture<'_, [u8; 32]> {
        Box::pin(async move {
            let c = self.conn().await?;
            let fresh: [u8; 32] = rand::random();
            c.execute(
                "INSERT INTO server_meta (key, value) VALUES ('secret', $1)
                 ON CONFLICT (key) DO NOTHING",
                &[&fresh.as_slice()],
            )
            .await
            .map_err(be)?;
            let v: Vec<u8> = c
                .query_one("SELECT value FROM server_meta WHERE key = 'secret'", &[])
                .await
                .map_err(be)?
                .get(0);
            <[u8; 32]>::try_from(v.as_slice())
                .map_err(|_| StoreError::Backend("the server secret is not 32 bytes".into()))
        })
    }

    fn rotate_server_secret(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            let fresh: [u8; 32] = rand::random();
            c.execute(
                "INSERT INTO server_meta (key, value) VALUES ('secret', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&fresh.as_slice()],
            )
            .await
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
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            tx.execute(
                "INSERT INTO teams (id, root_public, require_mfa, created_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &team.id.0.as_slice(),
                    &team.root_public,
                    &team.require_mfa,
                    &team.created_at,
                ],
            )
            .await
            .map_err(unique)?;
            insert_account(&tx, &admin).await?;
            insert_session(&tx, admin.id, &session).await?;
            audit::commit(tx, audit, &()).await
        })
    }

    fn team(&self, id: Id) -> StoreFuture<'_, Option<Team>> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.query_opt(
                "SELECT root_public, require_mfa, created_at FROM teams WHERE id = $1",
                &[&id.0.as_slice()],
            )
            .await
            .map_err(be)?
            .map(|r| team_from(id, &r))
            .transpose()
        })
    }

    fn set_require_mfa(&self, team: Id, require: bool, audit: Audit<()>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let n = tx
                .execute(
                    "UPDATE teams SET require_mfa = $2 WHERE id = $1",
                    &[&team.0.as_slice(), &require],
                )
                .await
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            audit::commit(tx, audit, &()).await
        })
    }

    fn account_by_email(&self, email: String) -> StoreFuture<'_, Option<Account>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE email = $1");
            c.query_opt(&sql, &[&email])
                .await
                .map_err(be)?
                .map(|r| account_from(&r))
                .transpose()
        })
    }

    fn account_by_id(&self, id: Id) -> StoreFuture<'_, Option<Account>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
            c.query_opt(&sql, &[&id.0.as_slice()])
                .await
                .map_err(be)?
                .map(|r| account_from(&r))
                .transpose()
        })
    }

    fn create_session(
        &self,
        account: Id,
        session: NewSession,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            insert_session(&tx, account, &session).await?;
            audit::commit(tx, audit, &()).await
        })
    }

    fn session_by_token_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Session>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE token_hash = $1");
            c.query_opt(&sql, &[&hash.as_slice()])
                .await
                .map_err(be)?
                .map(|r| session_from(&r))
                .transpose()
        })
    }

    fn touch_session(&self, id: Id, now: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.execute(
                "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
                &[&id.0.as_slice(), &now],
            )
            .await
            .map_err(be)?;
            Ok(())
        })
    }

    fn list_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<Session>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let sql = format!(
                "SELECT {SESSION_COLS} FROM sessions
                 WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2
                 ORDER BY created_at, id"
            );
            c.query(&sql, &[&account.0.as_slice(), &now])
                .await
                .map_err(be)?
                .iter()
                .map(session_from)
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
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let n = tx
                .execute(
                    "UPDATE sessions SET revoked_at = $3
                     WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
                    &[&id.0.as_slice(), &account.0.as_slice(), &now],
                )
                .await
                .map_err(be)?;
            let revoked = n > 0;
            audit::commit(tx, audit, &revoked).await?;
            Ok(revoked)
        })
    }

    fn revoke_all_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.execute(
                "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
                &[&account.0.as_slice(), &now],
            )
            .await
            .map_err(be)
        })
    }

    fn set_session_expiry(&self, id: Id, expires_at: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.execute(
                "UPDATE sessions SET expires_at = $2 WHERE id = $1",
                &[&id.0.as_slice(), &expires_at],
            )
            .await
            .map_err(be)?;
            Ok(())
        })
    }

    fn create_invite(&self, invite: NewInvite, audit: Audit<()>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            tx.execute(
                "INSERT INTO invites (token_hash, team_id, email, created_by, created_at,
                     expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &invite.token_hash.as_slice(),
                    &invite.team_id.0.as_slice(),
                    &invite.email,
                    &invite.created_by.0.as_slice(),
                    &invite.created_at,
                    &invite.expires_at,
                ],
            )
            .await
            .map_err(unique)?;
            audit::commit(tx, audit, &()).await
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
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let invite = tx
                .query_opt(
                    "SELECT team_id, email, expires_at, used_at FROM invites
                     WHERE token_hash = $1 FOR UPDATE",
                    &[&token_hash.as_slice()],
                )
                .await
                .map_err(be)?
                .map(|r| {
                    Ok::<_, StoreError>(rules::Invite {
                        team: id_from(r.try_get(0).map_err(be)?)?,
                        email: r.try_get(1).map_err(be)?,
                        expires_at: r.try_get(2).map_err(be)?,
                        used_at: r.try_get(3).map_err(be)?,
                    })
                })
                .transpose()?;
            let team_id = rules::join(invite, &account.email, now)?;
            tx.execute(
                "UPDATE invites SET used_at = $2 WHERE token_hash = $1",
                &[&token_hash.as_slice(), &now],
            )
            .await
            .map_err(be)?;
            let account = NewAccountRow { team_id, ..account };
            insert_account(&tx, &account).await?;
            insert_session(&tx, account.id, &session).await?;
            let row = tx
                .query_one(
                    "SELECT root_public, require_mfa, created_at FROM teams WHERE id = $1",
                    &[&team_id.0.as_slice()],
                )
                .await
                .map_err(be)?;
            let team = team_from(team_id, &row)?;
            audit::commit(tx, audit, &team).await?;
            Ok(team)
        })
    }

    fn address_failures(
        &self,
        address: String,
        now: i64,
        policy: LoginPolicy,
    ) -> StoreFuture<'_, u32> {
        Box::pin(async move {
            let c = self.conn().await?;
            let n: Option<i64> = c
                .query_opt(
                    "SELECT failures FROM login_addresses
                     WHERE address = $1 AND window_start > $2",
                    &[&address, &(now - policy.address_window_secs)],
                )
                .await
                .map_err(be)?
                .map(|r| r.get(0));
            Ok(n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
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
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            tx.execute(
                "INSERT INTO login_addresses AS a (address, window_start, failures)
                 VALUES ($1, $2, 1)
                 ON CONFLICT (address) DO UPDATE SET
                   failures = CASE WHEN a.window_start > $2 - $3 THEN a.failures + 1 ELSE 1 END,
                   window_start = CASE WHEN a.window_start > $2 - $3 THEN a.window_start
                                       ELSE $2 END",
                &[&address, &now, &policy.address_window_secs],
            )
            .await
            .map_err(be)?;
            if let Some(account) = account {
                tx.execute(
                    "UPDATE accounts SET
                       locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3
                                           ELSE locked_until END,
                       failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0
                                            ELSE failed_logins + 1 END
                     WHERE id = $1",
                    &[
                        &account.0.as_slice(),
                        &i64::from(policy.account_max_failures),
                        &(now + policy.account_lock_secs),
                    ],
                )
                .await
                .map_err(be)?;
            }
            audit::commit(tx, audit, &()).await
        })
    }

    fn clear_login_failures(&self, account: Id) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.execute(
                "UPDATE accounts SET failed_logins = 0 WHERE id = $1 AND failed_logins <> 0",
                &[&account.0.as_slice()],
            )
            .await
            .map_err(be)?;
            Ok(())
        })
    }

    fn unlock_account(&self, account: Id) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            let n = c
                .execute(
                    "UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1",
                    &[&account.0.as_slice()],
                )
                .await
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn set_mfa_pending(&self, account: Id, secret: Vec<u8>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.execute(
                "UPDATE accounts SET mfa_secret = $2 WHERE id = $1 AND NOT mfa_enabled",
                &[&account.0.as_slice(), &secret],
            )
            .await
            .map_err(be)?;
            Ok(())
        })
    }

    fn enable_mfa(&self, account: Id, recovery_hashes: Vec<[u8; 32]>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            tx.execute(
                "UPDATE accounts SET mfa_enabled = TRUE WHERE id = $1 AND mfa_secret IS NOT NULL",
                &[&account.0.as_slice()],
            )
            .await
            .map_err(be)?;
            tx.execute(
                "DELETE FROM recovery_codes WHERE account_id = $1",
                &[&account.0.as_slice()],
            )
            .await
            .map_err(be)?;
            let hashes: Vec<&[u8]> = recovery_hashes.iter().map(<[u8; 32]>::as_slice).collect();
            tx.execute(
                "INSERT INTO recovery_codes (account_id, code_hash)
                 SELECT $1, h FROM UNNEST($2::bytea[]) AS h",
                &[&account.0.as_slice(), &hashes],
            )
            .await
            .map_err(be)?;
            tx.commit().await.map_err(be)
        })
    }

    fn disable_mfa(&self, account: Id) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            tx.execute(
                "UPDATE accounts SET mfa_enabled = FALSE, mfa_secret = NULL WHERE id = $1",
                &[&account.0.as_slice()],
            )
            .await
            .map_err(be)?;
            tx.execute(
                "DELETE FROM recovery_codes WHERE account_id = $1",
                &[&account.0.as_slice()],
            )
            .await
            .map_err(be)?;
            tx.commit().await.map_err(be)
        })
    }

    fn use_totp_step(&self, account: Id, step: i64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let c = self.conn().await?;
            let n = c
                .execute(
                    "UPDATE accounts SET mfa_last_step = $2 WHERE id = $1 AND mfa_last_step < $2",
                    &[&account.0.as_slice(), &step],
                )
                .await
                .map_err(be)?;
            Ok(n > 0)
        })
    }

    fn use_recovery_code(&self, account: Id, hash: [u8; 32]) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let c = self.conn().await?;
            let n = c
                .execute(
                    "DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2",
                    &[&account.0.as_slice(), &hash.as_slice()],
                )
                .await
                .map_err(be)?;
            Ok(n > 0)
        })
    }

    fn recovery_codes_left(&self, account: Id) -> StoreFuture<'_, u32> {
        Box::pin(async move {
            let c = self.conn().await?;
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM recovery_codes WHERE account_id = $1",
                    &[&account.0.as_slice()],
                )
                .await
                .map_err(be)?
                .get(0);
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
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
        Box::pin(self.push_into(PERSONAL, team, account, changes, now, audit))
    }

    fn pull(&self, account: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage> {
        Box::pin(self.pull_from(PERSONAL, account, since, limit))
    }

    fn directory(&self, team: Id) -> StoreFuture<'_, Vec<DirectoryEntry>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let rows = c
                .query(
                    "SELECT id, email, role, exchange_public, signing_public, certificate
                     FROM accounts WHERE team_id = $1 ORDER BY email",
                    &[&team.0.as_slice()],
                )
                .await
                .map_err(be)?;
            rows.iter()
                .map(|r| {
                    let id: Vec<u8> = r.try_get(0).map_err(be)?;
                    let cert: Option<Vec<u8>> = r.try_get(5).map_err(be)?;
                    Ok(DirectoryEntry {
                        account_id: id_from(&id)?,
                        email: r.try_get(1).map_err(be)?,
                        team_role: r.try_get(2).map_err(be)?,
                        exchange_public: Blob(r.try_get(3).map_err(be)?),
                        signing_public: Blob(r.try_get(4).map_err(be)?),
                        certificate: Blob(cert.unwrap_or_default()),
                    })
                })
                .collect()
        })
    }

    fn set_certificate(
        &self,
        account: Id,
        chain: Vec<u8>,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let n = tx
                .execute(
                    "UPDATE accounts SET certificate = $2 WHERE id = $1",
                    &[&account.0.as_slice(), &chain],
                )
                .await
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            audit::commit(tx, audit, &()).await
        })
    }

    fn set_root_pin(&self, account: Id, pin: Vec<u8>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            let n = c
                .execute(
                    "UPDATE accounts SET root_pin = $2 WHERE id = $1",
                    &[&account.0.as_slice(), &pin],
                )
                .await
                .map_err(be)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn create_group(&self, g: NewGroup, audit: Audit<()>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let (id, by) = (g.id.0.as_slice(), g.created_by.0.as_slice());
            tx.execute(
                "INSERT INTO groups (id, team_id, epoch, name, created_by, created_at)
                 VALUES ($1, $2, 1, $3, $4, $5)",
                &[&id, &g.team_id.0.as_slice(), &g.name, &by, &g.created_at],
            )
            .await
            .map_err(unique)?;
            tx.execute(
                "INSERT INTO group_epochs (group_id, epoch, prev, created_by, created_at)
                 VALUES ($1, 1, ''::bytea, $2, $3)",
                &[&id, &by, &g.created_at],
            )
            .await
            .map_err(be)?;
            tx.execute(
                "INSERT INTO group_keys (group_id, account_id, epoch, wrapped)
                 VALUES ($1, $2, 1, $3)",
                &[&id, &by, &g.key],
            )
            .await
            .map_err(be)?;
            tx.execute(
                "INSERT INTO group_members (group_id, account_id, role, expires_at, added_by,
                     added_at, removed_at)
                 VALUES ($1, $2, 'admin', NULL, $2, $3, NULL)",
                &[&id, &by, &g.created_at],
            )
            .await
            .map_err(be)?;
            group_log::append(&tx, g.id, &g.log).await?;
            audit::commit(tx, audit, &()).await
        })
    }

    fn group(&self, id: Id) -> StoreFuture<'_, Option<Group>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    "SELECT team_id, epoch, name FROM groups WHERE id = $1",
                    &[&id.0.as_slice()],
                )
                .await
                .map_err(be)?;
            row.map(|r| {
                let team: Vec<u8> = r.try_get(0).map_err(be)?;
                let epoch: i64 = r.try_get(1).map_err(be)?;
                Ok(Group {
                    id,
                    team_id: id_from(&team)?,
                    epoch: epoch as u64,
                    name: r.try_get(2).map_err(be)?,
                })
            })
            .transpose()
        })
    }

    fn membership(&self, group: Id, account: Id) -> StoreFuture<'_, Option<Membership>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    "SELECT role, expires_at, removed_at FROM group_members
                     WHERE group_id = $1 AND account_id = $2",
                    &[&group.0.as_slice(), &account.0.as_slice()],
                )
                .await
                .map_err(be)?;
            row.map(|r| {
                let role: String = r.try_get(0).map_err(be)?;
                Ok(Membership {
                    role: GroupRole::parse(&role),
                    expires_at: r.try_get(1).map_err(be)?,
                    removed_at: r.try_get(2).map_err(be)?,
                })
            })
            .transpose()
        })
    }

    fn groups_of(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<GroupInfo>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let live = "FROM group_members m JOIN groups g ON g.id = m.group_id
                 WHERE m.account_id = $1 AND m.removed_at IS NULL
                   AND (m.expires_at IS NULL OR m.expires_at > $2)";
            let a = account.0.as_slice();
            let rows = c
                .query(
                    &format!(
                        "SELECT g.id, g.epoch, g.name, m.role, m.expires_at {live} ORDER BY g.id"
                    ),
                    &[&a, &now],
                )
                .await
                .map_err(be)?;
            let mut out = Vec::with_capacity(rows.len());
            let mut index = HashMap::new();
            for r in &rows {
                let id: Vec<u8> = r.try_get(0).map_err(be)?;
                let epoch: i64 = r.try_get(1).map_err(be)?;
                let role: String = r.try_get(3).map_err(be)?;
                let group_id = id_from(&id)?;
                index.insert(group_id, out.len());
                out.push(GroupInfo {
                    group_id,
                    epoch: epoch as u64,
                    name: Blob(r.try_get(2).map_err(be)?),
                    role: GroupRole::parse(&role),
                    expires_at: r.try_get(4).map_err(be)?,
                    keys: Vec::new(),
                });
            }
            let rows = c
                .query(
                    &format!(
                        "SELECT e.group_id, e.epoch, e.prev, k.wrapped FROM group_epochs e
                         LEFT JOIN group_keys k ON k.group_id = e.group_id
                             AND k.epoch = e.epoch AND k.account_id = $1
                         WHERE e.group_id IN (SELECT g.id {live})
                         ORDER BY e.group_id, e.epoch"
                    ),
                    &[&a, &now],
                )
                .await
                .map_err(be)?;
            for r in &rows {
                let id: Vec<u8> = r.try_get(0).map_err(be)?;
                let epoch: i64 = r.try_get(1).map_err(be)?;
                let wrapped: Option<Vec<u8>> = r.try_get(3).map_err(be)?;
                if let Some(&i) = index.get(&id_from(&id)?) {
                    out[i].keys.push(tessera_protocol::EpochKey {
                        epoch: epoch as u64,
                        wrapped: Blob(wrapped.unwrap_or_default()),
                        prev: Blob(r.try_get(2).map_err(be)?),
                    });
                }
            }
            Ok(out)
        })
    }

    fn group_members(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<GroupMember>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let rows = c
                .query(
                    "SELECT m.account_id, a.email, m.role, m.expires_at, m.added_by, m.added_at,
                         EXISTS (SELECT 1 FROM group_keys k WHERE k.group_id = m.group_id
                             AND k.account_id = m.account_id AND k.epoch = g.epoch)
                     FROM group_members m JOIN accounts a ON a.id = m.account_id
                         JOIN groups g ON g.id = m.group_id
                     WHERE m.group_id = $1 AND m.removed_at IS NULL
                       AND (m.expires_at IS NULL OR m.expires_at > $2)
                     ORDER BY a.email",
                    &[&group.0.as_slice(), &now],
                )
                .await
                .map_err(be)?;
            rows.iter()
                .map(|r| {
                    let id: Vec<u8> = r.try_get(0).map_err(be)?;
                    let role: String = r.try_get(2).map_err(be)?;
                    let by: Vec<u8> = r.try_get(4).map_err(be)?;
                    Ok(GroupMember {
                        account_id: id_from(&id)?,
                        email: r.try_get(1).map_err(be)?,
                        role: GroupRole::parse(&role),
                        expires_at: r.try_get(3).map_err(be)?,
                        added_by: id_from(&by)?,
                        added_at: r.try_get(5).map_err(be)?,
                        has_current_key: r.try_get(6).map_err(be)?,
                    })
                })
                .collect()
        })
    }

    fn set_member(&self, m: SetMember, audit: Audit<()>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            set_member_in(&tx, &m).await?;
            audit::commit(tx, audit, &()).await
        })
    }

    fn rotate_group(&self, r: Rotation, audit: Audit<()>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let g = r.group.0.as_slice();
            rules::next_epoch(group_epoch(&tx, r.group).await?, r.epoch)?;
            group_log::append(&tx, r.group, &r.log).await?;
            let new_epoch = r.epoch as i64;
            let removed: Vec<&[u8]> = r.remove.iter().map(|a| a.0.as_slice()).collect();
            tx.execute(
                "UPDATE group_members SET removed_at = $3
                 WHERE group_id = $1 AND account_id = ANY($2) AND removed_at IS NULL",
                &[&g, &removed, &r.now],
            )
            .await
            .map_err(be)?;
            let ids: Vec<&[u8]> = r.keys.iter().map(|(a, _)| a.0.as_slice()).collect();
            let keys: Vec<&[u8]> = r.keys.iter().map(|(_, k)| k.as_slice()).collect();
            tx.execute(
                "INSERT INTO group_keys (group_id, account_id, epoch, wrapped)
                 SELECT $1, u.a, $2, u.k FROM UNNEST($3::bytea[], $4::bytea[]) AS u(a, k)",
                &[&g, &new_epoch, &ids, &keys],
            )
            .await
            .map_err(be)?;
            token::rotate_keys(&tx, &r).await?;
            tx.execute(
                "INSERT INTO group_epochs (group_id, epoch, prev, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&g, &new_epoch, &r.prev, &r.by.0.as_slice(), &r.now],
            )
            .await
            .map_err(be)?;
            tx.execute(
                "UPDATE groups SET epoch = $2, name = $3 WHERE id = $1",
                &[&g, &new_epoch, &r.name],
            )
            .await
            .map_err(be)?;
            audit::commit(tx, audit, &()).await
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
        Box::pin(self.push_into(GROUP, team, group, changes, now, audit))
    }

    fn group_pull(&self, group: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage> {
        Box::pin(self.pull_from(GROUP, group, since, limit))
    }

    fn group_log(&self, group: Id, since: u64) -> StoreFuture<'_, Vec<SignedLogEntry>> {
        Box::pin(async move {
            let c = self.conn().await?;
            group_log::entries(&*c, group, since).await
        })
    }

    fn group_log_head(&self, group: Id) -> StoreFuture<'_, Option<(u64, Vec<u8>)>> {
        Box::pin(async move {
            let c = self.conn().await?;
            group_log::head(&*c, group).await
        })
    }

    fn group_of_item(&self, team: Id, item: Id) -> StoreFuture<'_, Option<Id>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    "SELECT i.group_id FROM group_items i JOIN groups g ON g.id = i.group_id
                     WHERE i.item_id = $1 AND g.team_id = $2 AND NOT i.deleted
                     ORDER BY i.seq DESC LIMIT 1",
                    &[&item.0.as_slice(), &team.0.as_slice()],
                )
                .await
                .map_err(be)?;
            row.map(|r| {
                let id: Vec<u8> = r.try_get(0).map_err(be)?;
                id_from(&id)
            })
            .transpose()
        })
    }

    fn append_audit(&self, team: Id, at: i64, events: Vec<AuditEvent>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            audit::append(&mut c, team, at, events).await
        })
    }

    fn audit_page(&self, team: Id, q: AuditQuery, limit: usize) -> StoreFuture<'_, AuditPage> {
        Box::pin(async move {
            let c = self.conn().await?;
            audit::page(&c, team, &q, limit).await
        })
    }

    fn offboarding(
        &self,
        account: Id,
        now: i64,
    ) -> StoreFuture<'_, (Vec<MembershipWindow>, Vec<ExposedRecord>)> {
        Box::pin(async move {
            let c = self.conn().await?;
            offboard::review(&c, account, now).await
        })
    }

    fn offboard(
        &self,
        account: Id,
        by: Id,
        now: i64,
        audit: Audit<OffboardResponse>,
    ) -> StoreFuture<'_, OffboardResponse> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            let res = offboard::offboard(&tx, account, by, now).await?;
            audit::commit(tx, audit, &res).await?;
            Ok(res)
        })
    }

    fn offboarded_at(&self, account: Id) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async move {
            let c = self.conn().await?;
            offboard::offboarded_at(&c, account).await
        })
    }

    fn set_share_expiry(
        &self,
        group: Id,
        item: Id,
        expires_at: Option<i64>,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(be)?;
            share::set(&tx, group, item, expires_at).await?;
            audit::commit(tx, audit, &()).await
        })
    }

    fn share_expiry(&self, group: Id, item: Id) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async move {
            let c = self.conn().await?;
            share::get(&c, group, item).await
        })
    }

    fn manifest(&self, collection: Id) -> StoreFuture<'_, Option<super::StoredManifest>> {
        Box::pin(async move {
            let c = self.conn().await?;
            manifest::get(&c, collection).await
        })
    }

    fn put_manifest(&self, collection: Id, m: super::StoredManifest) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let c = self.conn().await?;
            manifest::put(&c, collection, &m).await
        })
    }

    fn ended_shares(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<Id>> {
        Box::pin(async move {
            let c = self.conn().await?;
            share::ended(&c, group, now).await
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.hub.subscribe()
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        Some(self.pool.status())
    }
}
