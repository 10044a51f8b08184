//! The audit chain and the offboarding review over the HTTP API, on both backends: what is
//! recorded, who may read it, tampering by hand in the database, and offboarding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest as _;
use support::http::{b64, code, create_team, hex_id, invite_join, login, now, str_of, user, Api};
use support::Kind;
use tessera_protocol::{verify_chain, AuditEntry, AuditPage, ChainBreak, Id};

on_both_backends!(
    actions_are_chained_and_filtered,
    hand_edits_in_the_database_are_named,
    client_events_are_checked,
    offboarding_review_and_revoke,
    authorization_matrix,
);

/// Every entry of the team's log, read by a team admin.
fn entries(s: &Api, token: &str) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let v = s.ok(
            "GET",
            &format!("/v1/audit?after={after}&limit=7"),
            Some(token),
            None,
        );
        let page: AuditPage = serde_json::from_value(v).unwrap();
        after = page.entries.last().map_or(after, |e| e.seq);
        out.extend(page.entries);
        if !page.more {
            return out;
        }
    }
}

fn actions(es: &[AuditEntry]) -> Vec<&'static str> {
    es.iter().map(|e| e.action.as_str()).collect()
}

/// A team: ada (admin) with a group holding one item, bob a viewer of it, carol a member
/// outside it.
struct Team {
    id: String,
    ada: (String, String),
    bob: (String, String),
    carol: (String, String),
    group: String,
    item: String,
    bob_user: support::http::User,
}

fn team(s: &Api) -> Team {
    let (team, ada_id, ada_t) = create_team(s, &user("ada@example.com"));
    let bob_user = user("bob@example.com");
    let bob = invite_join(s, &team, &ada_t, &bob_user);
    let carol = invite_join(s, &team, &ada_t, &user("carol@example.com"));
    let group = hex_id();
    let (status, v) = s.call(
        "POST",
        "/v1/groups",
        Some(&ada_t),
        Some(json!({"group_id": group, "name": b64(b"sealed"), "key": b64(b"e1 ada")})),
    );
    assert_eq!(status, 201, "{v}");
    s.ok(
        "PUT",
        &format!("/v1/groups/{group}/members/{}", bob.0),
        Some(&ada_t),
        Some(json!({"role": "viewer", "epoch": 1, "key": b64(b"e1 bob")})),
    );
    let item = hex_id();
    s.ok(
        "POST",
        &format!("/v1/groups/{group}/sync"),
        Some(&ada_t),
        Some(
            json!({"changes": [{"item_id": item, "base_version": 0, "version": 1,
                                 "blob": b64(&[7; 64])}]}),
        ),
    );
    Team {
        id: team,
        ada: (ada_id, ada_t),
        bob,
        carol,
        group,
        item,
        bob_user,
    }
}

fn reveal(s: &Api, token: &str, item: &str, group: Option<&str>, at: i64) -> (u16, Value) {
    s.call(
        "POST",
        "/v1/audit/events",
        Some(token),
        Some(
            json!({"events": [{"action": "reveal", "item_id": item, "group_id": group,
                                "field": "password", "at": at}]}),
        ),
    )
}

fn actions_are_chained_and_filtered(kind: Kind) {
    let s = support::http::Server::start(kind);
    let t = team(&s);
    let bob_user_fail = s.call(
        "POST",
        "/v1/login",
        None,
        Some(json!({"email": "bob@example.com", "auth_key": b64(&[9; 32]), "device_name": "x"})),
    );
    assert_eq!(bob_user_fail.0, 401);
    s.ok(
        "GET",
        &format!("/v1/groups/{}/sync?since=0", t.group),
        Some(&t.bob.1),
        None,
    );
    let (status, v) = reveal(&s, &t.bob.1, &t.item, Some(&t.group), now());
    assert_eq!(status, 204, "{v}");

    let es = entries(&s, &t.ada.1);
    let team_id = Id::parse(&t.id).unwrap();
    let (head, _) = verify_chain(&team_id, &es, None).unwrap();
    assert_eq!(head, es.len() as u64);
    assert_eq!(
        actions(&es),
        [
            "team_create",
            "invite",
            "join",
            "invite",
            "join",
            "group_create",
            "member_set",
            "share",
            "login_failed",
            "fetch",
            "reveal"
        ]
    );
    let bob = Id::parse(&t.bob.0).unwrap();
    assert_eq!(es[6].subject, Some(bob));
    assert_eq!(es[6].detail, "role=viewer");
    assert_eq!(es[7].item_id, Id::parse(&t.item));

    // Filters: by actor, by item, by time.
    let page: AuditPage = serde_json::from_value(s.ok(
        "GET",
        &format!("/v1/audit?actor={}", t.bob.0),
        Some(&t.ada.1),
        None,
    ))
    .unwrap();
    assert_eq!(
        actions(&page.entries),
        ["join", "login_failed", "fetch", "reveal"]
    );
    let page: AuditPage = serde_json::from_value(s.ok(
        "GET",
        &format!("/v1/audit?item={}", t.item),
        Some(&t.ada.1),
        None,
    ))
    .unwrap();
    assert_eq!(actions(&page.entries), ["share", "reveal"]);
    let page: AuditPage = serde_json::from_value(s.ok(
        "GET",
        &format!("/v1/audit?since={}", now() + 60),
        Some(&t.ada.1),
        None,
    ))
    .unwrap();
    assert!(page.entries.is_empty());

    // Who may read it: team admins of this team only.
    let (status, v) = s.call("GET", "/v1/audit", Some(&t.bob.1), None);
    assert_eq!((status, code(&v)), (403, "forbidden"), "{v}");
    let (status, _) = s.call("GET", "/v1/audit", None, None);
    assert_eq!(status, 401);
    let (_, _, other_admin) = create_team(&s, &user("eve@example.org"));
    let other: AuditPage =
        serde_json::from_value(s.ok("GET", "/v1/audit", Some(&other_admin), None)).unwrap();
    assert_eq!(actions(&other.entries), ["team_create"]);
    let (status, v) = s.call("GET", "/v1/audit?limit=5000", Some(&t.ada.1), None);
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("limit")));
    let (status, v) = s.call("GET", "/v1/audit?colour=red", Some(&t.ada.1), None);
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("query")));
}

