//! A malicious team server (a test double: the real server cannot be made to misbehave) that
//! replays an old item version or swaps two items' ciphertexts: the client refuses and names
//! the item.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use support::{login, TestVault, PASSWORD};
use tessera_core::vault::Credentials;
use tessera_core::Error;
use tessera_protocol as proto;

/// What the fake server answers to `GET /v1/sync`.
#[derive(Default)]
struct Script {
    pushed: Vec<proto::PushChange>,
    pull: Vec<proto::ItemRecord>,
}

/// A minimal HTTP/1.1 server answering the few calls a sync makes.
fn fake_server(script: Arc<Mutex<Script>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let path = request_line.split_whitespace().nth(1).unwrap().to_owned();
            let answer = if path == "/v1/teams" {
                let req: proto::CreateTeamRequest = serde_json::from_slice(&body).unwrap();
                serde_json::to_string(&proto::LoginResponse {
                    team_id: proto::Id([9; 16]),
                    account_id: req.admin.account_id,
                    session: proto::SessionInfo {
                        token: "t".into(),
                        session_id: proto::Id([8; 16]),
                        expires_at: i64::MAX,
                    },
                    keys: req.admin.keys,
                    root_public: req.root_public,
                    mfa_enabled: false,
                    root_pin: None,
                })
                .unwrap()
            } else if path == "/v1/account/root-pin" || path == "/v1/sync/manifest" {
                "null".to_owned()
            } else if path == "/v1/groups" {
                // A team without groups.
                "[]".to_owned()
            } else if path == "/v1/prelogin" {
                // A server that tries to weaken the key derivation of a new device.
                serde_json::to_string(&proto::PreloginResponse {
                    kdf: proto::KdfInfo {
                        memory_kib: 1024,
                        iterations: 1,
                        parallelism: 1,
                        salt: proto::Blob(vec![0; 16]),
                    },
                })
                .unwrap()
            } else if path.starts_with("/v1/sync?") {
                let s = script.lock().unwrap();
                serde_json::to_string(&proto::PullResponse {
                    changes: s.pull.clone(),
                    cursor: 100,
                    more: false,
                    manifest: None,
                    ended: Vec::new(),
                })
                .unwrap()
            } else {
                let req: proto::PushRequest = serde_json::from_slice(&body).unwrap();
                let mut s = script.lock().unwrap();
                let results = req
                    .changes
                    .iter()
                    .map(|c| proto::PushResult::Applied {
                        item_id: c.item_id,
                        version: c.version,
                        seq: 1,
                    })
                    .collect();
                s.pushed.extend(req.changes);
                serde_json::to_string(&proto::PushResponse { results }).unwrap()
            };
            #[allow(clippy::let_underscore_must_use)] // a client that hung up needs no answer
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}", answer.len());
        }
    });
    url
}

fn record(c: &proto::PushChange) -> proto::ItemRecord {
    proto::ItemRecord {
        item_id: c.item_id,
        version: c.version,
        seq: 1,
        deleted: c.deleted,
        blob: c.blob.clone(),
    }
}

#[test]
fn replayed_and_swapped_versions_are_refused_by_name() {
    let script = Arc::new(Mutex::new(Script::default()));
    let url = fake_server(Arc::clone(&script));
    let (tv, mut v) = TestVault::new();
    let creds = Credentials {
        email: "a@example.com",
        device: "test",
        password: PASSWORD,
        secret_key: &tv.secret_key,
    };
    v.create_team(&url, &creds).unwrap();
    let a = v.add(login("a", "u", "pa-1", "")).unwrap();
    let b = v.add(login("b", "u", "pb", "")).unwrap();
    v.update(&a, login("a", "u", "pa-2", "")).unwrap();
    assert_eq!(v.sync().unwrap().pushed, 3);

    let pushed = script.lock().unwrap().pushed.clone();
    let find = |id: &tessera_core::item::ItemId, version: u64| {
        pushed
            .iter()
            .find(|c| c.item_id.0 == id.0 && c.version == version)
            .unwrap()
            .clone()
    };

    // Replay: the server offers version 1 of `a` after version 2 was acknowledged.
    script.lock().unwrap().pull = vec![record(&find(&a, 1))];
    let err = v.sync().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Rollback {
                offered: 1,
                seen: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&a.to_hex()), "{err}");

    // Swap: `a`'s record carries `b`'s sealed version (moved to a newer version number).
    let mut swapped = record(&find(&b, 1));
    swapped.item_id = proto::Id(a.0);
    swapped.version = 3;
    script.lock().unwrap().pull = vec![swapped];
    let err = v.sync().unwrap_err();
    assert!(
        matches!(&err, Error::Tampered { item } if *item == a.to_hex()),
        "{err}"
    );

    // Nothing was applied: both items still read as before.
    assert_eq!(
        v.get(&a)
            .unwrap()
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "pa-2"
    );
    assert_eq!(
        v.get(&b)
            .unwrap()
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "pb"
    );
}

