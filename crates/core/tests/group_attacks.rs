//! A malicious team server (a test double) that substitutes a member's public key, drops or
//! zeroes the signature on a member certificate, or presents a chain that does not reach the
//! pinned team root: the client refuses to seal the group key to that member and says why,
//! whether it adds the member or approves their access request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use support::{TestVault, PASSWORD};
use tessera_core::vault::Credentials;
use tessera_core::Error;
use tessera_crypto::cert::{CertChain, CertSubject, Certificate};
use tessera_crypto::keyset::Keyset;
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tamper {
    Honest,
    /// Present bob's certified chain with another X25519 key (the server's own).
    SwapKey,
    /// Zero the signature on bob's certificate.
    ZeroSignature,
    /// Replace the chain by a leaf signed by an admin key whose admin certificate is dropped.
    DropIssuer,
}

struct Script {
    tamper: Tamper,
    alice: Option<(Id, String, proto::AccountKeys)>,
    bob: (Id, [u8; 32], [u8; 32]),
    certificates: std::collections::HashMap<Id, Vec<u8>>,
    group: Option<proto::CreateGroupRequest>,
    sealed_to: Vec<String>,
    /// The group's log as the client signed it.
    log: Vec<proto::SignedLogEntry>,
}

fn directory(s: &Script) -> Vec<proto::DirectoryEntry> {
    let (alice_id, alice_email, keys) = s.alice.clone().unwrap();
    let (bob_id, bob_x, bob_ed) = s.bob;
    let mut bob_cert = s.certificates.get(&bob_id).cloned().unwrap_or_default();
    let mut bob_exchange = bob_x.to_vec();
    match s.tamper {
        Tamper::Honest => {}
        Tamper::SwapKey => bob_exchange = Keyset::generate().exchange_public().to_vec(),
        Tamper::ZeroSignature => {
            let mut c = CertChain::decode(&bob_cert).unwrap();
            c.leaf.signature = [0; 64];
            bob_cert = c.encode();
        }
        Tamper::DropIssuer => {
            let rogue_admin = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
            let leaf = Certificate::issue(
                &rogue_admin,
                CertSubject {
                    team_id: [9; 16],
                    account_id: bob_id.0,
                    email: "bob@example.com".into(),
                    exchange_public: bob_x,
                    signing_public: bob_ed,
                    admin: false,
                },
            );
            bob_cert = CertChain { leaf, issuer: None }.encode();
        }
    }
    vec![
        proto::DirectoryEntry {
            account_id: alice_id,
            email: alice_email,
            team_role: "admin".into(),
            exchange_public: keys.exchange_public,
            signing_public: keys.signing_public,
            certificate: Blob(s.certificates.get(&alice_id).cloned().unwrap_or_default()),
        },
        proto::DirectoryEntry {
            account_id: bob_id,
            email: "bob@example.com".into(),
            team_role: "member".into(),
            exchange_public: Blob(bob_exchange),
            signing_public: Blob(bob_ed.to_vec()),
            certificate: Blob(bob_cert),
        },
    ]
}

fn answer(script: &Mutex<Script>, method: &str, path: &str, body: &[u8]) -> String {
    let mut s = script.lock().unwrap();
    if path == "/v1/teams" {
        let req: proto::CreateTeamRequest = serde_json::from_slice(body).unwrap();
        s.alice = Some((
            req.admin.account_id,
            req.admin.email.clone(),
            req.admin.keys.clone(),
        ));
        return json(&proto::LoginResponse {
            team_id: Id([9; 16]),
            account_id: req.admin.account_id,
            session: proto::SessionInfo {
                token: "t".into(),
                session_id: Id([8; 16]),
                expires_at: i64::MAX,
            },
            keys: req.admin.keys,
            root_public: req.root_public,
            mfa_enabled: false,
            root_pin: None,
        });
    }
    if path == "/v1/account/root-pin" || path.ends_with("/manifest") {
        return "null".into();
    }
    if path.ends_with("/directory") {
        return json(&directory(&s));
    }
    if path.ends_with("/certificate") {
        let account = Id::parse(path.split('/').nth(5).unwrap()).unwrap();
        let req: proto::CertificateRequest = serde_json::from_slice(body).unwrap();
        s.certificates.insert(account, req.certificate.0);
        return "{}".into();
    }
    if path == "/v1/groups" && method == "POST" {
        let g: proto::CreateGroupRequest = serde_json::from_slice(body).unwrap();
        s.log.push(g.log.clone());
        s.group = Some(g);
        return "{}".into();
    }
    if path.contains("/log?") {
        return json(&proto::LogResponse {
            entries: s.log.clone(),
        });
    }
    if path == "/v1/groups" {
        let g = s.group.as_ref().unwrap();
        return json(&vec![proto::GroupInfo {
            group_id: g.group_id,
            epoch: 1,
            name: g.name.clone(),
            role: GroupRole::Admin,
            expires_at: None,
            keys: vec![proto::EpochKey {
                epoch: 1,
                wrapped: g.key.clone(),
                prev: Blob::default(),
            }],
        }]);
    }
    if path == "/v1/requests" {
        return json(&vec![bobs_request(&s, false)]);
    }
    if path == format!("/v1/requests/{REQUEST}/approve") && method == "POST" {
        let req: proto::ApproveAccessRequest = serde_json::from_slice(body).unwrap();
        s.log.push(req.log);
        let bob = s.bob.0;
        s.sealed_to.push(format!("approve {bob}"));
        return json(&bobs_request(&s, true));
    }
    if path.contains("/members/") && method == "PUT" {
        let req: proto::SetMemberRequest = serde_json::from_slice(body).unwrap();
        s.log.push(req.log);
        s.sealed_to
            .push(path.rsplit('/').next().unwrap().to_owned());
        return "{}".into();
    }
    panic!("unexpected request {method} {path}");
}

