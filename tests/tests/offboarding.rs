//! The lead's offboarding review, the audit chain and the rotation report end to end, against
//! the real `tessera-server` binary on SQLite and on PostgreSQL: through `tessera-core` vaults
//! (checked against a ground truth built here) and through the real `tessera` CLI.
//!
//! Bob is a viewer of Production and an editor of Staging; Carol is in Production and Finance.
//! Bob reveals one secret. The lead's review lists exactly the secrets Bob could decrypt, marks
//! the one he revealed, and loses exactly the item the lead rotates. Offboarding ends Bob's
//! sessions and memberships and starts new key epochs; the review then shows what is left to
//! rotate and empties as the lead rotates it. The audit log verifies, and a hand edit in the
//! database is named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use support::team::{login, team, Backend, Cli, Person};
use tessera_core::vault::AuditRow;
use tessera_core::Error;
use tessera_protocol::GroupRole;

fn titles(r: &tessera_core::vault::OffboardingReport) -> BTreeSet<String> {
    r.secrets
        .iter()
        .map(|s| format!("{}/{}", s.group_name, s.title))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn through_the_core(b: &Backend) {
    let url = b.url();
    let mut lead = Person::new("lead@example.com");
    let mut bob = Person::new("bob@example.com");
    let mut carol = Person::new("carol@example.com");
    team(url, &mut lead, &mut [&mut bob, &mut carol]);

    for g in ["Production", "Staging", "Finance"] {
        lead.vault.group_create(g).unwrap();
    }
    let add = |g: &str, who: &str, role| {
        lead.vault.group_add(g, who, role, None).unwrap();
    };
    add("Production", bob.email, GroupRole::Viewer);
    add("Production", carol.email, GroupRole::Editor);
    add("Staging", bob.email, GroupRole::Editor);
    add("Finance", carol.email, GroupRole::Viewer);
    lead.vault
        .group_import(
            "Production",
            &[login("prod-db", "p1"), login("prod-api", "p2"), {
                let mut d = login("prod-cache", "p3");
                d.rotation_days = Some(30);
                d
            }],
        )
        .unwrap();
    lead.vault
        .group_import("Staging", &[login("stg-db", "s1")])
        .unwrap();
    lead.vault
        .group_import("Finance", &[login("bank", "f1")])
        .unwrap();

    // Bob reveals one secret: the reveal reaches the audit log before he sees it.
    let seen = bob.vault.group_item("Production", "prod-db", true).unwrap();
    assert_eq!(
        seen.data.field("password").unwrap().value.expose_secret(),
        "p1"
    );

    // The review: exactly what Bob could decrypt, and what he revealed.
    let truth = set(&[
        "Production/prod-api",
        "Production/prod-cache",
        "Production/prod-db",
        "Staging/stg-db",
    ]);
    let r = lead.vault.offboarding(bob.email).unwrap();
    assert_eq!(titles(&r), truth);
    assert_eq!(r.windows.len(), 2);
    assert!(r.windows.iter().all(|w| w.to.is_none()));
    assert_eq!(r.live_sessions, 1);
    let revealed: Vec<&str> = r
        .secrets
        .iter()
        .filter(|s| s.revealed)
        .map(|s| s.title.as_str())
        .collect();
    assert_eq!(revealed, ["prod-db"]);
    assert!(r.unreadable.is_empty());

    // Only a team admin may run it.
    let e = carol.vault.offboarding(bob.email).unwrap_err();
    assert!(e.to_string().contains("team admin"), "{e}");

    // Offboard: everything ends in one step, and new key epochs start.
    let before: Vec<_> = lead.vault.groups().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = lead.vault.offboard(bob.email).unwrap();
    assert_eq!(out.sessions_revoked, 1);
    let mut rotated = out.rotated.clone();
    rotated.sort();
    assert_eq!(rotated, ["Production", "Staging"]);
    assert!(out.not_rotated.is_empty(), "{:?}", out.not_rotated);
    for g in lead.vault.groups().unwrap() {
        let old = before.iter().find(|o| o.id == g.id).unwrap();
        let bump = u64::from(g.name != "Finance");
        assert_eq!(g.epoch, old.epoch + bump, "{}", g.name);
    }
    let e = bob.vault.groups().unwrap_err();
    assert!(matches!(e, Error::Remote { status: 401, .. }), "{e}");
    // Carol stays and still reads Production under its new key.
    assert_eq!(carol.vault.group_items("Production").unwrap().len(), 3);

    // The checklist: what Bob could see stays listed until rotated, also after offboarding.
    let r = lead.vault.offboarding(bob.email).unwrap();
    assert!(r.offboarded_at.is_some());
    assert_eq!(r.live_sessions, 0);
    assert!(r.windows.iter().all(|w| w.to.is_some()));
    assert_eq!(titles(&r), truth);

    // Rotating one secret removes exactly that item; a change that keeps the secret does not.
    lead.vault
        .group_update("Production", "prod-api", &login("prod-api", "p2-rotated"))
        .unwrap();
    lead.vault
        .group_update("Staging", "stg-db", &{
            let mut d = login("stg-db", "s1");
            d.tags = vec!["db".into()];
            d
        })
        .unwrap();
    let r = lead.vault.offboarding(bob.email).unwrap();
    let mut expected = truth.clone();
    expected.remove("Production/prod-api");
    assert_eq!(titles(&r), expected);
    for (g, item) in [
        ("Production", "prod-db"),
        ("Production", "prod-cache"),
        ("Staging", "stg-db"),
    ] {
        let mut d = login(item, "rotated after offboarding");
        d.rotation_days = (item == "prod-cache").then_some(30);
        lead.vault.group_update(g, item, &d).unwrap();
    }
    assert!(lead
        .vault
        .offboarding(bob.email)
        .unwrap()
        .secrets
        .is_empty());

    // Rotation: nothing is overdue today; prod-cache (30 days) will be in 31 days.
    assert!(lead
        .vault
        .rotation_report(tessera_core::vault::now())
        .unwrap()
        .is_empty());
    let due = lead
        .vault
        .rotation_report(tessera_core::vault::now() + 31 * 86_400)
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].title.as_str(), due[0].owner.as_str()),
        ("prod-cache", "Production")
    );

    // The audit log: Bob's actions, filtered; the chain verifies; a hand edit is named.
    let bobs = lead
        .vault
        .audit(&tessera_core::vault::AuditFilter {
            actor: Some(bob.email.into()),
            ..Default::default()
        })
        .unwrap();
    let actions: Vec<&str> = bobs.iter().map(AuditRow::action_name).collect();
    assert!(actions.contains(&"reveal"), "{actions:?}");
    assert!(bobs.iter().all(|r| r.actor == bob.email));
    let v = lead.vault.audit_verify().unwrap();
    assert_eq!(v.broken, None);
    assert!(v.entries > 20, "{}", v.entries);
    let off = match b.db {
        None => "DROP TRIGGER audit_no_update;",
        Some(_) => "ALTER TABLE audit_log DISABLE TRIGGER audit_append_only;",
    };
    b.sql(&format!(
        "{off} UPDATE audit_log SET detail = 'role=admin' WHERE seq = 10;"
    ));
    let v = lead.vault.audit_verify().unwrap();
    let broken = v.broken.unwrap();
    assert!(broken.contains("entry 10 was changed"), "{broken}");
}

