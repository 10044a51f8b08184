//! A populated team, built through the HTTP API: what the backup tests back up and compare.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine as _;
use serde_json::{json, Value as Json};
use sha2::Digest as _;
use tessera_protocol::{AuditEntry, AuditPage};

use super::http::{
    b64, create_team, hex_id, invite_join, login, new_group, now, push_body, user, Api, User,
};

/// A machine token as a job holds it.
pub struct Tok {
    pub id: String,
    pub bearer: [u8; 32],
}

impl Tok {
    pub fn header(&self) -> String {
        format!(
            "Token {}.{}",
            self.id,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.bearer)
        )
    }
}

/// What `populate` made.
pub struct Team {
    pub ada: User,
    pub ada_t: String,
    pub bob_t: String,
    pub carol_t: String,
    pub eve: User,
    pub group: String,
    pub personal: String,
    pub shared: String,
    pub token: Tok,
}

/// A team with everything the store keeps: accounts, sessions, an open invitation, a failed
/// login, personal items with several versions (one deleted), a group with members (one
/// expiring), shared items with a share end, a machine token, an access request, an offboarded
/// account and the audit entries all of that wrote.
#[allow(clippy::too_many_lines)] // one team, built in order
pub fn populate(s: &Api) -> Team {
    let ada = user("ada@example.com");
    let (team, ada_id, ada_t) = create_team(s, &ada);
    let (bob_id, bob_t) = invite_join(s, &team, &ada_t, &user("bob@example.com"));
    let (carol_id, carol_t) = invite_join(s, &team, &ada_t, &user("carol@example.com"));
    let eve = user("eve@example.com");
    let (eve_id, _) = invite_join(s, &team, &ada_t, &eve);
    s.ok(
        "POST",
        &format!("/v1/teams/{team}/invites"),
        Some(&ada_t),
        Some(json!({"email": "dave@example.com"})),
    );
    let mut wrong = user("bob@example.com");
    wrong.auth_key = b64(&[9; 32]);
    assert_eq!(login(s, &wrong, None).0, 401);

    let personal = hex_id();
    for v in 0..3 {
        s.ok(
            "POST",
            "/v1/sync",
            Some(&ada_t),
            Some(push_body(
                &personal,
                v,
                format!("ada v{}", v + 1).as_bytes(),
            )),
        );
    }
    let gone = hex_id();
    s.ok(
        "POST",
        "/v1/sync",
        Some(&ada_t),
        Some(push_body(&gone, 0, b"x")),
    );
    s.ok(
        "POST",
        "/v1/sync",
        Some(&ada_t),
        Some(
            json!({"changes": [{"item_id": gone, "base_version": 1, "version": 2,
                                 "deleted": true, "blob": ""}]}),
        ),
    );
    s.ok(
        "POST",
        "/v1/sync",
        Some(&bob_t),
        Some(push_body(&hex_id(), 0, b"bob v1")),
    );

    let group = new_group(s, &ada_t);
    for (id, role, exp) in [
        (&bob_id, "viewer", None),
        (&carol_id, "editor", Some(now() + 3600)),
        (&eve_id, "viewer", None),
    ] {
        let (status, v) = s.call(
            "PUT",
            &format!("/v1/groups/{group}/members/{id}"),
            Some(&ada_t),
            Some(json!({"role": role, "epoch": 1, "expires_at": exp,
                        "key": b64(format!("e1 for {id}").as_bytes())})),
        );
        assert_eq!(status, 204, "{v}");
    }
    let shared = hex_id();
    for v in 0..2 {
        s.ok(
            "POST",
            &format!("/v1/groups/{group}/sync"),
            Some(&carol_t),
            Some(push_body(
                &shared,
                v,
                format!("shared v{}", v + 1).as_bytes(),
            )),
        );
    }
    let (status, v) = s.call(
        "PUT",
        &format!("/v1/groups/{group}/items/{shared}/share"),
        Some(&ada_t),
        Some(json!({"expires_at": now() + 7200})),
    );
    assert_eq!(status, 204, "{v}");

    let token = Tok {
        id: hex_id(),
        bearer: rand::random(),
    };
    let (status, v) = s.call(
        "POST",
        &format!("/v1/groups/{group}/tokens"),
        Some(&ada_t),
        Some(json!({
            "token_id": token.id, "name": b64(b"sealed token name"),
            "exchange_public": b64(&[5; 32]),
            "bearer_hash": b64(&sha2::Sha256::digest(token.bearer)),
            "expires_at": now() + 86_400, "epoch": 1,
            "key": b64(b"e1 for the token"), "signature": b64(&[6; 64]),
        })),
    );
    assert_eq!(status, 201, "{v}");

    let other = new_group(s, &ada_t);
    let (status, v) = s.call(
        "POST",
        &format!("/v1/groups/{other}/requests"),
        Some(&bob_t),
        Some(
            json!({"request_id": hex_id(), "role": "viewer", "duration_secs": 3600,
                    "reasons": [{"account_id": ada_id, "reason": b64(b"incident 42")}]}),
        ),
    );
    assert_eq!(status, 201, "{v}");

    s.ok(
        "POST",
        &format!("/v1/teams/{team}/accounts/{eve_id}/offboard"),
        Some(&ada_t),
        Some(json!({})),
    );
    Team {
        ada,
        ada_t,
        bob_t,
        carol_t,
        eve,
        group,
        personal,
        shared,
        token,
    }
}

/// What the API shows of the team (reads that change nothing it shows).
pub fn observe(s: &Api, t: &Team) -> Json {
    let get = |path: &str, token: &str| s.ok("GET", path, Some(token), None);
    let (status, token_view) = s.raw(
        "GET",
        "/v1/token/group",
        &[("tessera-api", "1"), ("authorization", &t.token.header())],
        Vec::new(),
    );
    assert_eq!(status, 200, "{token_view}");
    // The token read above marks the token used: leave out when, which each look changes.
    let mut access = get(&format!("/v1/items/{}/access", t.shared), &t.bob_t);
    for token in access["tokens"].as_array_mut().into_iter().flatten() {
        token["last_used_at"] = Json::Null;
    }
    json!({
        "ada": get("/v1/sync?since=0", &t.ada_t),
        "bob": get("/v1/sync?since=0", &t.bob_t),
        "group": get(&format!("/v1/groups/{}/sync?since=0", t.group), &t.ada_t),
        "members": get(&format!("/v1/groups/{}/members", t.group), &t.ada_t),
        "bob_groups": get("/v1/groups", &t.bob_t),
        "access": access,
        "requests": get("/v1/requests", &t.ada_t),
        "token": token_view,
    })
}

/// Every audit entry of the caller's team.
pub fn audit(s: &Api, token: &str) -> Vec<AuditEntry> {
    let mut out: Vec<AuditEntry> = Vec::new();
    loop {
        let after = out.last().map_or(0, |e| e.seq);
        let v = s.ok(
            "GET",
            &format!("/v1/audit?after={after}"),
            Some(token),
            None,
        );
        let page: AuditPage = serde_json::from_value(v).unwrap();
        out.extend(page.entries);
        if !page.more {
            return out;
        }
    }
}
