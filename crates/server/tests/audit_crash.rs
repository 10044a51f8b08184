//! The real `tessera-server` binary aborted between an action and its audit entry, on SQLite and
//! PostgreSQL: after a restart the change and its entry are both there or neither (neither: they
//! are one transaction, which never committed), the chain still verifies, and the action then
//! succeeds with its entry right after the last one.
//!
//! The server aborts at its fault point `abort-before-audit-commit:<action>` (see
//! `src/fault.rs`): after the action's statements and its audit entries, before the commit.
//! Fault points exist only in debug builds, so in a release build these tests are ignored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;

use serde_json::{json, Value};
use support::http::{b64, create_team, invite_join, push_body, str_of, user, Api, User};
use support::process::{free_port, Proc};
use support::team::audit;
use support::PgDatabase;
use tessera_protocol::{verify_chain, AuditEntry, Id};

/// The signal `std::process::abort` ends a process with (SIGABRT on Linux).
const SIGABRT: i32 = 6;

/// The team the cases act on: ada (admin) with a group carol is a member of; bob holds an
/// invitation he has not used.
struct Team {
    api: Api,
    id: String,
    ada_t: String,
    bob: User,
    invite: String,
    carol_id: String,
    group: String,
    item: String,
}

impl Team {
    fn bob_id(&self) -> String {
        str_of(&self.bob.body["account_id"])
    }

    fn get(&self, path: &str) -> Value {
        self.api.ok("GET", path, Some(&self.ada_t), None)
    }

    /// Every entry of the team's chain, checked to verify.
    fn chain(&self) -> Vec<AuditEntry> {
        let entries = audit(&self.api, &self.ada_t);
        verify_chain(&Id::parse(&self.id).unwrap(), &entries, None)
            .unwrap_or_else(|e| panic!("the audit chain does not verify: {e}"));
        entries
    }
}

/// An audited action: the request (the status and answer, `None` when the server did not
/// answer), the status it succeeds with, and whether its change is in the database.
struct Case {
    action: &'static str,
    status: u16,
    request: fn(&Team) -> Option<(u16, Value)>,
    done: fn(&Team) -> bool,
}

/// The cases, in an order where each finds what it needs: a join (its team comes from the
/// invitation), a personal push (its entry depends on what applied), a membership change (with
/// the group's own log), an offboarding (several entries, one per group left).
const CASES: [Case; 4] = [
    Case {
        action: "join",
        status: 201,
        request: |t| {
            t.api.try_call(
                "POST",
                "/v1/join",
                None,
                Some(json!({"invite_token": t.invite, "account": t.bob.body})),
            )
        },
        done: |t| {
            t.get(&format!("/v1/teams/{}/directory", t.id))
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["email"] == t.bob.email.as_str())
        },
    },
    Case {
        action: "change",
        status: 200,
        request: |t| {
            t.api.try_call(
                "POST",
                "/v1/sync",
                Some(&t.ada_t),
                Some(push_body(&t.item, 0, b"sealed")),
            )
        },
        done: |t| {
            t.get("/v1/sync?since=0")["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["item_id"] == t.item.as_str())
        },
    },
    Case {
        action: "member_set",
        status: 204,
        request: |t| {
            t.api.try_call(
                "PUT",
                &format!("/v1/groups/{}/members/{}", t.group, t.bob_id()),
                Some(&t.ada_t),
                Some(json!({"role": "viewer", "epoch": 1, "key": b64(b"e1 for bob")})),
            )
        },
        done: |t| {
            t.get(&format!("/v1/groups/{}/members", t.group))
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["account_id"] == t.bob_id().as_str())
        },
    },
    Case {
        action: "offboard",
        status: 200,
        request: |t| {
            t.api.try_call(
                "POST",
                &format!("/v1/teams/{}/accounts/{}/offboard", t.id, t.carol_id),
                Some(&t.ada_t),
                Some(json!({})),
            )
        },
        done: |t| {
            !t.get(&format!(
                "/v1/teams/{}/accounts/{}/offboarding",
                t.id, t.carol_id
            ))["offboarded_at"]
                .is_null()
        },
    },
];

