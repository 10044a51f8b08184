//! The HTTP API over real sockets on 127.0.0.1:0, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use support::http::{
    code, create_team, hex_id, invite_join, login, push_body, str_of, user, Server, User, B64,
};
use support::Kind;
use tessera_protocol::Id;

on_both_backends!(
    team_invite_join_login_and_sync,
    authorization_matrix,
    malformed_requests_name_the_field,
    login_flood_is_throttled_and_admins_lift_it,
    totp_enrol_login_replay_and_recovery,
);

#[allow(clippy::too_many_lines)] // one story, told in order
fn team_invite_join_login_and_sync(kind: Kind) {
    let s = Server::start(kind);
    let (status, v) = s.raw("GET", "/healthz", &[], vec![]);
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")));
    let ada = user("Ada@Example.com");
    let (team, _, ada_token) = create_team(&s, &ada);
    let bob = user("bob@example.com");
    let (_, bob1) = invite_join(&s, &team, &ada_token, &bob);
    // Prelogin: the real parameters for bob, stable fake ones for strangers.
    let pre = s.ok(
        "POST",
        "/v1/prelogin",
        None,
        Some(json!({"email": "BOB@example.com"})),
    );
    assert_eq!(pre["kdf"], bob.body["kdf"]);
    let f1 = s.ok(
        "POST",
        "/v1/prelogin",
        None,
        Some(json!({"email": "nobody@example.com"})),
    );
    let f2 = s.ok(
        "POST",
        "/v1/prelogin",
        None,
        Some(json!({"email": "nobody@example.com"})),
    );
    let f3 = s.ok(
        "POST",
        "/v1/prelogin",
        None,
        Some(json!({"email": "other@example.com"})),
    );
    assert_eq!(f1, f2);
    assert_ne!(f1["kdf"]["salt"], f3["kdf"]["salt"]);
    let (status, v) = login(&s, &bob, None);
    assert_eq!(status, 200, "{v}");
    let bob2 = str_of(&v["session"]["token"]);
    assert_eq!(v["keys"], bob.body["keys"]);

    // Two devices of one account.
    let item = hex_id();
    let r = s.ok(
        "POST",
        "/v1/sync",
        Some(&bob1),
        Some(push_body(&item, 0, b"v1")),
    );
    assert_eq!(r["results"][0]["result"], "applied");
    let p = s.ok("GET", "/v1/sync?since=0", Some(&bob2), None);
    assert_eq!(p["changes"][0]["blob"], B64.encode(b"v1"));
    let cursor = p["cursor"].as_u64().unwrap();
    let r = s.ok(
        "POST",
        "/v1/sync",
        Some(&bob2),
        Some(push_body(&item, 1, b"v2")),
    );
    let seq = r["results"][0]["seq"].as_u64().unwrap();
    let p = s.ok(
        "GET",
        &format!("/v1/sync?since={cursor}"),
        Some(&bob1),
        None,
    );
    assert_eq!(
        (p["changes"][0]["version"].as_u64(), p["more"].as_bool()),
        (Some(2), Some(false))
    );
    let cursor = p["cursor"].as_u64().unwrap();
    // Device 1 edits the old version: conflict, with the current record.
    let r = s.ok(
        "POST",
        "/v1/sync",
        Some(&bob1),
        Some(push_body(&item, 1, b"mine")),
    );
    assert_eq!(r["results"][0]["result"], "conflict");
    assert_eq!(r["results"][0]["current"]["blob"], B64.encode(b"v2"));
    assert_eq!(r["results"][0]["current"]["version"], 2);
    // A resend of v2 is applied once: same seq, nothing new to pull.
    let r = s.ok(
        "POST",
        "/v1/sync",
        Some(&bob2),
        Some(push_body(&item, 1, b"v2")),
    );
    assert_eq!(
        (
            r["results"][0]["result"].as_str(),
            r["results"][0]["seq"].as_u64()
        ),
        (Some("applied"), Some(seq))
    );
    let p = s.ok(
        "GET",
        &format!("/v1/sync?since={cursor}"),
        Some(&bob1),
        None,
    );
    assert_eq!(p["changes"].as_array().unwrap().len(), 0);
    // The admin does not see bob's items.
    let p = s.ok("GET", "/v1/sync", Some(&ada_token), None);
    assert_eq!(p["changes"].as_array().unwrap().len(), 0);

    // Sessions: both listed, the current one marked; revoking one ends it.
    let list = s.ok("GET", "/v1/sessions", Some(&bob2), None);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let other = list.iter().find(|d| d["current"] == false).unwrap();
    let (status, _) = s.call(
        "DELETE",
        &format!("/v1/sessions/{}", str_of(&other["session_id"])),
        Some(&bob2),
        None,
    );
    assert_eq!(status, 204);
    let (status, v) = s.call("GET", "/v1/sync", Some(&bob1), None);
    assert_eq!((status, code(&v)), (401, "unauthorized"));
    let (_, metrics) = s.raw("GET", "/metrics", &[], vec![]);
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains("tessera_logins_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("route=\"/v1/sync\",method=\"POST\",status=\"200\""),
        "{metrics}"
    );
}