#[test]
fn kdf_parameters_below_the_floor_from_a_server_are_refused() {
    let url = fake_server(Arc::new(Mutex::new(Script::default())));
    let dir = tempfile::tempdir().unwrap();
    let sk = tessera_crypto::AccountSecretKey::generate();
    let creds = Credentials {
        email: "a@example.com",
        device: "new",
        password: PASSWORD,
        secret_key: &sk,
    };
    let err = tessera_core::Vault::login_new_device(
        &dir.path().join("v.sqlite"),
        &url,
        &creds,
        None,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("below the minimum"), "{err}");
    assert!(!dir.path().join("v.sqlite").exists(), "nothing is created");
}

/// The sync tables of a locked vault edited with SQLite: a forged deletion in the outbox (it
/// would delete the item for the whole team) and a lowered `seen` version (it would let the
/// server roll the item back). Both are refused by name; nothing is uploaded or applied.
#[test]
fn forged_outbox_entries_and_lowered_seen_versions_are_refused_by_name() {
    let script = Arc::new(Mutex::new(Script::default()));
    let url = fake_server(Arc::clone(&script));
    let (tv, mut v) = TestVault::new();
    let creds = Credentials {
        email: "a@example.com",
        device: "test",
        password: PASSWORD,
        secret_key: &tv.secret_key,
    };
    v.create_team(&url, &creds).unwrap();
    let a = v.add(login("a", "u", "pa-1", "")).unwrap();
    let b = v.add(login("b", "u", "pb", "")).unwrap();
    v.update(&a, login("a", "u", "pa-2", "")).unwrap();
    assert_eq!(v.sync().unwrap().pushed, 3);
    let version_1_of_a = script
        .lock()
        .unwrap()
        .pushed
        .iter()
        .find(|c| c.item_id.0 == a.0 && c.version == 1)
        .map(record)
        .unwrap();
    v.lock();
    let named = |e: &Error, id: &tessera_core::item::ItemId, what: &str| {
        assert!(
            matches!(e, Error::TamperedRecord { item, .. } if *item == id.to_hex())
                && e.to_string().contains(what),
            "{e}"
        );
    };

    tv.sql()
        .execute(
            "INSERT INTO outbox (item_id, version, deleted) VALUES (?1, 2, 1)",
            [&b.0[..]],
        )
        .unwrap();
    let mut v = tv.unlock().unwrap();
    named(&v.sync().unwrap_err(), &b, "upload queue");
    assert_eq!(
        script.lock().unwrap().pushed.len(),
        3,
        "nothing was uploaded"
    );
    v.lock();
    tv.sql()
        .execute("DELETE FROM outbox WHERE item_id = ?1", [&b.0[..]])
        .unwrap();

    tv.sql()
        .execute("UPDATE seen SET version = 1 WHERE item_id = ?1", [&a.0[..]])
        .unwrap();
    script.lock().unwrap().pull = vec![version_1_of_a];
    let mut v = tv.unlock().unwrap();
    named(&v.sync().unwrap_err(), &a, "newest version");
    assert_eq!(
        v.get(&a)
            .unwrap()
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "pa-2",
        "the replayed version was not applied"
    );
}
