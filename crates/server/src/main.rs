//! `tessera-server`: the Tessera team server. SQLite in `--data-dir` by default, PostgreSQL
//! with `--database-url`; HTTPS with `--tls-cert` and `--tls-key`; every setting also from a
//! TOML file (`--config`, see `tessera_server::config`). Serving is the default command;
//! `backup` and `restore` copy the database to and from a backup file
//! ([`tessera_server::backup`]).
#![forbid(unsafe_code)]

mod backup_command;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use tessera_server::config::{Config, DatabaseUrl, LogLevel, Overrides};
use tessera_server::AppState;

/// The Tessera team server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Settings; each one given here wins over the configuration file.
#[derive(Debug, clap::Args)]
struct Options {
    /// Read settings from this TOML file (see installers/server/tessera-server.toml).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8787].
    #[arg(long, value_name = "ADDR", global = true)]
    listen: Option<SocketAddr>,
    /// Directory of the SQLite database, created if missing [default: ./tessera-server-data].
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead of SQLite: postgres://user@host/database.
    #[arg(
        long,
        value_name = "URL",
        env = "TESSERA_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    database_url: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "PEM", global = true)]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", global = true)]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long, global = true)]
    insecure_http: bool,
    /// Log level: error, warn, info, debug or trace [default: info].
    #[arg(long, value_name = "LEVEL", global = true)]
    log: Option<LogLevel>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default when no command is given).
    Serve,
    /// Replace the server secret (it keys the fake prelogin answers; no one is signed out), then
    /// restart every node.
    RotateSecret,
    /// Ask the configured server's GET /healthz; exit 0 when it answers ok, 1 otherwise.
    Healthcheck,
    /// Back up the database while servers keep serving.
    Backup(backup_command::BackupArgs),
    /// Restore a backup into a fresh database (no server running on it).
    Restore(backup_command::RestoreArgs),
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let o = cli.options;
    let overrides = Overrides {
        listen: o.listen,
        data_dir: o.data_dir,
        database_url: o.database_url.map(DatabaseUrl::new),
        tls_cert: o.tls_cert,
        tls_key: o.tls_key,
        insecure_http: o.insecure_http,
        log: o.log,
    };
    let config = Config::load(o.config.as_deref(), overrides)?;
    tracing_subscriber::fmt()
        .with_target(false)
        .with_max_level(config.log.to_tracing())
        .with_writer(std::io::stderr)
        .init();
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await.map(|()| ExitCode::SUCCESS),
        Command::RotateSecret => rotate_secret(&config).await.map(|()| ExitCode::SUCCESS),
        Command::Healthcheck => Ok(healthcheck(&config).await),
        Command::Backup(a) => backup_command::backup(a, &config.database)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Restore(a) => backup_command::restore(a, &config.database)
            .await
            .map(|()| ExitCode::SUCCESS),
    }
}

async fn serve(config: Config) -> Result<()> {
    config.check_transport()?;
    let tls = match &config.tls {
        Some(files) => Some(
            tessera_server::tls::server_config(&files.cert, &files.key)
                .context("loading the TLS certificate and key")?,
        ),
        None => None,
    };
    let store = config.database.open().await?;
    let state = AppState::new(store)
        .await
        .context("reading the server secret")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%address, tls = tls.is_some(), "listening");
    let serving = async {
        match tls {
            Some(tls) => tessera_server::tls::serve_tls(listener, state, tls).await,
            None => tessera_server::serve(listener, state).await,
        }
    };
    tokio::select! {
        r = serving => r.context("serving")?,
        signal = shutdown_signal() => tracing::info!(signal, "shutting down"),
    }
    Ok(())
}

/// SIGINT (Ctrl-C) or SIGTERM (systemd, container runtimes).
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                return tokio::select! {
                    () = ctrl_c() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                };
            }
            Err(e) => tracing::warn!(
                error = %e,
                "cannot catch SIGTERM: it will end the server without a clean shutdown"
            ),
        }
    }
    ctrl_c().await;
    "SIGINT"
}

/// Ctrl-C. Never resolves when its handler cannot be installed: the server keeps serving (and
/// SIGINT ends it the default way) instead of shutting down at once.
async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!(
            error = %e,
            "cannot catch SIGINT: it will end the server without a clean shutdown"
        );
        std::future::pending::<()>().await;
    }
}

async fn rotate_secret(config: &Config) -> Result<()> {
    let store = config.database.open().await?;
    tessera_server::secret::rotate(store.as_ref())
        .await
        .context("replacing the server secret")?;
    writeln!(
        std::io::stdout(),
        "{}",
        tessera_server::secret::ROTATION_EFFECT
    )
    .context("writing to standard output")
}

async fn healthcheck(config: &Config) -> ExitCode {
    match tessera_server::health::check(config).await {
        Ok(body) => {
            #[allow(clippy::let_underscore_must_use)] // the exit code is the answer
            let _ = writeln!(std::io::stdout(), "{body}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            #[allow(clippy::let_underscore_must_use)] // the exit code is the answer
            let _ = writeln!(std::io::stderr(), "unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}
