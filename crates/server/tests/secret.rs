//! Rotating the server secret, on both backends: the store replaces it; a node started
//! afterwards gives strangers new fake prelogin answers while members' answers, sessions and
//! tokens stay valid; a node started before keeps the old secret until restarted; and
//! `tessera-server rotate-secret` does it from the command line and says what it did.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::{json, Value};
use support::http::{create_team, spawn_node, user, Api, Server};
use support::{Kind, PgDatabase};
use tessera_server::config::{Database, DatabaseUrl};
use tessera_server::store::postgres::PoolOptions;

on_both_backends!(
    the_store_replaces_the_secret,
    new_nodes_use_the_new_secret_and_no_one_is_signed_out,
    the_command_rotates_and_explains,
);

fn the_store_replaces_the_secret(kind: Kind) {
    let h = support::Harness::new(kind);
    h.rt.block_on(async {
        let s = &h.store;
        let first = s.server_secret().await.unwrap();
        assert_eq!(first, s.server_secret().await.unwrap());
        tessera_server::secret::rotate(s.as_ref()).await.unwrap();
        let second = s.server_secret().await.unwrap();
        assert_ne!(first, second);
        assert_eq!(second, s.server_secret().await.unwrap());
    });
}

fn prelogin(api: &Api, email: &str) -> Value {
    api.ok(
        "POST",
        "/v1/prelogin",
        None,
        Some(json!({ "email": email })),
    )["kdf"]
        .clone()
}

fn new_nodes_use_the_new_secret_and_no_one_is_signed_out(kind: Kind) {
    let old = Server::start(kind);
    let ada = user("ada@example.com");
    let (_, _, token) = create_team(&old, &ada);
    let stranger = prelogin(&old, "stranger@example.com");
    let member = prelogin(&old, "ada@example.com");
    assert_eq!(member, ada.body["kdf"]);

    old.h
        .rt
        .block_on(tessera_server::secret::rotate(old.h.store.as_ref()))
        .unwrap();
    // A node started after the rotation (a restarted one).
    let new = spawn_node(&old.h.rt, Arc::clone(&old.h.store), |s| s);
    let fresh = prelogin(&new, "stranger@example.com");
    assert_ne!(fresh["salt"], stranger["salt"]);
    assert_eq!(fresh, prelogin(&new, "stranger@example.com"));
    assert_eq!(prelogin(&new, "ada@example.com"), member);
    // The running node keeps the secret it read at start until it is restarted.
    assert_eq!(prelogin(&old, "stranger@example.com"), stranger);
    // No one is signed out: the session made before the rotation works on both nodes.
    for api in [&old.api, &new] {
        let sessions = api.ok("GET", "/v1/sessions", Some(&token), None);
        assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    }
}

/// Run `tessera-server ARGS rotate-secret`; its standard output.
fn rotate_command(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(args)
        .arg("rotate-secret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn secret_of(database: &Database) -> [u8; 32] {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = database.open().await.unwrap();
        store.server_secret().await.unwrap()
    })
}

fn the_command_rotates_and_explains(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let (database, args, _pg): (Database, Vec<String>, Option<PgDatabase>) = match kind {
        Kind::Sqlite => {
            let data_dir = dir.path().join("data");
            let config = dir.path().join("server.toml");
            std::fs::write(&config, format!("data_dir = \"{}\"\n", data_dir.display())).unwrap();
            (
                Database::Sqlite { data_dir },
                vec!["--config".into(), config.display().to_string()],
                None,
            )
        }
        Kind::Postgres => {
            let (db, url) = PgDatabase::create();
            // The URL from a file, as a deployment keeps it.
            let url_file = dir.path().join("database-url");
            std::fs::write(&url_file, format!("{url}\n")).unwrap();
            let config = dir.path().join("server.toml");
            std::fs::write(
                &config,
                format!("database_url_file = \"{}\"\n", url_file.display()),
            )
            .unwrap();
            (
                Database::Postgres {
                    url: DatabaseUrl::new(url),
                    pool: PoolOptions::default(),
                },
                vec!["--config".into(), config.display().to_string()],
                Some(db),
            )
        }
    };
    let before = secret_of(&database);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let said = rotate_command(&args);
    let after = secret_of(&database);
    assert_ne!(before, after);
    assert!(said.contains("no one is signed out"), "{said}");
    assert!(said.contains("Restart every server node"), "{said}");
    assert_eq!(said.trim(), tessera_server::secret::ROTATION_EFFECT.trim());
    if let Database::Sqlite { data_dir } = &database {
        assert!(Path::new(data_dir).join("tessera-server.sqlite3").exists());
    }
}
