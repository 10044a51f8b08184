//! A hostile server against real clients: a rewriting proxy (`support::proxy`) between the
//! vaults (through `tessera-core`) and the real `tessera-server` binary, on SQLite and on
//! PostgreSQL. Each attack of the team layer is refused, with a message that names what was
//! wrong, and nothing is sealed to anyone the group's signed log does not name:
//!
//! - a rotation's member list with an outsider added (the key is sealed by the log's list);
//! - a group key sealed to a member by someone other than a group admin (substituted);
//! - a log entry changed, dropped, or the log served shorter than a device saw (rollback), and a
//!   key epoch the log does not have;
//! - a group made before logs existed: members are warned until an admin signs it, once;
//! - an older pull of a group's items replayed after a device saw a newer version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use support::proxy::{Exchange, Proxy};
use support::team::{Backend, Person};
use tessera_core::item::{FieldKind, ItemData, ItemKind};
use tessera_core::Error;
use tessera_crypto::envelope::associated_data;
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id};

/// What the proxy learnt passing the directory along: each account's id and X25519 key, and the
/// team's id.
#[derive(Default)]
struct Seen {
    team: Option<Id>,
    accounts: Vec<(String, Id, [u8; 32])>,
    /// The account ids a rotation sealed its new key to.
    rotation_keys: Vec<Vec<Id>>,
    /// Item pushes to a group.
    group_pushes: usize,
}

impl Seen {
    fn account(&self, email: &str) -> (Id, [u8; 32]) {
        let (_, id, x) = self.accounts.iter().find(|(e, ..)| e == email).unwrap();
        (*id, *x)
    }
}

/// Watch what passes: the directory, rotations, group pushes.
fn watch(seen: &Mutex<Seen>, ex: &Exchange<'_>) {
    let mut s = seen.lock().unwrap();
    if ex.path.ends_with("/directory") && ex.status == 200 {
        s.team = ex.path.split('/').nth(3).and_then(Id::parse);
        let dir: Vec<proto::DirectoryEntry> = serde_json::from_slice(&ex.response).unwrap();
        s.accounts = dir
            .into_iter()
            .map(|e| {
                let x: [u8; 32] = e.exchange_public.0.try_into().unwrap();
                (e.email, e.account_id, x)
            })
            .collect();
    }
    if ex.path.ends_with("/rotate") && ex.method == "POST" {
        let r: serde_json::Value = serde_json::from_slice(ex.request).unwrap();
        s.rotation_keys.push(
            r["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| Id::parse(k["account_id"].as_str().unwrap()).unwrap())
                .collect(),
        );
    }
    if ex.path.starts_with("/v1/groups/") && ex.path.contains("/sync") && ex.method == "POST" {
        s.group_pushes += 1;
    }
}

struct Team {
    backend: Backend,
    proxy: Proxy,
    seen: Arc<Mutex<Seen>>,
    alice: Person,
    bob: Person,
    mallory: Person,
}

impl Team {
    /// Alice leads a team reached through the proxy; Bob and Mallory join and are certified.
    fn new(backend: Backend) -> Self {
        let proxy = Proxy::start(backend.url());
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let mut t = Self {
            backend,
            proxy,
            seen,
            alice: Person::new("alice@example.com"),
            bob: Person::new("bob@example.com"),
            mallory: Person::new("mallory@example.com"),
        };
        t.honest();
        let url = t.proxy.url.clone();
        let (alice, bob, mallory) = (&mut t.alice, &mut t.bob, &mut t.mallory);
        support::team::team(&url, alice, &mut [bob, mallory]);
        t
    }

    /// The proxy passes everything along (and watches).
    fn honest(&self) {
        let seen = Arc::clone(&self.seen);
        self.proxy.set(move |ex| watch(&seen, ex));
    }

    /// The proxy rewrites answers with `f` (and watches).
    fn hostile(&self, mut f: impl FnMut(&Seen, &mut Exchange<'_>) + Send + 'static) {
        let seen = Arc::clone(&self.seen);
        self.proxy.set(move |ex| {
            watch(&seen, ex);
            f(&seen.lock().unwrap(), ex);
        });
    }
}

fn login(title: &str, password: &str) -> ItemData {
    ItemData::new(ItemKind::Login, title)
        .with_field("username", FieldKind::Text, "deploy")
        .with_field("password", FieldKind::Concealed, password)
}

fn refused(e: &Error, why: &str) {
    assert!(matches!(e, Error::GroupLog { .. }), "{e:?}");
    assert!(e.to_string().contains(why), "{e}");
}

/// A group's id from its name, as Alice sees it.
fn group_id(p: &Person, name: &str) -> Id {
    let g = p.vault.groups().unwrap();
    Id::parse(&g.iter().find(|g| g.name == name).unwrap().id).unwrap()
}

fn the_server_cannot_add_a_member_to_a_rotation(backend: Backend) {
    let t = Team::new(backend);
    t.alice.vault.group_create("Ops").unwrap();
    t.alice
        .vault
        .group_add("Ops", t.bob.email, GroupRole::Viewer, None)
        .unwrap();
    let mallory = t.seen.lock().unwrap().account(t.mallory.email).0;
    // The server lists Mallory, a certified member of the team, as a member of the group.
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path.ends_with("/members") {
            let mut m: Vec<proto::GroupMember> = serde_json::from_slice(&ex.response).unwrap();
            m.push(proto::GroupMember {
                account_id: mallory,
                email: "mallory@example.com".into(),
                role: GroupRole::Viewer,
                expires_at: None,
                added_by: m[0].account_id,
                added_at: 1,
                has_current_key: true,
            });
            ex.response = serde_json::to_vec(&m).unwrap();
        }
    });
    t.alice.vault.group_remove("Ops", t.bob.email).unwrap();
    let alice = t.seen.lock().unwrap().account(t.alice.email).0;
    assert_eq!(
        t.seen.lock().unwrap().rotation_keys,
        vec![vec![alice]],
        "the new key went to the members the log names, Alice alone"
    );
    let (_, members) = t.alice.vault.group_members("Ops").unwrap();
    let emails: Vec<&str> = members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, ["alice@example.com"], "members come from the log");
    t.honest();
    assert!(t.mallory.vault.groups().unwrap().is_empty());
}

