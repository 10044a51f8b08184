//! The store conformance suite: the same cases on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use std::collections::HashSet;
use support::{Harness, Kind};

use tessera_protocol::{
    verify_chain, AccessRequestStatus, AccountKeys, Actor, AuditAction, AuditEvent, AuditQuery,
    Blob, EpochKey, GroupRole, Id, KdfInfo, MembershipWindow, PushChange, PushResult,
};
use tessera_server::events::Change;
use tessera_server::store::postgres::{PgStore, PoolOptions};
use tessera_server::store::{
    Audit, Decision, Group, LogAppend, LoginPolicy, NewAccessRequest, NewAccountRow, NewGroup,
    NewInvite, NewSession, NewToken, Role, Rotation, SetMember, StoreError, Team,
};
use tessera_server::Store;

on_both_backends!(
    teams_accounts_and_sessions,
    an_email_is_taken_once,
    invitations_are_single_use_and_bound_to_an_email,
    failed_logins_lock_and_admins_lift,
    second_factor_steps_and_recovery_codes,
    push_is_compare_and_set_with_team_sequence,
    pull_is_scoped_and_paged,
    a_committed_push_is_announced_once,
    access_requests_are_decided_once,
    machine_tokens_are_stored_hashed_scoped_and_rotated,
    directory_certificates_and_server_secret,
    groups_members_and_epochs,
    group_items_are_pushed_pulled_and_found,
    audit_entries_chain_and_filter,
    a_change_commits_its_audit_entries,
    offboarding_reviews_and_ends_access,
    share_expiry_is_set_cleared_and_ended,
    a_group_log_grows_one_entry_at_a_time_with_its_change,
);

fn run<F, Fut>(kind: Kind, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let h = Harness::new(kind);
    let store = Arc::clone(&h.store);
    h.rt.block_on(case(store));
}

/// The log entry number `seq` of a test chain whose entry `n` hashes to `[n; 32]` (the store
/// keeps the bytes; it neither parses nor hashes them).
fn log(seq: u64) -> LogAppend {
    LogAppend {
        seq,
        prev: if seq == 1 {
            Vec::new()
        } else {
            vec![seq as u8 - 1; 32]
        },
        entry: format!("entry {seq}").into_bytes(),
        signature: vec![seq as u8; 64],
        hash: vec![seq as u8; 32],
    }
}

fn id(n: u8) -> Id {
    let mut b: [u8; 16] = rand::random();
    b[0] = n;
    Id(b)
}

fn account(team: Id, email: &str, role: Role) -> NewAccountRow {
    NewAccountRow {
        id: id(1),
        team_id: team,
        email: email.to_owned(),
        role,
        auth_hash: "$argon2id$dummy".to_owned(),
        kdf: KdfInfo {
            memory_kib: 65536,
            iterations: 3,
            parallelism: 4,
            salt: Blob(vec![9; 16]),
        },
        keys: AccountKeys {
            exchange_public: Blob(vec![1; 32]),
            signing_public: Blob(vec![2; 32]),
            header: Blob(vec![3; 40]),
            wrapped_keyset: Blob(vec![4; 60]),
        },
        created_at: 1000,
    }
}

fn session(now: i64) -> NewSession {
    NewSession {
        id: id(2),
        token_hash: rand::random(),
        device_name: "laptop".to_owned(),
        created_at: now,
        expires_at: now + 3600,
    }
}

fn team() -> Team {
    Team {
        id: id(0),
        root_public: vec![7; 32],
        require_mfa: false,
        created_at: 1000,
    }
}

/// A team with one admin; returns (team, admin account id, admin session).
async fn setup(s: &dyn Store, email: &str) -> (Team, Id, NewSession) {
    let t = team();
    let a = account(t.id, email, Role::Admin);
    let sess = session(1000);
    s.create_team(t.clone(), a.clone(), sess.clone(), Audit::none())
        .await
        .unwrap();
    (t, a.id, sess)
}

fn teams_accounts_and_sessions(kind: Kind) {
    run(kind, |s| async move {
        let (t, admin, sess) = setup(&*s, "ada@example.com").await;
        assert_eq!(s.team(t.id).await.unwrap(), Some(t.clone()));
        assert!(s.team(id(9)).await.unwrap().is_none());
        let a = s
            .account_by_email("ada@example.com".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((a.id, a.team_id, a.role), (admin, t.id, Role::Admin));
        assert_eq!(a.kdf.salt, Blob(vec![9; 16]));
        assert_eq!(a.keys.wrapped_keyset, Blob(vec![4; 60]));
        assert!(!a.mfa_enabled && a.locked_until.is_none());
        assert_eq!(
            s.account_by_id(admin).await.unwrap().unwrap().email,
            "ada@example.com"
        );
        assert!(s
            .account_by_email("nobody@example.com".into())
            .await
            .unwrap()
            .is_none());

        let found = s
            .session_by_token_hash(sess.token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.id, found.account_id), (sess.id, admin));
        assert!(found.is_live(1001) && !found.is_live(sess.expires_at));
        assert!(s.session_by_token_hash([0; 32]).await.unwrap().is_none());
        s.touch_session(sess.id, 1500).await.unwrap();
        let second = session(1100);
        s.create_session(admin, second.clone(), Audit::none())
            .await
            .unwrap();
        let list = s.list_sessions(admin, 1600).await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].id, list[0].last_seen_at), (sess.id, 1500));
        // Another account cannot revoke it; the owner can, once.
        assert!(!s
            .revoke_session(id(5), second.id, 1700, Audit::none())
            .await
            .unwrap());
        assert!(s
            .revoke_session(admin, second.id, 1700, Audit::none())
            .await
            .unwrap());
        assert!(!s
            .revoke_session(admin, second.id, 1701, Audit::none())
            .await
            .unwrap());
        assert_eq!(s.list_sessions(admin, 1800).await.unwrap().len(), 1);
        s.set_session_expiry(sess.id, 10).await.unwrap();
        assert!(!s
            .session_by_token_hash(sess.token_hash)
            .await
            .unwrap()
            .unwrap()
            .is_live(1800));
        s.create_session(admin, session(1900), Audit::none())
            .await
            .unwrap();
        s.create_session(admin, session(1900), Audit::none())
            .await
            .unwrap();
        assert_eq!(s.revoke_all_sessions(admin, 2000).await.unwrap(), 3);
        assert!(s.list_sessions(admin, 2000).await.unwrap().is_empty());
        s.set_require_mfa(t.id, true, Audit::none()).await.unwrap();
        assert!(s.team(t.id).await.unwrap().unwrap().require_mfa);
        assert!(matches!(
            s.set_require_mfa(id(9), true, Audit::none()).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            s.server_secret().await.unwrap(),
            s.server_secret().await.unwrap()
        );
    });
}

fn an_email_is_taken_once(kind: Kind) {
    run(kind, |s| async move {
        setup(&*s, "ada@example.com").await;
        let t2 = team();
        let err = s
            .create_team(
                t2.clone(),
                account(t2.id, "ada@example.com", Role::Admin),
                session(1),
                Audit::none(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::EmailTaken), "{err:?}");
        assert!(s.team(t2.id).await.unwrap().is_none(), "rolled back");
    });
}

