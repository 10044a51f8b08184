//! Test harness: each test gets a fresh store on each backend. SQLite lives in a temporary
//! directory; PostgreSQL in a new database `tessera_test_<random>` on 127.0.0.1:5432 that a
//! guard drops afterwards, also when the test panics.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use tessera_server::store::postgres::PgStore;
use tessera_server::store::sqlite::SqliteStore;
use tessera_server::Store;

pub mod http;
pub mod process;
pub mod team;

/// The server used for administration (creating and dropping test databases).
pub const PG_ADMIN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";

/// Which backend.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A runtime and a fresh store; dropping it shuts the runtime down and removes the database.
pub struct Harness {
    pub store: Arc<dyn Store>,
    /// The database's connection string (PostgreSQL only), for more nodes on it.
    pub pg_url: Option<String>,
    // Field order is drop order: the runtime (and its connections) before the database.
    pub rt: tokio::runtime::Runtime,
    guard: Guard,
}

enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
}

/// Drops its database on drop.
pub struct PgDatabase(String);

impl PgDatabase {
    /// A new empty database `tessera_test_<random>` and its connection string (for a server
    /// process of its own).
    pub fn create() -> (Self, String) {
        let name = format!("tessera_test_{:016x}", rand::random::<u64>());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            admin()
                .await
                .expect("PostgreSQL must run on 127.0.0.1:5432 (user postgres, trust)")
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        });
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        (Self(name), url)
    }
}

impl Drop for PgDatabase {
    #[allow(clippy::let_underscore_must_use)] // best effort: at worst one test database stays
    fn drop(&mut self) {
        let name = self.0.clone();
        // Drop may run inside or outside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(c) = admin().await {
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

async fn admin() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (c, conn) = tokio_postgres::connect(PG_ADMIN, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(c)
}

impl Harness {
    /// Where the store's database is, for backups.
    pub fn database(&self) -> tessera_server::backup::Database {
        match (&self.guard, &self.pg_url) {
            (Guard::Sqlite(dir), _) => {
                tessera_server::backup::Database::Sqlite(dir.path().join("server.sqlite3"))
            }
            (Guard::Postgres(_), Some(url)) => {
                tessera_server::backup::Database::Postgres(url.clone())
            }
            (Guard::Postgres(_), None) => unreachable!("a PostgreSQL harness has a url"),
        }
    }

    /// Run SQL on the store's database behind its back, as someone with database access
    /// would (tampering tests). Returns an error message when the database refuses.
    pub fn raw_sql(&self, sql: &str) -> Result<(), String> {
        match (&self.guard, &self.pg_url) {
            (Guard::Sqlite(dir), _) => {
                let c = rusqlite::Connection::open(dir.path().join("server.sqlite3"))
                    .map_err(|e| e.to_string())?;
                c.execute_batch(sql).map_err(|e| e.to_string())
            }
            (Guard::Postgres(_), Some(url)) => self.rt.block_on(async {
                let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                c.batch_execute(sql).await.map_err(|e| {
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |d| d.message().to_owned())
                })
            }),
            (Guard::Postgres(_), None) => Err("no database url".into()),
        }
    }

    pub fn new(kind: Kind) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let store = SqliteStore::open(&dir.path().join("server.sqlite3")).unwrap();
                Self {
                    store: Arc::new(store),
                    pg_url: None,
                    rt,
                    guard: Guard::Sqlite(dir),
                }
            }
            Kind::Postgres => {
                let name = format!("tessera_test_{:016x}", rand::random::<u64>());
                rt.block_on(async {
                    admin()
                        .await
                        .expect("PostgreSQL must run on 127.0.0.1:5432 (user postgres, trust)")
                        .batch_execute(&format!("CREATE DATABASE {name}"))
                        .await
                        .unwrap();
                });
                let guard = PgDatabase(name.clone());
                let url = format!("host=127.0.0.1 port=5432 user=postgres dbname={name}");
                let store = rt.block_on(PgStore::connect(&url)).unwrap();
                Self {
                    store: Arc::new(store),
                    pg_url: Some(url),
                    rt,
                    guard: Guard::Postgres(guard),
                }
            }
        }
    }
}

/// A fresh database nothing has opened yet (a new SQLite file in a new directory, or a new
/// empty PostgreSQL database), removed on drop.
pub struct Fresh {
    pub db: tessera_server::backup::Database,
    _guard: Guard,
}

impl Fresh {
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Self {
                    db: tessera_server::backup::Database::Sqlite(
                        dir.path().join("restored.sqlite3"),
                    ),
                    _guard: Guard::Sqlite(dir),
                }
            }
            Kind::Postgres => {
                let (guard, url) = PgDatabase::create();
                Self {
                    db: tessera_server::backup::Database::Postgres(url),
                    _guard: Guard::Postgres(guard),
                }
            }
        }
    }

    /// A store on it (migrating it when nothing was restored).
    pub fn open(&self, rt: &tokio::runtime::Runtime) -> Arc<dyn Store> {
        match &self.db {
            tessera_server::backup::Database::Sqlite(path) => {
                Arc::new(SqliteStore::open(path).unwrap())
            }
            tessera_server::backup::Database::Postgres(url) => {
                Arc::new(rt.block_on(PgStore::connect(url)).unwrap())
            }
        }
    }
}

/// Generate one test per backend for each listed case `fn(Kind)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::$case(super::support::Kind::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $case() { super::$case(super::support::Kind::Postgres) } )*
        }
    };
}
