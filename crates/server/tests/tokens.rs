//! Machine tokens over the HTTP API, on both backends: creation, the token's read-only view of
//! its group, rotation carrying a key for every live token, revocation, and who may call what.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest as _;
use support::http::{
    b64, code, create_team, hex_id, invite_join, new_group, now, push_body, str_of, user, Api,
};
use support::Kind;

on_both_backends!(
    token_lifecycle,
    token_authorization_matrix,
    bad_token_requests_name_the_field,
);

/// A token as a job holds it: its id and bearer (what goes into `Authorization: Token`).
struct Tok {
    id: String,
    bearer: [u8; 32],
}

impl Tok {
    fn new() -> Self {
        Self {
            id: hex_id(),
            bearer: rand::random(),
        }
    }

    fn header(&self) -> String {
        format!(
            "Token {}.{}",
            self.id,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.bearer)
        )
    }

    fn body(&self, epoch: u64, expires_at: i64) -> Value {
        json!({
            "token_id": self.id,
            "name": b64(b"sealed token name"),
            "exchange_public": b64(&[5; 32]),
            "bearer_hash": b64(&sha2::Sha256::digest(self.bearer)),
            "expires_at": expires_at,
            "epoch": epoch,
            "key": b64(format!("e{epoch} for token {}", self.id).as_bytes()),
            "signature": b64(&[6; 64]),
        })
    }
}