fn invitations_are_single_use_and_bound_to_an_email(kind: Kind) {
    run(kind, |s| async move {
        let (t, admin, _) = setup(&*s, "ada@example.com").await;
        let invite = |hash: [u8; 32], expires_at: i64| NewInvite {
            token_hash: hash,
            team_id: t.id,
            email: "bob@example.com".into(),
            created_by: admin,
            created_at: 1000,
            expires_at,
        };
        let h: [u8; 32] = rand::random();
        s.create_invite(invite(h, 5000), Audit::none())
            .await
            .unwrap();
        let bob = account(id(0), "bob@example.com", Role::Member);
        let eve = account(id(0), "eve@example.com", Role::Member);
        let e = s
            .join_team(h, eve.clone(), session(2000), 2000, Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InviteForOtherEmail), "{e:?}");
        assert!(s.account_by_id(eve.id).await.unwrap().is_none());
        let e = s
            .join_team([1; 32], bob.clone(), session(2000), 2000, Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InviteInvalid), "{e:?}");
        let joined = s
            .join_team(h, bob.clone(), session(2000), 2000, Audit::none())
            .await
            .unwrap();
        assert_eq!(joined.id, t.id);
        let b = s.account_by_id(bob.id).await.unwrap().unwrap();
        assert_eq!((b.team_id, b.role), (t.id, Role::Member));
        assert_eq!(s.list_sessions(bob.id, 2000).await.unwrap().len(), 1);
        let again = account(id(0), "bob@example.com", Role::Member);
        let e = s
            .join_team(h, again, session(2001), 2001, Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InviteInvalid), "used: {e:?}");
        let h2: [u8; 32] = rand::random();
        s.create_invite(invite(h2, 3000), Audit::none())
            .await
            .unwrap();
        let late = account(id(0), "bob@example.com", Role::Member);
        let e = s
            .join_team(h2, late, session(3000), 3000, Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InviteInvalid), "expired: {e:?}");
    });
}

fn failed_logins_lock_and_admins_lift(kind: Kind) {
    run(kind, |s| async move {
        let (_, admin, _) = setup(&*s, "ada@example.com").await;
        let p = LoginPolicy {
            account_max_failures: 3,
            account_lock_secs: 100,
            address_max_failures: 4,
            address_window_secs: 60,
        };
        for i in 0..2 {
            s.record_login_failure(Some(admin), "10.0.0.1".into(), 1000 + i, p, Audit::none())
                .await
                .unwrap();
        }
        let a = s.account_by_id(admin).await.unwrap().unwrap();
        assert_eq!((a.failed_logins, a.locked_until), (2, None));
        s.clear_login_failures(admin).await.unwrap();
        for i in 0..3 {
            s.record_login_failure(Some(admin), "10.0.0.1".into(), 1010 + i, p, Audit::none())
                .await
                .unwrap();
        }
        let a = s.account_by_id(admin).await.unwrap().unwrap();
        assert_eq!(a.locked_until, Some(1012 + 100));
        assert_eq!(
            s.address_failures("10.0.0.1".into(), 1020, p)
                .await
                .unwrap(),
            5
        );
        assert_eq!(
            s.address_failures("10.0.0.2".into(), 1020, p)
                .await
                .unwrap(),
            0
        );
        // The window passes: the address starts again.
        assert_eq!(
            s.address_failures("10.0.0.1".into(), 1061, p)
                .await
                .unwrap(),
            0
        );
        s.record_login_failure(None, "10.0.0.1".into(), 1061, p, Audit::none())
            .await
            .unwrap();
        assert_eq!(
            s.address_failures("10.0.0.1".into(), 1062, p)
                .await
                .unwrap(),
            1
        );
        s.unlock_account(admin).await.unwrap();
        let a = s.account_by_id(admin).await.unwrap().unwrap();
        assert_eq!((a.failed_logins, a.locked_until), (0, None));
        assert!(matches!(
            s.unlock_account(id(9)).await,
            Err(StoreError::NotFound)
        ));
    });
}

fn second_factor_steps_and_recovery_codes(kind: Kind) {
    run(kind, |s| async move {
        let (_, admin, _) = setup(&*s, "ada@example.com").await;
        s.set_mfa_pending(admin, vec![5; 20]).await.unwrap();
        let a = s.account_by_id(admin).await.unwrap().unwrap();
        assert_eq!(
            (a.mfa_secret.as_deref(), a.mfa_enabled),
            (Some(&[5u8; 20][..]), false)
        );
        let hashes: Vec<[u8; 32]> = (0..8).map(|i| [i; 32]).collect();
        s.enable_mfa(admin, hashes).await.unwrap();
        assert!(s.account_by_id(admin).await.unwrap().unwrap().mfa_enabled);
        // Enrolled: a new pending secret does not replace it.
        s.set_mfa_pending(admin, vec![6; 20]).await.unwrap();
        assert_eq!(
            s.account_by_id(admin).await.unwrap().unwrap().mfa_secret,
            Some(vec![5; 20])
        );
        assert!(s.use_totp_step(admin, 100).await.unwrap());
        assert!(!s.use_totp_step(admin, 100).await.unwrap(), "replayed");
        assert!(!s.use_totp_step(admin, 99).await.unwrap(), "older");
        assert!(s.use_totp_step(admin, 101).await.unwrap());
        assert_eq!(s.recovery_codes_left(admin).await.unwrap(), 8);
        assert!(s.use_recovery_code(admin, [3; 32]).await.unwrap());
        assert!(
            !s.use_recovery_code(admin, [3; 32]).await.unwrap(),
            "single use"
        );
        assert!(
            !s.use_recovery_code(id(9), [4; 32]).await.unwrap(),
            "another account's"
        );
        assert_eq!(s.recovery_codes_left(admin).await.unwrap(), 7);
        s.disable_mfa(admin).await.unwrap();
        let a = s.account_by_id(admin).await.unwrap().unwrap();
        assert!(!a.mfa_enabled && a.mfa_secret.is_none());
        assert_eq!(s.recovery_codes_left(admin).await.unwrap(), 0);
    });
}

fn change(item: Id, base: u64, blob: &[u8]) -> PushChange {
    PushChange {
        item_id: item,
        base_version: base,
        version: base + 1,
        deleted: false,
        blob: Blob(blob.to_vec()),
    }
}

fn applied(r: &PushResult) -> (u64, u64) {
    match r {
        PushResult::Applied { version, seq, .. } => (*version, *seq),
        PushResult::Conflict { current } => panic!("conflict: {current:?}"),
    }
}

fn push_is_compare_and_set_with_team_sequence(kind: Kind) {
    run(kind, |s| async move {
        let (t, admin, _) = setup(&*s, "ada@example.com").await;
        let (a, b) = (id(10), id(11));
        let r = s
            .push(
                t.id,
                admin,
                vec![
                    change(a, 0, b"a1"),
                    change(b, 0, b"b1"),
                    change(a, 1, b"a2"),
                ],
                1,
                Audit::none(),
            )
            .await
            .unwrap();
        assert_eq!(
            r.iter().map(applied).collect::<Vec<_>>(),
            [(1, 1), (1, 2), (2, 3)]
        );
        // A resend of what is current: applied, same sequence number, nothing new.
        let r = s
            .push(t.id, admin, vec![change(a, 1, b"a2")], 2, Audit::none())
            .await
            .unwrap();
        assert_eq!(applied(&r[0]), (2, 3));
        // A stale edit: conflict with the current record.
        let r = s
            .push(t.id, admin, vec![change(a, 1, b"other")], 3, Audit::none())
            .await
            .unwrap();
        match &r[0] {
            PushResult::Conflict { current } => {
                assert_eq!((current.version, current.seq), (2, 3));
                assert_eq!(current.blob, Blob(b"a2".to_vec()));
            }
            other @ PushResult::Applied { .. } => panic!("{other:?}"),
        }
        // An edit of a version the server never had.
        let r = s
            .push(t.id, admin, vec![change(id(12), 4, b"x")], 4, Audit::none())
            .await
            .unwrap();
        assert!(matches!(&r[0], PushResult::Conflict { current } if current.version == 0));
        // A deletion continues the sequence.
        let del = PushChange {
            item_id: b,
            base_version: 1,
            version: 2,
            deleted: true,
            blob: Blob::default(),
        };
        let r = s
            .push(t.id, admin, vec![del], 5, Audit::none())
            .await
            .unwrap();
        assert_eq!(applied(&r[0]), (2, 4));
        let page = s.pull(admin, 0, 100).await.unwrap();
        let seen: Vec<_> = page
            .changes
            .iter()
            .map(|c| (c.item_id, c.version, c.seq, c.deleted))
            .collect();
        assert_eq!(seen, [(a, 2, 3, false), (b, 2, 4, true)]);
        assert!(!page.more);
        assert!(matches!(
            s.push(id(9), admin, vec![change(a, 2, b"z")], 6, Audit::none())
                .await,
            Err(StoreError::NotFound)
        ));
    });
}

