//! Groups and sharing over the HTTP API, on both backends: memberships, roles, expiry, key
//! epochs, group items, effective access, and who may call each endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::http::{
    b64, code, create_team, hex_id, invite_join, new_group, now, push_body, str_of, user, Api,
};
use support::Kind;

on_both_backends!(
    a_share_can_end,
    groups_roles_epochs_and_items,
    expired_members_are_served_nothing,
    authorization_matrix,
    bad_group_requests_name_the_field,
);

fn set_member(
    s: &Api,
    token: &str,
    g: &str,
    account: &str,
    role: &str,
    epoch: u64,
    expires_at: Option<i64>,
) -> (u16, Value) {
    s.call(
        "PUT",
        &format!("/v1/groups/{g}/members/{account}"),
        Some(token),
        Some(
            json!({"role": role, "epoch": epoch, "expires_at": expires_at,
                    "key": b64(format!("e{epoch} for {account}").as_bytes())}),
        ),
    )
}

fn rotate(
    s: &Api,
    token: &str,
    g: &str,
    epoch: u64,
    remove: &[&str],
    keep: &[&str],
) -> (u16, Value) {
    let keys: Vec<Value> = keep
        .iter()
        .map(|a| json!({"account_id": a, "key": b64(format!("e{epoch} for {a}").as_bytes())}))
        .collect();
    s.call(
        "POST",
        &format!("/v1/groups/{g}/rotate"),
        Some(token),
        Some(
            json!({"remove": remove, "epoch": epoch, "name": b64(b"name e2"),
                    "prev": b64(b"e1 under e2"), "keys": keys}),
        ),
    )
}