/// A request with a raw `Authorization` header (or none).
fn with_auth(s: &Api, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
    let mut headers = vec![("tessera-api", "1"), ("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    s.raw(method, path, &headers, Vec::new())
}

fn create(s: &Api, session: &str, g: &str, t: &Tok, epoch: u64, expires_at: i64) -> (u16, Value) {
    s.call(
        "POST",
        &format!("/v1/groups/{g}/tokens"),
        Some(session),
        Some(t.body(epoch, expires_at)),
    )
}

fn rotate(
    s: &Api,
    session: &str,
    g: &str,
    epoch: u64,
    members: &[&str],
    tokens: &[&str],
) -> (u16, Value) {
    let keys: Vec<Value> = members
        .iter()
        .map(|a| json!({"account_id": a, "key": b64(b"k")}))
        .collect();
    let token_keys: Vec<Value> = tokens
        .iter()
        .map(|t| json!({"token_id": t, "key": b64(format!("e{epoch} for token {t}").as_bytes())}))
        .collect();
    s.call(
        "POST",
        &format!("/v1/groups/{g}/rotate"),
        Some(session),
        Some(
            json!({"epoch": epoch, "name": b64(b"name"), "prev": b64(b"prev"),
                    "keys": keys, "token_keys": token_keys}),
        ),
    )
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn token_lifecycle(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, ada_id, ada_t) = create_team(&s, &user("ada@example.com"));
    let g = new_group(&s, &ada_t);
    let item = hex_id();
    s.ok(
        "POST",
        &format!("/v1/groups/{g}/sync"),
        Some(&ada_t),
        Some(push_body(&item, 0, b"sealed v1")),
    );
    let t = Tok::new();
    let (status, v) = create(&s, &ada_t, &g, &t, 1, now() + 3600);
    assert_eq!(status, 201, "{v}");

    // The admin lists it; the server stores the hash, never the bearer.
    let list = s.ok("GET", &format!("/v1/groups/{g}/tokens"), Some(&ada_t), None);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["token_id"], t.id.as_str());
    assert_eq!(list[0]["created_by"], ada_id.as_str());
    assert_eq!(list[0]["name_epoch"], 1);
    assert_eq!(list[0]["signature"], b64(&[6; 64]));
    assert!(list[0]["revoked_at"].is_null() && list[0]["last_used_at"].is_null());
    assert!(!list.to_string().contains(&b64(&t.bearer)));

    // The token reads its group's keys and items.
    let auth = t.header();
    let (status, info) = with_auth(&s, "GET", "/v1/token/group", Some(&auth));
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        (
            info["team_id"].as_str(),
            info["group_id"].as_str(),
            info["epoch"].as_u64()
        ),
        (Some(team.as_str()), Some(g.as_str()), Some(1))
    );
    assert_eq!(info["token_id"], t.id.as_str());
    assert_eq!(info["name"], b64(b"sealed name"));
    assert_eq!(
        info["keys"][0]["wrapped"],
        b64(format!("e1 for token {}", t.id).as_bytes())
    );
    let (status, p) = with_auth(&s, "GET", "/v1/token/sync?since=0", Some(&auth));
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["changes"][0]["blob"], b64(b"sealed v1"));
    let (status, p) = with_auth(&s, "GET", "/v1/token/sync?since=-1", Some(&auth));
    assert_eq!((status, p["error"]["field"].as_str()), (400, Some("since")));
    let list = s.ok("GET", &format!("/v1/groups/{g}/tokens"), Some(&ada_t), None);
    assert!(list[0]["last_used_at"].as_i64().is_some(), "{list}");

    // A rotation must seal the new key to the token too.
    let (status, v) = rotate(&s, &ada_t, &g, 2, &[&ada_id], &[]);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("token_keys")),
        "{v}"
    );
    let stranger = hex_id();
    let (status, v) = rotate(&s, &ada_t, &g, 2, &[&ada_id], &[&stranger]);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("token_keys[0].token_id")),
        "{v}"
    );
    let (status, v) = rotate(&s, &ada_t, &g, 2, &[&ada_id], &[&t.id, &t.id]);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("token_keys[1].token_id")),
        "{v}"
    );
    let (status, v) = rotate(&s, &ada_t, &g, 2, &[&ada_id], &[&t.id]);
    assert_eq!(status, 204, "{v}");
    let (_, info) = with_auth(&s, "GET", "/v1/token/group", Some(&auth));
    assert_eq!(info["epoch"], 2);
    assert_eq!(info["keys"][1]["prev"], b64(b"prev"));
    assert_eq!(
        info["keys"][1]["wrapped"],
        b64(format!("e2 for token {}", t.id).as_bytes())
    );
    // A token created at a stale epoch is refused.
    let (status, v) = create(&s, &ada_t, &g, &Tok::new(), 1, now() + 3600);
    assert_eq!((status, code(&v)), (409, "conflict"), "{v}");

    // Revocation takes effect on the next request.
    let (status, _) = s.call(
        "DELETE",
        &format!("/v1/groups/{g}/tokens/{}", t.id),
        Some(&ada_t),
        None,
    );
    assert_eq!(status, 204);
    for path in ["/v1/token/group", "/v1/token/sync?since=0"] {
        let (status, v) = with_auth(&s, "GET", path, Some(&auth));
        assert_eq!(status, 401, "{v}");
        assert!(str_of(&v["error"]["message"]).contains("revoked"), "{v}");
    }
    let (status, _) = s.call(
        "DELETE",
        &format!("/v1/groups/{g}/tokens/{}", t.id),
        Some(&ada_t),
        None,
    );
    assert_eq!(status, 404);
    let list = s.ok("GET", &format!("/v1/groups/{g}/tokens"), Some(&ada_t), None);
    assert!(list[0]["revoked_at"].as_i64().is_some());
    // A revoked token needs no key at the next rotation.
    let (status, v) = rotate(&s, &ada_t, &g, 3, &[&ada_id], &[]);
    assert_eq!(status, 204, "{v}");
}

