//! `tessera-server`: the Tessera team server. SQLite in `--data-dir` by default, PostgreSQL
//! with `--database-url`; HTTPS with `--tls-cert` and `--tls-key`. Serving is the default;
//! `backup` and `restore` copy the database to and from a backup file
//! ([`tessera_server::backup`]).
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use tessera_server::store::{postgres::PgStore, sqlite::SqliteStore};
use tessera_server::{AppState, Store};

mod backup_command;

/// The Tessera team server.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Serving (when no command is given).
    #[command(flatten)]
    serve: Args,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Back up the database while servers keep serving.
    Backup(backup_command::BackupArgs),
    /// Restore a backup into a fresh database (no server running on it).
    Restore(backup_command::RestoreArgs),
}

/// Serve.
#[derive(Debug, clap::Args)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Directory of the SQLite database (created if missing).
    #[arg(long, default_value = "./tessera-server-data")]
    data_dir: PathBuf,
    /// Use PostgreSQL instead of SQLite: postgres://user@host/database.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    database_url: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long, conflicts_with = "tls_cert")]
    insecure_http: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Backup(a)) => backup_command::backup(a).await,
        Some(Command::Restore(a)) => backup_command::restore(a).await,
        None => serve(cli.serve).await,
    }
}

async fn serve(args: Args) -> Result<()> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            tessera_server::tls::server_config(cert, key)
                .context("loading the TLS certificate and key")?,
        ),
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() && !args.insecure_http {
        bail!(
            "refusing to serve plain HTTP on {}: pass --tls-cert and --tls-key to serve HTTPS, \
             listen on a loopback address, or put a TLS-terminating reverse proxy in front and \
             pass --insecure-http",
            args.listen
        );
    }
    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => Arc::new(
            PgStore::connect(url)
                .await
                .context("connecting to PostgreSQL")?,
        ),
        None => {
            std::fs::create_dir_all(&args.data_dir).with_context(|| {
                format!("creating the data directory {}", args.data_dir.display())
            })?;
            let path = args.data_dir.join("tessera-server.sqlite3");
            Arc::new(
                SqliteStore::open(&path)
                    .with_context(|| format!("opening the database {}", path.display()))?,
            )
        }
    };
    let state = AppState::new(store)
        .await
        .context("reading the server secret")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%address, tls = tls.is_some(), "listening");
    let serving = async {
        match tls {
            Some(config) => tessera_server::tls::serve_tls(listener, state, config).await,
            None => tessera_server::serve(listener, state).await,
        }
    };
    tokio::select! {
        r = serving => r.context("serving")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}
