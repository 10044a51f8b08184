//! `tessera-server backup` and `tessera-server restore`: the command-line side of
//! [`tessera_server::backup`] (arguments, progress and the summary on stderr).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tessera_server::backup::{self, Database, Progress, Summary};
use tessera_server::config;

/// The database of the configuration, as `backup` names it, and in words.
fn target(db: &config::Database) -> (Database, String) {
    match db {
        config::Database::Postgres { url, .. } => (
            Database::Postgres(url.expose_secret().to_owned()),
            "the PostgreSQL database".into(),
        ),
        // The file serving uses.
        config::Database::Sqlite { data_dir } => (
            Database::Sqlite(data_dir.join(config::SQLITE_FILE)),
            format!("the SQLite database in {}", data_dir.display()),
        ),
    }
}

/// `backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (mode 0600, written whole or not at all); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

/// `restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// Only check the file (checksum, format, schema, audit chains); touch no database.
    #[arg(long)]
    check: bool,
}

/// Rows per table on stderr.
struct Stderr;

impl Progress for Stderr {
    fn table(&self, table: &str, rows: u64) {
        eprintln!("  {table}: {rows} rows");
    }
}

fn totals(s: &Summary) -> String {
    format!("{} tables, {} rows, schema {}", s.tables, s.rows, s.schema)
}

pub async fn backup(args: BackupArgs, database: &config::Database) -> Result<()> {
    let (db, describe) = target(database);
    eprintln!("backing up {describe}");
    let progress: Arc<dyn Progress> = Arc::new(Stderr);
    if args.out == Path::new("-") {
        let out = std::io::BufWriter::new(std::io::stdout());
        let (_, s) = backup::backup_to_writer(&db, out, progress)
            .await
            .with_context(|| format!("backing up {describe}"))?;
        eprintln!("backed up {}, {} bytes, to stdout", totals(&s), s.bytes);
        return Ok(());
    }
    let s = backup::backup_to_file(&db, &args.out, args.force, progress)
        .await
        .with_context(|| format!("backing up {describe} to {}", args.out.display()))?;
    eprintln!(
        "backed up {}, {} bytes, to {}",
        totals(&s),
        s.bytes,
        args.out.display()
    );
    Ok(())
}

pub async fn restore(args: RestoreArgs, database: &config::Database) -> Result<()> {
    let from = args.from.display();
    let b = backup::read(&args.from).with_context(|| format!("reading the backup {from}"))?;
    let h = b.header.clone();
    eprintln!(
        "{from}: a backup of a {} database at schema {}, taken at {} (Unix time) by \
         tessera-server {}; {} tables, {} rows",
        h.source,
        h.schema,
        h.created_at,
        h.server_version,
        b.tables.len(),
        b.rows()
    );
    if args.check {
        backup::check(&b).with_context(|| format!("checking the backup {from}"))?;
        eprintln!("the backup is complete and every audit chain verifies");
        return Ok(());
    }
    let (db, describe) = target(database);
    if let Database::Sqlite(path) = &db {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data directory {}", dir.display()))?;
        }
    }
    eprintln!("restoring into {describe}");
    let s = backup::restore(&db, b, Arc::new(Stderr))
        .await
        .with_context(|| format!("restoring {from} into {describe}"))?;
    eprintln!("restored {}; every audit chain verifies", totals(&s));
    Ok(())
}
