//! Just-in-time access over the HTTP API, on both backends: asking, listing, approving and
//! denying access requests, the expiry of the access granted, and who may call each endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::http::{
    b64, code, create_team, hex_id, invite_join, new_group, now, push_body, str_of, user, Api,
};
use support::Kind;
use tessera_protocol::{Blob, GroupRole, Id, SignedLogEntry};
use tessera_server::store::{Audit, LogAppend, NewAccessRequest, SetMember};

on_both_backends!(
    request_approve_expire_and_ask_again,
    an_expired_request_cannot_be_approved,
    authorization_matrix,
);

fn set_member(s: &Api, token: &str, g: &str, account: &str, role: &str, exp: Option<i64>) {
    let (status, v) = s.call(
        "PUT",
        &format!("/v1/groups/{g}/members/{account}"),
        Some(token),
        Some(json!({"role": role, "epoch": 1, "expires_at": exp, "key": b64(b"e1")})),
    );
    assert_eq!(status, 204, "{v}");
}

/// Ask for access; returns (status, answer).
fn ask(s: &Api, token: &str, g: &str, role: &str, reasons: &[(&str, &[u8])]) -> (u16, Value) {
    let reasons: Vec<Value> = reasons
        .iter()
        .map(|(a, r)| json!({"account_id": a, "reason": b64(r)}))
        .collect();
    s.call(
        "POST",
        &format!("/v1/groups/{g}/requests"),
        Some(token),
        Some(
            json!({"request_id": hex_id(), "role": role, "duration_secs": 3600,
                    "reasons": reasons}),
        ),
    )
}