/// Run the binary once (backup, restore --check): (success, stderr).
fn run(args: &[&str], db: &[String]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(args)
        .args(db)
        .env_remove("TESSERA_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn aborted_between_action_and_entry(db: &[String], dir: &Path) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut args = db.to_vec();
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    let log = dir.join("server.log");

    let server = Proc::start(&args, &log, &base);
    let api = Api::new(base.clone());
    let (id, _, ada_t) = create_team(&api, &user("ada@example.com"));
    let (carol_id, _) = invite_join(&api, &id, &ada_t, &user("carol@example.com"));
    let group = support::http::new_group(&api, &ada_t);
    api.ok(
        "PUT",
        &format!("/v1/groups/{group}/members/{carol_id}"),
        Some(&ada_t),
        Some(json!({"role": "editor", "epoch": 1, "key": b64(b"e1 for carol")})),
    );
    let bob = user("bob@example.com");
    let invite = str_of(
        &api.ok(
            "POST",
            &format!("/v1/teams/{id}/invites"),
            Some(&ada_t),
            Some(json!({"email": bob.email})),
        )["invite_token"],
    );
    server.kill();
    let t = Team {
        api,
        id,
        ada_t,
        bob,
        invite,
        carol_id,
        group,
        item: support::http::hex_id(),
    };

    for case in &CASES {
        let action = case.action;
        let server = Proc::start(&args, &log, &base);
        let before = t.chain();
        assert!(!(case.done)(&t), "{action}: done before the case");
        server.kill();

        let fault = format!("abort-before-audit-commit:{action}");
        let server = Proc::start_with_env(&args, &[("TESSERA_FAULT", &fault)], &log, &base);
        let answer = (case.request)(&t);
        assert!(
            answer.is_none(),
            "{action}: answered {answer:?} instead of aborting"
        );
        let status = server.exited();
        assert_eq!(status.signal(), Some(SIGABRT), "{action}: {status}");

        let server = Proc::start(&args, &log, &base);
        let after = t.chain();
        let (done, recorded) = ((case.done)(&t), after.len() > before.len());
        assert_eq!(
            done,
            recorded,
            "{action}: after the crash the change is {} and its audit entry {}",
            if done { "there" } else { "missing" },
            if recorded { "there" } else { "missing" },
        );
        assert!(!done, "{action}: the aborted transaction committed");
        assert_eq!(after, before, "{action}: the chain changed");

        // Now without the fault: both commit, the entries right after the last one.
        let (status, v) = (case.request)(&t).expect("the restarted server answers");
        assert_eq!(status, case.status, "{action}: {v}");
        assert!((case.done)(&t), "{action}: not done after it succeeded");
        let again = t.chain();
        assert_eq!(again[..before.len()], before[..], "{action}");
        let added: Vec<&str> = again[before.len()..]
            .iter()
            .map(|e| e.action.as_str())
            .collect();
        assert!(added.contains(&action), "{action}: recorded {added:?}");
        server.kill();
    }

    // The database's chains verify as a backup checks them too.
    let file = dir.join("after.backup").display().to_string();
    let (ok, err) = run(&["backup", "--out", &file], db);
    assert!(ok, "{err}");
    let (ok, err) = run(&["restore", "--from", &file, "--check"], &[]);
    assert!(ok && err.contains("every audit chain verifies"), "{err}");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "fault points exist only in debug builds"
)]
fn sqlite_aborted_between_action_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    aborted_between_action_and_entry(&["--data-dir".into(), data], dir.path());
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "fault points exist only in debug builds"
)]
fn postgres_aborted_between_action_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, url) = PgDatabase::create();
    aborted_between_action_and_entry(&["--database-url".into(), url], dir.path());
}
