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
//! - an older pull of a group's items replayed after a device saw a newer version;
//! - two records of a group swapped, and a forged key for one group: named and left out, the
//!   rest readable, through a machine token too;
//! - a personal or group item left out of a pull, the item list (manifest) replayed, forged,
//!   withheld, or served as signed by a viewer;
//! - another team's root key presented to a new device at login, with the account's pin of the
//!   real one kept, forged or withheld (also through the `tessera login` command: exit 6);
//! - a machine token served a key the server sealed to it, a pull with a record left out, its
//!   pin withheld or changed, a log from before the token, or its newest key withheld (also
//!   through `tessera run`: exit 6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use support::proxy::{Exchange, Proxy};
use support::team::{login, readers, Backend, Person};
use tessera_core::token::{MachineToken, TokenClient};
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

fn refused(e: &Error, why: &str) {
    assert!(matches!(e, Error::GroupLog { .. }), "{e:?}");
    assert!(e.to_string().contains(why), "{e}");
}

/// `p`'s only group is refused for `why`: listed by id with the reason, and not read.
fn group_refused(p: &Person, why: &str) {
    let groups = p.vault.groups().unwrap();
    let reason = groups[0].refused.as_deref().unwrap_or_default();
    assert!(reason.contains(why), "{:?}", groups[0]);
    assert_eq!(groups[0].name, groups[0].id);
    refused(&p.vault.group_items(&groups[0].id).unwrap_err(), why);
}

/// A group's id from its name, as Alice sees it.
fn group_id(p: &Person, name: &str) -> Id {
    let g = p.vault.groups().unwrap();
    Id::parse(&g.iter().find(|g| g.name == name).unwrap().id).unwrap()
}

/// Alice creates Ops with Bob as a member of `role`.
fn ops_with_bob(t: &Team, role: GroupRole) {
    t.alice.vault.group_create("Ops").unwrap();
    t.alice
        .vault
        .group_add("Ops", t.bob.email, role, None)
        .unwrap();
}

/// Alice adds a login per (title, password) and shares each with Ops; their ids, in order.
fn shared_logins(t: &mut Team, logins: &[(&str, &str)]) -> Vec<Id> {
    let mut ids = Vec::new();
    for &(title, pw) in logins {
        ids.push(Id(t.alice.vault.add(login(title, pw)).unwrap().0));
        t.alice.vault.share(title, "Ops").unwrap();
    }
    ids
}

/// The server seals a key of its own (`key`) to `to` (id, X25519 key) as group `g`'s current
/// key, with every binding right.
fn seal_own_key(t: &Team, g: Id, to: Id, to_x: [u8; 32], key: [u8; 32]) {
    t.hostile(move |seen, ex| {
        if ex.method == "GET" && ex.path == "/v1/groups" {
            let mut infos: Vec<proto::GroupInfo> = serde_json::from_slice(&ex.response).unwrap();
            for info in infos.iter_mut().filter(|i| i.group_id == g) {
                let epoch = info.epoch;
                let ad = associated_data(
                    "tessera group key",
                    &[&seen.team.unwrap().0, &g.0, &epoch.to_be_bytes(), &to.0],
                );
                let k = info.keys.iter_mut().find(|k| k.epoch == epoch).unwrap();
                k.wrapped = Blob(tessera_crypto::seal::seal_to(&to_x, &key, &ad));
            }
            ex.response = serde_json::to_vec(&infos).unwrap();
        }
    });
}

fn the_server_cannot_add_a_member_to_a_rotation(backend: Backend) {
    let t = Team::new(backend);
    ops_with_bob(&t, GroupRole::Viewer);
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

/// `access` names who can read an item from the group's log: a server that adds a member to its
/// answer, or leaves one out, changes nothing the user is shown.
fn who_can_read_an_item_comes_from_the_log(backend: Backend) {
    let mut t = Team::new(backend);
    ops_with_bob(&t, GroupRole::Viewer);
    let [item] = shared_logins(&mut t, &[("deploy-db", "pw")])[..] else {
        unreachable!()
    };
    let mallory = t.seen.lock().unwrap().account(t.mallory.email).0;
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path.ends_with("/access") && ex.status == 200 {
            let mut a: proto::AccessResponse = serde_json::from_slice(&ex.response).unwrap();
            a.members.retain(|m| m.email != "bob@example.com");
            a.members.push(proto::GroupMember {
                account_id: mallory,
                email: "mallory@example.com".into(),
                role: GroupRole::Admin,
                expires_at: None,
                added_by: mallory,
                added_at: 1,
                has_current_key: true,
            });
            ex.response = serde_json::to_vec(&a).unwrap();
        }
    });
    let a = t.alice.vault.access(&item.to_hex()).unwrap();
    assert_eq!(
        readers(&a),
        [
            ("alice@example.com", GroupRole::Admin),
            ("bob@example.com", GroupRole::Viewer)
        ]
    );
}

