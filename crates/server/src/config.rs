//! The server's configuration: a TOML file (`tessera-server --config FILE`), with command-line
//! flags and the environment on top.
//!
//! Precedence, highest first: a command-line flag, then `TESSERA_DATABASE_URL` (for the
//! database URL only; clap reads it into the `--database-url` flag), then the file, then the
//! built-in default. Every key of the file is optional:
//!
//! ```toml
//! listen = "0.0.0.0:8787"
//! data_dir = "/var/lib/tessera-server"
//! database_url_file = "/etc/tessera/database-url"
//! database_pool_size = 16
//! database_acquire_timeout_ms = 5000
//! tls_cert = "/etc/tessera/tls/cert.pem"
//! tls_key = "/etc/tessera/tls/key.pem"
//! log = "info"
//! ```
//!
//! Unknown keys are refused (a misspelt `tls_cert` must not silently serve plain HTTP), and every
//! error names the file, the line and the column. Relative paths in the file are relative to the
//! file's directory; relative paths in flags to the working directory.
//!
//! The database URL may hold a password, so it need not live in the file: `database_url_file`
//! names a file holding only the URL (readable by the server's user alone), and
//! `TESSERA_DATABASE_URL` or `--database-url` work too. The configuration file itself can then be
//! world-readable. `installers/server/tessera-server.toml` documents every key, and a test parses
//! it with [`FileConfig::parse`].
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::store::postgres::{PgStore, PoolOptions};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

/// The address the server listens on unless told otherwise.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);
/// The SQLite directory unless told otherwise (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "./tessera-server-data";
/// The SQLite database's file name inside the data directory.
pub const SQLITE_FILE: &str = "tessera-server.sqlite3";

/// What is wrong with the configuration. Each message names the file or flag at fault and
/// what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file is missing or unreadable.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a bad value (the TOML error names the
    /// key, the line and the column).
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error: line, column, the offending text and what was expected.
        message: String,
    },
    /// The file sets both `database_url` and `database_url_file`.
    #[error(
        "{0} sets both database_url and database_url_file; keep one (database_url_file keeps \
         the password out of the configuration file)"
    )]
    TwoDatabaseUrls(PathBuf),
    /// `database_url_file` is missing or unreadable.
    #[error("cannot read database_url_file {path}: {source}")]
    DatabaseUrlFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `database_url_file` holds nothing but white space.
    #[error("database_url_file {0} is empty; write the postgres:// URL into it")]
    EmptyDatabaseUrlFile(PathBuf),
    /// Only one of the certificate and the key is set.
    #[error(
        "{given} is set but {missing} is not: serving HTTPS needs both the certificate and its \
         key (tls_cert and tls_key in the file, or --tls-cert and --tls-key)"
    )]
    TlsHalf {
        /// The one that is set.
        given: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// `insecure_http` together with a certificate.
    #[error(
        "insecure_http and tls_cert contradict each other: keep tls_cert and tls_key to serve \
         HTTPS, or drop them and keep insecure_http behind a TLS-terminating proxy"
    )]
    InsecureWithTls,
    /// Plain HTTP on a non-loopback address without `insecure_http`.
    #[error(
        "refusing to serve plain HTTP on {0}: set tls_cert and tls_key (or --tls-cert and \
         --tls-key) to serve HTTPS, listen on a loopback address, or put a TLS-terminating \
         reverse proxy in front and set insecure_http = true (or --insecure-http)"
    )]
    PlainHttp(SocketAddr),
    /// `database_pool_size` or `database_acquire_timeout_ms` is 0.
    #[error(
        "{0} must be at least 1 (database_pool_size: the most PostgreSQL connections a node \
         opens; database_acquire_timeout_ms: how long a request waits for one)"
    )]
    ZeroPoolSetting(&'static str),
}

/// Why the configured database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The SQLite data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite file could not be opened or migrated.
    #[error("cannot open the database {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// PostgreSQL refused the connection or the migrations.
    #[error("cannot connect to PostgreSQL (database_url): {0}")]
    Postgres(#[source] StoreError),
}

/// A database URL: it may carry a password, so `Debug` hides it and reading it is explicit.
#[derive(Clone)]
pub struct DatabaseUrl(Zeroizing<String>);

