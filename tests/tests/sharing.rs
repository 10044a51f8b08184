//! Groups and sharing end to end: three accounts' vaults (through `tessera-core`) against the
//! real `tessera-server` binary, on SQLite and on PostgreSQL.
//!
//! Alice creates a team, invites Bob and Carol and certifies them, makes a group, adds Bob as a
//! viewer and shares an item. Bob reads it; his change to it is refused; Carol, not a member,
//! sees nothing. Alice removes Bob: a new key epoch starts, and a version written afterwards
//! does not open with the keys Bob kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::team::{login, password, readers, Backend, Cli, Person, PASSWORD};
use support::Server;

use std::process::Command;

use tessera_core::vault::Credentials;
use tessera_core::Error;
use tessera_protocol::GroupRole;

#[allow(clippy::too_many_lines)] // one story, told in order
fn scenario(url: &str) {
    let mut alice = Person::new("alice@example.com");
    let mut bob = Person::new("bob@example.com");
    let mut carol = Person::new("carol@example.com");
    let creds = Credentials {
        email: alice.email,
        device: "laptop",
        password: PASSWORD,
        secret_key: &alice.secret_key,
    };
    alice.vault.create_team(url, &creds).unwrap();
    for p in [&mut bob, &mut carol] {
        let inv = alice.vault.invite(p.email).unwrap();
        let creds = Credentials {
            email: p.email,
            device: "laptop",
            password: PASSWORD,
            secret_key: &p.secret_key,
        };
        p.vault
            .join_team(url, &inv.invite_token, &inv.root_fingerprint, &creds)
            .unwrap();
    }

    // An uncertified member cannot be given a key: the client says why.
    let g = alice.vault.group_create("Production").unwrap();
    let e = alice
        .vault
        .group_add("Production", bob.email, GroupRole::Viewer, None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Untrusted { who, .. } if who == "bob@example.com"),
        "{e}"
    );
    assert!(e.to_string().contains("certif"), "{e}");
    alice.vault.certify(bob.email).unwrap();
    alice.vault.certify(carol.email).unwrap();
    alice
        .vault
        .group_add("Production", bob.email, GroupRole::Viewer, None)
        .unwrap();

    // Alice shares a personal item: it leaves her personal items and reaches the group.
    let id = alice.vault.add(login("prod-db", "hunter2-v1")).unwrap();
    alice.vault.share("prod-db", "Production").unwrap();
    assert!(
        alice.vault.get(&id).is_err(),
        "the item left her personal vault"
    );
    alice.vault.sync().unwrap();

    // Bob's device syncs the group and reads the item.
    let bobs = bob.vault.groups().unwrap();
    assert_eq!(
        (bobs.len(), bobs[0].name.as_str(), bobs[0].role),
        (1, "Production", GroupRole::Viewer)
    );
    let items = bob.vault.group_items("Production").unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id, id);
    assert_eq!(password(&items[0].data), "hunter2-v1");
    // Bob is a viewer: his change is refused before anything is sent (and the server refuses
    // a viewer's push with 403 too: crates/server/tests/groups.rs).
    let e = bob
        .vault
        .group_update("Production", "prod-db", &login("prod-db", "bob-was-here"))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(why) if why.contains("viewer of Production")),
        "{e}"
    );
    assert_eq!(
        password(&alice.vault.group_items("Production").unwrap()[0].data),
        "hunter2-v1"
    );
    // Carol is not a member: she sees nothing.
    assert!(carol.vault.groups().unwrap().is_empty());
    assert!(matches!(
        carol.vault.access(&id.to_hex()),
        Err(Error::NotFound(_))
    ));

    // Effective access: Alice (admin) and Bob (viewer), through Production.
    let a = alice.vault.access(&id.to_hex()).unwrap();
    assert_eq!(a.group.as_ref().unwrap().id, g.id);
    assert_eq!(
        readers(&a),
        vec![
            ("alice@example.com", GroupRole::Admin),
            ("bob@example.com", GroupRole::Viewer)
        ]
    );

    // Bob keeps his keys; Alice removes him, a new epoch starts, and she rotates the password.
    let kept = bob.vault.group_keyring("Production").unwrap();
    let before = alice.vault.group_records("Production").unwrap();
    assert_eq!(password(&kept.open(&before[0]).unwrap().data), "hunter2-v1");
    let after_removal = alice.vault.group_remove("Production", bob.email).unwrap();
    assert_eq!(after_removal.epoch, 2);
    alice
        .vault
        .group_update("Production", "prod-db", &login("prod-db", "hunter2-v2"))
        .unwrap();
    let after = alice.vault.group_records("Production").unwrap();
    assert_eq!(after[0].version, 2);
    assert!(
        matches!(kept.open(&after[0]), Err(Error::Tampered { ref item }) if *item == id.to_hex()),
        "bob's old keys must not open a version written after his removal"
    );
    // Alice (and anyone added later, from one sealed key) reads both versions.
    let items = alice.vault.group_items("Production").unwrap();
    assert_eq!(
        (items[0].epoch, password(&items[0].data).as_str()),
        (2, "hunter2-v2")
    );
    // Bob is served nothing any more.
    assert!(bob.vault.groups().unwrap().is_empty());
    assert!(bob.vault.group_items("Production").is_err());

    // Carol joins after the rotation with one sealed key and reads the current version.
    alice
        .vault
        .group_add("Production", carol.email, GroupRole::Editor, None)
        .unwrap();
    let ring = carol.vault.group_keyring("Production").unwrap();
    assert_eq!(password(&ring.open(&before[0]).unwrap().data), "hunter2-v1");
    carol
        .vault
        .group_update("Production", "prod-db", &login("prod-db", "hunter2-v3"))
        .unwrap();
    // Moving the item out brings it back to Alice's personal vault; the group no longer has it.
    let back = alice.vault.unshare("prod-db", "Production").unwrap();
    assert_eq!(
        password(&alice.vault.get(&back).unwrap().data),
        "hunter2-v3"
    );
    assert!(carol.vault.group_items("Production").unwrap().is_empty());
}