fn emails(members: &Value) -> Vec<(String, String)> {
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (str_of(&m["email"]), str_of(&m["role"])))
        .collect()
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn groups_roles_epochs_and_items(kind: Kind) {
    let s = support::http::Server::start(kind);
    let ada = user("ada@example.com");
    let (team, ada_id, ada_t) = create_team(&s, &ada);
    let (bob_id, bob_t) = invite_join(&s, &team, &ada_t, &user("bob@example.com"));
    let (carol_id, carol_t) = invite_join(&s, &team, &ada_t, &user("carol@example.com"));
    let g = new_group(&s, &ada_t);

    // Ada sees her group with her epoch-1 key; bob sees nothing yet.
    let mine = s.ok("GET", "/v1/groups", Some(&ada_t), None);
    assert_eq!(mine[0]["group_id"], g.as_str());
    assert_eq!(mine[0]["role"], "admin");
    assert_eq!(mine[0]["keys"][0]["wrapped"], b64(b"key e1 for creator"));
    assert_eq!(s.ok("GET", "/v1/groups", Some(&bob_t), None), json!([]));

    // Adding bob (viewer) and carol (editor): one sealed key each.
    assert_eq!(
        set_member(&s, &ada_t, &g, &bob_id, "viewer", 1, None).0,
        204
    );
    assert_eq!(
        set_member(&s, &ada_t, &g, &carol_id, "editor", 1, None).0,
        204
    );
    let members = s.ok(
        "GET",
        &format!("/v1/groups/{g}/members"),
        Some(&bob_t),
        None,
    );
    assert_eq!(
        emails(&members),
        vec![
            ("ada@example.com".into(), "admin".into()),
            ("bob@example.com".into(), "viewer".into()),
            ("carol@example.com".into(), "editor".into())
        ]
    );
    let bobs = s.ok("GET", "/v1/groups", Some(&bob_t), None);
    assert_eq!(
        bobs[0]["keys"][0]["wrapped"],
        b64(format!("e1 for {bob_id}").as_bytes())
    );

    // Items: the admin shares one; the viewer reads it and cannot change it; the editor can.
    let item = hex_id();
    let path = format!("/v1/groups/{g}/sync");
    let r = s.ok(
        "POST",
        &path,
        Some(&ada_t),
        Some(push_body(&item, 0, b"v1")),
    );
    assert_eq!(r["results"][0]["result"], "applied");
    let p = s.ok("GET", &format!("{path}?since=0"), Some(&bob_t), None);
    assert_eq!(p["changes"][0]["blob"], b64(b"v1"));
    let (status, v) = s.call(
        "POST",
        &path,
        Some(&bob_t),
        Some(push_body(&item, 1, b"bob")),
    );
    assert_eq!((status, code(&v)), (403, "forbidden"), "{v}");
    // The group's manifest: written by its editors and admins only, for this group, signed by
    // the caller, each one following the last.
    let manifest = |collection: &str, seq: u64, signer: &str| {
        let body = tessera_protocol::Manifest {
            collection: tessera_protocol::Id::parse(collection).unwrap(),
            seq,
            items: vec![(tessera_protocol::Id::parse(&item).unwrap(), 1)],
        }
        .encode();
        json!({"body": b64(&body), "auth": b64(&[9; 64]), "signer": signer})
    };
    let mpath = format!("/v1/groups/{g}/manifest");
    let (status, v) = s.call("PUT", &mpath, Some(&bob_t), Some(manifest(&g, 1, &bob_id)));
    assert_eq!((status, code(&v)), (403, "forbidden"), "{v}");
    let (status, v) = s.call(
        "PUT",
        &mpath,
        Some(&ada_t),
        Some(manifest(&team, 1, &ada_id)),
    );
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("body")),
        "{v}"
    );
    let (status, v) = s.call("PUT", &mpath, Some(&ada_t), Some(manifest(&g, 1, &bob_id)));
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("signer")),
        "{v}"
    );
    assert_eq!(
        s.call("PUT", &mpath, Some(&ada_t), Some(manifest(&g, 1, &ada_id)))
            .0,
        204
    );
    let (status, v) = s.call("PUT", &mpath, Some(&ada_t), Some(manifest(&g, 1, &ada_id)));
    assert_eq!((status, code(&v)), (409, "conflict"), "{v}");
    let p = s.ok("GET", &format!("{path}?since=0"), Some(&bob_t), None);
    assert_eq!(p["manifest"], manifest(&g, 1, &ada_id));
    let r = s.ok(
        "POST",
        &path,
        Some(&carol_t),
        Some(push_body(&item, 1, b"v2")),
    );
    assert_eq!(r["results"][0]["result"], "applied");
    // The personal space is separate: the item is not in anyone's own sync.
    assert_eq!(
        s.ok("GET", "/v1/sync?since=0", Some(&bob_t), None)["changes"],
        json!([])
    );

    // Effective access: who, through which group and role.
    let a = s.ok(
        "GET",
        &format!("/v1/items/{item}/access"),
        Some(&bob_t),
        None,
    );
    assert_eq!(a["group_id"], g.as_str());
    assert_eq!(emails(&a["members"]).len(), 3);

    // Promote bob to editor; then his push is applied.
    assert_eq!(
        set_member(&s, &ada_t, &g, &bob_id, "editor", 1, None).0,
        204
    );
    let r = s.ok(
        "POST",
        &path,
        Some(&bob_t),
        Some(push_body(&item, 2, b"v3")),
    );
    assert_eq!(r["results"][0]["result"], "applied");

    // Removing carol starts epoch 2; the key must go to exactly ada and bob.
    let (status, v) = rotate(&s, &ada_t, &g, 2, &[&carol_id], &[&ada_id]);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("keys")),
        "{v}"
    );
    let (status, v) = rotate(
        &s,
        &ada_t,
        &g,
        2,
        &[&carol_id],
        &[&ada_id, &bob_id, &carol_id],
    );
    assert_eq!(status, 400, "{v}");
    let (status, v) = rotate(&s, &ada_t, &g, 3, &[&carol_id], &[&ada_id, &bob_id]);
    assert_eq!((status, code(&v)), (409, "conflict"), "{v}");
    let (status, v) = rotate(&s, &ada_t, &g, 2, &[&carol_id], &[&ada_id, &bob_id]);
    assert_eq!(status, 204, "{v}");
    let bobs = s.ok("GET", "/v1/groups", Some(&bob_t), None);
    assert_eq!(bobs[0]["epoch"], 2);
    assert_eq!(bobs[0]["keys"][1]["prev"], b64(b"e1 under e2"));
    assert_eq!(
        bobs[0]["keys"][1]["wrapped"],
        b64(format!("e2 for {bob_id}").as_bytes())
    );
    // Carol: served nothing, cannot push, not listed, sees no access.
    for (m, p, body) in [
        ("GET", format!("{path}?since=0"), None),
        ("POST", path.clone(), Some(push_body(&item, 3, b"carol"))),
        ("GET", format!("/v1/groups/{g}/members"), None),
    ] {
        let (status, v) = s.call(m, &p, Some(&carol_t), body);
        assert_eq!(status, 403, "{m} {p}: {v}");
    }
    assert_eq!(s.ok("GET", "/v1/groups", Some(&carol_t), None), json!([]));
    let (status, _) = s.call(
        "GET",
        &format!("/v1/items/{item}/access"),
        Some(&carol_t),
        None,
    );
    assert_eq!(status, 404);
    // Adding a member now needs the epoch-2 key; an epoch-1 key is stale.
    assert_eq!(
        set_member(&s, &ada_t, &g, &carol_id, "viewer", 1, None).0,
        409
    );
    let (status, v) = s.call(
        "PUT",
        &format!("/v1/groups/{g}/members/{carol_id}"),
        Some(&ada_t),
        Some(json!({"role": "viewer", "epoch": 2})),
    );
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("key")),
        "{v}"
    );
    // The last admin cannot step down.
    let (status, v) = set_member(&s, &ada_t, &g, &ada_id, "viewer", 2, None);
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("role")),
        "{v}"
    );
    // Deleting the item hides it from the access view.
    s.ok("POST", &path, Some(&ada_t), Some(json!({"changes": [{"item_id": item, "base_version": 3, "version": 4, "deleted": true, "blob": ""}]})));
    let (status, _) = s.call(
        "GET",
        &format!("/v1/items/{item}/access"),
        Some(&ada_t),
        None,
    );
    assert_eq!(status, 404);
}

