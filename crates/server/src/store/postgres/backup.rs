//! Backup and restore on PostgreSQL (see [`crate::backup`]). A backup reads every table in one
//! `SERIALIZABLE READ ONLY DEFERRABLE` transaction: one consistent snapshot that waits for no
//! lock and is never cancelled, while every node keeps serving. A restore holds the migration
//! lock, replays the migrations, inserts in batches, rebuilds `audit_heads`, finishes the
//! migrations and moves identity sequences past the restored rows, all in one transaction.
use std::collections::HashMap;
use std::io::Write;

use futures_util::TryStreamExt as _;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, IsolationLevel, Row, Transaction};

use super::connect;
use crate::backup::format::Writer;
use crate::backup::{self, Backup, BackupError, Progress, Summary, Value};
use crate::store::schema::{self, SCHEMA};

/// The migration lock (the same as [`super::migrate`]'s): nodes starting meanwhile wait.
const MIGRATION_LOCK: i64 = 5_453_563_101;

fn db(e: tokio_postgres::Error) -> BackupError {
    BackupError::db(e)
}

/// The tables of the current schema.
async fn table_names(c: &impl GenericClient) -> Result<Vec<String>, BackupError> {
    let rows = c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
             ORDER BY table_name",
            &[],
        )
        .await
        .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A table's columns and their types, in order (empty when there is no such table).
async fn columns(
    c: &impl GenericClient,
    table: &str,
) -> Result<Vec<(String, String)>, BackupError> {
    let rows = c
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1
             ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .map_err(db)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn schema_of(c: &impl GenericClient, tables: &[String]) -> Result<u32, BackupError> {
    if !tables.iter().any(|t| t == "schema_migrations") {
        return Ok(0);
    }
    let v: i64 = c
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    u32::try_from(v).map_err(|_| BackupError::NoDatabase(format!("schema version {v}")))
}

/// One value of a row, by the column's type.
fn value(row: &Row, i: usize, table: &str, col: &str, ty: &str) -> Result<Value, BackupError> {
    let v = match ty {
        "bytea" => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map(|v| v.map_or(Value::Null, Value::Bytes)),
        "text" | "character varying" => row
            .try_get::<_, Option<String>>(i)
            .map(|v| v.map_or(Value::Null, Value::Text)),
        "bigint" => row
            .try_get::<_, Option<i64>>(i)
            .map(|v| v.map_or(Value::Null, Value::Int)),
        "integer" => row
            .try_get::<_, Option<i32>>(i)
            .map(|v| v.map_or(Value::Null, |v| Value::Int(v.into()))),
        "smallint" => row
            .try_get::<_, Option<i16>>(i)
            .map(|v| v.map_or(Value::Null, |v| Value::Int(v.into()))),
        "boolean" => row
            .try_get::<_, Option<bool>>(i)
            .map(|v| v.map_or(Value::Null, |v| Value::Int(v.into()))),
        other => {
            return Err(BackupError::column(
                table,
                col,
                format!("unsupported column type {other}"),
            ))
        }
    };
    v.map_err(db)
}

/// Write every table of the database at `url` to `w`.
pub(crate) async fn dump<W: Write>(
    url: &str,
    mut w: Writer<W>,
    progress: &dyn Progress,
) -> Result<(W, Summary), BackupError> {
    let mut client = connect(url).await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .read_only(true)
        .deferrable(true)
        .start()
        .await
        .map_err(db)?;
    let found = table_names(&tx).await?;
    let schema = schema_of(&tx, &found).await?;
    w.header(&backup::source_header(schema, &found, "postgres", || {
        "the PostgreSQL database has no schema".into()
    })?)?;
    let mut values = Vec::new();
    for name in backup::tables_at(schema) {
        let cols = columns(&tx, name).await?;
        if cols.is_empty() {
            return Err(BackupError::NoDatabase(format!("table {name} is missing")));
        }
        let names: Vec<String> = cols.iter().map(|(c, _)| c.clone()).collect();
        w.table(name, &names)?;
        let stmt = tx
            .prepare(&format!(
                "SELECT {} FROM \"{name}\"",
                backup::quoted(&names)
            ))
            .await
            .map_err(db)?;
        let mut rows = std::pin::pin!(tx
            .query_raw(&stmt, std::iter::empty::<i64>())
            .await
            .map_err(db)?);
        let mut n = 0;
        while let Some(row) = rows.try_next().await.map_err(db)? {
            values.clear();
            for (i, (col, ty)) in cols.iter().enumerate() {
                values.push(value(&row, i, name, col, ty)?);
            }
            w.row(&values)?;
            n += 1;
        }
        progress.table(name, n);
    }
    tx.commit().await.map_err(db)?;
    backup::finish(w, schema)
}

type Param<'a> = Box<dyn ToSql + Sync + Send + 'a>;

/// A value as a parameter for a column of type `ty`.
fn param<'a>(table: &str, col: &str, ty: &str, v: &'a Value) -> Result<Param<'a>, BackupError> {
    let mismatch = || BackupError::column(table, col, format!("{} in a {ty} column", v.kind()));
    let range = || BackupError::column(table, col, format!("{v:?} does not fit a {ty}"));
    Ok(match (ty, v) {
        ("bytea", Value::Bytes(b)) => Box::new(b.as_slice()),
        ("bytea", Value::Null) => Box::new(None::<&[u8]>),
        ("text" | "character varying", Value::Text(s)) => Box::new(s.as_str()),
        ("text" | "character varying", Value::Null) => Box::new(None::<&str>),
        ("bigint", Value::Int(i)) => Box::new(*i),
        ("bigint", Value::Null) => Box::new(None::<i64>),
        ("integer", Value::Int(i)) => Box::new(i32::try_from(*i).map_err(|_| range())?),
        ("integer", Value::Null) => Box::new(None::<i32>),
        ("smallint", Value::Int(i)) => Box::new(i16::try_from(*i).map_err(|_| range())?),
        ("smallint", Value::Null) => Box::new(None::<i16>),
        ("boolean", Value::Int(0)) => Box::new(false),
        ("boolean", Value::Int(1)) => Box::new(true),
        ("boolean", Value::Int(_)) => return Err(range()),
        ("boolean", Value::Null) => Box::new(None::<bool>),
        _ => return Err(mismatch()),
    })
}