/// Every token endpoint called by each kind of caller who may not call it: refused with the
/// right status, and nothing changed.
#[allow(clippy::too_many_lines)] // the matrix is one table
fn token_authorization_matrix(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, ada_id, ada_t) = create_team(&s, &user("ada@example.com"));
    let mut accounts = Vec::new();
    for who in ["viewer", "editor", "expired", "removed"] {
        accounts.push(invite_join(
            &s,
            &team,
            &ada_t,
            &user(&format!("{who}@example.com")),
        ));
    }
    let [(viewer_id, viewer_t), (editor_id, editor_t), (expired_id, expired_t), (removed_id, removed_t)] =
        <[(String, String); 4]>::try_from(accounts).unwrap();
    let (_, _, other_t) = create_team(&s, &user("mallory@other.example"));
    let other_g = new_group(&s, &other_t);
    let g = new_group(&s, &ada_t);
    for (id, role, expires) in [
        (&viewer_id, "viewer", None),
        (&editor_id, "editor", None),
        (&expired_id, "admin", Some(now() + 1)),
        (&removed_id, "admin", None),
    ] {
        s.ok(
            "PUT",
            &format!("/v1/groups/{g}/members/{id}"),
            Some(&ada_t),
            Some(json!({"role": role, "epoch": 1, "expires_at": expires, "key": b64(b"k")})),
        );
    }
    s.ok(
        "POST",
        &format!("/v1/groups/{g}/sync"),
        Some(&ada_t),
        Some(push_body(&hex_id(), 0, b"v1")),
    );
    let live = Tok::new();
    assert_eq!(create(&s, &ada_t, &g, &live, 1, now() + 3600).0, 201);
    let expired_tok = Tok::new();
    assert_eq!(create(&s, &ada_t, &g, &expired_tok, 1, now() + 2).0, 201);
    let revoked = Tok::new();
    assert_eq!(create(&s, &ada_t, &g, &revoked, 1, now() + 3600).0, 201);
    let other_tok = Tok::new();
    assert_eq!(
        create(&s, &other_t, &other_g, &other_tok, 1, now() + 3600).0,
        201
    );
    s.ok(
        "DELETE",
        &format!("/v1/groups/{g}/tokens/{}", revoked.id),
        Some(&ada_t),
        None,
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (status, v) = s.call(
        "POST",
        &format!("/v1/groups/{g}/rotate"),
        Some(&ada_t),
        Some(json!({"remove": [removed_id], "epoch": 2, "name": b64(b"n"), "prev": b64(b"p"),
            "keys": [{"account_id": ada_id, "key": b64(b"k")}, {"account_id": viewer_id, "key": b64(b"k")},
                     {"account_id": editor_id, "key": b64(b"k")}],
            "token_keys": [{"token_id": live.id, "key": b64(b"e2")}]})),
    );
    assert_eq!(status, 204, "{v}");

    let live_auth = live.header();
    // What a refused call could change (last use aside, which the snapshot itself updates).
    let tokens_of = |g: &str, session: &str| {
        let mut v = s.ok(
            "GET",
            &format!("/v1/groups/{g}/tokens"),
            Some(session),
            None,
        );
        for t in v.as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("last_used_at");
        }
        v
    };
    let snapshot = || {
        (
            tokens_of(&g, &ada_t),
            with_auth(&s, "GET", "/v1/token/group", Some(&live_auth)).1,
            s.ok(
                "GET",
                &format!("/v1/groups/{g}/sync?since=0"),
                Some(&ada_t),
                None,
            ),
            tokens_of(&other_g, &other_t),
        )
    };
    let before = snapshot();

    // Admin endpoints, called by session holders who are not live admins of the group.
    let admin_endpoints: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            format!("/v1/groups/{g}/tokens"),
            Some(Tok::new().body(2, now() + 3600)),
        ),
        ("GET", format!("/v1/groups/{g}/tokens"), None),
        ("DELETE", format!("/v1/groups/{g}/tokens/{}", live.id), None),
    ];
    let sessions: [(&str, Option<&str>, u16); 6] = [
        ("anonymous", None, 401),
        ("other team", Some(&other_t), 404),
        ("viewer", Some(&viewer_t), 403),
        ("editor", Some(&editor_t), 403),
        ("expired", Some(&expired_t), 403),
        ("removed", Some(&removed_t), 403),
    ];
    let mut checked = 0;
    for (method, path, body) in &admin_endpoints {
        for (who, token, expected) in sessions {
            let (status, v) = s.call(method, path, token, body.clone());
            assert_eq!(status, expected, "{who} {method} {path}: {v}");
            assert!(!str_of(&v["error"]["message"]).is_empty());
            checked += 1;
        }
        // A machine token is no session: refused on the admin endpoints.
        let (status, v) = with_auth(&s, method, path, Some(&live_auth));
        assert_eq!(status, 401, "machine token {method} {path}: {v}");
        let as_bearer = format!("Bearer {}", &live_auth["Token ".len()..]);
        let (status, _) = with_auth(&s, method, path, Some(&as_bearer));
        assert_eq!(status, 401, "machine token as Bearer {method} {path}");
        checked += 2;
    }

    // Token endpoints, called with anything but a live token of the group.
    let mut wrong_id = Tok::new();
    wrong_id.bearer = live.bearer;
    let bad: Vec<(&str, Option<String>)> = vec![
        ("anonymous", None),
        ("a session as Bearer", Some(format!("Bearer {ada_t}"))),
        ("a session as Token", Some(format!("Token {ada_t}"))),
        (
            "a session in the token's format",
            Some(format!("Token {}.{ada_t}", live.id)),
        ),
        ("a revoked token", Some(revoked.header())),
        ("an expired token", Some(expired_tok.header())),
        ("an unknown token", Some(Tok::new().header())),
        ("the right bearer under another id", Some(wrong_id.header())),
        ("a malformed header", Some("Token nonsense".into())),
    ];
    for path in ["/v1/token/group", "/v1/token/sync?since=0"] {
        for (who, auth) in &bad {
            let (status, v) = with_auth(&s, "GET", path, auth.as_deref());
            assert_eq!(status, 401, "{who} GET {path}: {v}");
            assert!(!str_of(&v["error"]["message"]).is_empty());
            checked += 1;
        }
    }
    let (_, v) = with_auth(&s, "GET", "/v1/token/group", Some(&expired_tok.header()));
    assert!(str_of(&v["error"]["message"]).contains("expired"), "{v}");
    let (_, v) = with_auth(&s, "GET", "/v1/token/group", Some(&revoked.header()));
    assert!(str_of(&v["error"]["message"]).contains("revoked"), "{v}");

    // A token never pushes, lists groups or uses a session endpoint, and sees only its group.
    for (method, path) in [
        ("POST", format!("/v1/groups/{g}/sync")),
        ("GET", format!("/v1/groups/{g}/sync?since=0")),
        ("GET", "/v1/groups".to_owned()),
        ("GET", format!("/v1/groups/{g}/members")),
        ("POST", format!("/v1/groups/{g}/rotate")),
        ("GET", "/v1/sessions".to_owned()),
        ("GET", "/v1/sync?since=0".to_owned()),
        ("GET", format!("/v1/teams/{team}/directory")),
        ("POST", "/v1/logout".to_owned()),
    ] {
        let (status, v) = with_auth(&s, method, &path, Some(&live_auth));
        assert_eq!(status, 401, "machine token {method} {path}: {v}");
        checked += 1;
    }
    let (status, _) = with_auth(&s, "POST", "/v1/token/sync", Some(&live_auth));
    assert_eq!(status, 405, "the token endpoints are read-only");
    let (_, mine) = with_auth(&s, "GET", "/v1/token/group", Some(&other_tok.header()));
    assert_eq!(
        mine["group_id"],
        other_g.as_str(),
        "each token sees its own group"
    );
    assert_eq!(checked, 3 * 8 + 2 * 9 + 9, "refusals checked");
    assert_eq!(snapshot().0, before.0, "a refused call changed the tokens");
    assert_eq!(snapshot().1["keys"], before.1["keys"]);
    assert_eq!(snapshot().2, before.2);
    assert_eq!(snapshot().3, before.3);
}