#[test]
fn sharing_on_sqlite() {
    scenario(Backend::sqlite().url());
}

#[test]
fn sharing_on_postgresql() {
    let b = Backend::postgres("share");
    scenario(b.url());
    let (db, _) = b.db.as_ref().unwrap();
    // Nothing anyone typed is stored in clear.
    let dump = Command::new("pg_dump")
        .args(["-h", "127.0.0.1", "-U", "postgres", db])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains("group_items"), "pg_dump produced no groups");
    for needle in ["Production", "prod-db", "hunter2"] {
        assert!(!text.contains(needle), "{needle} is stored in clear");
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one story, told in order
fn sharing_through_the_cli() {
    let server = Server::start(None);
    let url = server.url.as_str();
    let (alice, bob) = (Cli::new(), Cli::new());
    alice.start();
    bob.start();
    alice.create_team(url, "alice@example.com");
    bob.join_team_of(&alice, url, "bob@example.com");
    alice.json(&["group", "create", "Ops"]);
    // Uncertified: refused with the tampered-data exit code and the reason.
    let o = alice.run(&["group", "add", "Ops", "bob@example.com"], "");
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no certificate"));
    let c = alice.json(&["team", "certify", "bob@example.com"]);
    assert!(c["key_fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    let m = alice.json(&[
        "group",
        "add",
        "Ops",
        "bob@example.com",
        "--role",
        "viewer",
        "--expires",
        "7d",
    ]);
    assert_eq!(m["role"], "viewer");
    assert!(m["expires_at"].as_i64().is_some());
    // A bad expiry is a usage error (exit 7).
    let o = alice.run(
        &[
            "group",
            "role",
            "Ops",
            "bob@example.com",
            "--expires",
            "soon",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(7));

    alice.json_in(
        &["add", "login", "deploy-db", "--secret", "password"],
        "pg-secret-1\n",
    );
    alice.json(&["share", "deploy-db", "Ops", "--expires", "7d"]);
    let access = alice.json(&["access", "deploy-db"]);
    assert_eq!(access["group"]["name"], "Ops");
    let ends = access["share_expires_at"].as_i64().unwrap();
    assert!(
        (ends - tessera_core::vault::now() - 7 * 86_400).abs() < 60,
        "{access}"
    );
    let who: Vec<(String, String)> = access["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        who,
        vec![
            ("alice@example.com".to_owned(), "admin".to_owned()),
            ("bob@example.com".to_owned(), "viewer".to_owned())
        ]
    );
    let groups = bob.json(&["group", "list"]);
    assert_eq!(
        (groups[0]["name"].as_str(), groups[0]["role"].as_str()),
        (Some("Ops"), Some("viewer"))
    );
    assert_eq!(bob.json(&["access", "deploy-db"])["group"]["name"], "Ops");

    let r = alice.json(&["group", "remove", "Ops", "bob@example.com"]);
    assert_eq!(r["epoch"], 2);
    assert_eq!(bob.json(&["group", "list"]), serde_json::json!([]));
    let o = bob.run(&["access", "deploy-db"], "");
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let members = alice.json(&["group", "members", "Ops"]);
    assert_eq!(members.as_array().unwrap().len(), 1);
    alice.json(&["unshare", "deploy-db", "Ops"]);
    assert!(alice.json(&["access", "deploy-db"])["group"].is_null());
}
