//! Just-in-time access end to end, against the real `tessera-server` binary on SQLite and on
//! PostgreSQL: through `tessera-core` vaults and through the real `tessera` CLI.
//!
//! An engineer asks for an hour of viewer access to a group by its id, with a reason; the lead
//! sees the request with the reason decrypted, approves it, and the engineer reads the shared
//! item but cannot change it. When the access ends (moved into the past in the database) the
//! engineer is refused with a message saying so and how to ask again, and asks again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::team::{creds, login, Backend, Cli, Person};
use tessera_core::Error;
use tessera_protocol::{AccessRequestStatus, GroupRole};

const REASON: &str = "incident 4711: restart the replica";

fn now() -> i64 {
    tessera_core::vault::now()
}

/// Move the end of `account`'s membership of `group` (hex ids) into the past.
fn end_access(b: &Backend, group: &str, account: &str) {
    b.sql(&format!(
        "UPDATE group_members SET expires_at = {} WHERE group_id = {} AND account_id = {}",
        now() - 1,
        b.blob(group),
        b.blob(account)
    ));
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn through_the_core(b: &Backend) {
    let url = b.url();
    let mut lead = Person::new("lead@example.com");
    let mut eng = Person::new("engineer@example.com");
    let mut carol = Person::new("carol@example.com");
    lead.vault
        .create_team(url, &creds(lead.email, &lead.secret_key))
        .unwrap();
    for p in [&mut eng, &mut carol] {
        let inv = lead.vault.invite(p.email).unwrap();
        p.vault
            .join_team(
                url,
                &inv.invite_token,
                &inv.root_fingerprint,
                &creds(p.email, &p.secret_key),
            )
            .unwrap();
    }
    lead.vault.certify(eng.email).unwrap();
    let g = lead.vault.group_create("Production").unwrap();
    lead.vault.add(login("prod-db", "hunter2")).unwrap();
    lead.vault.share("prod-db", "Production").unwrap();

    // The engineer does not know the name; the group id is enough.
    assert!(matches!(
        eng.vault
            .request_access("Production", GroupRole::Viewer, 3600, None),
        Err(Error::NotFound(_))
    ));
    let asked = eng
        .vault
        .request_access(&g.id, GroupRole::Viewer, 3600, Some(REASON))
        .unwrap();
    assert_eq!(
        (asked.status, asked.group_name.as_deref(), asked.mine),
        (AccessRequestStatus::Pending, None, true)
    );
    let again = eng
        .vault
        .request_access(&g.id, GroupRole::Editor, 3600, None)
        .unwrap_err();
    assert!(
        matches!(again, Error::Remote { status: 409, .. }),
        "{again}"
    );
    assert!(matches!(
        eng.vault
            .request_access(&g.id, GroupRole::Admin, 3600, None),
        Err(Error::Invalid(_))
    ));

    // The lead sees who asks, for which group, and why.
    let seen = lead.vault.access_requests().unwrap();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(
        (
            r.requester.as_str(),
            r.group_name.as_deref(),
            r.role,
            r.duration_secs,
            r.reason.as_deref(),
            r.mine
        ),
        (
            "engineer@example.com",
            Some("Production"),
            GroupRole::Viewer,
            3600,
            Some(REASON),
            false
        )
    );
    // Carol (uncertified) asks too: the lead's client refuses to seal the key to her.
    let carols = carol
        .vault
        .request_access(&g.id, GroupRole::Editor, 600, None)
        .unwrap();
    let e = lead
        .vault
        .approve_access(&carols.id, None, None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Untrusted { who, .. } if who == carol.email),
        "{e}"
    );
    let denied = lead.vault.deny_access(&carols.id[..8]).unwrap();
    assert_eq!(denied.status, AccessRequestStatus::Denied);
    assert!(carol.vault.groups().unwrap().is_empty());

    let t0 = now();
    let ok = lead.vault.approve_access(&r.id[..8], None, None).unwrap();
    assert_eq!(ok.status, AccessRequestStatus::Approved);
    let until = ok.granted_until.unwrap();
    assert!((t0 + 3600..=now() + 3600).contains(&until));
    assert!(lead.vault.approve_access(&r.id, None, None).is_err());

    // The engineer reads the item for the hour, as a viewer.
    let mine = eng.vault.groups().unwrap();
    assert_eq!(
        (mine[0].name.as_str(), mine[0].role, mine[0].expires_at),
        ("Production", GroupRole::Viewer, Some(until))
    );
    let items = eng.vault.group_items(&g.id).unwrap();
    let pw = items[0].data.field("password").unwrap();
    assert_eq!(pw.value.expose_secret(), "hunter2");
    let e = eng
        .vault
        .group_update("Production", "prod-db", &login("prod-db", "mine now"))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(why) if why.contains("viewer")),
        "{e}"
    );
    let mine = eng.vault.access_requests().unwrap();
    assert_eq!(mine[0].status, AccessRequestStatus::Approved);
    assert_eq!(mine[0].group_name.as_deref(), Some("Production"));

    // The hour is over: nothing more is served, with a message that says why.
    end_access(b, &g.id, &asked.requester_id);
    assert!(eng.vault.groups().unwrap().is_empty());
    let e = eng.vault.group_items(&g.id).unwrap_err();
    match &e {
        Error::Remote {
            status: 403,
            message,
            ..
        } => assert!(
            message.contains("expired") && message.contains("tessera request-access"),
            "{message}"
        ),
        other => panic!("expected a refusal, got {other}"),
    }
    eng.vault
        .request_access(&g.id, GroupRole::Viewer, 1800, None)
        .unwrap();
}