fn a_key_no_admin_signed_is_refused(backend: Backend) {
    let mut t = Team::new(backend);
    ops_with_bob(&t, GroupRole::Editor);
    let g = group_id(&t.alice, "Ops");
    assert_eq!(t.bob.vault.groups().unwrap()[0].name, "Ops");
    let (bob, bob_x) = t.seen.lock().unwrap().account(t.bob.email);
    // The server seals a key of its own to Bob, with every binding right.
    let attacker_key = [7u8; 32];
    seal_own_key(&t, g, bob, bob_x, attacker_key);
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
    group_refused(&t.bob, "entry 3: its signature does not verify");
    // An entry dropped from the middle.
    rewrite_log(&t, |e| {
        e.remove(1);
    });
    group_refused(&t.bob, "entry 2: it is numbered 3");
    // The log as it was before Mallory was added (a replay of an older answer).
    rewrite_log(&t, |e| e.truncate(2));
    group_refused(&t.bob, "this device has seen 3 (a rollback)");
    // An epoch the log does not have.
    t.hostile(|_, ex| {
        if ex.method == "GET" && ex.path == "/v1/groups" {
            let mut infos: Vec<proto::GroupInfo> = serde_json::from_slice(&ex.response).unwrap();
            infos[0].epoch += 1;
            ex.response = serde_json::to_vec(&infos).unwrap();
        }
    });
    group_refused(
        &t.bob,
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
    ops_with_bob(&t, GroupRole::Viewer);
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
    // Then the server replays the older answer: its item list is older than the one Bob's
    // device saw.
    let old = kept.lock().unwrap().clone().unwrap();
    let whole = old.clone();
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path.contains("/sync?") && ex.path.starts_with("/v1/groups/") {
            ex.response.clone_from(&whole);
        }
    });
    manifest_refused(&t.bob.vault.group_items("Ops").unwrap_err(), "(a rollback)");
    // The older records under the current list: the version the list names is missing.
    let item = Id(items[0].id.0);
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path.contains("/sync?") && ex.path.starts_with("/v1/groups/") {
            let now: proto::PullResponse = serde_json::from_slice(&ex.response).unwrap();
            let mut page: proto::PullResponse = serde_json::from_slice(&old).unwrap();
            page.manifest = now.manifest;
            ex.response = serde_json::to_vec(&page).unwrap();
        }
    });
    let e = t.bob.vault.group_items("Ops").unwrap_err();
    omitted(&e, item);
    assert!(e.to_string().contains("version 2"), "{e}");
    t.honest();
    assert_eq!(t.bob.vault.group_items("Ops").unwrap().len(), 1);
}

