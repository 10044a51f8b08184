//! Known-answer vector for the audit chain (`tests/vectors/audit/chain.json`, made by
//! `tests/vectors/make_vectors.py`): entries as `GET /v1/audit` sends them, each with its hash
//! pinned. A change to the hashed encoding, the domain label or the JSON form fails here, instead
//! of making every client report the team's existing log as tampered with.
#![allow(clippy::unwrap_used)]

#[path = "../../../tests/vectors/support.rs"]
mod vectors;

use tessera_protocol::{entry_hash, verify_chain, AuditEntry, AuditEvent, ChainBreak, Id};
use vectors::{arr, load, text, to_hex};

fn chain() -> (Id, Vec<AuditEntry>, serde_json::Value) {
    let v = load("audit/chain.json");
    let team = Id(arr(&v["team_id"]));
    let entries: Vec<AuditEntry> = serde_json::from_value(v["entries"].clone()).unwrap();
    (team, entries, v)
}

#[test]
fn the_checked_in_chain_verifies_and_every_hash_is_pinned() {
    let (team, entries, v) = chain();
    assert_eq!(entries.len(), 7);
    let (seq, head) = verify_chain(&team, &entries, None).unwrap();
    assert_eq!((seq, to_hex(&head)), (7, text(&v["head"]).to_owned()));
    let mut prev = [0u8; 32];
    for e in &entries {
        assert_eq!(entry_hash(&team, e).as_slice(), e.hash.0, "entry {}", e.seq);
        // Chaining the same event again gives the same entry, byte for byte.
        let again = AuditEvent {
            actor: e.actor,
            action: e.action,
            item_id: e.item_id,
            group_id: e.group_id,
            subject: e.subject,
            detail: e.detail.clone(),
        }
        .chain(&team, e.seq, e.at, prev);
        assert_eq!(&again, e);
        prev.copy_from_slice(&e.hash.0);
    }
    // The JSON form is pinned too: serialising gives the checked-in entries.
    assert_eq!(serde_json::to_value(&entries).unwrap(), v["entries"]);
    // Verified earlier, the head is an anchor that must still be there.
    assert!(verify_chain(&team, &entries, Some((seq, head))).is_ok());
}

#[test]
fn fail_each_kind_of_tampering_is_named() {
    let (team, entries, _) = chain();
    let mut edited = entries.clone();
    edited[3].detail = "role=admin; expires=never".into();
    assert_eq!(
        verify_chain(&team, &edited, None),
        Err(ChainBreak::Edited { seq: 4 })
    );
    let mut deleted = entries.clone();
    deleted.remove(4);
    assert_eq!(
        verify_chain(&team, &deleted, None),
        Err(ChainBreak::Missing { after: 4, next: 6 })
    );
    let mut flipped = entries.clone();
    flipped[0].hash.0[0] ^= 0x01;
    assert_eq!(
        verify_chain(&team, &flipped, None),
        Err(ChainBreak::Edited { seq: 1 })
    );
    let mut other = team;
    other.0[0] ^= 0x01;
    assert_eq!(
        verify_chain(&other, &entries, None),
        Err(ChainBreak::Edited { seq: 1 })
    );
    let anchor = (
        7,
        <[u8; 32]>::try_from(entries[6].hash.0.as_slice()).unwrap(),
    );
    assert_eq!(
        verify_chain(&team, &entries[..6], Some(anchor)),
        Err(ChainBreak::Rewritten { seq: 7 })
    );
}
