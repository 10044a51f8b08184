//! Checking a group log of 1,000 entries, the replay alone (no HTTP): `cargo bench -p
//! tessera-core --bench group_log`.
//!
//! The log is what a busy group accumulates: a genesis by one of two admins, then 999
//! membership changes signed by the two in turn. Its check is what every client runs before it
//! seals or accepts a group key ([`tessera_core::vault::verify_group_log`]): parse each entry,
//! check its place in the hash chain and its team and group, check both authors' certificate
//! chains up to the root (once per author), verify every Ed25519 signature, and replay the
//! membership.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tessera_core::vault::verify_group_log;
use tessera_crypto::cert::{CertChain, CertSubject};
use tessera_crypto::keyset::Keyset;
use tessera_crypto::statement;
use tessera_protocol::{
    Blob, DirectoryEntry, GroupRole, Id, KeyDigest, LogChange, LogEntry, LogMember, SignedLogEntry,
    LOG_VERSION,
};

const ENTRIES: usize = 1000;
const RUNS: usize = 31;
const TEAM: [u8; 16] = [7; 16];
const GROUP: Id = Id([9; 16]);

/// An account certified by `root`, and its directory entry.
fn account(root: &Keyset, n: u8, email: &str, admin: bool) -> (Keyset, DirectoryEntry) {
    let keys = Keyset::generate();
    let subject = CertSubject {
        team_id: TEAM,
        account_id: [n; 16],
        email: email.into(),
        exchange_public: keys.exchange_public(),
        signing_public: keys.signing_public(),
        admin,
    };
    let chain = CertChain {
        leaf: root.certify(subject),
        issuer: None,
    };
    let entry = DirectoryEntry {
        account_id: Id([n; 16]),
        email: email.into(),
        team_role: if admin { "admin" } else { "member" }.into(),
        exchange_public: Blob(keys.exchange_public().to_vec()),
        signing_public: Blob(keys.signing_public().to_vec()),
        certificate: Blob(chain.encode()),
    };
    (keys, entry)
}

fn member(n: u8, role: GroupRole) -> LogMember {
    LogMember {
        account_id: Id([n; 16]),
        role,
        expires_at: None,
    }
}

fn main() {
    let root = Keyset::generate();
    let (alice, a) = account(&root, 1, "alice@example.com", true);
    let (carol, c) = account(&root, 2, "carol@example.com", true);
    let (_, b) = account(&root, 3, "bob@example.com", false);
    let directory = vec![a, b, c];
    let mut log: Vec<SignedLogEntry> = Vec::with_capacity(ENTRIES);
    for seq in 1..=ENTRIES as u64 {
        let (author, id) = if seq % 2 == 1 {
            (&alice, 1)
        } else {
            (&carol, 2)
        };
        let change = if seq == 1 {
            LogChange::Genesis {
                members: vec![member(1, GroupRole::Admin), member(2, GroupRole::Admin)],
                epoch: 1,
                keys: vec![
                    KeyDigest::of(Id([1; 16]), b"sealed to alice"),
                    KeyDigest::of(Id([2; 16]), b"sealed to carol"),
                ],
                tokens: vec![],
            }
        } else {
            let role = if seq % 3 == 0 {
                GroupRole::Editor
            } else {
                GroupRole::Viewer
            };
            LogChange::SetMember {
                member: member(3, role),
                epoch: 1,
                key: (seq == 2).then(|| KeyDigest::of(Id([3; 16]), b"sealed to bob").digest),
            }
        };
        let entry = LogEntry {
            v: LOG_VERSION,
            team_id: Id(TEAM),
            group_id: GROUP,
            seq,
            prev: Blob(log.last().map(|e| e.hash().to_vec()).unwrap_or_default()),
            author: Id([id; 16]),
            at: 1_800_000_000 + seq as i64,
            change,
        };
        let bytes = serde_json::to_vec(&entry).unwrap();
        let signature = statement::sign(author, statement::GROUP_LOG, &bytes);
        log.push(SignedLogEntry {
            entry: Blob(bytes),
            signature: Blob(signature.to_vec()),
        });
    }
    let root_public = root.signing_public();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let n = verify_group_log(TEAM, root_public, GROUP, &log, &directory).unwrap();
            let d = t.elapsed();
            assert_eq!(n, ENTRIES as u64);
            d
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p90) = (ms(times[RUNS / 2]), ms(times[RUNS * 9 / 10]));
    println!(
        "check a group log of {ENTRIES} entries (parse, chain, 2 certificate chains, {ENTRIES} \
         signatures, replay), {RUNS} runs: p50 {p50:.1} ms, p90 {p90:.1} ms"
    );
    // A changed entry is refused, naming it.
    let mut bad = log.clone();
    bad[500].entry.0[20] ^= 1;
    let e = verify_group_log(TEAM, root_public, GROUP, &bad, &directory).unwrap_err();
    assert!(e.to_string().contains("entry 501"), "{e}");
    assert!(p50 < 50.0, "checking the log took {p50:.1} ms");
}
