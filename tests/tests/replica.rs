//! Shared items first-class: each member's device holds a replica of its groups, pulled by
//! cursor and verified, searched with the personal items, and read with the server stopped.
//! Against the real `tessera-server` binary on SQLite and PostgreSQL, through `tessera-core`
//! and through the real CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::team::{login, password, team, Backend, Cli, Person, PASSWORD};
use support::Server;

use std::time::{Duration, Instant};

use tessera_core::search::{Collection, Query};
use tessera_core::vault::{AuditAction, AuditFilter};
use tessera_core::{Error, Vault};
use tessera_crypto::kdf::KdfParams;
use tessera_protocol::{GroupRole, Id};

/// The password of item `title` of group Ops, as `v` reads it.
fn ops_password(v: &Vault, title: &str) -> String {
    password(&v.group_item("Ops", title, false).unwrap().data)
}

/// Lock and unlock again from the vault file: what the replica persisted is all there is.
fn reopen(p: &mut Person) {
    p.vault = Vault::unlock(
        &p.dir.path().join("vault.sqlite"),
        PASSWORD,
        &p.secret_key,
        KdfParams::FLOOR,
    )
    .unwrap();
}

fn titles(v: &Vault, q: &Query<'_>) -> Vec<String> {
    let mut out: Vec<String> = v
        .search(q)
        .hits
        .iter()
        .map(|h| {
            v.get(&h.id).map_or_else(
                |_| {
                    v.with_shared(&h.id, |g, it| format!("{}/{}", g.name, it.data.title))
                        .unwrap()
                },
                |it| it.data.title.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn scenario(mut b: Backend) {
    let (mut alice, mut bob) = (
        Person::new("alice@example.com"),
        Person::new("bob@example.com"),
    );
    team(b.url(), &mut alice, &mut [&mut bob]);
    let ops = alice.vault.group_create("Ops").unwrap();
    alice
        .vault
        .group_add("Ops", bob.email, GroupRole::Viewer, None)
        .unwrap();
    let id = alice.vault.add(login("prod-db", "hunter2-v1")).unwrap();
    alice.vault.share(&id.to_hex(), "Ops").unwrap();
    alice
        .vault
        .group_import(
            "Ops",
            &[login("prod-cache", "c1"), login("staging-db", "s1")],
        )
        .unwrap();
    bob.vault.add(login("my-db", "mine")).unwrap();

    // A sync pulls the group into Bob's replica; one search finds personal and shared items,
    // each in its collection.
    let r = bob.vault.sync().unwrap();
    assert_eq!(r.shared, 3, "{r:?}");
    assert!(r.refused_groups.is_empty(), "{r:?}");
    let db = Query::new("db");
    assert_eq!(
        titles(&bob.vault, &db),
        ["Ops/prod-db", "Ops/staging-db", "my-db"]
    );
    assert_eq!(
        titles(&bob.vault, &db.clone().collection(Collection::Personal)),
        ["my-db"]
    );
    let gid = Id::parse(&ops.id).unwrap().0;
    assert_eq!(
        titles(&bob.vault, &db.clone().collection(Collection::Group(gid))),
        ["Ops/prod-db", "Ops/staging-db"]
    );

    // It is on disk, sealed: a new unlock finds it without the server, and no secret or title
    // of the group is in the file in clear.
    reopen(&mut bob);
    assert_eq!(
        titles(&bob.vault, &Query::new("prod")),
        ["Ops/prod-cache", "Ops/prod-db"]
    );
    let file = std::fs::read(bob.dir.path().join("vault.sqlite")).unwrap();
    for needle in ["hunter2-v1", "prod-cache", "Ops"] {
        assert!(
            !file.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is stored in clear"
        );
    }

    // Pulls are incremental: after Alice's edit only that record comes, and the edit shows.
    alice
        .vault
        .group_update("Ops", "prod-db", &login("prod-db", "hunter2-v2"))
        .unwrap();
    let r = bob.vault.sync().unwrap();
    assert_eq!(r.shared, 1, "{r:?}");
    assert_eq!(ops_password(&bob.vault, "prod-db"), "hunter2-v2");

    // Live (as the agent marks a vault that follows the change stream): reads answer from the
    // replica without asking the server; the next sync brings the other member's edit.
    bob.vault.set_live(true);
    alice
        .vault
        .group_update("Ops", "staging-db", &login("staging-db", "s2"))
        .unwrap();
    assert_eq!(ops_password(&bob.vault, "staging-db"), "s1");
    bob.vault.sync().unwrap();
    assert_eq!(ops_password(&bob.vault, "staging-db"), "s2");
    bob.vault.set_live(false);

    // The server stops: every read still works from the replica, a reveal included, whose
    // audit entry waits on this device.
    b.server.stop();
    reopen(&mut bob);
    let seen = bob.vault.group_item("Ops", "prod-db", true).unwrap();
    assert_eq!(password(&seen.data), "hunter2-v2");
    assert_eq!(bob.vault.group_items("Ops").unwrap().len(), 3);
    let groups = bob.vault.groups().unwrap();
    assert_eq!(
        (groups[0].name.as_str(), groups[0].role),
        ("Ops", GroupRole::Viewer)
    );
    assert!(matches!(bob.vault.sync(), Err(Error::Network(_))));
    // A group this device never held is still a network error, not "not found".
    assert!(matches!(
        bob.vault.group_items("Web"),
        Err(Error::Network(_))
    ));

    // Back online, the next sync sends the reveal to the team's log.
    b.server.restart();
    let r = bob.vault.sync().unwrap();
    assert_eq!(r.events_sent, 1, "{r:?}");
    let log = alice.vault.audit(&AuditFilter::default()).unwrap();
    assert!(
        log.iter().any(|e| e.action == AuditAction::Reveal
            && e.actor == bob.email
            && e.item_id.as_deref() == Some(seen.id.to_hex().as_str())),
        "{log:?}"
    );

    // A record changed on the device behind Tessera's back is named at unlock and the next
    // sync fetches the group whole again.
    let c = rusqlite::Connection::open(bob.dir.path().join("vault.sqlite")).unwrap();
    let changed = c
        .execute(
            "UPDATE group_records SET version = version - 1 WHERE item_id = ?1",
            [&seen.id.0[..]],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(c);
    reopen(&mut bob);
    assert!(
        bob.vault.warnings().iter().any(|w| w.contains("group Ops")),
        "{:?}",
        bob.vault.warnings()
    );
    b.server.stop();
    let offline = bob.vault.group_items("Ops").unwrap();
    assert_eq!(
        (offline.len(), offline.damaged.len()),
        (2, 1),
        "{:?}",
        offline.damaged
    );
    b.server.restart();
    bob.vault.sync().unwrap();
    let repaired = bob.vault.group_items("Ops").unwrap();
    assert_eq!((repaired.len(), repaired.damaged.len()), (3, 0));

    // A share that ends drops the item from Bob's copy though its record did not change; when
    // the share is extended again, it comes back.
    let cache = bob.vault.group_item("Ops", "prod-cache", false).unwrap().id;
    alice
        .vault
        .set_share_expiry("prod-cache", "Ops", Some(tessera_core::vault::now() + 3600))
        .unwrap();
    b.sql(&format!(
        "UPDATE share_expiry SET expires_at = 1 WHERE item_id = {}",
        b.blob(&cache.to_hex())
    ));
    bob.vault.sync().unwrap();
    assert_eq!(titles(&bob.vault, &Query::new("prod")), ["Ops/prod-db"]);
    reopen(&mut bob);
    assert_eq!(titles(&bob.vault, &Query::new("prod")), ["Ops/prod-db"]);
    alice
        .vault
        .set_share_expiry(&cache.to_hex(), "Ops", None)
        .unwrap();
    bob.vault.sync().unwrap();
    assert_eq!(
        titles(&bob.vault, &Query::new("prod")),
        ["Ops/prod-cache", "Ops/prod-db"]
    );

    // Removed from the group, Bob's device drops its copy at the next sync.
    alice.vault.group_remove("Ops", bob.email).unwrap();
    bob.vault.sync().unwrap();
    assert!(bob.vault.held_groups().is_empty());
    assert_eq!(titles(&bob.vault, &Query::new("db")), ["my-db"]);
    reopen(&mut bob);
    assert_eq!(titles(&bob.vault, &Query::new("db")), ["my-db"]);
}

#[test]
fn the_replica_on_sqlite() {
    scenario(Backend::sqlite());
}

#[test]
fn the_replica_on_postgresql() {
    scenario(Backend::postgres("replica"));
}

/// `cli` adds a login `title` with password `secret` and shares it into `group`.
fn add_shared(cli: &Cli, title: &str, secret: &str, group: &str) {
    cli.json_in(
        &["add", "login", title, "--secret", "password"],
        &format!("{secret}\n"),
    );
    cli.json(&["share", title, group]);
}

/// Wait until `title` is found by Bob's search, shared in `group`.
fn wait_for(bob: &Cli, title: &str, group: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = bob.json(&["search", title]);
        if found
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["title"] == title && i["group"]["name"] == group)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{title} did not reach the other device: {found}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The CLI: shared items in `list` and `search` with their group, `show` of a shared item,
/// and both with the server stopped.
#[test]
#[allow(clippy::too_many_lines)] // one story, told in order
fn shared_items_through_the_cli() {
    let mut server = Server::start(None);
    let url = server.url.clone();
    let (alice, bob) = (Cli::new(), Cli::new());
    alice.start();
    bob.start();
    alice.create_team(&url, "alice@example.com");
    bob.join_team_of(&alice, &url, "bob@example.com");
    alice.json(&["team", "certify", "bob@example.com"]);
    alice.json(&["group", "create", "Ops"]);
    alice.json(&["group", "add", "Ops", "bob@example.com", "--role", "viewer"]);
    add_shared(&alice, "deploy-db", "pg-secret-1", "Ops");
    bob.json_in(
        &["add", "login", "own-db", "--secret", "password"],
        "mine\n",
    );

    let r = bob.json(&["sync"]);
    assert_eq!(r["shared"], 1, "{r}");
    let found = bob.json(&["search", "db"]);
    let mut rows: Vec<(String, Option<String>)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["title"].as_str().unwrap().to_owned(),
                i["group"]["name"].as_str().map(str::to_owned),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("deploy-db".to_owned(), Some("Ops".to_owned())),
            ("own-db".to_owned(), None)
        ]
    );
    let text = bob.text(&["list"]);
    let line = text.lines().find(|l| l.contains("deploy-db")).unwrap();
    assert!(line.contains("Ops"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("own-db") && l.contains("personal")),
        "{text}"
    );
    let personal = bob.json(&["list", "--group", "personal"]);
    assert_eq!(personal.as_array().unwrap().len(), 1);
    let o = bob.run(&["list", "--group", "Web"], "");
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let shown = bob.json(&["show", "deploy-db", "--reveal"]);
    assert!(shown.to_string().contains("pg-secret-1"), "{shown}");

    // With background sync on, Bob's agent follows the server's change stream: an item shared
    // into his group, and a group he is added to, reach his search without a sync asked for.
    bob.text(&["lock"]);
    bob.text(&["unlock", "--password-file", bob.pw()]);
    std::thread::sleep(Duration::from_millis(500));
    add_shared(&alice, "live-db", "live-1", "Ops");
    wait_for(&bob, "live-db", "Ops");
    alice.json(&["group", "create", "Web"]);
    alice.json(&["group", "add", "Web", "bob@example.com", "--role", "viewer"]);
    add_shared(&alice, "web-db", "web-1", "Web");
    wait_for(&bob, "web-db", "Web");

    // Item commands on shared items, as the role allows: a viewer is refused before anything
    // is sent; an admin's edit and deletion reach the other member live.
    let refused = |args: &[&str], why: &str| {
        let o = bob.run(args, "");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(7), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    };
    refused(
        &["edit", "deploy-db", "--title", "mine now"],
        "viewer of Ops",
    );
    refused(&["rm", "deploy-db", "--purge"], "viewer of Ops");
    refused(&["rm", "deploy-db"], "no trash");
    refused(&["history", "deploy-db"], "shared in group Ops");
    alice.json(&["edit", "live-db", "--title", "live-db-2"]);
    wait_for(&bob, "live-db-2", "Ops");
    alice.json(&["rm", "live-db-2", "--purge"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !bob
        .json(&["search", "live-db"])
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the deletion did not reach Bob's device"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A viewer reads a shared one-time code (the same as oathtool's) and exports a shared SSH
    // key that real ssh-keygen reads.
    alice.json_in(&["add", "totp", "ops-2fa", "--totp"], "JBSWY3DPEHPK3PXP\n");
    alice.json(&["share", "ops-2fa", "Ops"]);
    let key = bob.home.path().join("ops_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ops", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let pem = std::fs::read_to_string(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    alice.json_in(
        &["add", "ssh_key", "ops-key", "--secret", "private_key"],
        &pem,
    );
    alice.json(&["share", "ops-key", "Ops"]);
    wait_for(&bob, "ops-2fa", "Ops");
    wait_for(&bob, "ops-key", "Ops");
    let oathtool = || {
        let o = std::process::Command::new("oathtool")
            .args(["--totp", "-b", "JBSWY3DPEHPK3PXP"])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let before = oathtool();
    let code = bob.json(&["totp", "ops-2fa"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = oathtool();
    assert!(
        code == before || code == after,
        "{code}: oathtool says {before} / {after}"
    );
    let out = bob.home.path().join("exported");
    bob.json(&["ssh-export", "ops-key", "-o", out.to_str().unwrap()]);
    let public = std::process::Command::new("ssh-keygen")
        .args(["-y", "-f"])
        .arg(&out)
        .output()
        .unwrap();
    let public = String::from_utf8(public.stdout).unwrap();
    let original = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    assert_eq!(
        public.split_whitespace().nth(1),
        original.split_whitespace().nth(1),
        "{public}"
    );

    // A reference to a group's item resolves from the replica, online and offline.
    let injected = |bob: &Cli| {
        bob.text(&[
            "run",
            "--no-mask",
            "--env",
            "PW=tessera://Ops/deploy-db/password",
            "--",
            "sh",
            "-c",
            "printf %s \"$PW\"",
        ])
    };
    assert_eq!(injected(&bob), "pg-secret-1");

    server.stop();
    assert_eq!(injected(&bob), "pg-secret-1");
    let shown = bob.json(&["show", "deploy-db", "--reveal"]);
    assert!(shown.to_string().contains("pg-secret-1"), "{shown}");
    let items = bob.json(&["group", "items", "Ops"]);
    assert_eq!(items[0]["title"], "deploy-db", "{items}");
    assert_eq!(bob.json(&["search", "deploy"])[0]["group"]["name"], "Ops");
}