/// Bob's pending request for viewer access to the group.
const REQUEST: Id = Id([7; 16]);

fn bobs_request(s: &Script, approved: bool) -> proto::AccessRequestInfo {
    proto::AccessRequestInfo {
        request_id: REQUEST,
        group_id: s.group.as_ref().unwrap().group_id,
        requester_id: s.bob.0,
        requester_email: "bob@example.com".into(),
        role: GroupRole::Viewer,
        duration_secs: 3600,
        created_at: 1,
        expires_at: i64::MAX,
        status: if approved {
            proto::AccessRequestStatus::Approved
        } else {
            proto::AccessRequestStatus::Pending
        },
        decided_at: None,
        decided_by: None,
        granted_role: approved.then_some(GroupRole::Viewer),
        granted_until: approved.then_some(i64::MAX),
        reason: None,
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn fake_server(script: Arc<Mutex<Script>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap().to_owned();
            let path = parts.next().unwrap().to_owned();
            let a = answer(&script, &method, &path, &body);
            #[allow(clippy::let_underscore_must_use)] // a client that hung up needs no answer
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{a}", a.len());
        }
    });
    url
}

#[test]
fn a_substituted_key_or_a_broken_certificate_is_refused() {
    let bob = Keyset::generate();
    let script = Arc::new(Mutex::new(Script {
        tamper: Tamper::Honest,
        alice: None,
        bob: (Id([5; 16]), bob.exchange_public(), bob.signing_public()),
        certificates: std::collections::HashMap::new(),
        group: None,
        sealed_to: Vec::new(),
        log: Vec::new(),
    }));
    let url = fake_server(Arc::clone(&script));
    let (tv, mut vault) = TestVault::new();
    let creds = Credentials {
        email: "alice@example.com",
        device: "laptop",
        password: PASSWORD,
        secret_key: &tv.secret_key,
    };
    vault.create_team(&url, &creds).unwrap();
    vault.group_create("Production").unwrap();

    // Before any certificate: refused, and the message says there is none.
    let e = vault
        .group_add("Production", "bob@example.com", GroupRole::Viewer, None)
        .unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");

    // Alice certifies bob (her vault holds the team root key).
    vault.certify("bob@example.com").unwrap();

    let cases = [
        (Tamper::SwapKey, "encryption key"),
        (Tamper::ZeroSignature, "signature does not verify"),
        (Tamper::DropIssuer, "does not chain to the pinned team root"),
    ];
    for (tamper, why) in cases {
        script.lock().unwrap().tamper = tamper;
        let e = vault
            .group_add("Production", "bob@example.com", GroupRole::Viewer, None)
            .unwrap_err();
        assert!(
            matches!(&e, Error::Untrusted { who, .. } if who == "bob@example.com"),
            "{tamper:?}: {e}"
        );
        assert!(e.to_string().contains(why), "{tamper:?}: {e}");
        let e = vault
            .approve_access(&REQUEST.to_hex(), None, None)
            .unwrap_err();
        assert!(
            matches!(&e, Error::Untrusted { who, .. } if who == "bob@example.com"),
            "approving with {tamper:?}: {e}"
        );
        assert!(
            script.lock().unwrap().sealed_to.is_empty(),
            "{tamper:?}: a key was sealed to a member whose certificate does not verify"
        );
    }

    // The honest server: the same call seals the key to bob's real key.
    script.lock().unwrap().tamper = Tamper::Honest;
    vault
        .group_add("Production", "bob@example.com", GroupRole::Viewer, None)
        .unwrap();
    let approved = vault.approve_access("0707", None, None).unwrap();
    assert_eq!(approved.status, proto::AccessRequestStatus::Approved);
    assert_eq!(
        script.lock().unwrap().sealed_to,
        vec![Id([5; 16]).to_hex(), format!("approve {}", Id([5; 16]))]
    );
}