fn hand_edits_in_the_database_are_named(kind: Kind) {
    let s = support::http::Server::start(kind);
    let t = team(&s);
    let team_id = Id::parse(&t.id).unwrap();
    let es = entries(&s, &t.ada.1);
    assert!(verify_chain(&team_id, &es, None).is_ok());

    // The database itself refuses changes to the log.
    let refused =
        s.h.raw_sql("UPDATE audit_log SET detail = 'role=admin' WHERE seq = 7")
            .unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    assert!(s.h.raw_sql("DELETE FROM audit_log WHERE seq = 3").is_err());
    assert_eq!(entries(&s, &t.ada.1), es);

    // Someone who switches the guard off and edits a row is caught, at that row.
    let off = match kind {
        Kind::Sqlite => "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;",
        Kind::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_append_only;",
    };
    s.h.raw_sql(off).unwrap();
    s.h.raw_sql("UPDATE audit_log SET detail = 'role=admin' WHERE seq = 7")
        .unwrap();
    let edited = entries(&s, &t.ada.1);
    assert_eq!(
        verify_chain(&team_id, &edited, None),
        Err(ChainBreak::Edited { seq: 7 })
    );
    s.h.raw_sql("UPDATE audit_log SET detail = 'role=viewer' WHERE seq = 7")
        .unwrap();
    assert!(verify_chain(&team_id, &entries(&s, &t.ada.1), None).is_ok());

    // A deleted row leaves a gap.
    s.h.raw_sql("DELETE FROM audit_log WHERE seq = 3").unwrap();
    let deleted = entries(&s, &t.ada.1);
    let broken = verify_chain(&team_id, &deleted, None).unwrap_err();
    assert_eq!(broken, ChainBreak::Missing { after: 2, next: 4 });
    assert!(broken.to_string().contains("entry 3 is missing"));
}

fn client_events_are_checked(kind: Kind) {
    let s = support::http::Server::start(kind);
    let t = team(&s);
    // Carol is not in the group: she cannot claim events about it.
    let (status, v) = reveal(&s, &t.carol.1, &t.item, Some(&t.group), now());
    assert_eq!(status, 403, "{v}");
    // A removed member neither.
    s.ok(
        "POST",
        &format!("/v1/groups/{}/rotate", t.group),
        Some(&t.ada.1),
        Some(
            json!({"remove": [t.bob.0], "epoch": 2, "name": b64(b"n2"), "prev": b64(b"p2"),
                    "keys": [{"account_id": t.ada.0, "key": b64(b"e2 ada")}]}),
        ),
    );
    let (status, v) = reveal(&s, &t.bob.1, &t.item, Some(&t.group), now());
    assert_eq!(status, 403, "{v}");
    // Only reveal and copy; times near the server's clock; anonymous refused.
    let (status, v) = s.call(
        "POST",
        "/v1/audit/events",
        Some(&t.ada.1),
        Some(json!({"events": [{"action": "login", "item_id": t.item, "at": now()}]})),
    );
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("events[0].action"))
    );
    let (status, v) = reveal(&s, &t.ada.1, &t.item, None, now() + 3600);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("events[0].at"))
    );
    let (status, _) = reveal(&s, "nonsense", &t.item, None, now());
    assert_eq!(status, 401);
    let before = entries(&s, &t.ada.1).len();
    let (status, v) = reveal(&s, &t.ada.1, &t.item, Some(&t.group), now());
    assert_eq!(status, 204, "{v}");
    assert_eq!(entries(&s, &t.ada.1).len(), before + 1);
}