fn pull_is_scoped_and_paged(kind: Kind) {
    run(kind, |s| async move {
        let (t, admin, _) = setup(&*s, "ada@example.com").await;
        let h: [u8; 32] = rand::random();
        s.create_invite(
            NewInvite {
                token_hash: h,
                team_id: t.id,
                email: "bob@example.com".into(),
                created_by: admin,
                created_at: 1,
                expires_at: 10_000,
            },
            Audit::none(),
        )
        .await
        .unwrap();
        let bob = account(id(0), "bob@example.com", Role::Member);
        s.join_team(h, bob.clone(), session(2), 2, Audit::none())
            .await
            .unwrap();
        let shared = id(20);
        let changes: Vec<_> = (0..5u8).map(|i| change(id(30 + i), 0, &[i])).collect();
        s.push(t.id, admin, changes, 3, Audit::none())
            .await
            .unwrap();
        // The same item id under another account is another item.
        let r = s
            .push(
                t.id,
                bob.id,
                vec![change(shared, 0, b"bob")],
                4,
                Audit::none(),
            )
            .await
            .unwrap();
        assert_eq!(applied(&r[0]), (1, 6));
        let r = s
            .push(
                t.id,
                admin,
                vec![change(shared, 0, b"ada")],
                5,
                Audit::none(),
            )
            .await
            .unwrap();
        assert_eq!(applied(&r[0]), (1, 7));
        let p1 = s.pull(admin, 0, 4).await.unwrap();
        assert_eq!(
            p1.changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!(p1.more);
        let p2 = s.pull(admin, 4, 4).await.unwrap();
        assert_eq!(p2.changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [5, 7]);
        assert!(!p2.more);
        let pb = s.pull(bob.id, 0, 100).await.unwrap();
        assert_eq!(pb.changes.len(), 1);
        assert_eq!(pb.changes[0].blob, Blob(b"bob".to_vec()));
    });
}

fn a_committed_push_is_announced_once(kind: Kind) {
    run(kind, |s| async move {
        let (t, admin, _) = setup(&*s, "ada@example.com").await;
        let mut rx = s.subscribe();
        let (a, b) = (id(20), id(21));
        s.push(
            t.id,
            admin,
            vec![change(a, 0, b"a1"), change(b, 0, b"b1")],
            1,
            Audit::none(),
        )
        .await
        .unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("a change is announced")
            .unwrap();
        assert_eq!(
            got,
            Change {
                collection: admin,
                seq: 2
            }
        );
        // Pushes that apply nothing (a resend, a conflict, an unknown team) announce nothing.
        s.push(t.id, admin, vec![change(a, 0, b"a1")], 2, Audit::none())
            .await
            .unwrap();
        s.push(t.id, admin, vec![change(a, 0, b"zz")], 3, Audit::none())
            .await
            .unwrap();
        assert!(s
            .push(id(9), admin, vec![change(a, 1, b"a2")], 4, Audit::none())
            .await
            .is_err());
        let next = s
            .push(t.id, admin, vec![change(b, 1, b"b2")], 5, Audit::none())
            .await
            .unwrap();
        assert_eq!(applied(&next[0]), (2, 3));
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("a change is announced")
            .unwrap();
        assert_eq!(got.seq, 3, "nothing was announced in between");
        assert!(rx.try_recv().is_err());
    });
}

/// Join `email` to the team through an invitation; returns the account id.
async fn join(s: &dyn Store, t: &Team, admin: Id, email: &str) -> Id {
    let h: [u8; 32] = rand::random();
    s.create_invite(
        NewInvite {
            token_hash: h,
            team_id: t.id,
            email: email.into(),
            created_by: admin,
            created_at: 1000,
            expires_at: 5000,
        },
        Audit::none(),
    )
    .await
    .unwrap();
    let a = account(t.id, email, Role::Member);
    s.join_team(h, a.clone(), session(2000), 2000, Audit::none())
        .await
        .unwrap();
    a.id
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn access_requests_are_decided_once(kind: Kind) {
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        let bob = join(&*s, &t, ada, "bob@example.com").await;
        let carol = join(&*s, &t, ada, "carol@example.com").await;
        let g = id(5);
        s.create_group(
            NewGroup {
                id: g,
                team_id: t.id,
                name: vec![1; 40],
                created_by: ada,
                key: vec![2; 80],
                created_at: 2000,
                log: log(1),
            },
            Audit::none(),
        )
        .await
        .unwrap();
        let new = |rid: Id, who: Id, created_at: i64| NewAccessRequest {
            id: rid,
            team_id: t.id,
            group_id: g,
            requester: who,
            role: GroupRole::Viewer,
            duration_secs: 3600,
            reasons: vec![(ada, b"sealed to ada".to_vec())],
            created_at,
            expires_at: created_at + 1000,
        };
        let (r1, r2) = (id(6), id(7));
        s.create_access_request(new(r1, bob, 3000), Audit::none())
            .await
            .unwrap();
        // One pending request per requester and group; the id is unique.
        let e = s
            .create_access_request(new(id(8), bob, 3001), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::AlreadyPending), "{e:?}");
        let e = s
            .create_access_request(new(r1, carol, 3001), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::IdTaken), "{e:?}");
        s.create_access_request(new(r2, carol, 3002), Audit::none())
            .await
            .unwrap();

        let got = s.access_request(r1).await.unwrap().unwrap();
        assert_eq!(
            (got.group_id, got.requester, got.requester_email.as_str()),
            (g, bob, "bob@example.com")
        );
        assert_eq!(got.reasons, vec![(ada, b"sealed to ada".to_vec())]);
        assert_eq!(got.status(3500), AccessRequestStatus::Pending);
        assert_eq!(got.status(4000), AccessRequestStatus::Expired);
        assert!(s.access_request(id(9)).await.unwrap().is_none());

        let ids = |v: Vec<tessera_server::store::AccessRequest>| {
            v.into_iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(s.pending_access_requests(g, 3500).await.unwrap()),
            vec![r1, r2]
        );
        assert!(s.pending_access_requests(g, 4002).await.unwrap().is_empty());
        // Ada (a live admin) sees both; bob sees his own; nobody sees lapsed ones of others.
        assert_eq!(
            ids(s.access_requests_for(ada, 3500).await.unwrap()),
            vec![r1, r2]
        );
        assert_eq!(
            ids(s.access_requests_for(bob, 3500).await.unwrap()),
            vec![r1]
        );
        assert!(s.access_requests_for(ada, 4002).await.unwrap().is_empty());
        assert_eq!(
            ids(s.access_requests_for(bob, 4002).await.unwrap()),
            vec![r1]
        );

        // Approval writes the membership and the decision together.
        let grant = |who: Id, epoch: u64, key: Option<Vec<u8>>| SetMember {
            group: g,
            account: who,
            role: GroupRole::Editor,
            expires_at: Some(3500 + 60),
            epoch,
            key,
            by: ada,
            now: 3500,
            log: log(2),
        };
        let approve = |rid: Id, grant: SetMember| Decision {
            request: rid,
            by: ada,
            now: 3500,
            grant: Some(grant),
        };
        // A stale epoch or a missing key changes nothing.
        let e = s
            .decide_access_request(approve(r1, grant(bob, 2, Some(vec![3; 80]))), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::StaleEpoch), "{e:?}");
        let e = s
            .decide_access_request(approve(r1, grant(bob, 1, None)), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        assert!(s.membership(g, bob).await.unwrap().is_none());
        assert!(s
            .access_request(r1)
            .await
            .unwrap()
            .unwrap()
            .is_pending(3500));

        let done = s
            .decide_access_request(approve(r1, grant(bob, 1, Some(vec![3; 80]))), Audit::none())
            .await
            .unwrap();
        assert_eq!(done.status(3500), AccessRequestStatus::Approved);
        assert_eq!(
            (
                done.decided_at,
                done.decided_by,
                done.granted_role,
                done.granted_until
            ),
            (Some(3500), Some(ada), Some(GroupRole::Editor), Some(3560))
        );
        let m = s.membership(g, bob).await.unwrap().unwrap();
        assert_eq!((m.role, m.expires_at), (GroupRole::Editor, Some(3560)));
        assert!(m.is_live(3559) && !m.is_live(3560));
        let bobs = s.groups_of(bob, 3500).await.unwrap();
        assert_eq!(bobs[0].keys[0].wrapped, Blob(vec![3; 80]));
        assert!(s.groups_of(bob, 3560).await.unwrap().is_empty());
        // Decided once: neither a second approval nor a denial.
        let e = s
            .decide_access_request(approve(r1, grant(bob, 1, Some(vec![4; 80]))), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::AlreadyDecided), "{e:?}");
        let deny = |rid: Id, now: i64| Decision {
            request: rid,
            by: ada,
            now,
            grant: None,
        };
        let e = s
            .decide_access_request(deny(r1, 3500), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::AlreadyDecided), "{e:?}");
        assert_eq!(
            s.membership(g, bob).await.unwrap().unwrap().expires_at,
            Some(3560)
        );
        // Bob may ask again once his request is decided.
        s.create_access_request(new(id(10), bob, 3600), Audit::none())
            .await
            .unwrap();

        // A lapsed request cannot be decided; a denial writes no membership.
        let e = s
            .decide_access_request(deny(r2, 4002), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::RequestExpired), "{e:?}");
        let e = s
            .decide_access_request(
                Decision {
                    now: 4002,
                    ..approve(r2, grant(carol, 1, Some(vec![5; 80])))
                },
                Audit::none(),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::RequestExpired), "{e:?}");
        assert!(s.membership(g, carol).await.unwrap().is_none());
        let r3 = id(11);
        s.create_access_request(new(r3, carol, 4002), Audit::none())
            .await
            .unwrap();
        let denied = s
            .decide_access_request(deny(r3, 4100), Audit::none())
            .await
            .unwrap();
        assert_eq!(denied.status(4100), AccessRequestStatus::Denied);
        assert_eq!(denied.granted_until, None);
        assert!(s.membership(g, carol).await.unwrap().is_none());
        let e = s
            .decide_access_request(deny(id(12), 4100), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
    });
}

