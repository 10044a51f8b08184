//! Schema parity: both backends build the same tables, columns (by normalised type), indexes and
//! constraints, from an empty database and from a database the previous release made
//! (`tests/fixtures/release-schema7.*.sql`, a row in every table), which migrates without losing
//! a row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use support::PgDatabase;
use tessera_protocol::{verify_chain, Actor, AuditAction, AuditEvent, AuditQuery, Id};
use tessera_server::store::postgres::PgStore;
use tessera_server::store::schema::{FILES, SCHEMA};
use tessera_server::store::sqlite::SqliteStore;
use tessera_server::Store;

/// A column: name, normalised type (`int`, `text`, `bytes`), NOT NULL, default.
type Column = (String, &'static str, bool, Option<String>);

/// One table as the catalog describes it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    unique: BTreeSet<Vec<String>>,
    /// (columns, referenced table, referenced columns).
    foreign_keys: BTreeSet<(Vec<String>, String, Vec<String>)>,
    /// (name, unique, columns): indexes made by CREATE INDEX, not by a constraint.
    indexes: BTreeSet<(String, bool, Vec<String>)>,
}

type Schema = BTreeMap<String, Table>;

/// Bookkeeping a backend keeps outside the shared schema.
const BOOKKEEPING: &[&str] = &["schema_migrations"];

fn kind_of(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "smallint" | "boolean" => "int",
        "text" => "text",
        "blob" | "bytea" => "bytes",
        other => panic!("unexpected column type {other}"),
    }
}

fn default_of(d: Option<String>) -> Option<String> {
    d.map(|d| match d.to_ascii_lowercase().as_str() {
        "false" => "0".to_owned(),
        "true" => "1".to_owned(),
        _ => d,
    })
}

fn sqlite_schema(path: &std::path::Path) -> Schema {
    let c = rusqlite::Connection::open(path).unwrap();
    let strings = |sql: &str, arg: &str| -> Vec<Vec<String>> {
        let mut stmt = c.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([arg], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => String::new(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        v => v.as_str().unwrap_or_default().to_owned(),
                    })
                })
                .collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let mut schema = Schema::new();
    let tables = strings(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
         AND name <> ?1",
        "",
    );
    for t in tables.into_iter().map(|r| r[0].clone()) {
        let mut table = Table::default();
        let mut pk = Vec::new();
        let nullable_default = "SELECT name, type, \"notnull\", dflt_value IS NULL, \
             coalesce(dflt_value, ''), pk FROM pragma_table_info(?1) ORDER BY cid";
        for r in strings(nullable_default, &t) {
            let in_pk: usize = r[5].parse().unwrap();
            if in_pk > 0 {
                pk.push((in_pk, r[0].clone()));
            }
            let default = (r[3] == "0").then(|| r[4].clone());
            table.columns.push((
                r[0].clone(),
                kind_of(&r[1]),
                r[2] == "1" || in_pk > 0,
                default_of(default),
            ));
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        for r in strings(
            "SELECT name, \"unique\", origin FROM pragma_index_list(?1)",
            &t,
        ) {
            let cols: Vec<String> = strings(
                "SELECT name FROM pragma_index_info(?1) ORDER BY seqno",
                &r[0],
            )
            .into_iter()
            .map(|c| c[0].clone())
            .collect();
            match r[2].as_str() {
                "u" => {
                    table.unique.insert(cols);
                }
                "c" => {
                    table.indexes.insert((r[0].clone(), r[1] == "1", cols));
                }
                _ => {}
            }
        }
        let mut fks: BTreeMap<String, (Vec<String>, String, Vec<String>)> = BTreeMap::new();
        for r in strings(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) \
             ORDER BY id, seq",
            &t,
        ) {
            let e = fks.entry(r[0].clone()).or_default();
            e.0.push(r[2].clone());
            e.1.clone_from(&r[1]);
            e.2.push(r[3].clone());
        }
        table.foreign_keys = fks.into_values().collect();
        schema.insert(t, table);
    }
    schema
}

