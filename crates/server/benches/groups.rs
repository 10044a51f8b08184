//! Adding a member to a group that holds 10,000 items, against the `tessera-server` binary over
//! loopback, on SQLite and PostgreSQL: `cargo bench -p tessera-server --bench groups`.
//!
//! The measured call is the whole client operation `Vault::group_add`: fetch the caller's groups
//! and open their keys, fetch the team directory, verify the member's certificate chain up to the
//! pinned root, seal the group key to the member, and store it. It seals one key, whatever the
//! number of items; the figure is compared with the same call on an empty group. Each call also
//! signs an entry into the group's log. Two more figures: what a writer pays for the group's
//! signed manifest (changing one item of the 10,000-item group), and listing the groups once one
//! log has 1,000 entries (replayed and checked on every read).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

use support::{creds, on_both_backends, start, vault, PASSWORD};
use tessera_core::item::{FieldKind, ItemData, ItemKind};
use tessera_core::search::Query;
use tessera_core::Vault;
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;
use tessera_protocol::GroupRole;

const ITEMS: usize = 10_000;
const RUNS: usize = 21;
/// Entries of the group log whose replay is timed.
const LOG_ENTRIES: usize = 1000;

fn median_ms(mut f: impl FnMut()) -> (f64, f64) {
    let mut t: Vec<f64> = (0..RUNS)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[RUNS / 2], t[RUNS * 9 / 10])
}

fn bench(label: &str, db: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(db, data.path());
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, a_sk) = vault(a_dir.path());
    let (mut bob, b_sk) = vault(b_dir.path());
    alice
        .create_team(&url, &creds("alice@example.com", &a_sk))
        .unwrap();
    let inv = alice.invite("bob@example.com").unwrap();
    bob.join_team(
        &url,
        &inv.invite_token,
        &inv.root_fingerprint,
        &creds("bob@example.com", &b_sk),
    )
    .unwrap();
    alice.certify("bob@example.com").unwrap();
    alice.group_create("Empty").unwrap();
    alice.group_create("Big").unwrap();
    let items: Vec<ItemData> = (0..ITEMS)
        .map(|i| {
            ItemData::new(ItemKind::Login, format!("service {i}"))
                .with_field("username", FieldKind::Text, "deploy")
                .with_field("password", FieldKind::Concealed, format!("secret-{i:06}"))
        })
        .collect();
    let t = Instant::now();
    alice.group_import("Big", &items).unwrap();
    let import = t.elapsed();
    assert_eq!(bob.groups().unwrap().len(), 0);
    let add = |g: &str| {
        alice
            .group_add(g, "bob@example.com", GroupRole::Viewer, None)
            .unwrap()
    };
    let (empty_p50, empty_p90) = median_ms(|| {
        add("Empty");
    });
    let (big_p50, big_p90) = median_ms(|| {
        add("Big");
    });
    // Bob reads the big group's items through the one key sealed to him.
    let t = Instant::now();
    let read = bob.group_items("Big").unwrap().len();
    let read_time = t.elapsed();
    assert_eq!(read, ITEMS);
    println!(
        "{label}: add a member to a group of {ITEMS} items: p50 {big_p50:.1} ms, p90 {big_p90:.1} ms \
         (empty group: p50 {empty_p50:.1} ms, p90 {empty_p90:.1} ms); \
         importing the items {:.1} s; the new member reads all {read} in {:.2} s",
        import.as_secs_f64(),
        read_time.as_secs_f64()
    );
    assert!(big_p50 < 200.0, "adding a member took {big_p50:.1} ms");
    replica(label, &mut bob, b_dir.path(), &b_sk);

    // What signed manifests cost a writer: changing one item of the big group reads the group,
    // pushes the new version, reads the group again and signs the manifest naming all 10,000.
    let mut n = 0;
    let (update_p50, update_p90) = median_ms(|| {
        n += 1;
        let data = ItemData::new(ItemKind::Login, "service 0")
            .with_field("username", FieldKind::Text, "deploy")
            .with_field("password", FieldKind::Concealed, format!("rotated-{n}"));
        alice.group_update("Big", "service 0", &data).unwrap();
    });
    println!(
        "{label}: change one item of the group of {ITEMS} (read, push, sign the manifest of \
         {ITEMS} items): p50 {update_p50:.1} ms, p90 {update_p90:.1} ms"
    );

    propagation(label, &mut alice, bob);

    // The group log grows by one entry a membership change: change Bob's role until the Empty
    // group's log holds LOG_ENTRIES, then time Alice's `groups()`, which fetches both groups'
    // logs and the directory and replays and checks every entry (signatures, chain, authors).
    let mut entries = 1 + RUNS;
    let mut role = GroupRole::Editor;
    while entries < LOG_ENTRIES {
        alice
            .group_add("Empty", "bob@example.com", role, None)
            .unwrap();
        role = if role == GroupRole::Editor {
            GroupRole::Viewer
        } else {
            GroupRole::Editor
        };
        entries += 1;
    }
    let (log_p50, log_p90) = median_ms(|| {
        assert_eq!(alice.groups().unwrap().len(), 2);
    });
    println!(
        "{label}: list groups whose logs hold {entries} and {} entries (fetch, replay, check \
         every signature): p50 {log_p50:.1} ms, p90 {log_p90:.1} ms",
        1 + RUNS
    );
}