fn new_token(team: Id, group: Id, by: Id, epoch: u64, expires_at: i64) -> NewToken {
    NewToken {
        id: id(5),
        group_id: group,
        team_id: team,
        name: b"sealed name".to_vec(),
        exchange_public: vec![8; 32],
        signature: vec![6; 64],
        token_hash: rand::random(),
        created_by: by,
        created_at: 1000,
        expires_at,
        epoch,
        key: b"e1 for token".to_vec(),
        pin: Some(b"tagged pin".to_vec()),
    }
}

fn rotation(group: Id, by: Id, epoch: u64, token_keys: Vec<(Id, Vec<u8>)>) -> Rotation {
    Rotation {
        group,
        epoch,
        remove: vec![],
        name: b"name".to_vec(),
        prev: format!("e{} under e{epoch}", epoch - 1).into_bytes(),
        keys: vec![(by, b"k".to_vec())],
        token_keys,
        by,
        now: 1200,
        log: log(epoch),
    }
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn machine_tokens_are_stored_hashed_scoped_and_rotated(kind: Kind) {
    run(kind, |s| async move {
        let (t, admin, _) = setup(&*s, "ada@example.com").await;
        let g = id(4);
        s.create_group(
            NewGroup {
                id: g,
                team_id: t.id,
                name: b"n".to_vec(),
                created_by: admin,
                key: b"k".to_vec(),
                created_at: 1000,
                log: log(1),
            },
            Audit::none(),
        )
        .await
        .unwrap();
        // Another team's id or a stale epoch creates nothing.
        let wrong_team = new_token(id(9), g, admin, 1, 5000);
        assert!(matches!(
            s.create_token(wrong_team, Audit::none()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            s.create_token(new_token(t.id, g, admin, 2, 5000), Audit::none())
                .await,
            Err(StoreError::StaleEpoch)
        ));
        assert!(s.group_tokens(g).await.unwrap().is_empty());

        let tok = new_token(t.id, g, admin, 1, 5000);
        s.create_token(tok.clone(), Audit::none()).await.unwrap();
        let again = NewToken {
            token_hash: rand::random(),
            ..tok.clone()
        };
        assert!(matches!(
            s.create_token(again, Audit::none()).await,
            Err(StoreError::IdTaken)
        ));
        let found = s.token_by_hash(tok.token_hash).await.unwrap().unwrap();
        assert_eq!(
            (found.id, found.group_id, found.team_id, found.created_by),
            (tok.id, g, t.id, admin)
        );
        assert_eq!(
            (
                found.name_epoch,
                found.expires_at,
                found.revoked_at,
                found.last_used_at
            ),
            (1, 5000, None, None)
        );
        assert_eq!(found.exchange_public, vec![8; 32]);
        assert_eq!(found.signature, vec![6; 64]);
        assert_eq!(found.pin.as_deref(), Some(&b"tagged pin"[..]));
        assert!(found.is_live(4999) && !found.is_live(5000));
        assert!(s.token_by_hash([0; 32]).await.unwrap().is_none());
        let keys = s.token_keys(tok.id).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            (keys[0].epoch, &keys[0].wrapped.0[..]),
            (1, &b"e1 for token"[..])
        );

        // A rotation must give every live token a key; the key is then served to the token.
        assert!(matches!(
            s.rotate_group(rotation(g, admin, 2, vec![]), Audit::none())
                .await,
            Err(StoreError::StaleEpoch)
        ));
        assert_eq!(
            s.group(g).await.unwrap().unwrap().epoch,
            1,
            "nothing changed"
        );
        s.rotate_group(
            rotation(g, admin, 2, vec![(tok.id, b"e2 for token".to_vec())]),
            Audit::none(),
        )
        .await
        .unwrap();
        let keys = s.token_keys(tok.id).await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(&keys[1].wrapped.0[..], b"e2 for token");
        assert_eq!(&keys[1].prev.0[..], b"e1 under e2");

        s.touch_token(tok.id, 1300).await.unwrap();
        assert_eq!(
            s.token_by_hash(tok.token_hash)
                .await
                .unwrap()
                .unwrap()
                .last_used_at,
            Some(1300)
        );
        // Revocation: once, only in its own group; a revoked token needs no key any more.
        assert!(!s
            .revoke_token(id(8), tok.id, 1400, Audit::none())
            .await
            .unwrap());
        assert!(s
            .revoke_token(g, tok.id, 1400, Audit::none())
            .await
            .unwrap());
        assert!(!s
            .revoke_token(g, tok.id, 1500, Audit::none())
            .await
            .unwrap());
        let listed = s.group_tokens(g).await.unwrap();
        assert_eq!((listed.len(), listed[0].revoked_at), (1, Some(1400)));
        s.rotate_group(rotation(g, admin, 3, vec![]), Audit::none())
            .await
            .unwrap();
        // An expired token needs no key either.
        let short = NewToken {
            id: id(6),
            token_hash: rand::random(),
            expires_at: 1100,
            epoch: 3,
            ..tok.clone()
        };
        s.create_token(short, Audit::none()).await.unwrap();
        s.rotate_group(rotation(g, admin, 4, vec![]), Audit::none())
            .await
            .unwrap();
        assert_eq!(s.group_tokens(g).await.unwrap().len(), 2);
    });
}

/// Every method of the store traits is called somewhere in this suite.
#[test]
fn every_store_method_is_called() {
    let traits = [
        include_str!("../src/store.rs"),
        include_str!("../src/store/access_request.rs"),
        include_str!("../src/store/token.rs"),
    ];
    let suite = include_str!("store.rs");
    let mut methods = Vec::new();
    for source in traits {
        let mut inside = false;
        for line in source.lines() {
            if line.starts_with("pub trait ") {
                inside = true;
            } else if line == "}" {
                inside = false;
            } else if let Some(rest) = line.trim().strip_prefix("fn ").filter(|_| inside) {
                let name: String = rest
                    .chars()
                    .take_while(|c| *c == '_' || c.is_alphanumeric())
                    .collect();
                methods.push(name);
            }
        }
    }
    assert!(methods.len() > 50, "found only {methods:?}");
    let missing: Vec<&String> = methods
        .iter()
        .filter(|m| !suite.contains(&format!(".{m}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "the conformance suite never calls {missing:?}"
    );
}

/// `m` stored with the entry after its group's last as its log entry (the cases below are
/// about memberships; the log has a case of its own).
async fn set(s: &dyn Store, mut m: SetMember) -> Result<(), StoreError> {
    m.log = next_log(s, m.group).await;
    s.set_member(m, Audit::none()).await
}

/// `r` stored with the entry after its group's last as its log entry.
async fn rotate_in(s: &dyn Store, mut r: Rotation) -> Result<(), StoreError> {
    r.log = next_log(s, r.group).await;
    s.rotate_group(r, Audit::none()).await
}

/// The entry of the test chain ([`log`]) after `group`'s last.
async fn next_log(s: &dyn Store, group: Id) -> LogAppend {
    log(s
        .group_log_head(group)
        .await
        .unwrap()
        .map_or(0, |(seq, _)| seq)
        + 1)
}

fn group_of(team: Id, g: Id, by: Id) -> NewGroup {
    NewGroup {
        id: g,
        team_id: team,
        name: b"n1".to_vec(),
        created_by: by,
        key: b"k1 ada".to_vec(),
        created_at: 1000,
        log: log(1),
    }
}

fn directory_certificates_and_server_secret(kind: Kind) {
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        let bob = join(&*s, &t, ada, "bob@example.com").await;
        // Another team's accounts are not listed.
        setup(&*s, "zed@example.com").await;
        let d = s.directory(t.id).await.unwrap();
        assert_eq!(
            d.iter()
                .map(|e| (e.account_id, e.email.as_str(), e.team_role.as_str()))
                .collect::<Vec<_>>(),
            [
                (ada, "ada@example.com", "admin"),
                (bob, "bob@example.com", "member")
            ]
        );
        assert_eq!(
            (&d[0].exchange_public, &d[0].signing_public),
            (&Blob(vec![1; 32]), &Blob(vec![2; 32]))
        );
        assert!(d[1].certificate.0.is_empty());
        s.set_certificate(bob, b"chain".to_vec(), Audit::none())
            .await
            .unwrap();
        assert_eq!(
            s.directory(t.id).await.unwrap()[1].certificate,
            Blob(b"chain".to_vec())
        );
        assert!(matches!(
            s.set_certificate(id(9), vec![1], Audit::none()).await,
            Err(StoreError::NotFound)
        ));
        // The root pin: none until an account sends one, then handed back with the account.
        assert_eq!(s.account_by_id(bob).await.unwrap().unwrap().root_pin, None);
        s.set_root_pin(bob, vec![5; 96]).await.unwrap();
        assert_eq!(
            s.account_by_id(bob).await.unwrap().unwrap().root_pin,
            Some(vec![5; 96])
        );
        assert!(matches!(
            s.set_root_pin(id(9), vec![5; 96]).await,
            Err(StoreError::NotFound)
        ));
        // Manifests: the first is number 1, each next one follows the stored one only.
        let m = |seq: u64| tessera_server::store::StoredManifest {
            seq,
            body: vec![seq as u8; 40],
            auth: vec![1; 32],
            signer: (seq % 2 == 0).then_some(Id([3; 16])),
        };
        assert_eq!(s.manifest(bob).await.unwrap(), None);
        for stale in [0, 2] {
            let r = s.put_manifest(bob, m(stale)).await;
            assert!(matches!(r, Err(StoreError::StaleManifest)), "{r:?}");
        }
        s.put_manifest(bob, m(1)).await.unwrap();
        assert!(matches!(
            s.put_manifest(bob, m(1)).await,
            Err(StoreError::StaleManifest)
        ));
        s.put_manifest(bob, m(2)).await.unwrap();
        assert!(matches!(
            s.put_manifest(bob, m(4)).await,
            Err(StoreError::StaleManifest)
        ));
        assert_eq!(s.manifest(bob).await.unwrap(), Some(m(2)));
        assert_eq!(s.manifest(id(9)).await.unwrap(), None);
        let before = s.server_secret().await.unwrap();
        s.rotate_server_secret().await.unwrap();
        let after = s.server_secret().await.unwrap();
        assert_ne!(before, after);
        assert_eq!(after, s.server_secret().await.unwrap());
    });
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn groups_members_and_epochs(kind: Kind) {
    use GroupRole::{Admin, Editor, Viewer};
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        let bob = join(&*s, &t, ada, "bob@example.com").await;
        let carol = join(&*s, &t, ada, "carol@example.com").await;
        let g = id(4);
        s.create_group(group_of(t.id, g, ada), Audit::none())
            .await
            .unwrap();
        assert!(matches!(
            s.create_group(group_of(t.id, g, ada), Audit::none()).await,
            Err(StoreError::IdTaken)
        ));
        assert_eq!(
            s.group(g).await.unwrap(),
            Some(Group {
                id: g,
                team_id: t.id,
                epoch: 1,
                name: b"n1".to_vec()
            })
        );
        assert!(s.group(id(9)).await.unwrap().is_none());
        let creator = s.membership(g, ada).await.unwrap().unwrap();
        assert_eq!(
            (creator.role, creator.expires_at, creator.removed_at),
            (Admin, None, None)
        );
        let member = |who: Id, role, expires_at, epoch, key: Option<&[u8]>, now| SetMember {
            group: g,
            account: who,
            role,
            expires_at,
            epoch,
            key: key.map(<[u8]>::to_vec),
            by: ada,
            now,
            log: log(1),
        };
        // A stale epoch, a member without the key or an unknown group change nothing.
        let e = set(&*s, member(bob, Editor, None, 2, Some(b"k1 bob"), 1100))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::StaleEpoch), "{e:?}");
        let e = set(&*s, member(bob, Editor, None, 1, None, 1100))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        let e = set(
            &*s,
            SetMember {
                group: id(9),
                ..member(bob, Editor, None, 1, Some(b"k"), 1100)
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        assert!(s.membership(g, bob).await.unwrap().is_none());
        set(&*s, member(bob, Editor, None, 1, Some(b"k1 bob"), 1100))
            .await
            .unwrap();
        set(
            &*s,
            member(carol, Viewer, Some(1500), 1, Some(b"k1 carol"), 1200),
        )
        .await
        .unwrap();
        // A role change keeps the key and when the member was added.
        set(&*s, member(bob, Viewer, None, 1, None, 1300))
            .await
            .unwrap();
        let members = s.group_members(g, 1400).await.unwrap();
        assert_eq!(
            members
                .iter()
                .map(|m| (
                    m.account_id,
                    m.role,
                    m.added_at,
                    m.added_by,
                    m.has_current_key
                ))
                .collect::<Vec<_>>(),
            [
                (ada, Admin, 1000, ada, true),
                (bob, Viewer, 1100, ada, true),
                (carol, Viewer, 1200, ada, true)
            ]
        );
        assert_eq!(members[2].expires_at, Some(1500));
        assert_eq!(members[1].email, "bob@example.com");
        // Carol's membership ends at 1500.
        assert_eq!(s.group_members(g, 1500).await.unwrap().len(), 2);
        assert!(s.groups_of(carol, 1500).await.unwrap().is_empty());
        let bobs = s.groups_of(bob, 1400).await.unwrap();
        assert_eq!(bobs.len(), 1);
        assert_eq!(
            (
                bobs[0].group_id,
                bobs[0].epoch,
                bobs[0].role,
                bobs[0].expires_at
            ),
            (g, 1, Viewer, None)
        );
        assert_eq!(bobs[0].name, Blob(b"n1".to_vec()));
        assert_eq!(
            bobs[0].keys,
            vec![EpochKey {
                epoch: 1,
                wrapped: Blob(b"k1 bob".to_vec()),
                prev: Blob::default()
            }]
        );

        // A rotation removes members and starts the next epoch, only from the current one.
        let rotate = |epoch: u64, remove: Vec<Id>, now| Rotation {
            group: g,
            epoch,
            remove,
            name: format!("n{epoch}").into_bytes(),
            prev: format!("k{} under k{epoch}", epoch - 1).into_bytes(),
            keys: vec![(ada, format!("k{epoch} ada").into_bytes())],
            token_keys: vec![],
            by: ada,
            now,
            log: log(1),
        };
        let e = rotate_in(&*s, rotate(3, vec![], 1600)).await.unwrap_err();
        assert!(matches!(e, StoreError::StaleEpoch), "{e:?}");
        let e = rotate_in(
            &*s,
            Rotation {
                group: id(9),
                ..rotate(2, vec![], 1600)
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        rotate_in(&*s, rotate(2, vec![bob], 1600)).await.unwrap();
        let e = rotate_in(&*s, rotate(2, vec![], 1600)).await.unwrap_err();
        assert!(matches!(e, StoreError::StaleEpoch), "{e:?}");
        let now_g = s.group(g).await.unwrap().unwrap();
        assert_eq!((now_g.epoch, now_g.name), (2, b"n2".to_vec()));
        let removed = s.membership(g, bob).await.unwrap().unwrap();
        assert_eq!(removed.removed_at, Some(1600));
        assert!(!removed.is_live(1600));
        assert!(s.groups_of(bob, 1600).await.unwrap().is_empty());
        let keys = &s.groups_of(ada, 1600).await.unwrap()[0].keys;
        assert_eq!(
            keys.iter()
                .map(|k| (k.epoch, k.wrapped.0.clone(), k.prev.0.clone()))
                .collect::<Vec<_>>(),
            [
                (1, b"k1 ada".to_vec(), vec![]),
                (2, b"k2 ada".to_vec(), b"k1 under k2".to_vec())
            ]
        );
        // Added again: a new start, and the keys of every epoch it holds.
        set(&*s, member(bob, Editor, None, 2, Some(b"k2 bob"), 1700))
            .await
            .unwrap();
        let members = s.group_members(g, 1700).await.unwrap();
        let b = members.iter().find(|m| m.account_id == bob).unwrap();
        assert_eq!(
            (b.role, b.added_at, b.has_current_key),
            (Editor, 1700, true)
        );
        let keys = &s.groups_of(bob, 1700).await.unwrap()[0].keys;
        assert_eq!(
            keys.iter().map(|k| k.wrapped.0.clone()).collect::<Vec<_>>(),
            [b"k1 bob".to_vec(), b"k2 bob".to_vec()]
        );
        // A member the rotation gave no key lacks the current one.
        rotate_in(&*s, rotate(3, vec![], 1800)).await.unwrap();
        assert_eq!(
            s.group_members(g, 1800)
                .await
                .unwrap()
                .iter()
                .map(|m| (m.account_id, m.has_current_key))
                .collect::<Vec<_>>(),
            [(ada, true), (bob, false)]
        );
    });
}

fn group_items_are_pushed_pulled_and_found(kind: Kind) {
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        let (g, h) = (id(4), id(5));
        s.create_group(group_of(t.id, g, ada), Audit::none())
            .await
            .unwrap();
        s.create_group(group_of(t.id, h, ada), Audit::none())
            .await
            .unwrap();
        let mut rx = s.subscribe();
        let (a, b) = (id(10), id(11));
        // Personal and group items share the team's sequence; an item id is per space.
        s.push(t.id, ada, vec![change(a, 0, b"mine")], 1, Audit::none())
            .await
            .unwrap();
        let r = s
            .group_push(
                t.id,
                g,
                vec![
                    change(a, 0, b"a1"),
                    change(b, 0, b"b1"),
                    change(a, 1, b"a2"),
                ],
                2,
                Audit::none(),
            )
            .await
            .unwrap();
        assert_eq!(
            r.iter().map(applied).collect::<Vec<_>>(),
            [(1, 2), (1, 3), (2, 4)]
        );
        let r = s
            .group_push(
                t.id,
                g,
                vec![change(a, 1, b"a2"), change(b, 0, b"other")],
                3,
                Audit::none(),
            )
            .await
            .unwrap();
        assert_eq!(applied(&r[0]), (2, 4), "a resend");
        assert!(
            matches!(&r[1], PushResult::Conflict { current } if current.blob == Blob(b"b1".to_vec()))
        );
        let p = s.group_pull(g, 0, 1).await.unwrap();
        assert_eq!(p.changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [3]);
        assert!(p.more);
        let p = s.group_pull(g, 3, 10).await.unwrap();
        assert_eq!(
            p.changes
                .iter()
                .map(|c| (c.item_id, c.version, c.seq))
                .collect::<Vec<_>>(),
            [(a, 2, 4)]
        );
        assert!(!p.more);
        assert!(s.group_pull(h, 0, 10).await.unwrap().changes.is_empty());
        assert_eq!(s.pull(ada, 0, 10).await.unwrap().changes.len(), 1);
        assert_eq!(s.group_of_item(t.id, a).await.unwrap(), Some(g));
        assert_eq!(s.group_of_item(id(9), a).await.unwrap(), None);
        // A deleted item is in no group.
        let del = PushChange {
            item_id: b,
            base_version: 1,
            version: 2,
            deleted: true,
            blob: Blob::default(),
        };
        s.group_push(t.id, g, vec![del], 4, Audit::none())
            .await
            .unwrap();
        assert_eq!(s.group_of_item(t.id, b).await.unwrap(), None);
        assert!(matches!(
            s.group_push(id(9), g, vec![change(id(12), 0, b"x")], 5, Audit::none())
                .await,
            Err(StoreError::NotFound)
        ));
        // Personal and group pushes are announced, each for its collection.
        s.push(t.id, ada, vec![change(a, 1, b"mine 2")], 6, Audit::none())
            .await
            .unwrap();
        for (collection, seq) in [(ada, 1), (g, 4), (g, 5), (ada, 6)] {
            let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
                .await
                .expect("a change is announced")
                .unwrap();
            assert_eq!(got, Change { collection, seq });
        }
    });
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn audit_entries_chain_and_filter(kind: Kind) {
    use AuditAction::{Change as Changed, Login, LoginFailed, MemberSet, TokenUse};
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        let (t2, zed, _) = setup(&*s, "zed@example.com").await;
        let (item, bob, g, token) = (id(10), id(11), id(12), id(13));
        let ev = AuditEvent::new;
        s.append_audit(t.id, 100, vec![]).await.unwrap();
        s.append_audit(
            t.id,
            100,
            vec![
                ev(Actor::Account(ada), Login),
                ev(Actor::Account(ada), Changed).item(item).detail("v2"),
            ],
        )
        .await
        .unwrap();
        s.append_audit(t2.id, 150, vec![ev(Actor::Account(zed), Login)])
            .await
            .unwrap();
        s.append_audit(
            t.id,
            200,
            vec![
                ev(Actor::Anonymous, LoginFailed),
                ev(Actor::Account(ada), MemberSet).group(g).subject(bob),
                ev(Actor::Token(token), TokenUse),
            ],
        )
        .await
        .unwrap();
        let all = s
            .audit_page(t.id, AuditQuery::default(), 100)
            .await
            .unwrap();
        assert!(!all.more);
        assert_eq!(
            all.entries
                .iter()
                .map(|e| (e.seq, e.at, e.action))
                .collect::<Vec<_>>(),
            [
                (1, 100, Login),
                (2, 100, Changed),
                (3, 200, LoginFailed),
                (4, 200, MemberSet),
                (5, 200, TokenUse)
            ]
        );
        verify_chain(&t.id, &all.entries, None).unwrap();
        let e = &all.entries;
        assert_eq!((e[1].item_id, e[1].detail.as_str()), (Some(item), "v2"));
        assert_eq!((e[3].group_id, e[3].subject), (Some(g), Some(bob)));
        assert_eq!(
            (e[2].actor, e[4].actor),
            (Actor::Anonymous, Actor::Token(token))
        );
        // Each team's chain starts on its own.
        let other = s
            .audit_page(t2.id, AuditQuery::default(), 100)
            .await
            .unwrap();
        assert_eq!(other.entries.len(), 1);
        assert_eq!(
            (other.entries[0].seq, &other.entries[0].prev),
            (1, &Blob(vec![0; 32]))
        );

        let seqs = |q: AuditQuery, limit: usize| {
            let s = Arc::clone(&s);
            async move {
                let p = s.audit_page(t.id, q, limit).await.unwrap();
                (p.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), p.more)
            }
        };
        let q = AuditQuery::default;
        assert_eq!(
            seqs(AuditQuery { after: 1, ..q() }, 2).await,
            (vec![2, 3], true)
        );
        assert_eq!(
            seqs(AuditQuery { after: 3, ..q() }, 2).await,
            (vec![4, 5], false)
        );
        let only = |q: AuditQuery| seqs(q, 100);
        assert_eq!(
            only(AuditQuery {
                actor: Some(ada),
                ..q()
            })
            .await
            .0,
            [1, 2, 4]
        );
        assert_eq!(
            only(AuditQuery {
                item: Some(item),
                ..q()
            })
            .await
            .0,
            [2]
        );
        assert_eq!(
            only(AuditQuery {
                account: Some(bob),
                ..q()
            })
            .await
            .0,
            [4]
        );
        assert_eq!(
            only(AuditQuery {
                account: Some(token),
                ..q()
            })
            .await
            .0,
            [5]
        );
        assert_eq!(
            only(AuditQuery {
                since: Some(200),
                ..q()
            })
            .await
            .0,
            [3, 4, 5]
        );
        assert_eq!(
            only(AuditQuery {
                until: Some(200),
                ..q()
            })
            .await
            .0,
            [1, 2]
        );
    });
}