fn expired_members_are_served_nothing(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, ada_id, ada_t) = create_team(&s, &user("ada@example.com"));
    let (bob_id, bob_t) = invite_join(&s, &team, &ada_t, &user("bob@example.com"));
    let g = new_group(&s, &ada_t);
    let (status, v) = set_member(&s, &ada_t, &g, &bob_id, "editor", 1, Some(now() - 5));
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("expires_at"))
    );
    assert_eq!(
        set_member(&s, &ada_t, &g, &bob_id, "editor", 1, Some(now() + 2)).0,
        204
    );
    let path = format!("/v1/groups/{g}/sync");
    let item = hex_id();
    s.ok(
        "POST",
        &path,
        Some(&bob_t),
        Some(push_body(&item, 0, b"v1")),
    );
    assert!(
        s.ok("GET", "/v1/groups", Some(&bob_t), None)[0]["expires_at"]
            .as_i64()
            .is_some()
    );
    std::thread::sleep(std::time::Duration::from_millis(3100));
    s.ok(
        "POST",
        &path,
        Some(&ada_t),
        Some(push_body(&item, 1, b"v2 after expiry")),
    );
    let (status, v) = s.call("GET", &format!("{path}?since=0"), Some(&bob_t), None);
    assert_eq!(status, 403, "{v}");
    assert!(str_of(&v["error"]["message"]).contains("expired"));
    let (status, _) = s.call(
        "POST",
        &path,
        Some(&bob_t),
        Some(push_body(&item, 2, b"bob")),
    );
    assert_eq!(status, 403);
    assert_eq!(s.ok("GET", "/v1/groups", Some(&bob_t), None), json!([]));
    // An expired member is not a live member: a rotation leaves them out.
    assert_eq!(rotate(&s, &ada_t, &g, 2, &[], &[&ada_id]).0, 204);
    // Extending the membership needs the current key sealed to them.
    assert_eq!(
        s.call(
            "PUT",
            &format!("/v1/groups/{g}/members/{bob_id}"),
            Some(&ada_t),
            Some(json!({"role": "editor", "epoch": 2}))
        )
        .0,
        400
    );
    assert_eq!(
        set_member(&s, &ada_t, &g, &bob_id, "editor", 2, None).0,
        204
    );
    let p = s.ok("GET", &format!("{path}?since=0"), Some(&bob_t), None);
    assert_eq!(p["changes"][0]["version"], 2);
}