/// Bob's replica of the 10,000-item group: a reveal (the group brought up to date from the
/// server, then read from the replica, and the audit call), the same from the live replica, a
/// search over his personal and shared items, and an unlock that opens the replica (KDF at its floor, so the figure is the
/// opening, not the key derivation).
fn replica(label: &str, bob: &mut Vault, dir: &std::path::Path, sk: &AccountSecretKey) {
    // A reveal of a different item each run; as the agent reads while it follows the change
    // stream (live), from the replica and then the audit call.
    let mut i = 0;
    let mut reveals = |bob: &Vault, live: bool| {
        bob.set_live(live);
        let times = median_ms(|| {
            i += 1;
            let it = bob
                .group_item("Big", &format!("service {}", i * 37 % ITEMS), true)
                .unwrap();
            assert!(it.data.field("password").is_some());
        });
        bob.set_live(false);
        times
    };
    let (reveal_p50, reveal_p90) = reveals(bob, false);
    let (live_p50, live_p90) = reveals(bob, true);
    let (search_p50, search_p90) = median_ms(|| {
        let hits = bob.search(&Query::new("servce 4242").limit(10)).hits;
        assert!(!hits.is_empty());
    });
    let t = Instant::now();
    let reopened = Vault::unlock(&dir.join("v.sqlite"), PASSWORD, sk, KdfParams::FLOOR).unwrap();
    let unlock = t.elapsed();
    assert_eq!(reopened.held_groups().len(), 1);
    assert!(!reopened.search(&Query::new("service 9999")).hits.is_empty());
    println!(
        "{label}: reveal one shared item of {ITEMS} (group brought up to date, read from the \
         replica, audit call): p50 {reveal_p50:.1} ms, p90 {reveal_p90:.1} ms; from the live \
         replica (the agent following the change stream) and the audit call: p50 \
         {live_p50:.2} ms, p90 {live_p90:.2} ms; a typo'd search \
         over personal and shared items: p50 {search_p50:.3} ms, p90 {search_p90:.3} ms; \
         unlock opening the replica of {ITEMS} (KDF at its floor): {:.0} ms",
        unlock.as_secs_f64() * 1000.0
    );
}

/// A shared edit on Alice's device until Bob's device, following the change stream, holds it:
/// Alice changes one item of the 10,000-item group (push and manifest); the server announces
/// it on Bob's stream; Bob's sync verifies the group and pulls the one change into his replica.
fn propagation(label: &str, alice: &mut Vault, bob: Vault) {
    use std::sync::{mpsc, Arc, Mutex};
    let id = {
        let hit = bob.search(&Query::new("service 1").limit(1)).hits[0].id;
        assert!(bob.with_shared(&hit, |_, _| ()).is_some());
        hit
    };
    let bob = Arc::new(Mutex::new(bob));
    let (seen_tx, seen_rx) = mpsc::channel::<u64>();
    let events = bob.lock().unwrap().change_events().unwrap().unwrap();
    std::thread::spawn({
        let bob = Arc::clone(&bob);
        move || {
            for () in events {
                let mut v = bob.lock().unwrap();
                v.sync().unwrap();
                let version = v.with_shared(&id, |_, it| it.version).unwrap_or(0);
                if seen_tx.send(version).is_err() {
                    return;
                }
            }
        }
    });
    let title = bob
        .lock()
        .unwrap()
        .with_shared(&id, |_, it| it.data.title.clone())
        .unwrap();
    let mut times = Vec::new();
    for n in 0..RUNS {
        let before = bob
            .lock()
            .unwrap()
            .with_shared(&id, |_, it| it.version)
            .unwrap();
        let data = ItemData::new(ItemKind::Login, title.clone())
            .with_field("username", FieldKind::Text, "deploy")
            .with_field("password", FieldKind::Concealed, format!("live-{n}"));
        let t = Instant::now();
        alice.group_update("Big", &title, &data).unwrap();
        while seen_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("Bob's device saw no change within 10 s")
            <= before
        {}
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p90) = support::percentiles(times, 90);
    println!(
        "{label}: a shared edit (one item of {ITEMS}) held by another member's device, through \
         the change stream: p50 {p50:.1} ms, p90 {p90:.1} ms"
    );
}

fn main() {
    on_both_backends("groups", bench);
}