fn approve_body(epoch: u64) -> Value {
    json!({"epoch": epoch, "key": b64(b"e1 sealed to the requester")})
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn request_approve_expire_and_ask_again(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, ada_id, ada_t) = create_team(&s, &user("ada@example.com"));
    let (bob_id, bob_t) = invite_join(&s, &team, &ada_t, &user("bob@example.com"));
    let (carol_id, carol_t) = invite_join(&s, &team, &ada_t, &user("carol@example.com"));
    let g = new_group(&s, &ada_t);

    // Any team member reads the group's admins, to seal a reason to them.
    let admins = s.ok("GET", &format!("/v1/groups/{g}/admins"), Some(&bob_t), None);
    assert_eq!(admins["admins"], json!([ada_id]));

    // A reason sealed to a non-admin, and the admin role, are refused; admins cannot ask.
    let (status, v) = ask(&s, &bob_t, &g, "viewer", &[(&carol_id, b"why")]);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("reasons[0].account_id")),
        "{v}"
    );
    let (status, v) = ask(&s, &bob_t, &g, "admin", &[]);
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("role")));
    assert_eq!(ask(&s, &ada_t, &g, "viewer", &[]).0, 409);

    let (status, r) = ask(
        &s,
        &bob_t,
        &g,
        "viewer",
        &[(&ada_id, b"sealed: incident 42")],
    );
    assert_eq!(status, 201, "{r}");
    assert_eq!(
        (r["status"].as_str(), r["role"].as_str()),
        (Some("pending"), Some("viewer"))
    );
    assert_eq!(r["requester_email"], "bob@example.com");
    assert!(
        r["reason"].is_null(),
        "the requester is not sent the admins' copies"
    );
    let rid = str_of(&r["request_id"]);
    // One pending request per requester and group.
    let (status, v) = ask(&s, &bob_t, &g, "editor", &[]);
    assert_eq!((status, code(&v)), (409, "conflict"), "{v}");

    // Ada sees it with her copy of the reason; bob sees his own, without it.
    let pending = s.ok(
        "GET",
        &format!("/v1/groups/{g}/requests"),
        Some(&ada_t),
        None,
    );
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["reason"], b64(b"sealed: incident 42"));
    let ada_list = s.ok("GET", "/v1/requests", Some(&ada_t), None);
    assert_eq!(ada_list[0]["request_id"], rid.as_str());
    let bob_list = s.ok("GET", "/v1/requests", Some(&bob_t), None);
    assert_eq!(
        (
            bob_list[0]["request_id"].as_str(),
            bob_list[0]["reason"].is_null()
        ),
        (Some(rid.as_str()), true)
    );
    assert_eq!(s.ok("GET", "/v1/requests", Some(&carol_t), None), json!([]));

    // A stale epoch changes nothing; approval grants the access for the duration asked.
    let approve = format!("/v1/requests/{rid}/approve");
    let (status, v) = s.call("POST", &approve, Some(&ada_t), Some(approve_body(2)));
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (409, Some("epoch")),
        "{v}"
    );
    let (status, v) = s.call("POST", &approve, Some(&ada_t), Some(json!({"epoch": 1})));
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("key")),
        "{v}"
    );
    assert_eq!(s.ok("GET", "/v1/groups", Some(&bob_t), None), json!([]));
    let t0 = now();
    let done = s.ok("POST", &approve, Some(&ada_t), Some(approve_body(1)));
    assert_eq!(done["status"], "approved");
    assert_eq!(done["decided_by"], ada_id.as_str());
    let until = done["granted_until"].as_i64().unwrap();
    assert!((t0 + 3600..=now() + 3600).contains(&until), "{done}");
    // Decided once.
    let (status, v) = s.call("POST", &approve, Some(&ada_t), Some(approve_body(1)));
    assert_eq!((status, code(&v)), (409, "conflict"), "{v}");
    let (status, _) = s.call(
        "POST",
        &format!("/v1/requests/{rid}/deny"),
        Some(&ada_t),
        None,
    );
    assert_eq!(status, 409);
    assert_eq!(
        s.ok(
            "GET",
            &format!("/v1/groups/{g}/requests"),
            Some(&ada_t),
            None
        ),
        json!([])
    );
    assert_eq!(
        s.ok("GET", "/v1/requests", Some(&bob_t), None)[0]["status"],
        "approved"
    );

    // Bob reads the group until the end, as a viewer; he cannot push.
    let bobs = s.ok("GET", "/v1/groups", Some(&bob_t), None);
    assert_eq!(
        (bobs[0]["role"].as_str(), bobs[0]["expires_at"].as_i64()),
        (Some("viewer"), Some(until))
    );
    let sync = format!("/v1/groups/{g}/sync");
    let item = hex_id();
    s.ok(
        "POST",
        &sync,
        Some(&ada_t),
        Some(push_body(&item, 0, b"v1")),
    );
    s.ok("GET", &format!("{sync}?since=0"), Some(&bob_t), None);
    assert_eq!(
        s.call(
            "POST",
            &sync,
            Some(&bob_t),
            Some(push_body(&item, 1, b"bob"))
        )
        .0,
        403
    );
    // Asking for the role he holds is refused; for another one it is allowed.
    assert_eq!(ask(&s, &bob_t, &g, "viewer", &[]).0, 409);

    // The access ends: move its end into the past (in the store, with an entry after the
    // log's last, as the server would append one).
    let (seq, prev) =
        s.h.rt
            .block_on(s.h.store.group_log_head(Id::parse(&g).unwrap()))
            .unwrap()
            .unwrap();
    let moved = SignedLogEntry {
        entry: Blob(b"the end moved into the past".to_vec()),
        signature: Blob(vec![0; 64]),
    };
    s.h.rt
        .block_on(s.h.store.set_member(
            SetMember {
                group: Id::parse(&g).unwrap(),
                account: Id::parse(&bob_id).unwrap(),
                role: GroupRole::Viewer,
                expires_at: Some(now() - 1),
                epoch: 1,
                key: None,
                by: Id::parse(&ada_id).unwrap(),
                now: now(),
                log: LogAppend {
                    seq: seq + 1,
                    prev,
                    entry: moved.entry.0.clone(),
                    signature: moved.signature.0.clone(),
                    hash: moved.hash().to_vec(),
                },
            },
            Audit::none(),
        ))
        .unwrap();
    let (status, v) = s.call("GET", &format!("{sync}?since=0"), Some(&bob_t), None);
    assert_eq!(status, 403, "{v}");
    let message = str_of(&v["error"]["message"]);
    assert!(
        message.contains("expired") && message.contains("tessera request-access"),
        "{message}"
    );
    assert_eq!(
        s.call(
            "POST",
            &sync,
            Some(&bob_t),
            Some(push_body(&item, 1, b"bob"))
        )
        .0,
        403
    );
    assert_eq!(s.ok("GET", "/v1/groups", Some(&bob_t), None), json!([]));
    // He may ask again.
    let (status, v) = ask(&s, &bob_t, &g, "viewer", &[]);
    assert_eq!(status, 201, "{v}");

    // Nobody decides their own request, even once they became an admin of the group.
    let (status, r) = ask(&s, &carol_t, &g, "editor", &[]);
    assert_eq!(status, 201, "{r}");
    set_member(&s, &ada_t, &g, &carol_id, "admin", None);
    let own = format!("/v1/requests/{}/approve", str_of(&r["request_id"]));
    let (status, v) = s.call("POST", &own, Some(&carol_t), Some(approve_body(1)));
    assert_eq!(status, 403, "{v}");
    // And an admin is not demoted by approving an old request of theirs.
    let (status, v) = s.call("POST", &own, Some(&ada_t), Some(approve_body(1)));
    assert_eq!((status, code(&v)), (409, "conflict"), "{v}");
    let members = s.ok(
        "GET",
        &format!("/v1/groups/{g}/members"),
        Some(&ada_t),
        None,
    );
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["email"] == "carol@example.com" && m["role"] == "admin"));

    // A denial grants nothing.
    let deny_path = format!("/v1/requests/{}/deny", str_of(&pending_id(&s, &bob_t)));
    let denied = s.ok("POST", &deny_path, Some(&ada_t), None);
    assert_eq!(
        (denied["status"].as_str(), denied["granted_until"].is_null()),
        (Some("denied"), true)
    );
    assert_eq!(s.ok("GET", "/v1/groups", Some(&bob_t), None), json!([]));
}