/// A CI job: `tessera run` with only `token` and the server (the proxy), printing `$PW`.
fn ci_print(t: &Team, token: &str, reference: &str) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    std::process::Command::new(support::bin("tessera"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TESSERA_TOKEN", token)
        .env("TESSERA_SERVER", &t.proxy.url)
        .args([
            "run",
            "--no-mask",
            "--env",
            &format!("PW={reference}"),
            "--",
        ])
        .args(["sh", "-c", "printf %s \"$PW\""])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The CI job of [`ci_print`] refused with exit 6 and nothing printed: its stderr.
fn ci_refused(t: &Team, token: &str, reference: &str) -> String {
    let o = ci_print(t, token, reference);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert!(o.stdout.is_empty(), "{stderr}");
    stderr
}

/// Two records of a group swapped by the server; a key the server sealed to the admin of
/// another group: each damaged record or group is named and left out, and everything else
/// stays readable, by members and by a CI job's machine token alike.
#[allow(clippy::too_many_lines)] // one story, told in order
fn a_damaged_record_or_group_is_named_and_the_rest_read(backend: Backend) {
    let mut t = Team::new(backend);
    ops_with_bob(&t, GroupRole::Viewer);
    let ids = shared_logins(&mut t, &[("a-db", "pa"), ("b-db", "pb"), ("c-db", "pc")]);
    let token = t
        .alice
        .vault
        .token_create("Ops", "ci", tessera_core::vault::now() + 3600)
        .unwrap();
    let (a, b) = (ids[0], ids[1]);
    // The server swaps the sealed records of a-db and b-db, for members and tokens alike.
    t.hostile(move |_, ex| {
        let group_pull = ex.path.starts_with("/v1/groups/") || ex.path.starts_with("/v1/token/");
        if ex.method == "GET" && group_pull && ex.path.contains("/sync?") {
            let mut page: proto::PullResponse = serde_json::from_slice(&ex.response).unwrap();
            let blob = |id| {
                page.changes
                    .iter()
                    .find(|r| r.item_id == id)
                    .map(|r| r.blob.clone())
            };
            if let (Some(ba), Some(bb)) = (blob(a), blob(b)) {
                for r in &mut page.changes {
                    if r.item_id == a {
                        r.blob = bb.clone();
                    } else if r.item_id == b {
                        r.blob = ba.clone();
                    }
                }
                ex.response = serde_json::to_vec(&page).unwrap();
            }
        }
    });
    let read = t.bob.vault.group_items("Ops").unwrap();
    let titles: Vec<&str> = read.iter().map(|i| i.data.title.as_str()).collect();
    assert_eq!(titles, ["c-db"]);
    let mut damaged: Vec<String> = read.damaged.iter().map(|d| d.item.clone()).collect();
    damaged.sort();
    let mut expected = vec![a.to_hex(), b.to_hex()];
    expected.sort();
    assert_eq!(damaged, expected, "both swapped records are named");
    assert_eq!(
        t.bob
            .vault
            .group_item("Ops", "c-db", false)
            .unwrap()
            .version,
        1
    );
    let e = t
        .bob
        .vault
        .group_item("Ops", &a.to_hex(), false)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Tampered { item } if *item == a.to_hex()),
        "{e:?}"
    );
    // A CI job that needs only c-db runs, warned about the others; one that needs a-db fails
    // naming it (exit 6).
    let secret = token.token.expose_secret().to_owned();
    let o = ci_print(&t, &secret, "tessera://Ops/c-db/password");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pc");
    assert!(
        stderr.contains(&a.to_hex()) && stderr.contains(&b.to_hex()),
        "{stderr}"
    );
    ci_refused(&t, &secret, "tessera://Ops/a-db/password");

    // A key of its own sealed to Alice for Ops: Ops is refused, by id, with why; her other
    // group stays readable.
    t.honest();
    t.alice.vault.group_create("Dev").unwrap();
    t.alice.vault.add(login("dev-db", "pd")).unwrap();
    t.alice.vault.share("dev-db", "Dev").unwrap();
    let g = group_id(&t.alice, "Ops");
    let (alice, alice_x) = t.seen.lock().unwrap().account(t.alice.email);
    seal_own_key(&t, g, alice, alice_x, [7; 32]);
    let groups = t.alice.vault.groups().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Dev", g.to_hex().as_str()]);
    let why = groups[1].refused.as_deref().unwrap();
    assert!(why.contains("not signed by a group admin"), "{why}");
    assert_eq!(t.alice.vault.group_items("Dev").unwrap().len(), 1);
    refused(
        &t.alice.vault.group_items("Ops").unwrap_err(),
        "not signed by a group admin",
    );
}

/// Which pulls a rewrite applies to.
#[derive(Clone, Copy)]
enum Pull {
    /// An account's personal items.
    Personal,
    /// A group's items, as members pull them.
    Group,
    /// A group's items, as a machine token pulls them.
    Token,
}

/// Rewrite every pull answer of the `pull` kind with `f`.
fn rewrite_pulls(
    t: &Team,
    pull: Pull,
    mut f: impl FnMut(&mut proto::PullResponse) + Send + 'static,
) {
    t.hostile(move |_, ex| {
        let wanted = match pull {
            Pull::Personal => ex.path.starts_with("/v1/sync?"),
            Pull::Group => ex.path.starts_with("/v1/groups/") && ex.path.contains("/sync?"),
            Pull::Token => ex.path.starts_with("/v1/token/sync?"),
        };
        if ex.method == "GET" && wanted && ex.status == 200 {
            let mut page: proto::PullResponse = serde_json::from_slice(&ex.response).unwrap();
            f(&mut page);
            ex.response = serde_json::to_vec(&page).unwrap();
        }
    });
}

