//! Online backup and restore, on both backends and across them: a populated server is backed up
//! while it serves (and while a client keeps pushing), the database is thrown away, the backup
//! is restored into a fresh one, and a server on it gives back every item, membership, session,
//! token and audit entry. Damaged backups and non-empty targets are refused by name; the real
//! binary runs `backup` and `restore` once per backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value as Json};
use sha2::Digest as _;
use support::http::{create_team, hex_id, login, push_body, spawn_node, str_of, user, Api};
use support::team::{audit, observe, populate};
use support::{Fresh, Kind};
use tessera_protocol::{verify_chain, Id};
use tessera_server::backup::{self, Backup, BackupError, Quiet, Value};

on_both_backends!(
    round_trip_while_serving,
    damaged_backups_are_named_and_refused,
    restore_needs_a_fresh_database,
    the_binary_backs_up_and_restores,
);

/// Every table as column name → value, rows sorted: equal for equal data on either backend.
fn contents(b: &Backup) -> BTreeMap<String, Vec<String>> {
    b.tables
        .iter()
        .map(|t| {
            let mut rows: Vec<String> = t
                .rows
                .iter()
                .map(|r| format!("{:?}", t.columns.iter().zip(r).collect::<BTreeMap<_, _>>()))
                .collect();
            rows.sort();
            (t.name.clone(), rows)
        })
        .collect()
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// The snapshot is consistent: each team's sequence counter is the largest sequence number
/// of its item versions (personal and shared), and each item's current version is its newest.
fn assert_consistent(b: &Backup) {
    let seqs = |table: &str| -> Vec<i64> {
        b.table(table)
            .unwrap()
            .column("seq")
            .unwrap()
            .map(int)
            .collect()
    };
    let team_seq = b
        .table("teams")
        .unwrap()
        .column("seq")
        .unwrap()
        .map(int)
        .max()
        .unwrap();
    let newest = seqs("item_versions")
        .into_iter()
        .chain(seqs("group_item_versions"))
        .max()
        .unwrap();
    assert_eq!(
        team_seq, newest,
        "the team's counter and its versions disagree"
    );
    let items = b.table("items").unwrap();
    let versions = b.table("item_versions").unwrap();
    for (item, version) in items
        .column("item_id")
        .unwrap()
        .zip(items.column("version").unwrap())
    {
        let newest = versions
            .column("item_id")
            .unwrap()
            .zip(versions.column("version").unwrap())
            .filter(|(i, _)| *i == item)
            .map(|(_, v)| int(v))
            .max()
            .unwrap();
        assert_eq!(int(version), newest, "an item is not at its newest version");
    }
}

fn restore(rt: &tokio::runtime::Runtime, target: &Fresh, file: &Path) -> Result<(), BackupError> {
    let b = backup::read(file)?;
    rt.block_on(backup::restore(&target.db, b, Arc::new(Quiet)))
        .map(|_| ())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Back up `target` again and check it holds exactly what `file` did.
fn assert_same_as(rt: &tokio::runtime::Runtime, target: &Fresh, file: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("again.backup");
    rt.block_on(backup::backup_to_file(
        &target.db,
        &again,
        false,
        Arc::new(Quiet),
    ))
    .unwrap();
    let (a, b) = (backup::read(file).unwrap(), backup::read(&again).unwrap());
    assert_eq!(a.header.schema, b.header.schema);
    assert_eq!(contents(&a), contents(&b));
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn round_trip_while_serving(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.backup");
    let s = support::http::Server::start(kind);
    let t = populate(&s);
    let expected = observe(&s, &t);

    // A client keeps pushing while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (api, token, stop) = (
            Api::new(s.base.clone()),
            t.carol_t.clone(),
            Arc::clone(&stop),
        );
        std::thread::spawn(move || {
            let item = hex_id();
            let mut v = 0;
            while !stop.load(Ordering::Relaxed) {
                api.ok(
                    "POST",
                    "/v1/sync",
                    Some(&token),
                    Some(push_body(&item, v, b"busy")),
                );
                v += 1;
            }
            v
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let summary =
        s.h.rt
            .block_on(backup::backup_to_file(
                &s.h.database(),
                &file,
                false,
                Arc::new(Quiet),
            ))
            .unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(busy.join().unwrap() > 0);
    assert_eq!(
        summary.tables,
        backup::tables_at(backup::SCHEMA).count() as u64
    );
    assert!(summary.rows > 50 && summary.bytes > 0, "{summary:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let b = backup::read(&file).unwrap();
    assert_consistent(&b);
    let backed_up_audit = b.table("audit_log").unwrap().rows.len();
    let team_seq = b
        .table("teams")
        .unwrap()
        .column("seq")
        .unwrap()
        .map(int)
        .max()
        .unwrap();
    // The file is not overwritten without force.
    let err =
        s.h.rt
            .block_on(backup::backup_to_file(
                &s.h.database(),
                &file,
                false,
                Arc::new(Quiet),
            ))
            .unwrap_err();
    assert!(matches!(err, BackupError::Exists(_)), "{err}");

    // The database is thrown away; a fresh one gets the backup.
    drop(s);
    let target = Fresh::new(kind);
    let rt = runtime();
    restore(&rt, &target, &file).unwrap();
    assert_same_as(&rt, &target, &file);

    let s = spawn_node(&rt, target.open(&rt), |st| st);
    assert_eq!(observe(&s, &t), expected);
    // Old sessions, the old password and the machine token still work; offboarded stays out.
    s.ok("GET", "/v1/sessions", Some(&t.bob_t), None);
    let (status, v) = login(&s, &t.ada, None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(login(&s, &t.eve, None).0, 403);
    // A new push continues the team's sequence.
    let v = s.ok(
        "POST",
        "/v1/sync",
        Some(&t.ada_t),
        Some(push_body(&t.personal, 3, b"ada v4")),
    );
    assert_eq!(v["results"][0]["result"], "applied", "{v}");
    assert_eq!(v["results"][0]["seq"].as_i64(), Some(team_seq + 1), "{v}");
    // The audit chain verifies, holds every entry backed up, and goes on from there.
    let entries = audit(&s, &t.ada_t);
    assert!(entries.len() > backed_up_audit);
    verify_chain(&team_id(&b), &entries, None).unwrap();
}

/// The (only) team's id in a backup.
fn team_id(b: &Backup) -> Id {
    match b
        .table("teams")
        .unwrap()
        .column("id")
        .unwrap()
        .next()
        .unwrap()
    {
        Value::Bytes(id) => Id(id.as_slice().try_into().unwrap()),
        other => panic!("{other:?}"),
    }
}

/// A backup from one backend restores into the other.
fn across(from: Kind, to: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.backup");
    let s = support::http::Server::start(from);
    let t = populate(&s);
    let expected = observe(&s, &t);
    s.h.rt
        .block_on(backup::backup_to_file(
            &s.h.database(),
            &file,
            false,
            Arc::new(Quiet),
        ))
        .unwrap();
    drop(s);
    let target = Fresh::new(to);
    let rt = runtime();
    restore(&rt, &target, &file).unwrap();
    assert_same_as(&rt, &target, &file);
    let s = spawn_node(&rt, target.open(&rt), |st| st);
    assert_eq!(observe(&s, &t), expected);
    assert_eq!(login(&s, &t.ada, None).0, 200);
    let v = s.ok(
        "POST",
        "/v1/sync",
        Some(&t.ada_t),
        Some(push_body(&t.personal, 3, b"ada v4")),
    );
    assert_eq!(v["results"][0]["result"], "applied", "{v}");
    let b = backup::read(&file).unwrap();
    verify_chain(&team_id(&b), &audit(&s, &t.ada_t), None).unwrap();
}

#[test]
fn a_sqlite_backup_restores_into_postgres() {
    across(Kind::Sqlite, Kind::Postgres);
}

#[test]
fn a_postgres_backup_restores_into_sqlite() {
    across(Kind::Postgres, Kind::Sqlite);
}

/// Edit a backup's lines (the end record removed) and compute its checksum again, as someone
/// who knows the format would.
fn reseal(data: &[u8], edit: impl FnOnce(&mut Vec<String>)) -> Vec<u8> {
    let mut lines: Vec<String> = std::str::from_utf8(data)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut end: Json = serde_json::from_str(&lines.pop().unwrap()).unwrap();
    edit(&mut lines);
    let mut out = String::new();
    for l in &lines {
        out.push_str(l);
        out.push('\n');
    }
    end["end"]["sha256"] = json!(tessera_protocol::hex(&sha2::Sha256::digest(out.as_bytes())));
    out.push_str(&end.to_string());
    out.push('\n');
    out.into_bytes()
}

/// Change one value of the first row of `table`.
fn edit_first_row(lines: &mut [String], table: &str, column: &str, to: &Json) {
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("{{\"table\":\"{table}\"")))
        .unwrap();
    let head: Json = serde_json::from_str(&lines[at]).unwrap();
    let i = head["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == column)
        .unwrap();
    let mut row: Json = serde_json::from_str(&lines[at + 1]).unwrap();
    row[i] = to.clone();
    lines[at + 1] = row.to_string();
}

fn damaged_backups_are_named_and_refused(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.backup");
    let s = support::http::Server::start(kind);
    populate(&s);
    s.h.rt
        .block_on(backup::backup_to_file(
            &s.h.database(),
            &file,
            false,
            Arc::new(Quiet),
        ))
        .unwrap();
    let data = std::fs::read(&file).unwrap();
    let target = Fresh::new(kind);
    let rt = runtime();
    let refused = |bytes: &[u8]| {
        let p = dir.path().join("damaged.backup");
        std::fs::write(&p, bytes).unwrap();
        restore(&rt, &target, &p).unwrap_err()
    };

    for cut in [data.len() - 1, data.len() - 30, data.len() / 2, 100, 40] {
        let e = refused(&data[..cut]);
        assert!(matches!(e, BackupError::Truncated), "cut at {cut}: {e}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
    let mut flipped = data.clone();
    let mid = data.len() / 2 + usize::from(data[data.len() / 2] == b'\n');
    flipped[mid] ^= 0x01;
    let e = refused(&flipped);
    assert!(matches!(e, BackupError::Checksum), "{e}");
    assert!(e.to_string().contains("corrupted or was edited"), "{e}");
    assert!(matches!(
        refused(b"id,name\n1,2\n"),
        BackupError::NotABackup
    ));

    // Edits with a correct checksum: an audit entry, a schema from the future, a value of the
    // wrong kind (in the last table, so every table before it was inserted, then rolled back).
    let e = refused(&reseal(&data, |l| {
        edit_first_row(l, "audit_log", "detail", &json!("edited"));
    }));
    assert!(matches!(e, BackupError::AuditChain { .. }), "{e}");
    assert!(e.to_string().contains("entry 1 was changed"), "{e}");
    let e = refused(&reseal(&data, |l| {
        let mut h: Json = serde_json::from_str(&l[0]).unwrap();
        h["schema"] = json!(backup::SCHEMA + 1);
        l[0] = h.to_string();
    }));
    assert!(matches!(e, BackupError::SchemaTooNew { .. }), "{e}");
    assert!(
        e.to_string().contains("upgrade tessera-server first"),
        "{e}"
    );
    let e = refused(&reseal(&data, |l| {
        edit_first_row(l, "share_expiry", "expires_at", &json!("soon"));
    }));
    assert!(
        matches!(&e, BackupError::Column { table, column, .. }
            if table == "share_expiry" && column == "expires_at"),
        "{e}"
    );

    // Nothing was written: the target is still fresh and takes the real backup.
    restore(&rt, &target, &file).unwrap();
    assert_same_as(&rt, &target, &file);
}

fn restore_needs_a_fresh_database(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.backup");
    let s = support::http::Server::start(kind);
    let t = populate(&s);
    s.h.rt
        .block_on(backup::backup_to_file(
            &s.h.database(),
            &file,
            false,
            Arc::new(Quiet),
        ))
        .unwrap();

    // Not into the live database: refused by name, nothing changed.
    let e =
        s.h.rt
            .block_on(backup::restore(
                &s.h.database(),
                backup::read(&file).unwrap(),
                Arc::new(Quiet),
            ))
            .unwrap_err();
    assert!(
        matches!(&e, BackupError::NotEmpty { table } if table == "teams"),
        "{e}"
    );
    assert!(
        e.to_string().contains("restore into a fresh database"),
        "{e}"
    );
    assert_eq!(login(&s, &t.ada, None).0, 200);

    // A database a server has opened holds only its secret: fresh enough, and the backup's
    // secret replaces it (checked by comparing every table, server_meta included).
    let target = Fresh::new(kind);
    let rt = runtime();
    let store = target.open(&rt);
    rt.block_on(store.server_secret()).unwrap();
    drop(store);
    restore(&rt, &target, &file).unwrap();
    assert_same_as(&rt, &target, &file);
    let e = restore(&rt, &target, &file).unwrap_err();
    assert!(matches!(e, BackupError::NotEmpty { .. }), "{e}");
}

/// A server process; killed when dropped.
struct Proc(std::process::Child);

impl Drop for Proc {
    #[allow(clippy::let_underscore_must_use)] // best effort: it may have exited already
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serve `db` (the database arguments) on a free port; the API once it answers.
fn serve(db: &[String]) -> (Proc, Api) {
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(db)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env_remove("TESSERA_DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut p = Proc(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ureq::get(format!("{base}/healthz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(p.0.try_wait().unwrap().is_none(), "the server exited early");
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (p, Api::new(base))
}

/// Run the binary: (success, stderr).
fn run(args: &[&str], db: &[String]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(args)
        .args(db)
        .env_remove("TESSERA_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn the_binary_backs_up_and_restores(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let mut guards = Vec::new();
    let mut database = |n: &str| -> Vec<String> {
        match kind {
            Kind::Sqlite => vec![
                "--data-dir".into(),
                dir.path().join(n).display().to_string(),
            ],
            Kind::Postgres => {
                let (guard, url) = support::PgDatabase::create();
                guards.push(guard);
                vec!["--database-url".into(), url]
            }
        }
    };
    let (live, restored) = (database("live"), database("restored"));
    let file = dir.path().join("team.backup");
    let out = file.display().to_string();

    let (_server, s) = serve(&live);
    let ada = user("ada@example.com");
    let (_, _, ada_t) = create_team(&s, &ada);
    let item = hex_id();
    for v in 0..2 {
        s.ok(
            "POST",
            "/v1/sync",
            Some(&ada_t),
            Some(push_body(&item, v, b"sealed")),
        );
    }

    let (ok, err) = run(&["backup", "--out", &out], &live);
    assert!(ok, "{err}");
    let tables = backup::tables_at(backup::SCHEMA).count();
    assert!(
        err.contains("audit_log: ") && err.contains(&format!("backed up {tables} tables")),
        "{err}"
    );
    let (ok, err) = run(&["backup", "--out", &out], &live);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, err) = run(&["backup", "--out", &out, "--force"], &live);
    assert!(ok, "{err}");
    let (ok, err) = run(&["restore", "--from", &out, "--check"], &[]);
    assert!(ok && err.contains("every audit chain verifies"), "{err}");
    let (ok, err) = run(&["restore", "--from", &out], &restored);
    assert!(
        ok && err.contains(&format!("restored {tables} tables")),
        "{err}"
    );
    let (ok, err) = run(&["restore", "--from", &out], &restored);
    assert!(!ok && err.contains("is not empty"), "{err}");

    let (_server2, s2) = serve(&restored);
    assert_eq!(login(&s2, &ada, None).0, 200);
    let pulled = s2.ok("GET", "/v1/sync?since=0", Some(&ada_t), None);
    assert_eq!(pulled["changes"][0]["version"], 2, "{pulled}");
    assert_eq!(str_of(&pulled["changes"][0]["item_id"]), item);
}