/// An audited method appends its entries to the team's chain in its own transaction: what it
/// records, fixed or made from its result, when it succeeds; nothing when the store refuses it
/// or when it changed nothing.
#[allow(clippy::too_many_lines)] // one story, told in order
fn a_change_commits_its_audit_entries(kind: Kind) {
    use AuditAction::{
        Change as Changed, GroupCreate, Join, LoginFailed, MemberSet, SessionRevoke,
    };
    run(kind, |s| async move {
        let (t, ada, sess) = setup(&*s, "ada@example.com").await;
        let ev = move |a: AuditAction| AuditEvent::new(Actor::Account(ada), a);
        let chain = |s: Arc<dyn Store>| async move {
            let page = s
                .audit_page(t.id, AuditQuery::default(), 100)
                .await
                .unwrap();
            verify_chain(&t.id, &page.entries, None).unwrap();
            page.entries
                .iter()
                .map(|e| (e.at, e.action, e.detail.clone()))
                .collect::<Vec<_>>()
        };
        let g = id(4);
        let created = || Audit::new(t.id, 10, vec![ev(GroupCreate).group(g)]);
        s.create_group(group_of(t.id, g, ada), created())
            .await
            .unwrap();
        // Refused (the id is taken): no entry.
        assert!(matches!(
            s.create_group(group_of(t.id, g, ada), created()).await,
            Err(StoreError::IdTaken)
        ));
        // Refused (the log entry does not follow): no entry, no member.
        let bob = join(&*s, &t, ada, "bob@example.com").await;
        let member = |log: LogAppend| SetMember {
            group: g,
            account: bob,
            role: GroupRole::Viewer,
            expires_at: None,
            epoch: 1,
            key: Some(b"k1 bob".to_vec()),
            by: ada,
            now: 11,
            log,
        };
        let set = || Audit::new(t.id, 11, vec![ev(MemberSet).subject(bob)]);
        assert!(matches!(
            s.set_member(member(log(3)), set()).await,
            Err(StoreError::StaleLog)
        ));
        assert_eq!(s.membership(g, bob).await.unwrap(), None);
        s.set_member(member(log(2)), set()).await.unwrap();

        // Made from the result: one entry per applied change, none when nothing applied.
        let applied = move |at: i64| {
            Audit::of(at, move |r: &Vec<PushResult>| {
                let n = r
                    .iter()
                    .filter(|r| matches!(r, PushResult::Applied { .. }))
                    .count();
                (t.id, vec![ev(Changed).detail(format!("{n}")); n])
            })
        };
        let a = id(10);
        s.push(
            t.id,
            ada,
            vec![change(a, 0, b"a1"), change(id(11), 3, b"x")],
            12,
            applied(12),
        )
        .await
        .unwrap();
        s.push(t.id, ada, vec![change(a, 0, b"stale")], 13, applied(13))
            .await
            .unwrap();
        assert!(matches!(
            s.push(id(9), ada, vec![change(a, 1, b"a2")], 14, applied(14))
                .await,
            Err(StoreError::NotFound)
        ));
        // Only when it changed something.
        let revoked = || Audit::if_done(t.id, 15, vec![ev(SessionRevoke)]);
        assert!(s.revoke_session(ada, sess.id, 15, revoked()).await.unwrap());
        assert!(!s.revoke_session(ada, sess.id, 15, revoked()).await.unwrap());
        // The team is the one the store found (the invitation's).
        let h: [u8; 32] = rand::random();
        s.create_invite(
            NewInvite {
                token_hash: h,
                team_id: t.id,
                email: "carol@example.com".into(),
                created_by: ada,
                created_at: 1000,
                expires_at: 5000,
            },
            Audit::none(),
        )
        .await
        .unwrap();
        let joined = || {
            Audit::of(16, |team: &Team| {
                (team.id, vec![AuditEvent::new(Actor::Anonymous, Join)])
            })
        };
        let carol = account(id(0), "carol@example.com", Role::Member);
        s.join_team([1; 32], carol.clone(), session(16), 16, joined())
            .await
            .unwrap_err();
        s.join_team(h, carol, session(16), 16, joined())
            .await
            .unwrap();
        // A refusal that counts is recorded with the count.
        s.record_login_failure(
            Some(ada),
            "10.0.0.1".into(),
            17,
            LoginPolicy::default(),
            Audit::new(t.id, 17, vec![ev(LoginFailed)]),
        )
        .await
        .unwrap();
        assert_eq!(
            s.account_by_id(ada).await.unwrap().unwrap().failed_logins,
            1
        );

        assert_eq!(
            chain(Arc::clone(&s)).await,
            [
                (10, GroupCreate, String::new()),
                (11, MemberSet, String::new()),
                (12, Changed, "1".into()),
                (15, SessionRevoke, String::new()),
                (16, Join, String::new()),
                (17, LoginFailed, String::new()),
            ]
        );
    });
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn offboarding_reviews_and_ends_access(kind: Kind) {
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        // Bob joined at 2000 with one session.
        let bob = join(&*s, &t, ada, "bob@example.com").await;
        let (g, h) = (id(4), id(5));
        s.create_group(group_of(t.id, g, ada), Audit::none())
            .await
            .unwrap();
        s.create_group(group_of(t.id, h, ada), Audit::none())
            .await
            .unwrap();
        let member = |group: Id, role, expires_at, now| SetMember {
            group,
            account: bob,
            role,
            expires_at,
            epoch: 1,
            key: Some(b"k1 bob".to_vec()),
            by: ada,
            now,
            log: log(1),
        };
        set(&*s, member(g, GroupRole::Editor, None, 2100))
            .await
            .unwrap();
        set(&*s, member(h, GroupRole::Viewer, Some(2500), 2200))
            .await
            .unwrap();
        s.create_token(new_token(t.id, g, bob, 1, 5000), Audit::none())
            .await
            .unwrap();
        let (x, y, z, w) = (id(10), id(11), id(12), id(13));
        s.group_push(t.id, g, vec![change(x, 0, b"x")], 2000, Audit::none())
            .await
            .unwrap();
        s.group_push(
            t.id,
            h,
            vec![change(y, 0, b"y"), change(w, 0, b"w")],
            2400,
            Audit::none(),
        )
        .await
        .unwrap();
        // Made after Bob's access to h ended: never exposed.
        s.group_push(t.id, h, vec![change(z, 0, b"z")], 2600, Audit::none())
            .await
            .unwrap();
        // Changed after it ended: still listed (he saw an earlier version), as it is now.
        s.group_push(t.id, h, vec![change(y, 1, b"y2")], 2700, Audit::none())
            .await
            .unwrap();
        // Deleted: nothing left to rotate.
        let del = PushChange {
            item_id: w,
            base_version: 1,
            version: 2,
            deleted: true,
            blob: Blob::default(),
        };
        s.group_push(t.id, h, vec![del], 2800, Audit::none())
            .await
            .unwrap();
        let (windows, records) = s.offboarding(bob, 3000).await.unwrap();
        assert_eq!(
            windows,
            vec![
                MembershipWindow {
                    group_id: g,
                    role: GroupRole::Editor,
                    from: 2100,
                    to: None
                },
                MembershipWindow {
                    group_id: h,
                    role: GroupRole::Viewer,
                    from: 2200,
                    to: Some(2500)
                }
            ]
        );
        assert_eq!(
            records
                .iter()
                .map(|r| (r.group_id, r.record.item_id, r.record.version))
                .collect::<Vec<_>>(),
            [(g, x, 1), (h, y, 2)]
        );
        assert_eq!(s.offboarded_at(bob).await.unwrap(), None);
        let done = s.offboard(bob, ada, 3000, Audit::none()).await.unwrap();
        assert_eq!(
            (done.sessions_revoked, done.tokens_revoked, done.groups),
            (1, 1, vec![g])
        );
        assert_eq!(s.offboarded_at(bob).await.unwrap(), Some(3000));
        assert!(s.list_sessions(bob, 3000).await.unwrap().is_empty());
        assert!(!s.membership(g, bob).await.unwrap().unwrap().is_live(3000));
        assert_eq!(s.group_tokens(g).await.unwrap()[0].revoked_at, Some(3000));
        // Again: the first time stays, nothing more to end.
        let again = s.offboard(bob, ada, 3100, Audit::none()).await.unwrap();
        assert_eq!(
            (
                again.sessions_revoked,
                again.tokens_revoked,
                again.groups.len()
            ),
            (0, 0, 0)
        );
        assert_eq!(s.offboarded_at(bob).await.unwrap(), Some(3000));
        let (windows, _) = s.offboarding(bob, 3100).await.unwrap();
        assert_eq!(windows[0].to, Some(3000));
    });
}