fn omitted(e: &Error, item: Id) {
    assert!(
        matches!(e, Error::Omitted { item: i, .. } if *i == item.to_hex()),
        "{e:?}"
    );
    assert!(e.to_string().contains("may be hiding it"), "{e}");
}

fn manifest_refused(e: &Error, why: &str) {
    assert!(matches!(e, Error::Manifest { .. }), "{e:?}");
    assert!(e.to_string().contains(why), "{e}");
}

/// Personal items: a new device of Alice's is served her items with one left out; her laptop
/// is served an older item list, one with its tag changed, and none at all. Each is refused by
/// name, and the honest server is accepted again.
fn a_personal_item_left_out_or_an_old_list_is_refused(backend: Backend) {
    let mut t = Team::new(backend);
    let kept = Id(t.alice.vault.add(login("kept", "k")).unwrap().0);
    let hidden = Id(t.alice.vault.add(login("hidden", "h")).unwrap().0);
    t.alice.vault.sync().unwrap();
    let first: Arc<Mutex<Option<proto::SignedManifest>>> = Arc::default();
    let keep = Arc::clone(&first);
    rewrite_pulls(&t, Pull::Personal, move |page| {
        if let Some(m) = &page.manifest {
            keep.lock().unwrap().get_or_insert_with(|| m.clone());
        }
        page.changes.retain(|r| r.item_id != hidden);
    });
    let dir = tempfile::tempdir().unwrap();
    let e = tessera_core::Vault::login_new_device(
        &dir.path().join("vault.sqlite"),
        &t.proxy.url,
        &support::team::creds(t.alice.email, &t.alice.secret_key),
        None,
        None,
    )
    .unwrap_err();
    omitted(&e, hidden);

    // A change moves the list on; the older one replayed is a rollback.
    t.honest();
    t.alice.vault.add(login("later", "l")).unwrap();
    t.alice.vault.sync().unwrap();
    let old = first.lock().unwrap().clone().unwrap();
    let replay = old.clone();
    rewrite_pulls(&t, Pull::Personal, move |page| {
        page.manifest = Some(replay.clone());
    });
    manifest_refused(&t.alice.vault.sync().unwrap_err(), "(a rollback)");
    let mut forged = old;
    forged.auth.0[0] ^= 1;
    rewrite_pulls(&t, Pull::Personal, move |page| {
        page.manifest = Some(forged.clone());
    });
    manifest_refused(&t.alice.vault.sync().unwrap_err(), "tag does not verify");
    rewrite_pulls(&t, Pull::Personal, |page| page.manifest = None);
    manifest_refused(&t.alice.vault.sync().unwrap_err(), "withheld");
    t.honest();
    t.alice.vault.sync().unwrap();
    assert!(t
        .alice
        .vault
        .get(&tessera_core::item::ItemId(kept.0))
        .is_ok());
}

/// A group: a record its editor's manifest names is left out, the manifest withheld, or served
/// as signed by a viewer. Each is refused by name; a removed editor's list is re-signed.
fn a_group_item_left_out_or_a_forged_list_is_refused(backend: Backend) {
    let mut t = Team::new(backend);
    ops_with_bob(&t, GroupRole::Viewer);
    t.alice
        .vault
        .group_add("Ops", t.mallory.email, GroupRole::Editor, None)
        .unwrap();
    t.alice.vault.add(login("kept-db", "k")).unwrap();
    t.alice.vault.share("kept-db", "Ops").unwrap();
    // Mallory, an editor, shares the second item: her manifest now names both.
    let hidden = Id(t.mallory.vault.add(login("hidden-db", "h")).unwrap().0);
    t.mallory.vault.share("hidden-db", "Ops").unwrap();
    assert_eq!(t.bob.vault.group_items("Ops").unwrap().len(), 2);

    // Bob's device holds both now; Mallory's next version of one is what the server leaves
    // out, and her manifest names it.
    t.mallory
        .vault
        .group_update("Ops", "hidden-db", &login("hidden-db", "h2"))
        .unwrap();
    rewrite_pulls(&t, Pull::Group, move |page| {
        page.changes.retain(|r| r.item_id != hidden);
    });
    omitted(&t.bob.vault.group_items("Ops").unwrap_err(), hidden);
    rewrite_pulls(&t, Pull::Group, |page| page.manifest = None);
    manifest_refused(&t.bob.vault.group_items("Ops").unwrap_err(), "withheld");
    let bob = t.seen.lock().unwrap().account(t.bob.email).0;
    rewrite_pulls(&t, Pull::Group, move |page| {
        if let Some(m) = &mut page.manifest {
            m.signer = Some(bob);
        }
    });
    manifest_refused(
        &t.bob.vault.group_items("Ops").unwrap_err(),
        "is not an editor or admin in the group's log",
    );

    // Mallory leaves the group; Alice's removal signs the list again, so it never rests on
    // the word of someone no longer in the group.
    t.honest();
    t.alice.vault.group_remove("Ops", t.mallory.email).unwrap();
    assert_eq!(t.bob.vault.group_items("Ops").unwrap().len(), 2);
}

