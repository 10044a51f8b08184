//! `GET /v1/events` over real sockets on 127.0.0.1:0: changes reach every device of the account
//! and no other account, a group's changes its live members and no one else, on both backends; on PostgreSQL, across two server nodes on one
//! database; streams of revoked or expired sessions end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::http::{
    b64, code, create_team, hex_id, invite_join, login, new_group, push_body, spawn_node, str_of,
    user, Api, EventStream, Server, Sse,
};
use support::Kind;
use tessera_server::store::postgres::PgStore;

on_both_backends!(
    a_change_reaches_every_device_of_the_account_and_no_other,
    a_group_change_reaches_its_live_members_and_no_one_else,
    streams_of_revoked_and_expired_sessions_end,
    events_need_a_session,
);

const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(600);

/// Push one new item; returns its sequence number.
fn push_new(s: &Api, token: &str, blob: &[u8]) -> u64 {
    let v = s.ok(
        "POST",
        "/v1/sync",
        Some(token),
        Some(push_body(&hex_id(), 0, blob)),
    );
    assert_eq!(v["results"][0]["result"], "applied", "{v}");
    v["results"][0]["seq"].as_u64().unwrap()
}

fn a_change_reaches_every_device_of_the_account_and_no_other(kind: Kind) {
    let s = Server::start(kind);
    let alice = user("alice@example.com");
    let (team, _, laptop) = create_team(&s, &alice);
    let (status, v) = login(&s, &alice, None);
    assert_eq!(status, 200, "{v}");
    let phone = str_of(&v["session"]["token"]);
    let bob = user("bob@example.com");
    let (_, bob_token) = invite_join(&s, &team, &laptop, &bob);

    let mut on_laptop = EventStream::open(&s.base, Some(&laptop));
    assert_eq!(on_laptop.status, 200);
    assert_eq!(on_laptop.content_type, "text/event-stream");
    let mut on_phone = EventStream::open(&s.base, Some(&phone));
    let mut bobs = EventStream::open(&s.base, Some(&bob_token));

    // Device 1 pushes: both of the account's streams hear of it, the other account's does not.
    let seq = push_new(&s, &laptop, b"v1");
    assert_eq!(on_phone.change(WAIT), seq);
    assert_eq!(on_laptop.change(WAIT), seq);
    assert_eq!(bobs.next(QUIET), Sse::Timeout);

    // A batch announces its newest sequence number, once.
    let (a, b) = (hex_id(), hex_id());
    let batch: Value = serde_json::json!({"changes": [
        push_body(&a, 0, b"a")["changes"][0], push_body(&b, 0, b"b")["changes"][0],
    ]});
    let v = s.ok("POST", "/v1/sync", Some(&phone), Some(batch.clone()));
    let last = v["results"][1]["seq"].as_u64().unwrap();
    assert_eq!(on_laptop.change(WAIT), last);
    assert_eq!(on_phone.change(WAIT), last);
    assert_eq!(on_phone.next(QUIET), Sse::Timeout);

    // Bob's change reaches Bob only (the team sequence is shared, the stream is not).
    let bob_seq = push_new(&s, &bob_token, b"bob");
    assert_eq!(bob_seq, last + 1);
    assert_eq!(bobs.change(WAIT), bob_seq);
    assert_eq!(on_phone.next(QUIET), Sse::Timeout);

    // A resend and a conflict apply nothing, so nobody is told anything.
    let v = s.ok("POST", "/v1/sync", Some(&phone), Some(batch));
    assert_eq!(v["results"][0]["result"], "applied");
    let v = s.ok(
        "POST",
        "/v1/sync",
        Some(&phone),
        Some(push_body(&a, 0, b"x")),
    );
    assert_eq!(v["results"][0]["result"], "conflict");
    assert_eq!(on_laptop.next(QUIET), Sse::Timeout);
    assert_eq!(on_phone.next(Duration::ZERO), Sse::Timeout);
}