/// Every sharing endpoint called by each kind of caller who may not call it: refused with the
/// right status, and nothing changed.
#[allow(clippy::too_many_lines)] // the matrix is one table
fn authorization_matrix(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, ada_id, ada_t) = create_team(&s, &user("ada@example.com"));
    let (viewer_id, viewer_t) = invite_join(&s, &team, &ada_t, &user("viewer@example.com"));
    let (editor_id, editor_t) = invite_join(&s, &team, &ada_t, &user("editor@example.com"));
    let (expired_id, expired_t) = invite_join(&s, &team, &ada_t, &user("expired@example.com"));
    let (removed_id, removed_t) = invite_join(&s, &team, &ada_t, &user("removed@example.com"));
    let (_, other_t) = {
        let (_, id, t) = create_team(&s, &user("mallory@other.example"));
        (id, t)
    };
    let g = new_group(&s, &ada_t);
    set_member(&s, &ada_t, &g, &viewer_id, "viewer", 1, None);
    set_member(&s, &ada_t, &g, &editor_id, "editor", 1, None);
    set_member(&s, &ada_t, &g, &expired_id, "admin", 1, Some(now() + 1));
    set_member(&s, &ada_t, &g, &removed_id, "admin", 1, None);
    let item = hex_id();
    let sync = format!("/v1/groups/{g}/sync");
    s.ok(
        "POST",
        &sync,
        Some(&ada_t),
        Some(push_body(&item, 0, b"v1")),
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (status, v) = rotate(
        &s,
        &ada_t,
        &g,
        2,
        &[&removed_id],
        &[&ada_id, &viewer_id, &editor_id],
    );
    assert_eq!(status, 204, "{v}");

    let snapshot = || {
        (
            s.ok(
                "GET",
                &format!("/v1/groups/{g}/members"),
                Some(&ada_t),
                None,
            ),
            s.ok("GET", &format!("{sync}?since=0"), Some(&ada_t), None),
            s.ok("GET", "/v1/groups", Some(&ada_t), None),
            s.ok(
                "GET",
                &format!("/v1/teams/{team}/directory"),
                Some(&ada_t),
                None,
            ),
            s.ok("GET", "/v1/groups", Some(&other_t), None),
            s.ok(
                "GET",
                &format!("/v1/items/{item}/access"),
                Some(&ada_t),
                None,
            )["share_expires_at"]
                .clone(),
        )
    };
    let before = snapshot();

    let set_body = json!({"role": "admin", "epoch": 2, "key": b64(b"k")});
    let rotate_body = json!({"remove": [viewer_id], "epoch": 3, "name": b64(b"n"), "prev": b64(b"p"),
        "keys": [{"account_id": ada_id, "key": b64(b"k")}, {"account_id": editor_id, "key": b64(b"k")}]});
    let cert_body = json!({"certificate": b64(b"forged")});
    let create_body = || json!({"group_id": hex_id(), "name": b64(b"n"), "key": b64(b"k")});
    // (method, path, body, who may call it: "member" of the team, "live" member of the
    // group, "editor" or "admin" of the group, team "team_admin")
    let endpoints: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", format!("/v1/teams/{team}/directory"), None, "member"),
        (
            "PUT",
            format!("/v1/teams/{team}/accounts/{viewer_id}/certificate"),
            Some(cert_body),
            "team_admin",
        ),
        ("POST", "/v1/groups".into(), Some(create_body()), "member"),
        ("GET", "/v1/groups".into(), None, "member"),
        ("GET", format!("/v1/groups/{g}/members"), None, "live"),
        (
            "PUT",
            format!("/v1/groups/{g}/members/{viewer_id}"),
            Some(set_body),
            "admin",
        ),
        (
            "POST",
            format!("/v1/groups/{g}/rotate"),
            Some(rotate_body),
            "admin",
        ),
        ("GET", format!("{sync}?since=0"), None, "live"),
        (
            "POST",
            sync.clone(),
            Some(push_body(&item, 1, b"overwrite")),
            "editor",
        ),
        ("GET", format!("/v1/items/{item}/access"), None, "live"),
        (
            "PUT",
            format!("/v1/groups/{g}/items/{item}/share"),
            Some(json!({"expires_at": now() + 60})),
            "editor",
        ),
    ];
    let callers: [(&str, Option<&str>); 6] = [
        ("anonymous", None),
        ("other team", Some(&other_t)),
        ("viewer", Some(&viewer_t)),
        ("editor", Some(&editor_t)),
        ("expired", Some(&expired_t)),
        ("removed", Some(&removed_t)),
    ];
    let mut checked = 0;
    for (method, path, body, needs) in &endpoints {
        for (who, token) in callers {
            // The refusal each caller must get, or None when they may call it.
            let expected: Option<u16> = match (who, *needs) {
                ("anonymous", _) => Some(401),
                // Another team's groups and items do not exist for them; team-wide calls
                // ("member") are about their own team and allowed (they see only their own).
                ("other team", "member") => None,
                ("other team", _) => Some(404),
                (_, "member") => None,
                ("expired" | "removed", _) if path.contains("/access") => Some(404),
                (_, "team_admin")
                | ("expired" | "removed", _)
                | ("viewer", "editor" | "admin")
                | ("editor", "admin") => Some(403),
                _ => None,
            };
            let Some(expected) = expected else { continue };
            // The directory of another team: 404 (the path names ada's team).
            let (status, v) = s.call(method, path, token, body.clone());
            assert_eq!(status, expected, "{who} {method} {path}: {v}");
            assert!(v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            checked += 1;
        }
    }
    assert_eq!(checked, 43, "refusals checked");
    // Another team's member asking for ada's directory is refused.
    let (status, _) = s.call(
        "GET",
        &format!("/v1/teams/{team}/directory"),
        Some(&other_t),
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(snapshot(), before, "a refused call changed something");
}

fn bad_group_requests_name_the_field(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (_, _, t) = create_team(&s, &user("ada@example.com"));
    let g = new_group(&s, &t);
    for (method, path, body, field) in [
        (
            "POST",
            "/v1/groups".to_owned(),
            json!({"group_id": "nope", "name": b64(b"n"), "key": b64(b"k")}),
            "group_id",
        ),
        (
            "POST",
            "/v1/groups".to_owned(),
            json!({"group_id": g, "name": b64(b"n"), "key": b64(b"k")}),
            "group_id",
        ),
        (
            "POST",
            "/v1/groups".to_owned(),
            json!({"group_id": hex_id(), "name": "", "key": b64(b"k")}),
            "name",
        ),
        (
            "POST",
            "/v1/groups".to_owned(),
            json!({"group_id": hex_id(), "name": b64(&[0; 2000]), "key": b64(b"k")}),
            "name",
        ),
        (
            "PUT",
            format!("/v1/groups/{g}/members/xyz"),
            json!({"role": "viewer", "epoch": 1}),
            "account_id",
        ),
        (
            "PUT",
            format!("/v1/groups/{g}/members/{}", hex_id()),
            json!({"role": "owner", "epoch": 1}),
            "role",
        ),
        (
            "PUT",
            format!("/v1/groups/{g}/members/{}", hex_id()),
            json!({"role": "viewer", "epoch": 1, "key": b64(b"k")}),
            "account_id",
        ),
        (
            "POST",
            format!("/v1/groups/{g}/rotate"),
            json!({"epoch": 2, "name": b64(b"n"), "prev": b64(b"p"), "keys": []}),
            "keys",
        ),
        (
            "POST",
            format!("/v1/groups/{g}/rotate"),
            json!({"remove": [hex_id()], "epoch": 2, "name": b64(b"n"), "prev": b64(b"p"), "keys": [{"account_id": hex_id(), "key": b64(b"k")}]}),
            "remove[0]",
        ),
    ] {
        let (status, v) = s.call(method, &path, Some(&t), Some(body));
        assert!(matches!(status, 400 | 404), "{method} {path}: {status} {v}");
        assert_eq!(
            v["error"]["field"].as_str(),
            Some(field),
            "{method} {path}: {v}"
        );
    }
    let (status, v) = s.call(
        "GET",
        &format!("/v1/groups/{g}/sync?since=-1"),
        Some(&t),
        None,
    );
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("since")));
}