/// Rewrite the root key of every login answer, and do `pin` with the account's root pin.
fn swap_login_root(t: &Team, root: [u8; 32], pin: Pin) {
    t.hostile(move |_, ex| {
        if ex.path == "/v1/login" && ex.status == 200 {
            let mut r: proto::LoginResponse = serde_json::from_slice(&ex.response).unwrap();
            r.root_public = Blob(root.to_vec());
            match &pin {
                Pin::Kept => {}
                Pin::Forged(p) => r.root_pin = Some(p.clone()),
                Pin::Withheld => r.root_pin = None,
            }
            ex.response = serde_json::to_vec(&r).unwrap();
        }
    });
}

/// What the proxy does with the account's root pin in a login answer.
enum Pin {
    Kept,
    Forged(proto::RootPin),
    Withheld,
}

/// Bob signs in on a new device through the proxy, giving `fingerprint` or not; the device's
/// directory and the team root fingerprint it pinned.
fn bob_logs_in(t: &Team, fingerprint: Option<&str>) -> Result<(tempfile::TempDir, String), Error> {
    let dir = tempfile::tempdir().unwrap();
    let v = tessera_core::Vault::login_new_device(
        &dir.path().join("vault.sqlite"),
        &t.proxy.url,
        &support::team::creds(t.bob.email, &t.bob.secret_key),
        None,
        fingerprint,
    )?;
    let pinned = v.link_info()?.unwrap().root_fingerprint;
    Ok((dir, pinned))
}

fn another_root_at_login_is_refused(backend: Backend) {
    let t = Team::new(backend);
    let real = t.alice.vault.link_info().unwrap().unwrap().root_fingerprint;
    let evil = [7; 32];
    let evil_fp = tessera_core::vault::root_fingerprint(&evil);
    let team_root = |e: Error| match e {
        Error::TeamRoot(why) => why,
        e => panic!("not a team-root refusal: {e:?}"),
    };

    // The server presents another root and keeps Bob's pin of the real one.
    swap_login_root(&t, evil, Pin::Kept);
    let why = team_root(bob_logs_in(&t, None).unwrap_err());
    assert!(why.contains(&evil_fp) && why.contains(&real), "{why}");

    // It forges a pin of its own root (it cannot sign as Bob).
    let forged = proto::RootPin {
        root_public: Blob(evil.to_vec()),
        signature: Blob(vec![1; 64]),
    };
    swap_login_root(&t, evil, Pin::Forged(forged));
    let why = team_root(bob_logs_in(&t, None).unwrap_err());
    assert!(
        why.contains("does not carry this account's signature"),
        "{why}"
    );

    // It withholds the pin: no fingerprint, nothing to check against; the real fingerprint
    // given does not match the root it presents.
    swap_login_root(&t, evil, Pin::Withheld);
    let why = team_root(bob_logs_in(&t, None).unwrap_err());
    assert!(
        why.contains("no pin") && why.contains("--fingerprint"),
        "{why}"
    );
    let why = team_root(bob_logs_in(&t, Some(&real)).unwrap_err());
    assert!(why.contains(&evil_fp) && why.contains(&real), "{why}");

    // Honest: Bob's pin (sent when he joined) lets his new device in without a fingerprint.
    t.honest();
    assert_eq!(bob_logs_in(&t, None).unwrap().1, real);
}