fn a_group_change_reaches_its_live_members_and_no_one_else(kind: Kind) {
    let s = Server::start(kind);
    let alice = user("alice@example.com");
    let (team, alice_id, alice_token) = create_team(&s, &alice);
    let (bob_id, bob_token) = invite_join(&s, &team, &alice_token, &user("bob@example.com"));
    let (_, carol_token) = invite_join(&s, &team, &alice_token, &user("carol@example.com"));
    let g = new_group(&s, &alice_token);
    let mut alices = EventStream::open(&s.base, Some(&alice_token));
    let mut bobs = EventStream::open(&s.base, Some(&bob_token));
    let mut carols = EventStream::open(&s.base, Some(&carol_token));

    // Bob is added: the group's admin hears of it, and so does Bob, who was not a member yet.
    s.ok(
        "PUT",
        &format!("/v1/groups/{g}/members/{bob_id}"),
        Some(&alice_token),
        Some(serde_json::json!({"role": "viewer", "epoch": 1, "key": b64(b"e1 for bob")})),
    );
    assert_eq!(alices.change(WAIT), 0);
    assert_eq!(bobs.change(WAIT), 0);
    // (Bob may be told twice: of his membership, then of the group he now reads.)
    let _ = bobs.next(Duration::from_millis(200));
    assert_eq!(carols.next(QUIET), Sse::Timeout);

    // A push into the group reaches both members' streams, and not Carol's.
    let v = s.ok(
        "POST",
        &format!("/v1/groups/{g}/sync"),
        Some(&alice_token),
        Some(push_body(&hex_id(), 0, b"shared v1")),
    );
    let seq = v["results"][0]["seq"].as_u64().unwrap();
    assert_eq!(alices.change(WAIT), seq);
    assert_eq!(bobs.change(WAIT), seq);
    assert_eq!(carols.next(QUIET), Sse::Timeout);

    // Bob is removed (a new epoch): his stream hears of it once, then nothing of the group.
    s.ok(
        "POST",
        &format!("/v1/groups/{g}/rotate"),
        Some(&alice_token),
        Some(
            serde_json::json!({"remove": [bob_id], "epoch": 2, "name": b64(b"n2"),
            "prev": b64(b"p2"), "keys": [{"account_id": alice_id, "key": b64(b"e2")}]}),
        ),
    );
    assert_eq!(bobs.change(WAIT), 0);
    assert_eq!(alices.change(WAIT), 0);
    s.ok(
        "POST",
        &format!("/v1/groups/{g}/sync"),
        Some(&alice_token),
        Some(push_body(&hex_id(), 0, b"after bob")),
    );
    assert!(alices.change(WAIT) > seq);
    assert_eq!(bobs.next(QUIET), Sse::Timeout);
    assert_eq!(carols.next(Duration::ZERO), Sse::Timeout);
}

fn streams_of_revoked_and_expired_sessions_end(kind: Kind) {
    let s = Server::start_with(kind, |st| st.with_session_check(Duration::from_millis(200)));
    let alice = user("alice@example.com");
    let (_, _, laptop) = create_team(&s, &alice);
    let phone = str_of(&login(&s, &alice, None).1["session"]["token"]);
    let tablet = str_of(&login(&s, &alice, None).1["session"]["token"]);
    let mut on_laptop = EventStream::open(&s.base, Some(&laptop));
    let mut on_phone = EventStream::open(&s.base, Some(&phone));
    let mut on_tablet = EventStream::open(&s.base, Some(&tablet));

    // The phone's session is revoked from the laptop: its stream ends, the others go on.
    let sessions = s.ok("GET", "/v1/sessions", Some(&phone), None);
    let phone_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["current"] == true)
        .map(|d| str_of(&d["session_id"]))
        .unwrap();
    s.ok(
        "DELETE",
        &format!("/v1/sessions/{phone_id}"),
        Some(&laptop),
        None,
    );
    assert_eq!(on_phone.next(WAIT), Sse::Ended);
    let again = EventStream::open(&s.base, Some(&phone));
    assert_eq!(again.status, 401);

    // The tablet's session expires: its stream ends too.
    let sessions = s.ok("GET", "/v1/sessions", Some(&tablet), None);
    let tablet_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["current"] == true)
        .map(|d| tessera_protocol::Id::parse(&str_of(&d["session_id"])).unwrap())
        .unwrap();
    s.h.rt
        .block_on(s.h.store.set_session_expiry(tablet_id, 1))
        .unwrap();
    assert_eq!(on_tablet.next(WAIT), Sse::Ended);

    // The laptop's stream is still open and still told of changes.
    let seq = push_new(&s, &laptop, b"still here");
    assert_eq!(on_laptop.change(WAIT), seq);

    // Logging out ends the caller's own stream.
    s.ok("POST", "/v1/logout", Some(&laptop), None);
    assert_eq!(on_laptop.next(WAIT), Sse::Ended);
}