async fn migrate(tx: &Transaction<'_>, from: u32, to: u32) -> Result<(), BackupError> {
    for (i, sql) in schema::POSTGRES
        .iter()
        .enumerate()
        .take(to as usize)
        .skip(from as usize)
    {
        tx.batch_execute(sql).await.map_err(db)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&((i + 1) as i64)],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Rows per `INSERT` (under PostgreSQL's 65,535 parameters).
fn batch_rows(columns: usize) -> usize {
    (60_000 / columns.max(1)).clamp(1, 1000)
}

/// Insert one table's rows in batches.
async fn insert(
    tx: &Transaction<'_>,
    table: &backup::Table,
    types: &HashMap<String, String>,
) -> Result<(), BackupError> {
    let name = table.name.as_str();
    let types: Vec<&str> = table
        .columns
        .iter()
        .map(|c| types.get(c).map_or("", String::as_str))
        .collect();
    let width = table.columns.len();
    let sql = |rows: usize| {
        let tuples = (0..rows)
            .map(|r| {
                let ps = (1..=width)
                    .map(|c| format!("${}", r * width + c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({ps})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO \"{name}\" ({}) VALUES {tuples}",
            backup::quoted(&table.columns)
        )
    };
    let full = batch_rows(width);
    let mut full_stmt = None;
    for chunk in table.rows.chunks(full) {
        let stmt = if chunk.len() == full {
            if full_stmt.is_none() {
                full_stmt = Some(tx.prepare(&sql(full)).await.map_err(db)?);
            }
            full_stmt.clone()
        } else {
            None
        };
        let stmt = match stmt {
            Some(s) => s,
            None => tx.prepare(&sql(chunk.len())).await.map_err(db)?,
        };
        let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * width);
        for row in chunk {
            for ((v, c), ty) in row.iter().zip(&table.columns).zip(&types) {
                params.push(param(name, c, ty, v)?);
            }
        }
        tx.execute_raw(&stmt, params).await.map_err(db)?;
    }
    Ok(())
}

/// Move every identity or serial sequence past the largest restored value, so new rows do not
/// collide with restored ones. (Today's schema has none; a future migration may add one.)
async fn fix_sequences(tx: &Transaction<'_>) -> Result<(), BackupError> {
    let rows = tx
        .query(
            "SELECT table_name::text, column_name::text,
                    pg_get_serial_sequence(quote_ident(table_name), column_name)
             FROM information_schema.columns
             WHERE table_schema = current_schema()
               AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')",
            &[],
        )
        .await
        .map_err(db)?;
    for r in rows {
        let (table, column, seq): (String, String, Option<String>) = (r.get(0), r.get(1), r.get(2));
        if let Some(seq) = seq {
            tx.execute(
                &format!(
                    "SELECT setval($1::regclass, coalesce((SELECT max(\"{column}\") FROM \
                     \"{table}\"), 0) + 1, false)"
                ),
                &[&seq],
            )
            .await
            .map_err(db)?;
        }
    }
    Ok(())
}

/// Restore `backup` into the database at `url`, in one transaction.
pub(crate) async fn load(
    url: &str,
    backup: &Backup,
    progress: &dyn Progress,
) -> Result<(), BackupError> {
    let mut client = connect(url).await?;
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    let target = backup.header.schema;
    let found = table_names(&tx).await?;
    let current = schema_of(&tx, &found).await?;
    if backup::restore_from_scratch(current, target, &found)? {
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)",
        )
        .await
        .map_err(db)?;
        migrate(&tx, 0, target).await?;
    } else {
        for (table, probe) in backup::emptiness_probes(target) {
            if tx.query_one(&probe, &[]).await.map_err(db)?.get(0) {
                return Err(BackupError::NotEmpty {
                    table: table.into(),
                });
            }
        }
    }
    tx.batch_execute("DELETE FROM server_meta")
        .await
        .map_err(db)?;
    for name in backup::tables_at(target) {
        let Some(t) = backup.table(name) else {
            continue;
        };
        let types: HashMap<String, String> = columns(&tx, name).await?.into_iter().collect();
        let mut have: Vec<&String> = types.keys().collect();
        have.sort();
        backup::check_columns(name, target, &t.columns, &have)?;
        insert(&tx, t, &types).await?;
        progress.table(name, t.rows.len() as u64);
    }
    migrate(&tx, target, SCHEMA).await?;
    tx.batch_execute(schema::REBUILD_AUDIT_HEADS)
        .await
        .map_err(db)?;
    fix_sequences(&tx).await?;
    tx.commit().await.map_err(db)
}