fn offboarding_review_and_revoke(kind: Kind) {
    let s = support::http::Server::start(kind);
    let t = team(&s);
    let (status, _) = reveal(&s, &t.bob.1, &t.item, Some(&t.group), now());
    assert_eq!(status, 204);
    let review = |token: &str, who: &str| {
        s.call(
            "GET",
            &format!("/v1/teams/{}/accounts/{who}/offboarding", t.id),
            Some(token),
            None,
        )
    };
    let offboard = |token: Option<&str>, team: &str, who: &str| {
        s.call(
            "POST",
            &format!("/v1/teams/{team}/accounts/{who}/offboard"),
            token,
            Some(json!({})),
        )
    };

    // Who may ask: team admins of this team.
    assert_eq!(review(&t.carol.1, &t.bob.0).0, 403);
    assert_eq!(review("nonsense", &t.bob.0).0, 401);
    let (other_team, _, other_admin) = create_team(&s, &user("eve@example.org"));
    assert_eq!(review(&other_admin, &t.bob.0).0, 404);
    assert_eq!(offboard(Some(&t.carol.1), &t.id, &t.bob.0).0, 403);
    assert_eq!(offboard(None, &t.id, &t.bob.0).0, 401);
    assert_eq!(offboard(Some(&other_admin), &t.id, &t.bob.0).0, 404);
    assert_eq!(offboard(Some(&other_admin), &other_team, &t.bob.0).0, 404);
    let (status, v) = offboard(Some(&t.ada.1), &t.id, &t.ada.0);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("account_id"))
    );
    // Nothing changed by the refusals: bob still reads the group.
    s.ok(
        "GET",
        &format!("/v1/groups/{}/sync?since=0", t.group),
        Some(&t.bob.1),
        None,
    );

    let (status, v) = review(&t.ada.1, &t.bob.0);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["email"], "bob@example.com");
    assert_eq!(v["offboarded_at"], Value::Null);
    assert_eq!(v["live_sessions"], 1);
    assert_eq!(v["windows"].as_array().unwrap().len(), 1);
    assert_eq!(v["windows"][0]["group_id"], t.group.as_str());
    assert_eq!(v["windows"][0]["to"], Value::Null);
    assert_eq!(v["records"].as_array().unwrap().len(), 1);
    assert_eq!(v["records"][0]["record"]["item_id"], t.item.as_str());
    assert_eq!(v["events"][0]["action"], "reveal");

    // Times are in seconds and a version from the second access ended does not count as seen:
    // let the setup's second pass.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (status, v) = offboard(Some(&t.ada.1), &t.id, &t.bob.0);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["sessions_revoked"], 1);
    assert_eq!(v["groups"], json!([t.group]));
    // Bob is out everywhere, at once.
    let (status, _) = s.call("GET", "/v1/groups", Some(&t.bob.1), None);
    assert_eq!(status, 401);
    let (status, v) = login(&s, &t.bob_user, None);
    assert_eq!(status, 403, "{v}");
    assert!(str_of(&v["error"]["message"]).contains("offboarded"));
    // An item added after his access ended is not his to rotate.
    let later = hex_id();
    s.ok(
        "POST",
        &format!("/v1/groups/{}/sync", t.group),
        Some(&t.ada.1),
        Some(
            json!({"changes": [{"item_id": later, "base_version": 0, "version": 1,
                                 "blob": b64(&[8; 64])}]}),
        ),
    );
    let (_, v) = review(&t.ada.1, &t.bob.0);
    assert!(v["offboarded_at"].as_i64().is_some());
    assert_eq!(v["live_sessions"], 0);
    assert!(v["windows"][0]["to"].as_i64().is_some());
    let ids: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"]["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [t.item.as_str()]);
    let es = entries(&s, &t.ada.1);
    let last: Vec<_> = actions(&es).into_iter().rev().take(3).collect();
    assert_eq!(last, ["share", "offboard", "member_remove"]);
}