fn share_expiry_is_set_cleared_and_ended(kind: Kind) {
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        let (g, h) = (id(4), id(5));
        s.create_group(group_of(t.id, g, ada), Audit::none())
            .await
            .unwrap();
        s.create_group(group_of(t.id, h, ada), Audit::none())
            .await
            .unwrap();
        let (a, b) = (id(10), id(11));
        assert_eq!(s.share_expiry(g, a).await.unwrap(), None);
        s.set_share_expiry(g, a, Some(2000), Audit::none())
            .await
            .unwrap();
        s.set_share_expiry(g, b, Some(3000), Audit::none())
            .await
            .unwrap();
        s.set_share_expiry(g, a, Some(2500), Audit::none())
            .await
            .unwrap();
        assert_eq!(s.share_expiry(g, a).await.unwrap(), Some(2500));
        assert_eq!(s.share_expiry(h, a).await.unwrap(), None, "per group");
        assert!(s.ended_shares(g, 2499).await.unwrap().is_empty());
        assert_eq!(s.ended_shares(g, 2500).await.unwrap(), vec![a]);
        let ended: HashSet<Id> = s.ended_shares(g, 3000).await.unwrap().into_iter().collect();
        assert_eq!(ended, HashSet::from([a, b]));
        s.set_share_expiry(g, a, None, Audit::none()).await.unwrap();
        assert_eq!(s.share_expiry(g, a).await.unwrap(), None);
        assert_eq!(s.ended_shares(g, 3000).await.unwrap(), vec![b]);
        assert!(s.ended_shares(h, 9999).await.unwrap().is_empty());
    });
}