impl DatabaseUrl {
    /// Wrap a URL.
    pub fn new(url: String) -> Self {
        Self(Zeroizing::new(url))
    }

    /// The URL, password included.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(***)")
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

/// How much the server logs (to stderr; the journal under systemd).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Failures only.
    Error,
    /// Failures and warnings (a dropped `LISTEN` connection, a failed accept).
    Warn,
    /// The default: start, shutdown, and one line per request (method, route, status, time).
    #[default]
    Info,
    /// Also TLS handshake failures and similar detail.
    Debug,
    /// Everything the libraries log.
    Trace,
}

impl LogLevel {
    /// The `tracing` level.
    pub fn to_tracing(self) -> tracing::Level {
        match self {
            Self::Error => tracing::Level::ERROR,
            Self::Warn => tracing::Level::WARN,
            Self::Info => tracing::Level::INFO,
            Self::Debug => tracing::Level::DEBUG,
            Self::Trace => tracing::Level::TRACE,
        }
    }
}

/// A log level that is none of `error`, `warn`, `info`, `debug`, `trace`.
#[derive(Debug, thiserror::Error)]
#[error("unknown log level {0:?}: use error, warn, info, debug or trace")]
pub struct UnknownLogLevel(String);

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "error" => Ok(Self::Error),
            "warn" => Ok(Self::Warn),
            "info" => Ok(Self::Info),
            "debug" => Ok(Self::Debug),
            "trace" => Ok(Self::Trace),
            _ => Err(UnknownLogLevel(s.to_owned())),
        }
    }
}

/// The configuration file as written: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// SQLite directory.
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (may hold a password: prefer `database_url_file`).
    pub database_url: Option<DatabaseUrl>,
    /// A file holding only the PostgreSQL URL.
    pub database_url_file: Option<PathBuf>,
    /// The most PostgreSQL connections a node opens.
    pub database_pool_size: Option<usize>,
    /// How long a request waits for a free PostgreSQL connection, milliseconds.
    pub database_acquire_timeout_ms: Option<u64>,
    /// PEM certificate chain, leaf first.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy).
    pub insecure_http: Option<bool>,
    /// Log level.
    pub log: Option<LogLevel>,
}

impl FileConfig {
    /// Parse the text of a configuration file; `path` names it in errors and anchors its
    /// relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut file: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        if file.database_url.is_some() && file.database_url_file.is_some() {
            return Err(ConfigError::TwoDatabaseUrls(path.to_owned()));
        }
        let base = path.parent().unwrap_or_else(|| Path::new(""));
        for p in [
            &mut file.data_dir,
            &mut file.database_url_file,
            &mut file.tls_cert,
            &mut file.tls_key,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(file)
    }

    /// Read and parse a configuration file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }
}

/// Settings from the command line and the environment; each one that is set wins over the
/// file.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url` or `TESSERA_DATABASE_URL`.
    pub database_url: Option<DatabaseUrl>,
    /// `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    pub tls_key: Option<PathBuf>,
    /// `--insecure-http` (a flag can only turn it on).
    pub insecure_http: bool,
    /// `--log`.
    pub log: Option<LogLevel>,
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Database {
    /// One SQLite file, [`SQLITE_FILE`] in this directory (created if missing).
    Sqlite {
        /// The directory.
        data_dir: PathBuf,
    },
    /// PostgreSQL.
    Postgres {
        /// The connection URL.
        url: DatabaseUrl,
        /// The connection pool's size and acquire timeout.
        pool: PoolOptions,
    },
}

impl Database {
    /// Open the store (creating the SQLite directory if needed) and bring its schema up to
    /// date.
    pub async fn open(&self) -> Result<Arc<dyn Store>, OpenError> {
        match self {
            Self::Postgres { url, pool } => Ok(Arc::new(
                PgStore::connect_with(url.expose_secret(), *pool)
                    .await
                    .map_err(OpenError::Postgres)?,
            )),
            Self::Sqlite { data_dir } => {
                std::fs::create_dir_all(data_dir).map_err(|source| OpenError::DataDir {
                    path: data_dir.clone(),
                    source,
                })?;
                let path = data_dir.join(SQLITE_FILE);
                let store = SqliteStore::open(&path)
                    .map_err(|source| OpenError::Sqlite { path, source })?;
                Ok(Arc::new(store))
            }
        }
    }
}