fn a_key_no_admin_signed_is_refused(backend: Backend) {
    let mut t = Team::new(backend);
    t.alice.vault.group_create("Ops").unwrap();
    t.alice
        .vault
        .group_add("Ops", t.bob.email, GroupRole::Editor, None)
        .unwrap();
    let g = group_id(&t.alice, "Ops");
    assert_eq!(t.bob.vault.groups().unwrap()[0].name, "Ops");
    let (bob, bob_x) = t.seen.lock().unwrap().account(t.bob.email);
    // The server seals a key of its own to Bob, with every binding right.
    let attacker_key = [7u8; 32];
    t.hostile(move |seen, ex| {
        if ex.method == "GET" && ex.path == "/v1/groups" {
            let mut infos: Vec<proto::GroupInfo> = serde_json::from_slice(&ex.response).unwrap();
            for info in infos.iter_mut().filter(|i| i.group_id == g) {
                let epoch = info.epoch;
                let ad = associated_data(
                    "tessera group key",
                    &[&seen.team.unwrap().0, &g.0, &epoch.to_be_bytes(), &bob.0],
                );
                let k = info.keys.iter_mut().find(|k| k.epoch == epoch).unwrap();
                k.wrapped = Blob(tessera_crypto::seal::seal_to(&bob_x, &attacker_key, &ad));
            }
            ex.response = serde_json::to_vec(&infos).unwrap();
        }
    });
    let e = t.bob.vault.group_items("Ops").unwrap_err();
    refused(&e, "not signed by a group admin");
    // Nothing is written under the key either.
    t.bob.vault.add(login("new-db", "s3cret")).unwrap();
    let e = t.bob.vault.share("new-db", "Ops").unwrap_err();
    refused(&e, "not signed by a group admin");
    assert_eq!(t.seen.lock().unwrap().group_pushes, 0);
}

/// Rewrite the entries of every log answer with `f`.
fn rewrite_log(t: &Team, mut f: impl FnMut(&mut Vec<proto::SignedLogEntry>) + Send + 'static) {
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path.contains("/log?") && ex.status == 200 {
            let mut r: proto::LogResponse = serde_json::from_slice(&ex.response).unwrap();
            f(&mut r.entries);
            ex.response = serde_json::to_vec(&r).unwrap();
        }
    });
}