#[test]
fn through_the_core_on_sqlite() {
    through_the_core(&Backend::sqlite());
}

#[test]
fn through_the_core_on_postgresql() {
    through_the_core(&Backend::postgres("offboard"));
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn through_the_cli(b: &Backend) {
    let url = b.url();
    let (lead, bob) = (Cli::new(), Cli::new());
    lead.start();
    bob.start();
    lead.create_team(url, "lead@example.com");
    bob.join_team_of(&lead, url, "bob@example.com");
    lead.json(&["team", "certify", "bob@example.com"]);
    lead.json(&["group", "create", "Production"]);
    lead.json(&[
        "group",
        "add",
        "Production",
        "bob@example.com",
        "--role",
        "viewer",
    ]);
    lead.json_in(
        &["add", "login", "prod-db", "--secret", "password"],
        "hunter2\n",
    );
    lead.json(&["share", "prod-db", "Production"]);

    // Bob lists and reveals it; the reveal is in the log.
    let items = bob.json(&["group", "items", "Production"]);
    assert_eq!(items[0]["title"], "prod-db");
    let hidden = bob.text(&["group", "show", "Production", "prod-db"]);
    assert!(!hidden.contains("hunter2"), "{hidden}");
    let shown = bob.text(&["group", "show", "Production", "prod-db", "--reveal"]);
    assert!(shown.contains("hunter2"), "{shown}");

    let review = lead.json(&["offboard", "bob@example.com"]);
    assert_eq!(review["secrets"][0]["title"], "prod-db");
    assert_eq!(review["secrets"][0]["revealed"], true);
    let csv = lead.text(&["offboard", "bob@example.com", "--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "group,item_id,title,type,secret_changed,revealed,copied"
    );
    assert!(
        lines[1].starts_with("Production,") && lines[1].contains(",prod-db,Login,"),
        "{csv}"
    );
    assert!(lines[1].ends_with(",true,false"), "{csv}");
    let text = lead.text(&["offboard", "bob@example.com"]);
    assert!(
        text.contains("[ ] prod-db") && text.contains("revealed"),
        "{text}"
    );

    let audit = lead.text(&["audit", "--actor", "bob@example.com"]);
    assert!(audit.contains("reveal"), "{audit}");
    assert!(lead.text(&["audit", "verify"]).contains("intact"));
    // Bob is not a team admin.
    let o = bob.run(&["audit"], "");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("team admin"));
    assert!(lead.text(&["rotation"]).contains("No item is overdue"));

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let done = lead.text(&["offboard", "bob@example.com", "--revoke"]);
    assert!(done.contains("can no longer sign in"), "{done}");
    assert!(
        done.contains("Production: removed, new key epoch"),
        "{done}"
    );
    let o = bob.run(&["group", "list"], "");
    assert!(!o.status.success(), "bob still reaches the server");

    // A hand edit of the log makes `audit verify` fail with exit code 6 (tampered) and name it.
    let off = match b.db {
        None => "DROP TRIGGER audit_no_delete;",
        Some(_) => "ALTER TABLE audit_log DISABLE TRIGGER audit_append_only;",
    };
    b.sql(&format!("{off} DELETE FROM audit_log WHERE seq = 4;"));
    let o = lead.run(&["audit", "verify"], "");
    assert_eq!(o.status.code(), Some(6));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("entry 4 is missing"), "{out}");
}

#[test]
fn through_the_cli_on_sqlite() {
    through_the_cli(&Backend::sqlite());
}

#[test]
fn through_the_cli_on_postgresql() {
    through_the_cli(&Backend::postgres("offboard_cli"));
}
