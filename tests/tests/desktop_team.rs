//! The team screens of the real desktop app under Xvfb, against a real `tessera-server`.
//!
//! A member: a lead (driven through `tessera-core`) creates the team and a group, adds the
//! app's account and shares an item; the app's account sees the group and the item appear,
//! reveals and copies the password (checked on the clipboard with xclip); the lead's audit log
//! then shows the reveal and the copy.
//!
//! A lead and a member, each in an app instance of their own (one after the other: two WebKit
//! sessions at once crash each other): the lead creates the team's group and adds the member
//! in the Groups dialog and shares an item with an end in the Share dialog; the member's app
//! shows it and reveals it; the lead reads that reveal in the Audit dialog and verifies the
//! chain, then reviews the member in the Offboarding dialog (picked from the team directory),
//! exports the CSV and revokes everything; the member's vault is then refused by the server.
//!
//! Each screen is checked to be in reach (nothing outside the window or cut off, no sideways
//! scrolling) and, with `TESSERA_SCREENSHOTS` set, photographed: to `docs/screenshots/` when
//! it is `docs`, else to the directory it names. `TESSERA_WINDOW=800x600` runs both in a
//! window of that size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::team::{team, Person, PASSWORD};
use support::webdriver::{xvfb, Session};
use support::{bin, Server};
use tessera_core::item::{FieldKind, ItemData, ItemKind};
use tessera_core::paths::VaultDir;
use tessera_core::vault::{AuditAction, AuditFilter, GroupRole};
use tessera_core::Vault;
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;

