//! The SQLite backend: one file, WAL, numbered append-only migrations (`PRAGMA user_version`).
//! One connection behind a mutex; every call runs on the blocking pool, never on the executor.
//! The queries are the shared ones of `store::sql`; this module runs them.
use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, ErrorCode};

use super::sql::{Backend, Param, Row, Sql, SqlFuture, Value, Work};
use super::{schema, StoreError, StoreFuture};
use crate::events::{Change, ChangeHub};

pub(crate) mod backup;

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
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        // 2067 and 1555: SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY.
        if f.code == ErrorCode::ConstraintViolation && matches!(f.extended_code, 2067 | 1555) {
            let on_email = msg.as_deref().is_some_and(|m| m.contains(".email"));
            return if on_email {
                StoreError::EmailTaken
            } else {
                StoreError::IdTaken
            };
        }
    }
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
        conn.set_prepared_statement_cache_capacity(64);
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

    /// Run `work` with the connection on the blocking pool, in an immediate transaction when
    /// `write` (it takes the write lock when it begins, so row locks are not needed).
    fn blocking<T: Send + 'static>(&self, write: bool, work: Work<T>) -> StoreFuture<'_, T> {
        let conn = Arc::clone(&self.conn);
        let hub = self.hub.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // A panic while holding the lock leaves the connection usable: SQLite rolls an
                // unfinished transaction back when the next one begins.
                let mut guard = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let conn = &mut *guard;
                if !write {
                    return ready(work(&mut Conn::new(conn)));
                }
                conn.execute_batch("BEGIN IMMEDIATE").map_err(be)?;
                let mut c = Conn::new(conn);
                let out = ready(work(&mut c));
                let announced = c.announced;
                match out {
                    Ok(v) => {
                        conn.execute_batch("COMMIT").map_err(be)?;
                        // One node: the local hub is the whole fan-out.
                        for change in announced {
                            hub.publish(change);
                        }
                        Ok(v)
                    }
                    Err(e) => {
                        if let Err(r) = conn.execute_batch("ROLLBACK") {
                            tracing::warn!(error = %r, "could not roll a transaction back");
                        }
                        Err(e)
                    }
                }
            })
            .await
            .map_err(StoreError::backend)?
        })
    }
}

/// The result of work on SQLite, which never waits: every statement runs when it is called.
fn ready<T>(mut work: SqlFuture<'_, T>) -> Result<T, StoreError> {
    match work.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => Err(StoreError::Backend(
            "work on SQLite waited for something other than the database".into(),
        )),
    }
}

impl Backend for SqliteStore {
    fn transact<T: Send + 'static>(&self, work: Work<T>) -> StoreFuture<'_, T> {
        self.blocking(true, work)
    }

    fn run<T: Send + 'static>(&self, work: Work<T>) -> StoreFuture<'_, T> {
        self.blocking(false, work)
    }

    fn hub(&self) -> &ChangeHub {
        &self.hub
    }

    fn pool(&self) -> Option<super::postgres::PoolStatus> {
        None
    }
}

/// The connection, as the query layer sees it.
struct Conn<'c> {
    conn: &'c mut Connection,
    /// Changes to publish once the transaction commits.
    announced: Vec<Change>,
}

impl<'c> Conn<'c> {
    fn new(conn: &'c mut Connection) -> Self {
        Self {
            conn,
            announced: Vec::new(),
        }
    }

    /// The statement in SQLite's spelling: `?n` placeholders and no row lock.
    fn dialect(sql: &str) -> Cow<'_, str> {
        let sql = sql.find("FOR UPDATE").map_or(sql, |at| &sql[..at]);
        if sql.contains('$') {
            Cow::Owned(sql.replace('$', "?"))
        } else {
            Cow::Borrowed(sql)
        }
    }

    fn query_now(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&Self::dialect(sql)).map_err(be)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(params)).map_err(be)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(be)? {
            let mut row = Vec::with_capacity(width);
            for i in 0..width {
                row.push(match r.get_ref(i).map_err(be)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(t) => {
                        Value::Text(String::from_utf8(t.to_vec()).map_err(|_| {
                            StoreError::Backend("a text column is not UTF-8".into())
                        })?)
                    }
                    ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                    ValueRef::Real(_) => {
                        return Err(StoreError::Backend(
                            format!("column {i} holds a float, which the store never writes")
                                .into(),
                        ))
                    }
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn execute_now(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(&Self::dialect(sql)).map_err(be)?;
        Ok(stmt.execute(params_from_iter(params)).map_err(be)? as u64)
    }
}

impl Sql for Conn<'_> {
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Param<'a>]) -> SqlFuture<'a, Vec<Row>> {
        let out = self.query_now(sql, params);
        Box::pin(std::future::ready(out))
    }

    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Param<'a>]) -> SqlFuture<'a, u64> {
        let out = self.execute_now(sql, params);
        Box::pin(std::future::ready(out))
    }

    fn announce(&mut self, change: Change) -> SqlFuture<'_, ()> {
        self.announced.push(change);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Param::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(b))),
            Param::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}