/// The id of the caller's pending request.
fn pending_id(s: &Api, token: &str) -> Value {
    let list = s.ok("GET", "/v1/requests", Some(token), None);
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "pending")
        .map(|r| r["request_id"].clone())
        .unwrap()
}

fn an_expired_request_cannot_be_approved(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, ada_id, ada_t) = create_team(&s, &user("ada@example.com"));
    let (bob_id, bob_t) = invite_join(&s, &team, &ada_t, &user("bob@example.com"));
    let g = new_group(&s, &ada_t);
    // A request made 8 days ago lapsed after 7.
    let rid = Id(rand::random());
    let t = now() - 8 * 86_400;
    s.h.rt
        .block_on(s.h.store.create_access_request(
            NewAccessRequest {
                id: rid,
                team_id: Id::parse(&team).unwrap(),
                group_id: Id::parse(&g).unwrap(),
                requester: Id::parse(&bob_id).unwrap(),
                role: GroupRole::Viewer,
                duration_secs: 3600,
                reasons: vec![],
                created_at: t,
                expires_at: t + 7 * 86_400,
            },
            Audit::none(),
        ))
        .unwrap();
    assert_eq!(
        s.ok(
            "GET",
            &format!("/v1/groups/{g}/requests"),
            Some(&ada_t),
            None
        ),
        json!([])
    );
    assert_eq!(
        s.ok("GET", "/v1/requests", Some(&bob_t), None)[0]["status"],
        "expired"
    );
    for action in ["approve", "deny"] {
        let (status, v) = s.call(
            "POST",
            &format!("/v1/requests/{rid}/{action}"),
            Some(&ada_t),
            Some(approve_body(1)),
        );
        assert_eq!((status, code(&v)), (409, "conflict"), "{action}: {v}");
        assert!(str_of(&v["error"]["message"]).contains("expired"));
    }
    assert_eq!(s.ok("GET", "/v1/groups", Some(&bob_t), None), json!([]));
    let members = s.ok(
        "GET",
        &format!("/v1/groups/{g}/members"),
        Some(&ada_t),
        None,
    );
    assert_eq!(members.as_array().unwrap().len(), 1);
    // Bob may ask again: the lapsed request is not pending.
    assert_eq!(ask(&s, &bob_t, &g, "viewer", &[(&ada_id, b"again")]).0, 201);
}

