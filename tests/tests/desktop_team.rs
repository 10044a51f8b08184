//! The team screens of the real desktop app under Xvfb, against a real `tessera-server`: a lead
//! (driven through `tessera-core`) creates the team and a group, adds the app's account and
//! shares an item; the app's account sees the group and the item appear, reveals and copies
//! the password (checked on the clipboard with xclip); the lead's audit log then shows the
//! reveal and the copy. The offboarding and audit screens are opened to their lists.
//!
//! Screenshots go to `docs/screenshots/` when `TESSERA_SCREENSHOTS=docs`.
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

#[allow(clippy::too_many_lines)]
#[test]
fn a_member_sees_a_shared_item_appear_and_the_lead_sees_the_reveal_and_copy() {
    let server = Server::start(None);
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path().to_path_buf();
    let vault_dir = home.join("vault");
    let shots = match std::env::var("TESSERA_SCREENSHOTS").as_deref() {
        Ok("docs") => Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"),
        _ => home.join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();

    // The app's account: a vault where the app looks for it, joined to the lead's team.
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
    let mut bob = Person {
        email: "bob@example.com",
        dir: tempfile::tempdir().unwrap(),
        secret_key: key,
        vault,
    };
    let mut lead = Person::new("lead@example.com");
    team(&server.url, &mut lead, &mut [&mut bob]);
    lead.vault.group_create("Production").unwrap();
    lead.vault
        .group_add("Production", bob.email, GroupRole::Viewer, None)
        .unwrap();
    drop(bob.vault);

    let (_x, display) = xvfb();
    let runtime = home.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let vars: Vec<(&str, String)> = vec![
        ("HOME", home.display().to_string()),
        ("TESSERA_HOME", vault_dir.display().to_string()),
        ("DISPLAY", display.clone()),
        ("XDG_RUNTIME_DIR", runtime.display().to_string()),
        ("NO_AT_BRIDGE", "1".into()),
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1".into()),
        ("GDK_BACKEND", "x11".into()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Session::start(&bin("tessera-app"), &vars);
    let shot = |name: &str| {
        std::fs::write(shots.join(format!("{name}.png")), s.screenshot()).unwrap();
    };

    s.testid("unlock-password")
        .send_keys(std::str::from_utf8(PASSWORD).unwrap());
    s.testid("unlock-submit").click();
    s.testid("search");

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
    assert!(!content(&s.testid("value-password")).contains("hunter2"));
    s.wait_until("the members to load", || {
        Some(()).filter(|()| content(&s.testid("shared-with")).contains("lead@example.com"))
    });

    s.testid("reveal-password").click();
    s.wait_until("the revealed password", || {
        Some(()).filter(|()| content(&s.testid("value-password")).contains("hunter2-v1"))
    });
    s.testid("copy-password").click();
    if std::env::var("TESSERA_SCREENSHOTS").is_ok() {
        shot("20-team-shared-item");
    }
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
    if std::env::var("TESSERA_SCREENSHOTS").is_ok() {
        shot("21-team-groups");
    }
    s.keys(&["\u{E00C}"]);
    s.wait_until("the groups dialog to close", || {
        Some(()).filter(|()| !s.has_testid("groups-dialog"))
    });
    drop(s);
    drop(server);
}