/// The certificate and key files of HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The effective configuration.
#[derive(Debug)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the data lives.
    pub database: Database,
    /// HTTPS, when set.
    pub tls: Option<TlsFiles>,
    /// Plain HTTP is allowed on a non-loopback address.
    pub insecure_http: bool,
    /// Log level.
    pub log: LogLevel,
    /// Things that work but should change (the caller logs them once logging is set up).
    pub warnings: Vec<String>,
}

impl Config {
    /// Read the file (if any) and apply the overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let Some(path) = file else {
            return Self::resolve(FileConfig::default(), overrides);
        };
        let parsed = FileConfig::read(path)?;
        let mut warnings = Vec::new();
        if parsed.database_url.is_some() && overrides.database_url.is_none() {
            if let Some(w) = world_readable_warning(path) {
                warnings.push(w);
            }
        }
        let mut config = Self::resolve(parsed, overrides)?;
        config.warnings.extend(warnings);
        Ok(config)
    }

    /// Merge a parsed file and the overrides (reading `database_url_file` when it is used)
    /// and check that the result is consistent.
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let defaults = PoolOptions::default();
        let pool = PoolOptions {
            size: match file.database_pool_size {
                Some(0) => return Err(ConfigError::ZeroPoolSetting("database_pool_size")),
                n => n.unwrap_or(defaults.size),
            },
            acquire_timeout: match file.database_acquire_timeout_ms {
                Some(0) => return Err(ConfigError::ZeroPoolSetting("database_acquire_timeout_ms")),
                ms => ms.map_or(defaults.acquire_timeout, std::time::Duration::from_millis),
            },
        };
        let database = match (o.database_url, file.database_url, file.database_url_file) {
            (Some(url), _, _) | (None, Some(url), _) => Database::Postgres { url, pool },
            (None, None, Some(path)) => Database::Postgres {
                url: read_url_file(&path)?,
                pool,
            },
            (None, None, None) => Database::Sqlite {
                data_dir: o
                    .data_dir
                    .or(file.data_dir)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            },
        };
        let tls = match (o.tls_cert.or(file.tls_cert), o.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (Some(_), None) => {
                return Err(ConfigError::TlsHalf {
                    given: "tls_cert",
                    missing: "tls_key",
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::TlsHalf {
                    given: "tls_key",
                    missing: "tls_cert",
                })
            }
            (None, None) => None,
        };
        let insecure_http = o.insecure_http || file.insecure_http.unwrap_or(false);
        if insecure_http && tls.is_some() {
            return Err(ConfigError::InsecureWithTls);
        }
        Ok(Self {
            listen: o.listen.or(file.listen).unwrap_or(DEFAULT_LISTEN),
            database,
            tls,
            insecure_http,
            log: o.log.or(file.log).unwrap_or_default(),
            warnings: Vec::new(),
        })
    }

    /// Refuse plain HTTP on a non-loopback address unless `insecure_http` says a proxy
    /// terminates TLS in front.
    pub fn check_transport(&self) -> Result<(), ConfigError> {
        if self.tls.is_none() && !self.listen.ip().is_loopback() && !self.insecure_http {
            return Err(ConfigError::PlainHttp(self.listen));
        }
        Ok(())
    }
}

fn read_url_file(path: &Path) -> Result<DatabaseUrl, ConfigError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        ConfigError::DatabaseUrlFile {
            path: path.to_owned(),
            source,
        }
    })?);
    let url = text.trim();
    if url.is_empty() {
        return Err(ConfigError::EmptyDatabaseUrlFile(path.to_owned()));
    }
    Ok(DatabaseUrl::new(url.to_owned()))
}

/// A warning when a file that holds `database_url` is readable by every user.
#[cfg(unix)]
fn world_readable_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "{} is readable by every user and sets database_url: if the URL holds a password, \
             move it to database_url_file (mode 0640, group of the server's user) or \
             TESSERA_DATABASE_URL",
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn world_readable_warning(_: &Path) -> Option<String> {
    None
}