/// The PostgreSQL pool holds at most its size; a request that finds no free connection within
/// the acquire timeout fails with a message naming the settings, and the pool recovers.
#[test]
fn the_postgres_pool_is_bounded_and_gives_up_waiting() {
    let (_db, url) = support::PgDatabase::create();
    let h = Harness::new(Kind::Sqlite);
    assert!(h.store.pool_status().is_none(), "SQLite has no pool");
    h.rt.block_on(async {
        let options = PoolOptions {
            size: 1,
            acquire_timeout: std::time::Duration::from_millis(300),
        };
        let store = Arc::new(PgStore::connect_with(&url, options).await.unwrap());
        let (t, _, _) = setup(&*store, "ada@example.com").await;
        let status = store.pool_status().unwrap();
        assert_eq!(
            (
                status.max_size,
                status.size,
                status.available,
                status.timeouts
            ),
            (1, 1, 1, 0)
        );
        // Another client locks the teams table: a read holds the only connection meanwhile.
        let (locker, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        locker
            .batch_execute("BEGIN; LOCK TABLE teams IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        let held = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.team(t.id).await }
        });
        for _ in 0..1000 {
            if store.pool_status().unwrap().available == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            store.pool_status().unwrap().available,
            0,
            "the read holds it"
        );
        let Err(StoreError::Backend(e)) = store.team(t.id).await else {
            panic!("no free connection must fail")
        };
        assert!(e.to_string().contains("database_pool_size"), "{e}");
        assert_eq!(store.pool_status().unwrap().timeouts, 1);
        locker.batch_execute("COMMIT").await.unwrap();
        assert_eq!(held.await.unwrap().unwrap().unwrap().id, t.id);
        assert!(store.team(t.id).await.unwrap().is_some());
        assert_eq!(store.pool_status().unwrap().available, 1);
    });
}