/// Every audit and offboarding endpoint, called by everyone who must be refused: the status,
/// and nothing changed.
#[allow(clippy::too_many_lines)] // one table of callers and endpoints
fn authorization_matrix(kind: Kind) {
    let s = support::http::Server::start(kind);
    let t = team(&s);
    let mut accounts = Vec::new();
    for who in ["editor", "expired", "removed"] {
        accounts.push(invite_join(
            &s,
            &t.id,
            &t.ada.1,
            &user(&format!("{who}@example.com")),
        ));
    }
    let [(editor_id, editor_t), (expired_id, expired_t), (removed_id, removed_t)] =
        <[(String, String); 3]>::try_from(accounts).unwrap();
    // Far enough ahead that a slow machine still sets it before it passes.
    let ends = now() + 3;
    for (id, role, expires) in [
        (&editor_id, "editor", None),
        (&expired_id, "admin", Some(ends)),
        (&removed_id, "admin", None),
    ] {
        s.ok(
            "PUT",
            &format!("/v1/groups/{}/members/{id}", t.group),
            Some(&t.ada.1),
            Some(json!({"role": role, "epoch": 1, "expires_at": expires, "key": b64(b"k")})),
        );
    }
    // A machine token of the group, then revoked.
    let token_id = hex_id();
    let bearer: [u8; 32] = rand::random();
    s.ok(
        "POST",
        &format!("/v1/groups/{}/tokens", t.group),
        Some(&t.ada.1),
        Some(
            json!({"token_id": token_id, "name": b64(b"sealed"), "exchange_public": b64(&[5; 32]),
                    "bearer_hash": b64(&sha2::Sha256::digest(bearer)), "expires_at": now() + 3600,
                    "epoch": 1, "key": b64(b"k"), "signature": b64(&[6; 64])}),
        ),
    );
    s.ok(
        "DELETE",
        &format!("/v1/groups/{}/tokens/{token_id}", t.group),
        Some(&t.ada.1),
        None,
    );
    let revoked = format!(
        "Token {token_id}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bearer)
    );
    while now() <= ends {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    s.ok(
        "POST",
        &format!("/v1/groups/{}/rotate", t.group),
        Some(&t.ada.1),
        Some(json!({"remove": [removed_id], "epoch": 2, "name": b64(b"n"), "prev": b64(b"p"),
            "keys": [{"account_id": t.ada.0, "key": b64(b"k")}, {"account_id": t.bob.0, "key": b64(b"k")},
                     {"account_id": editor_id, "key": b64(b"k")}]})),
    );
    let (_, _, other_t) = create_team(&s, &user("mallory@other.example"));
    let before = entries(&s, &t.ada.1);

    let team_id = &t.id;
    let bob = &t.bob.0;
    let event = json!({"events": [{"action": "copy", "item_id": t.item, "group_id": t.group,
                                   "field": "password", "at": now()}]});
    let endpoints: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/v1/audit".into(), None),
        (
            "GET",
            format!("/v1/teams/{team_id}/accounts/{bob}/offboarding"),
            None,
        ),
        (
            "POST",
            format!("/v1/teams/{team_id}/accounts/{bob}/offboard"),
            Some(json!({})),
        ),
    ];
    // (caller, session, status on the admin endpoints, status when reporting a group event)
    let callers: [(&str, Option<&str>, u16, u16); 6] = [
        ("anonymous", None, 401, 401),
        ("viewer", Some(&t.bob.1), 403, 204),
        ("editor", Some(&editor_t), 403, 204),
        ("expired member", Some(&expired_t), 403, 403),
        ("removed member", Some(&removed_t), 403, 403),
        ("another team's admin", Some(&other_t), 0, 404),
    ];
    let mut refused = 0;
    for (who, session, admin_status, event_status) in callers {
        for (method, path, body) in &endpoints {
            let (status, v) = s.call(method, path, session, body.clone());
            if who == "another team's admin" {
                if path == "/v1/audit" {
                    // Their own team's log: nothing of ours.
                    let page: AuditPage = serde_json::from_value(v).unwrap();
                    let ours = Id::parse(&t.item);
                    assert!(page.entries.iter().all(|e| e.item_id != ours));
                    continue;
                }
                assert_eq!(status, 404, "{who} {method} {path}: {v}");
            } else {
                assert_eq!(status, admin_status, "{who} {method} {path}: {v}");
            }
            assert!(!str_of(&v["error"]["message"]).is_empty());
            refused += 1;
        }
        let (status, v) = s.call("POST", "/v1/audit/events", session, Some(event.clone()));
        assert_eq!(status, event_status, "{who} reports an event: {v}");
        if event_status != 204 {
            refused += 1;
        }
    }
    // A machine token, revoked or not, is no session.
    for (method, path, _) in &endpoints {
        let (status, _) = s.raw(
            method,
            path,
            &[("tessera-api", "1"), ("authorization", &revoked)],
            Vec::new(),
        );
        assert_eq!(status, 401, "revoked token {method} {path}");
        refused += 1;
    }
    assert_eq!(refused, 24);
    // Nothing changed: bob still signed in and a member; the log only grew by the two events
    // the live members were allowed to report.
    s.ok("GET", "/v1/groups", Some(&t.bob.1), None);
    let after = entries(&s, &t.ada.1);
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(actions(&after[before.len()..]), ["copy", "copy"]);
}