#[allow(clippy::too_many_lines)] // one table of callers and endpoints
fn authorization_matrix(kind: Kind) {
    let s = Server::start(kind);
    let ada = user("ada@example.com");
    let (team_a, ada_id, ada_token) = create_team(&s, &ada);
    let bob = user("bob@example.com");
    let (_, bob_token) = invite_join(&s, &team_a, &ada_token, &bob);
    let carol = user("carol@example.com");
    let (team_b, _, carol_token) = create_team(&s, &carol);
    let item = hex_id();
    s.ok(
        "POST",
        "/v1/sync",
        Some(&ada_token),
        Some(push_body(&item, 0, b"secret")),
    );
    let ada_session = s.ok("GET", "/v1/sessions", Some(&ada_token), None)[0]["session_id"].clone();

    let endpoints = |team: &str| -> Vec<(&'static str, String, Option<Value>)> {
        vec![
            ("POST", "/v1/logout".into(), None),
            ("GET", "/v1/sessions".into(), None),
            (
                "DELETE",
                format!("/v1/sessions/{}", str_of(&ada_session)),
                None,
            ),
            (
                "POST",
                format!("/v1/teams/{team}/invites"),
                Some(json!({"email": "x@example.com"})),
            ),
            (
                "PUT",
                format!("/v1/teams/{team}/settings"),
                Some(json!({"require_mfa": true})),
            ),
            (
                "POST",
                format!("/v1/teams/{team}/accounts/{ada_id}/unlock"),
                None,
            ),
            ("POST", "/v1/mfa/enrol".into(), None),
            (
                "POST",
                "/v1/mfa/confirm".into(),
                Some(json!({"code": "123456"})),
            ),
            (
                "POST",
                "/v1/mfa/disable".into(),
                Some(json!({"code": "123456"})),
            ),
            ("GET", "/v1/sync?since=0".into(), None),
            (
                "POST",
                "/v1/sync".into(),
                Some(push_body(&item, 1, b"overwrite")),
            ),
            (
                "PUT",
                "/v1/sync/manifest".into(),
                Some(json!({"body": B64.encode([0; 28]), "auth": B64.encode([0; 32])})),
            ),
            (
                "PUT",
                "/v1/account/root-pin".into(),
                Some(json!({"root_public": B64.encode([0; 32]), "signature": B64.encode([0; 64])})),
            ),
        ]
    };
    // Anonymous, a garbage token, an expired session, a revoked session: 401.
    let (_, v) = login(&s, &ada, None);
    let expired = str_of(&v["session"]["token"]);
    let expired_id = Id::parse(v["session"]["session_id"].as_str().unwrap()).unwrap();
    s.h.rt
        .block_on(s.h.store.set_session_expiry(expired_id, 1))
        .unwrap();
    let (_, v) = login(&s, &ada, None);
    let revoked = str_of(&v["session"]["token"]);
    assert_eq!(s.call("POST", "/v1/logout", Some(&revoked), None).0, 204);
    for token in [
        None,
        Some("garbage"),
        Some(expired.as_str()),
        Some(revoked.as_str()),
    ] {
        for (method, path, body) in endpoints(&team_a) {
            let (status, v) = s.call(method, &path, token, body);
            assert_eq!(
                (status, code(&v)),
                (401, "unauthorized"),
                "{method} {path} as {token:?}"
            );
        }
    }
    // A member of another team: team A's admin endpoints are not found.
    for (method, path, body) in endpoints(&team_a).into_iter().skip(3).take(3) {
        let (status, v) = s.call(method, &path, Some(&carol_token), body);
        assert_eq!((status, code(&v)), (404, "not_found"), "{method} {path}");
    }
    // ...nor is ada's session, and a pull never shows team A's items.
    let (status, _) = s.call(
        "DELETE",
        &format!("/v1/sessions/{}", str_of(&ada_session)),
        Some(&carol_token),
        None,
    );
    assert_eq!(status, 404);
    let p = s.ok("GET", "/v1/sync", Some(&carol_token), None);
    assert_eq!(p["changes"].as_array().unwrap().len(), 0);
    // Carol pushing the same item id makes her own item; ada's is untouched.
    let r = s.ok(
        "POST",
        "/v1/sync",
        Some(&carol_token),
        Some(push_body(&item, 0, b"carol")),
    );
    assert_eq!(r["results"][0]["result"], "applied");
    // A non-admin: admin endpoints are forbidden.
    for (method, path, body) in endpoints(&team_a).into_iter().skip(3).take(3) {
        let (status, v) = s.call(method, &path, Some(&bob_token), body);
        assert_eq!((status, code(&v)), (403, "forbidden"), "{method} {path}");
    }
    // Carol as admin of team B is fine there, but cannot unlock ada through it.
    let (status, _) = s.call(
        "POST",
        &format!("/v1/teams/{team_b}/accounts/{ada_id}/unlock"),
        Some(&carol_token),
        None,
    );
    assert_eq!(status, 404);
    // Nothing changed.
    let team =
        s.h.rt
            .block_on(s.h.store.team(Id::parse(&team_a).unwrap()))
            .unwrap()
            .unwrap();
    assert!(!team.require_mfa);
    let p = s.ok("GET", "/v1/sync", Some(&ada_token), None);
    assert_eq!(p["changes"].as_array().unwrap().len(), 1);
    assert_eq!(p["changes"][0]["blob"], B64.encode(b"secret"));
    assert_eq!(
        s.ok("GET", "/v1/sessions", Some(&ada_token), None)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A root pin names the caller's own team root: Carol cannot pin team A's for herself; Ada's
    // pin comes back with her next login.
    let (_, a) = login(&s, &ada, None);
    let pin = json!({"root_public": a["root_public"], "signature": B64.encode([3; 64])});
    let (status, v) = s.call(
        "PUT",
        "/v1/account/root-pin",
        Some(&carol_token),
        Some(pin.clone()),
    );
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("root_public")),
        "{v}"
    );
    assert_eq!(a["root_pin"], Value::Null);
    assert_eq!(
        s.call(
            "PUT",
            "/v1/account/root-pin",
            Some(&ada_token),
            Some(pin.clone())
        )
        .0,
        204
    );
    assert_eq!(login(&s, &ada, None).1["root_pin"], pin);
}