async fn pg_schema(url: &str) -> Schema {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut schema = Schema::new();
    let tables = c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap();
    for t in tables.iter().map(|r| r.get::<_, String>(0)) {
        if BOOKKEEPING.contains(&t.as_str()) {
            continue;
        }
        let mut table = Table::default();
        for r in c
            .query(
                "SELECT column_name::text, data_type::text, is_nullable = 'NO',
                        column_default::text
                 FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[&t],
            )
            .await
            .unwrap()
        {
            table
                .columns
                .push((r.get(0), kind_of(r.get(1)), r.get(2), default_of(r.get(3))));
        }
        // Constraint columns in their declared order.
        let constraints = c
            .query(
                "SELECT k.contype::text, f.relname::text,
                    array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
                          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                          ORDER BY u.o),
                    array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, o)
                          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n
                          ORDER BY u.o)
                 FROM pg_constraint k LEFT JOIN pg_class f ON f.oid = k.confrelid
                 WHERE k.conrelid = ('public.' || $1)::regclass",
                &[&t],
            )
            .await
            .unwrap();
        for r in constraints {
            let cols: Vec<String> = r.get(2);
            match r.get::<_, String>(0).as_str() {
                "p" => table.primary_key = cols,
                "u" => {
                    table.unique.insert(cols);
                }
                "f" => {
                    table
                        .foreign_keys
                        .insert((cols, r.get::<_, String>(1), r.get(3)));
                }
                other => panic!("unexpected constraint kind {other} on {t}"),
            }
        }
        for r in c
            .query(
                "SELECT i.relname::text, x.indisunique,
                    array(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY u(n, o)
                          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n
                          ORDER BY u.o)
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indrelid = ('public.' || $1)::regclass
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
                &[&t],
            )
            .await
            .unwrap()
        {
            table.indexes.insert((r.get(0), r.get(1), r.get(2)));
        }
        schema.insert(t, table);
    }
    schema
}

fn sqlite_rows(path: &std::path::Path, tables: &Schema) -> BTreeMap<String, i64> {
    let c = rusqlite::Connection::open(path).unwrap();
    tables
        .keys()
        .map(|t| {
            let n = c
                .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t.clone(), n)
        })
        .collect()
}

async fn pg_rows(url: &str, tables: &Schema) -> BTreeMap<String, i64> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut out = BTreeMap::new();
    for t in tables.keys() {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM \"{t}\""), &[])
            .await
            .unwrap()
            .get(0);
        out.insert(t.clone(), n);
    }
    out
}

/// The fixture team's audit chain goes on where the release left it.
async fn audit_continues(store: Arc<dyn Store>) {
    let team = Id([1; 16]);
    let event = AuditEvent::new(Actor::Account(Id([2; 16])), AuditAction::Login);
    store.append_audit(team, 5000, vec![event]).await.unwrap();
    let page = store
        .audit_page(team, AuditQuery::default(), 100)
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 3);
    verify_chain(&team, &page.entries, None).unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_migration_files_are_numbered_and_listed() {
    for dir in ["sqlite", "postgres"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        let mut found: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        found.sort();
        assert_eq!(
            found,
            FILES,
            "{} holds exactly the listed files",
            path.display()
        );
    }
    for (i, name) in FILES.iter().enumerate() {
        assert!(name.starts_with(&format!("{:04}_", i + 1)), "{name}");
    }
    assert_eq!(SCHEMA as usize, FILES.len());
}

#[test]
fn both_backends_build_one_schema_from_empty_and_from_the_last_release() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();

    // From empty.
    let fresh = dir.path().join("fresh.sqlite3");
    drop(SqliteStore::open(&fresh).unwrap());
    let sqlite = sqlite_schema(&fresh);
    let (_fresh_db, fresh_url) = PgDatabase::create();
    drop(rt.block_on(PgStore::connect(&fresh_url)).unwrap());
    let postgres = rt.block_on(pg_schema(&fresh_url));
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (name, table) in &sqlite {
        assert_eq!(table, &postgres[name], "table {name}");
    }

    // From the previous release, with a row in every table.
    let old = dir.path().join("release.sqlite3");
    rusqlite::Connection::open(&old)
        .unwrap()
        .execute_batch(include_str!("fixtures/release-schema7.sqlite.sql"))
        .unwrap();
    let before = sqlite_rows(&old, &sqlite_schema(&old));
    assert!(before.values().all(|n| *n > 0), "{before:?}");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&old).unwrap());
    assert_eq!(
        sqlite_schema(&old),
        sqlite,
        "SQLite migrated from the release"
    );
    let after = sqlite_rows(&old, &sqlite);
    for (t, n) in &before {
        assert_eq!(after[t], *n, "rows of {t}");
    }
    assert_eq!(after["audit_heads"], 1, "the heads are filled from the log");
    assert_eq!(after["group_log"], 0, "a release's group has no log yet");
    rt.block_on(audit_continues(store));

    let (_old_db, old_url) = PgDatabase::create();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&old_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(include_str!("fixtures/release-schema7.postgres.sql"))
            .await
            .unwrap();
    });
    let before = rt.block_on(pg_rows(&old_url, &rt.block_on(pg_schema(&old_url))));
    assert!(before.values().all(|n| *n > 0), "{before:?}");
    let store: Arc<dyn Store> = Arc::new(rt.block_on(PgStore::connect(&old_url)).unwrap());
    assert_eq!(
        rt.block_on(pg_schema(&old_url)),
        postgres,
        "PostgreSQL migrated from the release"
    );
    let after = rt.block_on(pg_rows(&old_url, &postgres));
    for (t, n) in &before {
        assert_eq!(after[t], *n, "rows of {t}: no row lost");
    }
    // A group of the release has no log until one of its admins starts it.
    assert_eq!(after["group_log"], 0);
    rt.block_on(audit_continues(store));
}
