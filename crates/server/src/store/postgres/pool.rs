//! The PostgreSQL connection pool (deadpool): up to [`PoolOptions::size`] connections, opened
//! on demand and reused; a request waits for a free one at most
//! [`PoolOptions::acquire_timeout`], then fails with a message naming the setting to raise. A
//! connection that closed is replaced when it is next taken. [`PoolStatus`] feeds `/metrics`.
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::{Client, NoTls};

use crate::store::StoreError;

/// How many connections a node keeps and how long a request waits for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// The most connections open at once (at least 1).
    pub size: usize,
    /// How long a request waits for a free connection before it fails.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            size: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The pool's state, for the metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections it opens.
    pub max_size: usize,
    /// Connections open now.
    pub size: usize,
    /// Open connections no request holds.
    pub available: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
    /// Requests that gave up waiting since the store opened.
    pub timeouts: u64,
}

/// The pool.
pub(super) struct Pool {
    inner: deadpool_postgres::Pool,
    options: PoolOptions,
    timeouts: AtomicU64,
}

/// A connection taken from the pool, used as a plain [`Client`]; dropping it gives it back.
pub(super) struct Conn(Object);

impl Deref for Conn {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.0
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.0
    }
}

impl Pool {
    /// A pool for `url`; opens no connection yet.
    pub(super) fn new(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(StoreError::backend)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let inner = deadpool_postgres::Pool::builder(manager)
            .max_size(options.size.max(1))
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.acquire_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(StoreError::backend)?;
        Ok(Self {
            inner,
            options,
            timeouts: AtomicU64::new(0),
        })
    }

    /// A free connection, waiting for one at most the acquire timeout.
    pub(super) async fn get(&self) -> Result<Conn, StoreError> {
        match self.inner.get().await {
            Ok(c) => Ok(Conn(c)),
            Err(PoolError::Backend(e)) => Err(StoreError::backend(e)),
            Err(PoolError::Timeout(_)) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Backend(
                    format!(
                        "no PostgreSQL connection was free or could be opened within {:?} (all \
                         {} in use): raise database_pool_size or database_acquire_timeout_ms, \
                         or find what holds the connections",
                        self.options.acquire_timeout, self.options.size
                    )
                    .into(),
                ))
            }
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    /// Its state now.
    pub(super) fn status(&self) -> PoolStatus {
        let s = self.inner.status();
        PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }
}