/// Every access request endpoint called by each kind of caller who may not call it: refused
/// with the right status, and nothing changed.
#[allow(clippy::too_many_lines)] // the matrix is one table
fn authorization_matrix(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, ada_id, ada_t) = create_team(&s, &user("ada@example.com"));
    let join = |email: &str| invite_join(&s, &team, &ada_t, &user(email));
    let (viewer_id, viewer_t) = join("viewer@example.com");
    let (editor_id, editor_t) = join("editor@example.com");
    let (expired_id, expired_t) = join("expired@example.com");
    let (removed_id, removed_t) = join("removed@example.com");
    let (_, requester_t) = join("requester@example.com");
    let (_, _, other_t) = create_team(&s, &user("mallory@other.example"));
    let g = new_group(&s, &ada_t);
    set_member(&s, &ada_t, &g, &viewer_id, "viewer", None);
    set_member(&s, &ada_t, &g, &editor_id, "editor", None);
    set_member(&s, &ada_t, &g, &expired_id, "admin", Some(now() + 1));
    set_member(&s, &ada_t, &g, &removed_id, "admin", None);
    let (status, r) = ask(&s, &requester_t, &g, "editor", &[(&ada_id, b"sealed")]);
    assert_eq!(status, 201, "{r}");
    let rid = str_of(&r["request_id"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (status, v) = s.call(
        "POST",
        &format!("/v1/groups/{g}/rotate"),
        Some(&ada_t),
        Some(
            json!({"remove": [removed_id], "epoch": 2, "name": b64(b"n2"), "prev": b64(b"p"),
            "keys": [{"account_id": ada_id, "key": b64(b"k")},
                     {"account_id": viewer_id, "key": b64(b"k")},
                     {"account_id": editor_id, "key": b64(b"k")}]}),
        ),
    );
    assert_eq!(status, 204, "{v}");

    let snapshot = || {
        (
            s.ok("GET", "/v1/requests", Some(&ada_t), None),
            s.ok("GET", "/v1/requests", Some(&requester_t), None),
            s.ok(
                "GET",
                &format!("/v1/groups/{g}/members"),
                Some(&ada_t),
                None,
            ),
            s.ok("GET", "/v1/groups", Some(&requester_t), None),
            s.ok("GET", "/v1/requests", Some(&other_t), None),
        )
    };
    let before = snapshot();

    let approve = json!({"epoch": 2, "key": b64(b"k"), "role": "editor"});
    // (method, path, body, who may call it: any "member" of the team, or a group "admin")
    let endpoints: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", format!("/v1/groups/{g}/admins"), None, "member"),
        ("GET", format!("/v1/groups/{g}/requests"), None, "admin"),
        ("GET", "/v1/requests".into(), None, "member"),
        (
            "POST",
            format!("/v1/requests/{rid}/approve"),
            Some(approve),
            "admin",
        ),
        ("POST", format!("/v1/requests/{rid}/deny"), None, "admin"),
        // Asking is open to team members (checked by the other cases); only the anonymous
        // and another team are refused here, so nothing is created.
        (
            "POST",
            format!("/v1/groups/{g}/requests"),
            Some(json!({"request_id": hex_id(), "role": "viewer", "duration_secs": 3600})),
            "member",
        ),
    ];
    let callers: [(&str, Option<&str>); 7] = [
        ("anonymous", None),
        ("other team", Some(&other_t)),
        ("viewer", Some(&viewer_t)),
        ("editor", Some(&editor_t)),
        ("expired", Some(&expired_t)),
        ("removed", Some(&removed_t)),
        ("requester", Some(&requester_t)),
    ];
    let mut checked = 0;
    for (method, path, body, needs) in &endpoints {
        for (who, token) in callers {
            let team_wide = path == "/v1/requests";
            let expected: Option<u16> = match (who, *needs) {
                ("anonymous", _) => Some(401),
                // Their own list is about their own team.
                ("other team", _) if team_wide => None,
                // Another team's groups and requests do not exist for them.
                ("other team", _) => Some(404),
                (_, "member") => None,
                _ => Some(403),
            };
            let Some(expected) = expected else { continue };
            let (status, v) = s.call(method, path, token, body.clone());
            assert_eq!(status, expected, "{who} {method} {path}: {v}");
            assert!(v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * 7 + 2 + 1 + 2, "refusals checked");
    assert_eq!(snapshot(), before, "a refused call changed something");
    // The requester's own list never carries the admins' copies of the reason.
    assert!(before.1[0]["reason"].is_null());
    assert_eq!(before.0[0]["reason"], b64(b"sealed"));
}