fn events_need_a_session(kind: Kind) {
    let s = Server::start(kind);
    let nobody = EventStream::open(&s.base, None);
    assert_eq!(nobody.status, 401);
    let v: Value = serde_json::from_str(&nobody.body).unwrap();
    assert_eq!(code(&v), "unauthorized");
    let forged = EventStream::open(&s.base, Some("not-a-session-token"));
    assert_eq!(forged.status, 401);
    // Like every /v1 route, it needs the API version header.
    let (status, v) = s.raw("GET", "/v1/events", &[], vec![]);
    assert_eq!(status, 400, "{v}");
    assert_eq!(code(&v), "unsupported_version");
}

/// Two nodes on one PostgreSQL database: a push through node A reaches a stream opened on node
/// B (through NOTIFY/LISTEN), and B keeps listening after its LISTEN connection is killed.
#[test]
fn postgres_a_push_through_one_node_reaches_streams_on_another() {
    let a = Server::start(Kind::Postgres);
    let url = a.h.pg_url.clone().unwrap();
    let store_b = a.h.rt.block_on(PgStore::connect(&url)).unwrap();
    let b = spawn_node(&a.h.rt, Arc::new(store_b), |st| st);
    assert_ne!(a.base, b.base);

    let alice = user("alice@example.com");
    let (team, _, laptop) = create_team(&a, &alice);
    // Sessions live in the database: node B accepts node A's.
    let phone = str_of(&login(&b, &alice, None).1["session"]["token"]);
    let bob = user("bob@example.com");
    let (_, bob_token) = invite_join(&b, &team, &laptop, &bob);

    let mut phone_on_b = EventStream::open(&b.base, Some(&phone));
    let mut laptop_on_a = EventStream::open(&a.base, Some(&laptop));
    let mut bob_on_b = EventStream::open(&b.base, Some(&bob_token));

    let seq = push_new(&a, &laptop, b"through A");
    assert_eq!(phone_on_b.change(WAIT), seq);
    assert_eq!(laptop_on_a.change(WAIT), seq);
    assert_eq!(bob_on_b.next(QUIET), Sse::Timeout);

    let seq = push_new(&b, &phone, b"through B");
    assert_eq!(laptop_on_a.change(WAIT), seq);
    assert_eq!(phone_on_b.change(WAIT), seq);

    // Kill every LISTEN connection on the database: both nodes reconnect (with backoff) and
    // changes flow again.
    let killed = a.h.rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let listening = "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN tessera_changes'";
        let before = c.query(listening, &[]).await.unwrap().len();
        c.execute(
            &format!("SELECT pg_terminate_backend(pid) FROM ({listening}) AS l"),
            &[],
        )
        .await
        .unwrap();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if c.query(listening, &[]).await.unwrap().len() >= before {
                break;
            }
        }
        assert_eq!(c.query(listening, &[]).await.unwrap().len(), before);
        before
    });
    assert_eq!(killed, 2);
    let seq = push_new(&a, &laptop, b"after reconnect");
    assert_eq!(phone_on_b.change(WAIT), seq);
    assert_eq!(laptop_on_a.change(WAIT), seq);
}