#[test]
fn through_the_core_on_sqlite() {
    through_the_core(&Backend::sqlite());
}

#[test]
fn through_the_core_on_postgresql() {
    let b = Backend::postgres("core");
    through_the_core(&b);
    // The reason never reaches the server in clear.
    let (db, _) = b.db.as_ref().unwrap();
    let dump = Command::new("pg_dump")
        .args(["-h", "127.0.0.1", "-U", "postgres", db])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains("access_requests"),
        "pg_dump produced no requests"
    );
    assert!(
        !text.contains("incident 4711"),
        "the reason is stored in clear"
    );
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn through_the_cli(b: &Backend) {
    let url = b.url();
    let (lead, eng) = (Cli::new(), Cli::new());
    lead.start();
    eng.start();
    lead.create_team(url, "lead@example.com");
    eng.join_team_of(&lead, url, "engineer@example.com");
    lead.json(&["team", "certify", "engineer@example.com"]);
    let g = lead.json(&["group", "create", "Ops"]);
    let gid = g["id"].as_str().unwrap().to_owned();
    lead.json_in(
        &["add", "login", "deploy-db", "--secret", "password"],
        "pg-secret-1\n",
    );
    lead.json(&["share", "deploy-db", "Ops"]);

    // The engineer asks by group id; a bad duration is a usage error (exit 7).
    let o = eng.run(&["request-access", &gid, "--for", "soon"], "");
    assert_eq!(o.status.code(), Some(7));
    let o = eng.run(
        &["request-access", &gid, "--for", "1h", "--role", "admin"],
        "",
    );
    assert!(!o.status.success());
    let asked = eng.text(&["request-access", &gid, "--for", "1h", "--reason", REASON]);
    assert!(
        asked.contains("Asked for viewer access to group")
            && asked.contains(&gid)
            && asked.contains("for 1h")
            && asked.contains("sealed to the group's admins"),
        "{asked}"
    );
    let mine = eng.json(&["requests"]);
    let rid = mine[0]["id"].as_str().unwrap().to_owned();
    let eng_id = mine[0]["requester_id"].as_str().unwrap().to_owned();
    assert_eq!(mine[0]["status"], "pending");
    assert!(mine[0]["reason"].is_null());

    // The lead sees it: who, which group by name, role, duration and the reason.
    let pending = lead.text(&["requests"]);
    for needle in [
        &rid[..8],
        "engineer@example.com asks for viewer access to Ops for 1h",
        REASON,
    ] {
        assert!(
            pending.contains(needle),
            "{needle:?} missing from:\n{pending}"
        );
    }
    let approved = lead.text(&["approve", &rid[..8]]);
    assert!(
        approved.contains("Approved: engineer@example.com is viewer of Ops until"),
        "{approved}"
    );
    assert_eq!(lead.json(&["requests"]), serde_json::json!([]));
    let o = lead.run(&["deny", &rid[..8]], "");
    assert!(!o.status.success(), "a decided request cannot be denied");

    // The engineer reads the shared item through the group, as a viewer, until the end.
    let groups = eng.json(&["group", "list"]);
    assert_eq!(
        (groups[0]["name"].as_str(), groups[0]["role"].as_str()),
        (Some("Ops"), Some("viewer"))
    );
    assert!(groups[0]["expires_at"].as_i64().is_some());
    assert_eq!(eng.json(&["access", "deploy-db"])["group"]["name"], "Ops");
    let status = eng.text(&["requests"]);
    assert!(status.contains("approved: viewer until"), "{status}");

    // The access ends; the engineer is refused with a message that says why and what to do.
    end_access(b, &gid, &eng_id);
    assert_eq!(eng.json(&["group", "list"]), serde_json::json!([]));
    let o = eng.run(&["group", "members", &gid], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("expired") && err.contains("tessera request-access"),
        "{err}"
    );
    // Asking again works; the lead may deny it.
    let again = eng.json(&["request-access", &gid, "--for", "30m", "--role", "editor"]);
    assert_eq!(
        (again["role"].as_str(), again["duration_secs"].as_i64()),
        (Some("editor"), Some(1800))
    );
    let again_id = again["id"].as_str().unwrap();
    let denied = lead.text(&["deny", again_id]);
    assert!(
        denied.contains("Denied engineer@example.com's request for editor access to Ops"),
        "{denied}"
    );
    let mut statuses: Vec<String> = eng
        .json(&["requests"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["approved", "denied"]);
}

#[test]
fn through_the_cli_on_sqlite() {
    through_the_cli(&Backend::sqlite());
}

#[test]
fn through_the_cli_on_postgresql() {
    through_the_cli(&Backend::postgres("cli"));
}
