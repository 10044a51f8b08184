//! The PostgreSQL backend: a pool of connections, numbered append-only migrations (recorded
//! in `schema_migrations`, applied under an advisory lock so several nodes can start at once).
//! The queries are the shared ones of `store::sql`; this module runs them, a write in one
//! transaction, a read or a one-statement write without one.
//!
//! A push that applies changes also runs `NOTIFY tessera_changes, '<account>:<seq>'` in its
//! transaction, so PostgreSQL delivers it only on commit. Each store keeps one more connection
//! that `LISTEN`s on the channel (reconnecting with backoff when it drops) and publishes every
//! notification to the node's [`ChangeHub`]: the change reaches event streams on every node,
//! this one included.
use std::error::Error;
use std::time::Duration;

use bytes::BytesMut;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, GenericClient, NoTls};

use super::sql::{Backend, Param, Row, Sql, SqlFuture, Value, Work};
use super::{schema, StoreError, StoreFuture};
use crate::events::{Change, ChangeHub, PG_CHANNEL};

pub(crate) mod backup;
mod pool;

pub use pool::{PoolOptions, PoolStatus};

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
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        let on_email = e
            .as_db_error()
            .and_then(|d| d.constraint())
            .is_some_and(|c| c.contains("email"));
        return if on_email {
            StoreError::EmailTaken
        } else {
            StoreError::IdTaken
        };
    }
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
}

impl Backend for PgStore {
    fn transact<T: Send + 'static>(&self, work: Work<T>) -> StoreFuture<'_, T> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await.map_err(be)?;
            // An error drops the transaction, which rolls it back.
            let out = work(&mut Conn(&tx)).await?;
            tx.commit().await.map_err(be)?;
            Ok(out)
        })
    }

    fn run<T: Send + 'static>(&self, work: Work<T>) -> StoreFuture<'_, T> {
        Box::pin(async move {
            let c = self.pool.get().await?;
            work(&mut Conn(&*c)).await
        })
    }

    fn hub(&self) -> &ChangeHub {
        &self.hub
    }

    fn pool(&self) -> Option<PoolStatus> {
        Some(self.pool.status())
    }
}

/// A connection or a transaction, as the query layer sees it.
struct Conn<'c, C>(&'c C);

impl<C: GenericClient + Sync> Sql for Conn<'_, C> {
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Param<'a>]) -> SqlFuture<'a, Vec<Row>> {
        Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let rows = self.0.query(sql, &params).await.map_err(be)?;
            rows.iter().map(row).collect()
        })
    }

    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Param<'a>]) -> SqlFuture<'a, u64> {
        Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            self.0.execute(sql, &params).await.map_err(be)
        })
    }

    fn announce(&mut self, change: Change) -> SqlFuture<'_, ()> {
        Box::pin(async move {
            // Delivered by PostgreSQL only if the transaction commits.
            let payload = change.to_payload();
            self.0
                .execute("SELECT pg_notify($1, $2)", &[&PG_CHANNEL, &payload])
                .await
                .map_err(be)?;
            Ok(())
        })
    }
}

/// A row in the query layer's values, by the type of each column.
fn row(r: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = match *ty {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::BOOL => r.try_get::<_, Option<bool>>(i).map(|v| v.map(Value::Bool)),
            Type::BYTEA => r
                .try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Value::Bytes)),
            Type::TEXT | Type::VARCHAR | Type::NAME => r
                .try_get::<_, Option<String>>(i)
                .map(|v| v.map(Value::Text)),
            _ => {
                return Err(StoreError::Backend(
                    format!(
                        "column {} has type {ty}, which the store does not read",
                        col.name()
                    )
                    .into(),
                ))
            }
        };
        out.push(v.map_err(be)?.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            // An integer goes into whichever width the column has.
            Param::Int(v) => match *ty {
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Param::Bool(b) => b.to_sql(ty, out),
            Param::Text(t) => t.to_sql(ty, out),
            Param::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Each value checks its column's type in `to_sql`.
        true
    }

    to_sql_checked!();
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