fn a_group_log_grows_one_entry_at_a_time_with_its_change(kind: Kind) {
    run(kind, |s| async move {
        let (t, ada, _) = setup(&*s, "ada@example.com").await;
        let bob = join(&*s, &t, ada, "bob@example.com").await;
        let g = id(7);
        let group = |log| NewGroup {
            id: g,
            team_id: t.id,
            name: b"n".to_vec(),
            created_by: ada,
            key: b"k".to_vec(),
            created_at: 1000,
            log,
        };
        // A group's log starts at entry 1.
        let e = s
            .create_group(group(log(2)), Audit::none())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::StaleLog), "{e:?}");
        assert!(s.group(g).await.unwrap().is_none(), "nothing was created");
        s.create_group(group(log(1)), Audit::none()).await.unwrap();
        assert_eq!(s.group_log_head(g).await.unwrap(), Some((1, vec![1; 32])));

        let add = |log| SetMember {
            group: g,
            account: bob,
            role: GroupRole::Viewer,
            expires_at: None,
            epoch: 1,
            key: Some(b"k for bob".to_vec()),
            by: ada,
            now: 1100,
            log,
        };
        // An entry that does not follow the last one (a replay of entry 1, one that skips
        // ahead, one naming another hash) changes nothing.
        for stale in [
            log(1),
            log(3),
            LogAppend {
                prev: vec![9; 32],
                ..log(2)
            },
        ] {
            let e = s.set_member(add(stale), Audit::none()).await.unwrap_err();
            assert!(matches!(e, StoreError::StaleLog), "{e:?}");
        }
        assert!(s.membership(g, bob).await.unwrap().is_none());
        s.set_member(add(log(2)), Audit::none()).await.unwrap();
        assert!(s.membership(g, bob).await.unwrap().is_some());
        // A rotation that fails (stale epoch) appends nothing.
        assert!(matches!(
            s.rotate_group(rotation(g, ada, 3, vec![]), Audit::none())
                .await,
            Err(StoreError::StaleEpoch)
        ));
        let mut r = rotation(g, ada, 2, vec![]);
        r.keys.push((bob, b"k2 for bob".to_vec()));
        r.log = log(3);
        s.rotate_group(r, Audit::none()).await.unwrap();

        let all = s.group_log(g, 0).await.unwrap();
        let texts: Vec<_> = all.iter().map(|e| e.entry.0.clone()).collect();
        assert_eq!(
            texts,
            [
                b"entry 1".to_vec(),
                b"entry 2".to_vec(),
                b"entry 3".to_vec()
            ]
        );
        assert_eq!(all[2].signature.0, vec![3; 64]);
        assert_eq!(s.group_log(g, 2).await.unwrap().len(), 1);
        assert!(s.group_log(g, 3).await.unwrap().is_empty());
        assert!(s.group_log(id(8), 0).await.unwrap().is_empty());
    });
}
