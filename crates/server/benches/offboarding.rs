//! The offboarding review of a member of 10 groups holding 10,000 items in all, on the lead's
//! client against the `tessera-server` binary over loopback, on SQLite and PostgreSQL:
//! `cargo bench -p tessera-server --bench offboarding`.
//!
//! The measured call is `Vault::offboarding`: fetch the review (membership windows, the
//! current sealed version of every item the member could decrypt, their reveals), open the
//! lead's group keys, decrypt all 10,000 versions and keep the secrets unchanged since the
//! member's access ended. Target: under 2 s.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

use support::{creds, on_both_backends, percentiles, start, vault};
use tessera_core::item::{FieldKind, ItemData, ItemKind};
use tessera_protocol::GroupRole;

const GROUPS: usize = 10;
const ITEMS: usize = 10_000;
const RUNS: usize = 7;

fn bench(label: &str, db: Option<&str>) -> f64 {
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(db, data.path());
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut lead, l_sk) = vault(a_dir.path());
    let (mut bob, b_sk) = vault(b_dir.path());
    lead.create_team(&url, &creds("lead@example.com", &l_sk))
        .unwrap();
    let inv = lead.invite("bob@example.com").unwrap();
    bob.join_team(
        &url,
        &inv.invite_token,
        &inv.root_fingerprint,
        &creds("bob@example.com", &b_sk),
    )
    .unwrap();
    lead.certify("bob@example.com").unwrap();
    for g in 0..GROUPS {
        let name = format!("group {g}");
        lead.group_create(&name).unwrap();
        lead.group_add(&name, "bob@example.com", GroupRole::Viewer, None)
            .unwrap();
        let items: Vec<ItemData> = (0..ITEMS / GROUPS)
            .map(|i| {
                ItemData::new(ItemKind::Login, format!("service {g}-{i}"))
                    .with_field("username", FieldKind::Text, "deploy")
                    .with_field(
                        "password",
                        FieldKind::Concealed,
                        format!("secret-{g}-{i:05}"),
                    )
            })
            .collect();
        lead.group_import(&name, &items).unwrap();
    }
    let times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let r = lead.offboarding("bob@example.com").unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(r.secrets.len(), ITEMS);
            assert_eq!(r.windows.len(), GROUPS);
            ms
        })
        .collect();
    let (p50, max) = percentiles(times, 100);
    println!(
        "{label}: offboarding review of a member of {GROUPS} groups holding {ITEMS} items, \
         decrypted on the lead's client: median {p50:.0} ms, slowest of {RUNS} {max:.0} ms"
    );
    p50
}

fn main() {
    for p50 in on_both_backends("offboarding", bench) {
        assert!(p50 < 2000.0, "the offboarding review took {p50:.0} ms");
    }
}
