//! `tessera-server backup` and `tessera-server restore`: the command-line side of
//! [`tessera_server::backup`] (arguments, progress and the summary on stderr).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tessera_server::backup::{self, Database, Progress, Summary};

/// Where the database is, as for serving.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Directory of the SQLite database.
    #[arg(long, default_value = "./tessera-server-data")]
    data_dir: PathBuf,
    /// PostgreSQL instead of SQLite: postgres://user@host/database.
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    database_url: Option<String>,
}

impl DatabaseArgs {
    fn database(&self) -> Database {
        match &self.database_url {
            Some(url) => Database::Postgres(url.clone()),
            // The file serving uses.
            None => Database::Sqlite(self.data_dir.join("tessera-server.sqlite3")),
        }
    }

    fn describe(&self) -> String {
        match &self.database_url {
            Some(_) => "the PostgreSQL database".into(),
            None => format!("the SQLite database in {}", self.data_dir.display()),
        }
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
    #[command(flatten)]
    db: DatabaseArgs,
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
    #[command(flatten)]
    db: DatabaseArgs,
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

pub async fn backup(args: BackupArgs) -> Result<()> {
    let db = args.db.database();
    eprintln!("backing up {}", args.db.describe());
    let progress: Arc<dyn Progress> = Arc::new(Stderr);
    if args.out == Path::new("-") {
        let out = std::io::BufWriter::new(std::io::stdout());
        let (_, s) = backup::backup_to_writer(&db, out, progress)
            .await
            .with_context(|| format!("backing up {}", args.db.describe()))?;
        eprintln!("backed up {}, {} bytes, to stdout", totals(&s), s.bytes);
        return Ok(());
    }
    let s = backup::backup_to_file(&db, &args.out, args.force, progress)
        .await
        .with_context(|| {
            format!(
                "backing up {} to {}",
                args.db.describe(),
                args.out.display()
            )
        })?;
    eprintln!(
        "backed up {}, {} bytes, to {}",
        totals(&s),
        s.bytes,
        args.out.display()
    );
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> Result<()> {
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
    if let Database::Sqlite(path) = args.db.database() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data directory {}", dir.display()))?;
        }
    }
    eprintln!("restoring into {}", args.db.describe());
    let s = backup::restore(&args.db.database(), b, Arc::new(Stderr))
        .await
        .with_context(|| format!("restoring {from} into {}", args.db.describe()))?;
    eprintln!("restored {}; every audit chain verifies", totals(&s));
    Ok(())
}