/// An account from before pins: the server has none, so a new device needs the fingerprint
/// once; that device then sends the pin and later devices need nothing.
fn an_account_without_a_pin_signs_in_with_the_fingerprint_once(backend: Backend) {
    let t = Team::new(backend);
    let real = t.alice.vault.link_info().unwrap().unwrap().root_fingerprint;
    t.backend.sql("UPDATE accounts SET root_pin = NULL");
    let e = bob_logs_in(&t, None).unwrap_err();
    assert!(matches!(e, Error::TeamRoot(_)), "{e:?}");
    assert_eq!(bob_logs_in(&t, Some(&real)).unwrap().1, real);
    assert_eq!(bob_logs_in(&t, None).unwrap().1, real);
}

/// The `tessera login` command: a swapped root is exit 6 naming both fingerprints; the right
/// `--fingerprint` of a root the server does not present is refused the same way.
fn tessera_login_refuses_another_root_with_exit_6(backend: Backend) {
    let t = Team::new(backend);
    let real = t.alice.vault.link_info().unwrap().unwrap().root_fingerprint;
    let evil = [9; 32];
    swap_login_root(&t, evil, Pin::Kept);
    let cli = support::team::Cli::new();
    let key = format!("{}\n", t.bob.secret_key.to_human().as_str());
    let login = |extra: &[&str]| {
        let mut args = vec![
            "login",
            "--server",
            &t.proxy.url,
            "--email",
            t.bob.email,
            "--password-file",
            cli.pw(),
        ];
        args.extend_from_slice(extra);
        cli.run(&args, &key)
    };
    let o = login(&[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains(&real), "{stderr}");
    assert!(
        stderr.contains(&tessera_core::vault::root_fingerprint(&evil)),
        "{stderr}"
    );
    assert!(
        !cli.home.path().join("vault").join("vault.sqlite").exists(),
        "no vault is left behind"
    );
    let o = login(&["--fingerprint", &real]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    t.honest();
    let o = login(&["--fingerprint", &real]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Rewrite every `GET /v1/token/group` answer with `f`.
fn rewrite_token_group(t: &Team, mut f: impl FnMut(&mut proto::TokenGroup) + Send + 'static) {
    t.hostile(move |_, ex| {
        if ex.method == "GET" && ex.path == "/v1/token/group" && ex.status == 200 {
            let mut g: proto::TokenGroup = serde_json::from_slice(&ex.response).unwrap();
            f(&mut g);
            ex.response = serde_json::to_vec(&g).unwrap();
        }
    });
}

/// A CI job's reader over the proxy, or why it was refused.
fn token_reader(t: &Team, token: &str) -> Result<TokenClient, Error> {
    TokenClient::connect(&t.proxy.url, &MachineToken::parse(token).unwrap())
}

/// The X25519 public key of a token string (what the server holds for it).
fn token_public(token: &str) -> [u8; 32] {
    use base64::Engine as _;
    // tsr2_, 32 hex digits, _, then the secret (whose base64url may hold a _ itself).
    let secret = &token[38..];
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret)
        .unwrap();
    tessera_crypto::token::MachineSecret::from_bytes(raw.try_into().unwrap()).exchange_public()
}

/// A machine token trusts its pin, made by the admin who created it, not the server: a key the
/// server sealed to the token, a record left out of its pull, the pin withheld or changed, the
/// log rolled back to before the token, or the newest key withheld: each refused by name, with
/// exit 6 from `tessera run`. A token from before pins is read with a warning.
#[allow(clippy::too_many_lines)] // one story, told in order
fn a_machine_token_trusts_its_pin_not_the_server(backend: Backend) {
    let mut t = Team::new(backend);
    ops_with_bob(&t, GroupRole::Viewer);
    let ids = shared_logins(&mut t, &[("a-db", "pa"), ("b-db", "pb")]);
    let created = t
        .alice
        .vault
        .token_create("Ops", "ci", tessera_core::vault::now() + 3600)
        .unwrap();
    let token = created.token.expose_secret().to_owned();
    assert!(token.starts_with("tsr2_"), "{token}");
    let honest = token_reader(&t, &token).unwrap();
    assert_eq!(honest.warning(), None);
    assert_eq!(honest.items().unwrap().len(), 2);

    // The server seals a key of its own to the token, every binding right.
    let team = t.seen.lock().unwrap().team.unwrap();
    let g = group_id(&t.alice, "Ops");
    let token_id = MachineToken::parse(&token).unwrap().id();
    let public = token_public(&token);
    rewrite_token_group(&t, move |tg| {
        let epoch = tg.epoch;
        let ad = associated_data(
            "tessera machine token key",
            &[&team.0, &g.0, &epoch.to_be_bytes(), &token_id.0],
        );
        let k = tg.keys.iter_mut().find(|k| k.epoch == epoch).unwrap();
        k.wrapped = Blob(tessera_crypto::seal::seal_to(&public, &[7; 32], &ad));
    });
    let e = token_reader(&t, &token).unwrap_err();
    assert!(matches!(e, Error::TokenPin(_)), "{e:?}");
    assert!(e.to_string().contains("the server substituted it"), "{e}");
    let stderr = ci_refused(&t, &token, "tessera://Ops/a-db/password");
    assert!(stderr.contains("substituted"), "{stderr}");

    // The pin withheld, changed, or the log served from before the token was made.
    rewrite_token_group(&t, |tg| tg.pin = None);
    let e = token_reader(&t, &token).unwrap_err();
    assert!(e.to_string().contains("pin was withheld"), "{e}");
    rewrite_token_group(&t, |tg| tg.pin.as_mut().unwrap().body.0[10] ^= 1);
    let e = token_reader(&t, &token).unwrap_err();
    assert!(e.to_string().contains("pin does not verify"), "{e}");
    rewrite_token_group(&t, |tg| tg.log.truncate(1));
    refused(
        &token_reader(&t, &token).unwrap_err(),
        "the token's creator has seen 2 (a rollback)",
    );

    // A record its group's signed list names, left out of the token's pull.
    let hidden = ids[1];
    rewrite_pulls(&t, Pull::Token, move |page| {
        page.changes.retain(|r| r.item_id != hidden);
    });
    omitted(
        &token_reader(&t, &token).unwrap().items().unwrap_err(),
        hidden,
    );
    let stderr = ci_refused(&t, &token, "tessera://Ops/a-db/password");
    assert!(stderr.contains(&hidden.to_hex()), "{stderr}");

    // Bob leaves: the new key sealed to the token is signed into the log, and accepted; the
    // server keeping it back is named.
    t.honest();
    t.alice.vault.group_remove("Ops", t.bob.email).unwrap();
    let rotated = token_reader(&t, &token).unwrap();
    assert_eq!(rotated.items().unwrap().len(), 2);
    rewrite_token_group(&t, |tg| {
        tg.keys.pop();
        tg.epoch -= 1;
    });
    let e = token_reader(&t, &token).unwrap_err();
    assert!(matches!(e, Error::GroupLog { .. }), "{e:?}");
    rewrite_token_group(&t, |tg| {
        tg.keys.pop();
    });
    refused(
        &token_reader(&t, &token).unwrap_err(),
        "withheld the key of epoch 2",
    );

    // A token from before pins (tsr1_, no pin stored) is read on the server's word, warned.
    rewrite_token_group(&t, |tg| tg.pin = None);
    let legacy = token.replacen("tsr2_", "tsr1_", 1);
    let old = token_reader(&t, &legacy).unwrap();
    assert!(old
        .warning()
        .unwrap()
        .contains("made before tokens were pinned"));
    assert_eq!(old.items().unwrap().len(), 2);
    let o = ci_print(&t, &legacy, "tessera://Ops/a-db/password");
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pa");
    assert!(String::from_utf8_lossy(&o.stderr).contains("tsr1_"));
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
    who_can_read_an_item_comes_from_the_log,
    a_key_no_admin_signed_is_refused,
    a_changed_dropped_or_rolled_back_log_is_refused,
    a_group_made_before_logs_is_signed_once,
    an_older_group_pull_replayed_is_refused,
    a_damaged_record_or_group_is_named_and_the_rest_read,
    a_personal_item_left_out_or_an_old_list_is_refused,
    a_group_item_left_out_or_a_forged_list_is_refused,
    another_root_at_login_is_refused,
    an_account_without_a_pin_signs_in_with_the_fingerprint_once,
    tessera_login_refuses_another_root_with_exit_6,
    a_machine_token_trusts_its_pin_not_the_server,
);