fn bad_token_requests_name_the_field(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (_, _, t) = create_team(&s, &user("ada@example.com"));
    let g = new_group(&s, &t);
    let tok = Tok::new();
    let path = format!("/v1/groups/{g}/tokens");
    let mut cases: Vec<(Value, &str)> = Vec::new();
    cases.push((tok.body(1, now() - 10), "expires_at"));
    cases.push((tok.body(1, now() + 400 * 86_400), "expires_at"));
    let mut missing = tok.body(1, now() + 60);
    missing.as_object_mut().unwrap().remove("expires_at");
    cases.push((missing, "expires_at"));
    let mut short_key = tok.body(1, now() + 60);
    short_key["exchange_public"] = json!(b64(&[1; 16]));
    cases.push((short_key, "exchange_public"));
    let mut extra = tok.body(1, now() + 60);
    extra["scope"] = json!("write");
    cases.push((extra, "scope"));
    let mut bad_id = tok.body(1, now() + 60);
    bad_id["token_id"] = json!("xyz");
    cases.push((bad_id, "token_id"));
    for (body, field) in cases {
        let (status, v) = s.call("POST", &path, Some(&t), Some(body));
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["field"].as_str(), Some(field), "{v}");
    }
    assert_eq!(create(&s, &t, &g, &tok, 1, now() + 60).0, 201);
    let (status, v) = create(&s, &t, &g, &tok, 1, now() + 60);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("token_id"))
    );
    let (status, v) = s.call("DELETE", &format!("{path}/nope"), Some(&t), None);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("token_id"))
    );
    let (status, v) = s.call("DELETE", &format!("{path}/{}", hex_id()), Some(&t), None);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (404, Some("token_id"))
    );
}