fn a_share_can_end(kind: Kind) {
    let s = support::http::Server::start(kind);
    let (team, _, ada_t) = create_team(&s, &user("ada@example.com"));
    let (bob_id, bob_t) = invite_join(&s, &team, &ada_t, &user("bob@example.com"));
    let (carol_id, carol_t) = invite_join(&s, &team, &ada_t, &user("carol@example.com"));
    let g = new_group(&s, &ada_t);
    for (id, role) in [(&bob_id, "viewer"), (&carol_id, "editor")] {
        assert_eq!(set_member(&s, &ada_t, &g, id, role, 1, None).0, 204);
    }
    let item = hex_id();
    s.ok(
        "POST",
        &format!("/v1/groups/{g}/sync"),
        Some(&ada_t),
        Some(push_body(&item, 0, b"v1")),
    );
    let share = |token: &str, item: &str, expires_at: Option<i64>| {
        s.call(
            "PUT",
            &format!("/v1/groups/{g}/items/{item}/share"),
            Some(token),
            Some(json!({ "expires_at": expires_at })),
        )
    };
    // Viewers cannot end a share; editors can; the end must be in the future and the item in
    // the group.
    assert_eq!(share(&bob_t, &item, Some(now() + 60)).0, 403);
    let (status, v) = share(&carol_t, &item, Some(now() - 1));
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("expires_at"))
    );
    assert_eq!(share(&carol_t, &hex_id(), Some(now() + 60)).0, 404);
    assert_eq!(share(&carol_t, &item, Some(now() + 60)).0, 204);
    let access = s.ok(
        "GET",
        &format!("/v1/items/{item}/access"),
        Some(&bob_t),
        None,
    );
    assert!(access["share_expires_at"].as_i64().unwrap() > now());

    // The share ends: viewers and editors get the item as deleted and cannot change it.
    s.h.raw_sql("UPDATE share_expiry SET expires_at = 1")
        .unwrap();
    let pull = |token: &str| {
        s.ok(
            "GET",
            &format!("/v1/groups/{g}/sync?since=0"),
            Some(token),
            None,
        )["changes"][0]
            .clone()
    };
    for token in [&bob_t, &carol_t] {
        let rec = pull(token);
        assert_eq!(
            (rec["item_id"].as_str(), rec["deleted"].as_bool()),
            (Some(item.as_str()), Some(true))
        );
        assert_eq!(rec["blob"], "");
    }
    let (status, v) = s.call(
        "POST",
        &format!("/v1/groups/{g}/sync"),
        Some(&carol_t),
        Some(push_body(&item, 1, b"v2")),
    );
    assert_eq!(status, 403, "{v}");
    assert!(str_of(&v["error"]["message"]).contains("ended"));
    // Admins still have it, and can extend the share.
    let rec = pull(&ada_t);
    assert_eq!(rec["deleted"], false);
    assert_eq!(rec["blob"], b64(b"v1"));
    assert_eq!(share(&ada_t, &item, None).0, 204);
    assert_eq!(pull(&bob_t)["deleted"], false);
}
