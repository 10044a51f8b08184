//! Backup and restore on SQLite (see [`crate::backup`]). A backup reads every table in one
//! read transaction of its own connection: under WAL it sees one snapshot while the server
//! keeps writing. A restore replays the migrations, inserts and finishes the migrations in one
//! immediate transaction.
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags, TransactionBehavior};

use crate::backup::format::Writer;
use crate::backup::{self, Backup, BackupError, Progress, Summary, Value};
use crate::store::schema::{self, SCHEMA};

fn db(e: rusqlite::Error) -> BackupError {
    BackupError::db(e)
}

/// The user tables of the database.
fn table_names(conn: &Connection) -> Result<Vec<String>, BackupError> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
             ESCAPE '\\' ORDER BY name",
        )
        .map_err(db)?;
    let names = stmt
        .query_map([], |r| r.get(0))
        .map_err(db)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(db)?;
    Ok(names)
}

/// A table's columns and their declared types, in order (empty when there is no such table).
fn columns(conn: &Connection, table: &str) -> Result<Vec<(String, String)>, BackupError> {
    let mut stmt = conn
        .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
        .map_err(db)?;
    let cols = stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?
        .collect::<Result<Vec<(String, String)>, _>>()
        .map_err(db)?;
    Ok(cols)
}

/// Refuse a value of another kind than its column's declared type (SQLite would store it).
fn check_kind(table: &str, column: &str, declared: &str, v: &Value) -> Result<(), BackupError> {
    let fits = match v {
        Value::Null => true,
        Value::Int(_) => declared.eq_ignore_ascii_case("INTEGER"),
        Value::Text(_) => declared.eq_ignore_ascii_case("TEXT"),
        Value::Bytes(_) => declared.eq_ignore_ascii_case("BLOB"),
    };
    if fits {
        Ok(())
    } else {
        Err(BackupError::column(
            table,
            column,
            format!("{} in a column of type {declared}", v.kind()),
        ))
    }
}

fn schema_of(conn: &Connection) -> Result<u32, BackupError> {
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db)?;
    u32::try_from(v).map_err(|_| BackupError::NoDatabase(format!("user_version {v}")))
}

/// Write every table of the database at `path` to `w`.
pub(crate) fn dump<W: Write>(
    path: &Path,
    mut w: Writer<W>,
    progress: &dyn Progress,
) -> Result<(W, Summary), BackupError> {
    if !path.is_file() {
        return Err(BackupError::NoDatabase(path.display().to_string()));
    }
    // Read-write without create: a missing file is not created, and WAL readers need the
    // shared-memory file writable.
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
    let tx = conn.transaction().map_err(db)?;
    // The first read fixes the snapshot every later read of this transaction sees.
    let found = table_names(&tx)?;
    let schema = schema_of(&tx)?;
    w.header(&backup::source_header(schema, &found, "sqlite", || {
        path.display().to_string()
    })?)?;
    let mut values = Vec::new();
    for name in backup::tables_at(schema) {
        let cols: Vec<String> = columns(&tx, name)?.into_iter().map(|(c, _)| c).collect();
        if cols.is_empty() {
            return Err(BackupError::NoDatabase(format!(
                "{}: table {name} is missing",
                path.display()
            )));
        }
        w.table(name, &cols)?;
        let mut stmt = tx
            .prepare(&format!("SELECT {} FROM \"{name}\"", backup::quoted(&cols)))
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(db)? {
            values.clear();
            for (i, col) in cols.iter().enumerate() {
                values.push(match r.get_ref(i).map_err(db)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(_) => {
                        return Err(BackupError::column(name, col, "a floating-point value"))
                    }
                    ValueRef::Text(t) => {
                        Value::Text(String::from_utf8(t.to_vec()).map_err(|_| {
                            BackupError::column(name, col, "text that is not UTF-8")
                        })?)
                    }
                    ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                });
            }
            w.row(&values)?;
            n += 1;
        }
        progress.table(name, n);
    }
    drop(tx);
    backup::finish(w, schema)
}

fn to_sql(v: &Value) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match v {
        Value::Null => ValueRef::Null,
        Value::Int(i) => ValueRef::Integer(*i),
        Value::Text(s) => ValueRef::Text(s.as_bytes()),
        Value::Bytes(b) => ValueRef::Blob(b),
    })
}

fn migrate(conn: &Connection, from: u32, to: u32) -> Result<(), BackupError> {
    for (i, sql) in schema::SQLITE
        .iter()
        .enumerate()
        .take(to as usize)
        .skip(from as usize)
    {
        conn.execute_batch(sql).map_err(db)?;
        conn.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(db)?;
    }
    Ok(())
}

/// Restore `backup` into the database at `path` (created when missing), in one transaction.
pub(crate) fn load(
    path: &Path,
    backup: &Backup,
    progress: &dyn Progress,
) -> Result<(), BackupError> {
    let mut conn = Connection::open(path).map_err(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(db)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let target = backup.header.schema;
    if backup::restore_from_scratch(schema_of(&tx)?, target, &table_names(&tx)?)? {
        migrate(&tx, 0, target)?;
    } else {
        for (table, probe) in backup::emptiness_probes(target) {
            if tx.query_row(&probe, [], |r| r.get(0)).map_err(db)? {
                return Err(BackupError::NotEmpty {
                    table: table.into(),
                });
            }
        }
    }
    tx.execute("DELETE FROM server_meta", []).map_err(db)?;
    for name in backup::tables_at(target) {
        let Some(t) = backup.table(name) else {
            continue;
        };
        let declared: HashMap<String, String> = columns(&tx, name)?.into_iter().collect();
        backup::check_columns(
            name,
            target,
            &t.columns,
            &declared.keys().collect::<Vec<_>>(),
        )?;
        let types: Vec<&str> = t
            .columns
            .iter()
            .map(|c| declared.get(c).map_or("", String::as_str))
            .collect();
        let placeholders = (1..=t.columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut ins = tx
            .prepare(&format!(
                "INSERT INTO \"{name}\" ({}) VALUES ({placeholders})",
                backup::quoted(&t.columns)
            ))
            .map_err(db)?;
        for row in &t.rows {
            for ((v, c), ty) in row.iter().zip(&t.columns).zip(&types) {
                check_kind(name, c, ty, v)?;
            }
            ins.execute(params_from_iter(row.iter().map(to_sql)))
                .map_err(db)?;
        }
        progress.table(name, t.rows.len() as u64);
    }
    migrate(&tx, target, SCHEMA)?;
    tx.execute_batch(schema::REBUILD_AUDIT_HEADS).map_err(db)?;
    tx.commit().map_err(db)
}