fn malformed_requests_name_the_field(kind: Kind) {
    let s = Server::start(kind);
    let ada = user("ada@example.com");
    let (team, _, token) = create_team(&s, &ada);
    let bearer = format!("Bearer {token}");
    let h = [("tessera-api", "1"), ("authorization", bearer.as_str())];
    // No version header; another version.
    let (status, v) = s.raw(
        "GET",
        "/v1/sessions",
        &[("authorization", bearer.as_str())],
        vec![],
    );
    assert_eq!((status, code(&v)), (400, "unsupported_version"));
    assert_eq!(v["error"]["field"], "tessera-api");
    let (status, _) = s.raw(
        "GET",
        "/v1/sessions",
        &[("tessera-api", "2"), ("authorization", bearer.as_str())],
        vec![],
    );
    assert_eq!(status, 400);
    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        ("POST", "/v1/sync".into(), b"{\"changes\": [".to_vec(), "body"),
        ("POST", "/v1/sync".into(), br#"{"changes": [], "extra": 1}"#.to_vec(), "extra"),
        ("POST", "/v1/sync".into(),
         br#"{"changes": [{"item_id": "xyz", "base_version": 0, "version": 1, "blob": "AA=="}]}"#.to_vec(),
         "changes[0].item_id"),
        ("POST", "/v1/sync".into(),
         format!(r#"{{"changes": [{{"item_id": "{}", "base_version": 0, "version": 5, "blob": "AA=="}}]}}"#, hex_id()).into_bytes(),
         "changes[0].version"),
        ("POST", "/v1/sync".into(), b"{}".to_vec(), "changes"),
        ("GET", "/v1/sync?since=abc".into(), vec![], "since"),
        ("DELETE", "/v1/sessions/not-an-id".into(), vec![], "id"),
        ("POST", "/v1/teams/zz/invites".into(), br#"{"email": "x@example.com"}"#.to_vec(), "team_id"),
        ("POST", format!("/v1/teams/{team}/invites"), br#"{"email": "not an address"}"#.to_vec(), "email"),
        ("POST", "/v1/prelogin".into(), br#"{"email": "a@b.c"} trailing"#.to_vec(), "body"),
    ];
    for (method, path, body, field) in cases {
        let (status, v) = s.raw(method, &path, &h, body);
        assert_eq!(
            (status, code(&v)),
            (400, "bad_request"),
            "{method} {path}: {v}"
        );
        assert_eq!(v["error"]["field"], field, "{method} {path}: {v}");
    }
    let big = vec![b' '; tessera_protocol::limits::BODY + 1];
    let (status, v) = s.raw("POST", "/v1/sync", &h, big);
    assert_eq!((status, code(&v)), (413, "payload_too_large"));
    let (status, v) = s.call("GET", "/v1/nothing", Some(&token), None);
    assert_eq!((status, code(&v)), (404, "not_found"));
    // A validated login body with a bad key length.
    let (status, v) = s.call(
        "POST",
        "/v1/login",
        None,
        Some(json!({"email": ada.email, "auth_key": "AAAA", "device_name": "x"})),
    );
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("auth_key"))
    );
}

fn login_flood_is_throttled_and_admins_lift_it(kind: Kind) {
    let s = Server::start(kind);
    let ada = user("ada@example.com");
    let (team, _, ada_token) = create_team(&s, &ada);
    let bob = user("bob@example.com");
    let (bob_id, _) = invite_join(&s, &team, &ada_token, &bob);
    let wrong = User {
        auth_key: B64.encode([0u8; 32]),
        ..user("bob@example.com")
    };
    for _ in 0..5 {
        let (status, v) = login(&s, &wrong, None);
        assert_eq!((status, code(&v)), (401, "unauthorized"));
    }
    // Locked: even the right key is refused.
    let (status, v) = login(&s, &bob, None);
    assert_eq!((status, code(&v)), (429, "too_many_requests"));
    let (status, _) = s.call(
        "POST",
        &format!("/v1/teams/{team}/accounts/{bob_id}/unlock"),
        Some(&ada_token),
        None,
    );
    assert_eq!(status, 204);
    let (status, v) = login(&s, &bob, None);
    assert_eq!(status, 200, "{v}");
    // Unknown accounts count against the address: 20 failures a minute.
    for i in 0..15 {
        let (status, _) = login(&s, &user(&format!("nobody{i}@example.com")), None);
        assert_eq!(status, 401);
    }
    let (status, v) = login(&s, &bob, None);
    assert_eq!((status, code(&v)), (429, "too_many_requests"));
    let (_, metrics) = s.raw("GET", "/metrics", &[], vec![]);
    assert!(metrics
        .as_str()
        .unwrap()
        .contains("tessera_logins_total{result=\"failed\"}"));
}

fn totp_now(secret_b32: &str, offset: i64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .unwrap();
    let t = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.generate((now as i64 + offset) as u64)
}

fn totp_enrol_login_replay_and_recovery(kind: Kind) {
    let s = Server::start(kind);
    let ada = user("ada@example.com");
    let (team, _, ada_token) = create_team(&s, &ada);
    let bob = user("bob@example.com");
    let (_, bob_token) = invite_join(&s, &team, &ada_token, &bob);
    // The team requires a second factor: bob, without one, may only enrol.
    s.ok(
        "PUT",
        &format!("/v1/teams/{team}/settings"),
        Some(&ada_token),
        Some(json!({"require_mfa": true})),
    );
    let (status, v) = s.call("GET", "/v1/sync", Some(&bob_token), None);
    assert_eq!((status, code(&v)), (403, "forbidden"));
    assert!(v["error"]["message"].as_str().unwrap().contains("enrol"));
    s.ok("GET", "/v1/sessions", Some(&bob_token), None);
    let enrol = s.ok("POST", "/v1/mfa/enrol", Some(&bob_token), None);
    let secret = str_of(&enrol["secret"]);
    assert!(str_of(&enrol["otpauth_uri"]).starts_with("otpauth://totp/"));
    let (status, _) = s.call(
        "POST",
        "/v1/mfa/confirm",
        Some(&bob_token),
        Some(json!({"code": "000000"})),
    );
    assert_eq!(status, 401);
    // Confirm with the previous step's code, so the current one is still usable for login.
    let confirm = s.ok(
        "POST",
        "/v1/mfa/confirm",
        Some(&bob_token),
        Some(json!({"code": totp_now(&secret, -30)})),
    );
    let recovery: Vec<String> = serde_json::from_value(confirm["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 8);
    s.ok("GET", "/v1/sync", Some(&bob_token), None);
    // Login needs the code.
    let (status, v) = login(&s, &bob, None);
    assert_eq!((status, code(&v)), (401, "mfa_required"));
    let current = totp_now(&secret, 0);
    let (status, v) = login(&s, &bob, Some(&current));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["mfa_enabled"], true);
    // The same code again: refused.
    let (status, v) = login(&s, &bob, Some(&current));
    assert_eq!((status, code(&v)), (401, "mfa_required"));
    // A recovery code works once.
    let (status, _) = login(&s, &bob, Some(&recovery[0]));
    assert_eq!(status, 200);
    let (status, v) = login(&s, &bob, Some(&recovery[0]));
    assert_eq!((status, code(&v)), (401, "mfa_required"));
    // Disabling needs a valid code.
    let (status, _) = s.call(
        "POST",
        "/v1/mfa/disable",
        Some(&bob_token),
        Some(json!({"code": "999999"})),
    );
    assert_eq!(status, 401);
    let (status, _) = s.call(
        "POST",
        "/v1/mfa/disable",
        Some(&bob_token),
        Some(json!({"code": recovery[1]})),
    );
    assert_eq!(status, 204);
    let (status, _) = s.call("GET", "/v1/sync", Some(&bob_token), None);
    assert_eq!(status, 403);
}