fn a_changed_dropped_or_rolled_back_log_is_refused(backend: Backend) {
    let t = Team::new(backend);
    t.alice.vault.group_create("Ops").unwrap();
    for p in [&t.bob, &t.mallory] {
        t.alice
            .vault
            .group_add("Ops", p.email, GroupRole::Viewer, None)
            .unwrap();
    }
    // Bob's device has seen the three entries: the genesis and the two additions.
    assert!(t.bob.vault.groups().unwrap()[0].signed);

    // Mallory made an editor in entry 3, without a new signature.
    rewrite_log(&t, |e| {
        let text = String::from_utf8(e[2].entry.0.clone()).unwrap();
        e[2].entry = Blob(text.replace("\"viewer\"", "\"editor\"").into_bytes());
    });
    refused(
        &t.bob.vault.groups().unwrap_err(),
        "entry 3: its signature does not verify",
    );
    // An entry dropped from the middle.
    rewrite_log(&t, |e| {
        e.remove(1);
    });
    refused(
        &t.bob.vault.groups().unwrap_err(),
        "entry 2: it is numbered 3",
    );
    // The log as it was before Mallory was added (a replay of an older answer).
    rewrite_log(&t, |e| e.truncate(2));
    refused(
        &t.bob.vault.groups().unwrap_err(),
        "this device has seen 3 (a rollback)",
    );
    // An epoch the log does not have.
    t.hostile(|_, ex| {
        if ex.method == "GET" && ex.path == "/v1/groups" {
            let mut infos: Vec<proto::GroupInfo> = serde_json::from_slice(&ex.response).unwrap();
            infos[0].epoch += 1;
            ex.response = serde_json::to_vec(&infos).unwrap();
        }
    });
    refused(
        &t.bob.vault.groups().unwrap_err(),
        "the server says the group is at key epoch 2, its log says 1",
    );
    t.honest();
    assert_eq!(t.bob.vault.groups().unwrap()[0].name, "Ops");
}

fn a_group_made_before_logs_is_signed_once(backend: Backend) {
    let mut t = Team::new(backend);
    let g = t.alice.vault.group_create("Legacy").unwrap();
    // The group as the previous release made it: no log.
    let blob = t.backend.blob(&g.id);
    t.backend
        .sql(&format!("DELETE FROM group_log WHERE group_id = {blob}"));
    let groups = t.alice.vault.groups().unwrap();
    assert!(
        !groups[0].signed,
        "the client tells the group is not signed yet"
    );
    let id = t.alice.vault.add(login("old-db", "from-before")).unwrap();
    t.alice.vault.share("old-db", "Legacy").unwrap();

    // Alice's next change to the group signs it first: a new epoch sealed to the members she
    // vouched for, then Bob's addition.
    t.alice
        .vault
        .group_add("Legacy", t.bob.email, GroupRole::Viewer, None)
        .unwrap();
    let alice_view = t.alice.vault.groups().unwrap();
    assert!(alice_view[0].signed);
    assert_eq!(alice_view[0].epoch, 2);
    let bobs = t.bob.vault.groups().unwrap();
    assert!(bobs[0].signed);
    // The item shared before the log began opens with the older key, through the chain.
    let items = t.bob.vault.group_items("Legacy").unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id, id);
    assert_eq!(
        items[0]
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "from-before"
    );
    // Signing is once: a second call changes nothing.
    assert_eq!(t.alice.vault.group_sign("Legacy").unwrap().epoch, 2);
}

fn an_older_group_pull_replayed_is_refused(backend: Backend) {
    let mut t = Team::new(backend);
    t.alice.vault.group_create("Ops").unwrap();
    t.alice
        .vault
        .group_add("Ops", t.bob.email, GroupRole::Viewer, None)
        .unwrap();
    t.alice.vault.add(login("prod-db", "old-secret")).unwrap();
    t.alice.vault.share("prod-db", "Ops").unwrap();
    // The proxy keeps the group pull that serves the first version.
    let kept: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let keep = Arc::clone(&kept);
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path.contains("/sync?") && ex.path.starts_with("/v1/groups/") {
            keep.lock()
                .unwrap()
                .get_or_insert_with(|| ex.response.clone());
        }
    });
    assert_eq!(t.bob.vault.group_items("Ops").unwrap().len(), 1);
    // The secret is rotated; Bob's device reads the new version.
    t.honest();
    t.alice
        .vault
        .group_update("Ops", "prod-db", &login("prod-db", "new-secret"))
        .unwrap();
    let items = t.bob.vault.group_items("Ops").unwrap();
    assert_eq!(
        items[0]
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "new-secret"
    );
    // Then the server replays the older answer: refused, naming the item and both versions.
    let old = kept.lock().unwrap().clone().unwrap();
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path.contains("/sync?") && ex.path.starts_with("/v1/groups/") {
            ex.response.clone_from(&old);
        }
    });
    let e = t.bob.vault.group_items("Ops").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Rollback {
                offered: 1,
                seen: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("refusing the rollback"), "{e}");
    t.honest();
    assert_eq!(t.bob.vault.group_items("Ops").unwrap().len(), 1);
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $case() { super::$case(super::Backend::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $case() { super::$case(super::Backend::postgres("attack")); })*
        }
    };
}

on_both_backends!(
    the_server_cannot_add_a_member_to_a_rotation,
    a_key_no_admin_signed_is_refused,
    a_changed_dropped_or_rolled_back_log_is_refused,
    a_group_made_before_logs_is_signed_once,
    an_older_group_pull_replayed_is_refused,
);