fn clipboard(display: &str) -> String {
    let out = Command::new("xclip")
        .args(["-selection", "clipboard", "-o"])
        .env("DISPLAY", display)
        .output()
        .expect("xclip is missing: run the tests with `cargo xtask test`");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An element's text content (also for text the layout clips).
fn content(e: &support::webdriver::Element<'_>) -> String {
    e.prop("textContent")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// One app at a time: the tests of this file run in parallel threads, and two WebKit sessions
/// under one Xvfb crash each other.
static ONE_APP: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A person whose vault is where the app looks for it (`home/vault`).
fn app_person(home: &Path, email: &'static str) -> Person {
    let vault_dir = home.join("vault");
    std::fs::create_dir_all(&vault_dir).unwrap();
    let key = AccountSecretKey::generate();
    VaultDir::new(&vault_dir).write_secret_key(&key).unwrap();
    let vault = Vault::create(
        &vault_dir.join("vault.sqlite"),
        PASSWORD,
        &key,
        KdfParams::FLOOR,
    )
    .unwrap();
    Person {
        email,
        dir: tempfile::tempdir().unwrap(),
        secret_key: key,
        vault,
    }
}

/// The screen is in reach (see `Session::assert_layout_fits`), and photographed as `name` in
/// `shots` when `TESSERA_SCREENSHOTS` is set.
fn screen(s: &Session, shots: &Path, name: &str) {
    if std::env::var_os("TESSERA_SCREENSHOTS").is_some() {
        std::fs::write(shots.join(format!("{name}.png")), s.screenshot()).unwrap();
    }
    s.assert_layout_fits(name);
}

/// The app on `display` over the vault in `home/vault`, unlocked.
fn launch_unlocked(home: &Path, display: &str) -> Session {
    support::window_size_from_env(&home.join("vault"));
    let vars = support::app_env(home, &home.join("vault"), display);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Session::start(&bin("tessera-app"), &vars);
    s.testid("unlock-password")
        .send_keys(std::str::from_utf8(PASSWORD).unwrap());
    s.testid("unlock-submit").click();
    s.testid("search");
    s
}

/// Choose the option of a `<select>` whose text contains `text`, as a user would.
fn choose(s: &Session, testid: &str, text: &str) {
    let index = s.script(
        "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`);
         const i = [...e.options].findIndex((o) => o.text.includes(arguments[1]));
         e.selectedIndex = i;
         e.dispatchEvent(new Event('change', { bubbles: true }));
         return i;",
        &serde_json::json!([testid, text]),
    );
    assert!(
        index.as_i64().is_some_and(|i| i >= 0),
        "{testid} has no option {text}"
    );
}

#[allow(clippy::too_many_lines)]
#[test]
fn a_member_sees_a_shared_item_appear_and_the_lead_sees_the_reveal_and_copy() {
    let _one = ONE_APP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = Server::start(None);
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path().to_path_buf();
    let shots = support::screenshots_dir(&home);

    // The app's account, joined to the lead's team.
    let mut bob = app_person(&home, "bob@example.com");
    let mut lead = Person::new("lead@example.com");
    team(&server.url, &mut lead, &mut [&mut bob]);
    lead.vault.group_create("Production").unwrap();
    lead.vault
        .group_add("Production", bob.email, GroupRole::Viewer, None)
        .unwrap();
    drop(bob.vault);

    let (_x, display) = xvfb();
    let s = launch_unlocked(&home, &display);

    // The group shows in the sidebar, still empty.
    s.wait_until("the group in the sidebar", || {
        let names: Vec<String> = s
            .find_all("[data-testid=\"nav-group\"]")
            .iter()
            .map(|e| {
                e.prop("textContent")
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        Some(()).filter(|()| names.iter().any(|n| n.contains("Production")))
    });
    s.testid("nav-group").click();
    s.wait_until("the empty group", || {
        Some(()).filter(|()| s.find_all("[data-testid=\"item-row\"]").is_empty())
    });

    // The lead shares an item; it appears in the member's group list.
    lead.vault
        .add(
            ItemData::new(ItemKind::Login, "prod-db")
                .with_field("username", FieldKind::Text, "deploy")
                .with_field("password", FieldKind::Concealed, "hunter2-v1"),
        )
        .unwrap();
    lead.vault.share("prod-db", "Production").unwrap();
    s.wait_until("the shared item to appear", || {
        // Re-select the group to fetch it again (what a sync's change event also does).
        s.testid("nav-group").click();
        std::thread::sleep(Duration::from_millis(300));
        let rows = s.find_all("[data-testid=\"item-row\"]");
        rows.first()
            .filter(|r| {
                r.prop("textContent")
                    .as_str()
                    .is_some_and(|t| t.contains("prod-db"))
            })
            .map(support::webdriver::Element::click)
    });
    s.wait_until("the shared item to open", || {
        Some(()).filter(|()| s.has_testid("shared-detail"))
    });
    // All items counts it too (its list shows shared items with their group).
    s.wait_until("All items to count the shared item", || {
        Some(()).filter(|()| content(&s.testid("nav-all")).trim().ends_with('1'))
    });
    assert!(!content(&s.testid("value-password")).contains("hunter2"));
    s.wait_until("the members to load", || {
        Some(()).filter(|()| content(&s.testid("shared-with")).contains("lead@example.com"))
    });

    s.testid("reveal-password").click();
    s.wait_until("the revealed password", || {
        Some(()).filter(|()| content(&s.testid("value-password")).contains("hunter2-v1"))
    });
    s.testid("copy-password").click();
    screen(&s, &shots, "20-team-shared-item");
    s.wait_until("the password on the clipboard", || {
        Some(()).filter(|()| clipboard(&display).trim() == "hunter2-v1")
    });

    // The lead's audit log shows the member's reveal and copy (with the field's kind).
    let log = lead.vault.audit(&AuditFilter::default()).unwrap();
    let by_bob = |a: AuditAction| {
        log.iter()
            .find(|r| r.actor == "bob@example.com" && r.action == a)
            .unwrap_or_else(|| panic!("no {a:?} by bob in {log:#?}"))
    };
    by_bob(AuditAction::Reveal);
    assert!(
        by_bob(AuditAction::Copy).detail.contains("password"),
        "{log:#?}"
    );

    // Groups management, read-only for a viewer.
    s.testid("manage-groups").click();
    s.wait_until("the members", || {
        Some(()).filter(|()| s.find_all("[data-testid=\"member-row\"]").len() == 2)
    });
    screen(&s, &shots, "21-team-groups");
    s.keys(&["\u{E00C}"]);
    s.wait_until("the groups dialog to close", || {
        Some(()).filter(|()| !s.has_testid("groups-dialog"))
    });
    s.close();
    drop(server);
}

/// The text of every element with this test id, read in one script (a list that re-renders
/// between finding its rows and reading them would leave stale references).
fn texts(s: &Session, testid: &str) -> Vec<String> {
    let v = s.script(
        "return [...document.querySelectorAll(`[data-testid=\"${arguments[0]}\"]`)].map((e) => e.textContent)",
        &serde_json::json!([testid]),
    );
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait for `group` in the sidebar, choose it, and open its item `title` once it is listed.
fn open_shared(s: &Session, group: &str, title: &str) {
    s.wait_until("the group in the sidebar", || {
        Some(()).filter(|()| texts(s, "nav-group").iter().any(|t| t.contains(group)))
    });
    s.testid("nav-group").click();
    s.wait_until("the shared item in the group's list", || {
        s.find_all("[data-testid=\"item-row\"]")
            .first()
            .filter(|r| content(r).contains(title))
            .map(support::webdriver::Element::click)
    });
}

#[allow(clippy::too_many_lines)]
#[test]
fn a_lead_shares_from_the_app_reads_the_audit_log_and_offboards_a_member() {
    let _one = ONE_APP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = Server::start(None);
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path().to_path_buf();
    let shots = support::screenshots_dir(&home);

    // The app's account creates the team; Bob joins it with an app of his own (a second home).
    // The lead has one personal login.
    let bob_home_dir = tempfile::tempdir().unwrap();
    let bob_home = bob_home_dir.path().to_path_buf();
    let mut lead = app_person(&home, "lead@example.com");
    let mut bob = app_person(&bob_home, "bob@example.com");
    team(&server.url, &mut lead, &mut [&mut bob]);
    let Person {
        secret_key: bob_key,
        vault: bob_vault,
        ..
    } = bob;
    drop(bob_vault);
    lead.vault
        .add(
            ItemData::new(ItemKind::Login, "prod-db")
                .with_field("username", FieldKind::Text, "deploy")
                .with_field("password", FieldKind::Concealed, "hunter2-v1"),
        )
        .unwrap();
    drop(lead.vault);

    let (_x, display) = xvfb();
    let s = launch_unlocked(&home, &display);

    // Groups dialog: create "Production" and add Bob as an editor.
    s.wait_until("the empty Groups section", || {
        Some(()).filter(|()| s.has_testid("groups-empty"))
    });
    s.testid("manage-groups").click();
    s.testid("new-group-name").send_keys("Production");
    s.testid("create-group").click();
    s.wait_until("the new group's members (the lead)", || {
        Some(()).filter(|()| texts(&s, "member-row").len() == 1)
    });
    s.testid("add-email").send_keys(bob.email);
    choose(&s, "add-role", "Editor");
    s.testid("add-member").click();
    s.wait_until("Bob among the members", || {
        let rows = texts(&s, "member-row");
        Some(()).filter(|()| rows.len() == 2 && rows.iter().any(|r| r.contains("bob@example.com")))
    });
    s.assert_layout_fits("the Groups dialog of the group's admin");
    s.keys(&["\u{E00C}"]);
    s.wait_until("the groups dialog to close", || {
        Some(()).filter(|()| !s.has_testid("groups-dialog"))
    });

    // Share dialog: the personal login goes to Production for 30 days.
    s.testid("search").send_keys("prod");
    s.wait_until("prod-db in the list", || {
        Some(()).filter(|()| texts(&s, "item-row").iter().any(|r| r.contains("prod-db")))
    });
    s.keys(&["\u{E007}"]);
    s.testid("share-item").click();
    s.wait_until("the members who will read it", || {
        Some(()).filter(|()| content(&s.testid("share-members")).contains("bob@example.com"))
    });
    choose(&s, "share-ends", "30 days");
    screen(&s, &shots, "22-team-share");
    s.testid("share-confirm").click();
    s.wait_until("the share dialog to close", || {
        Some(()).filter(|()| !s.has_testid("share-dialog"))
    });

    s.close();

    // Bob's own app (a second instance, his account) shows the item in the group; he reveals
    // the password there.
    let b = launch_unlocked(&bob_home, &display);
    open_shared(&b, "Production", "prod-db");
    b.wait_until("the shared item in Bob's app", || {
        Some(()).filter(|()| b.has_testid("shared-detail"))
    });
    b.testid("reveal-password").click();
    b.wait_until("the password revealed in Bob's app", || {
        Some(()).filter(|()| content(&b.testid("value-password")).contains("hunter2-v1"))
    });
    b.assert_layout_fits("the shared item in Bob's app");
    b.close();

    let s = launch_unlocked(&home, &display);

    // The shared item, with the end of its share, in the lead's app.
    open_shared(&s, "Production", "prod-db");
    s.wait_until("the end of the share", || {
        Some(()).filter(|()| {
            s.has_testid("share-end") && content(&s.testid("share-end")).contains("The share ends")
        })
    });

    // Audit dialog: Bob's reveal is there, and the chain verifies.
    s.testid("open-audit").click();
    s.wait_until("Bob's reveal in the log", || {
        Some(()).filter(|()| {
            texts(&s, "audit-row")
                .iter()
                .any(|r| r.contains("bob@example.com") && r.contains("reveal"))
        })
    });
    s.testid("audit-verify").click();
    s.wait_until("the verified chain", || {
        Some(()).filter(|()| s.has_testid("audit-intact"))
    });
    assert!(content(&s.testid("audit-intact")).contains("Chain intact"));
    screen(&s, &shots, "23-team-audit");
    s.keys(&["\u{E00C}"]);
    s.wait_until("the audit dialog to close", || {
        Some(()).filter(|()| !s.has_testid("audit-dialog"))
    });

    // Offboarding: pick Bob from the team directory, see what he revealed, export, revoke.
    s.testid("open-offboarding").click();
    s.wait_until("the team directory", || {
        s.find_all("[data-testid=\"offboard-person\"]")
            .into_iter()
            .find(|p| content(p).contains("bob@example.com"))
            .map(|p| p.click())
    });
    s.wait_until("Bob's checklist", || {
        let rows = texts(&s, "offboard-secret");
        Some(()).filter(|()| {
            rows.len() == 1 && rows[0].contains("prod-db") && rows[0].contains("revealed")
        })
    });
    screen(&s, &shots, "24-team-offboarding");
    s.testid("offboard-export").click();
    let saved = s.wait_until("the CSV export", || {
        Some(()).filter(|()| s.has_testid("offboard-exported")).map(|()| {
            s.script(
                "return document.querySelector('[data-testid=\"offboard-exported\"] .mono').textContent",
                &serde_json::json!([]),
            )
        })
    });
    let csv = std::fs::read_to_string(saved.as_str().unwrap()).unwrap();
    assert!(
        csv.contains("prod-db") && csv.contains("Production"),
        "{csv}"
    );

    s.testid("offboard-revoke").click();
    s.wait_until("the confirmation in view", || {
        let shown = s.script(
            "const b = document.querySelector('[data-testid=\"revoke-confirmed\"]');
             if (!b) return false;
             const r = b.getBoundingClientRect();
             return r.top >= 0 && r.bottom <= window.innerHeight;",
            &serde_json::json!([]),
        );
        Some(()).filter(|()| shown.as_bool() == Some(true))
    });
    s.assert_layout_fits("the revocation to confirm");
    s.testid("revoke-confirmed").click();
    s.wait_until("the revocation", || {
        Some(()).filter(|()| s.has_testid("offboard-outcome"))
    });
    assert!(content(&s.testid("offboard-outcome")).contains("Production"));
    screen(&s, &shots, "25-team-offboarded");

    // Bob's session is gone and he can no longer read the group.
    let bob_vault = Vault::unlock(
        &bob_home.join("vault/vault.sqlite"),
        PASSWORD,
        &bob_key,
        KdfParams::FLOOR,
    )
    .unwrap();
    let refused = bob_vault.group_items("Production");
    assert!(refused.is_err(), "Bob still reads the group after revoke");
    s.close();
    drop(server);
}
