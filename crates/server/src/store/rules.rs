//! The store's rules, once: pure functions that decide what a write may do, given what the
//! backend read inside the write's transaction. A backend reads the rows (locking them where
//! concurrent writers could race), calls the rule, and writes what it allows; it decides
//! nothing itself. A new kind of write gets its rule here, with a unit test, and primitive SQL
//! in each backend.
use std::collections::{HashMap, HashSet};

use tessera_protocol::{Blob, Id, ItemRecord, PushChange, PushResult};

use super::{AccessRequest, StoreError};

/// May `log` be appended to a group's log whose last entry is `head` (its number and hash;
/// `None` for a group without a log)? Only the entry right after the last.
pub(crate) fn log_follows(
    head: Option<(u64, Vec<u8>)>,
    log: &super::LogAppend,
) -> Result<(), StoreError> {
    let follows = match head {
        None => log.seq == 1 && log.prev.is_empty(),
        Some((seq, hash)) => log.seq == seq + 1 && log.prev == hash,
    };
    if follows {
        Ok(())
    } else {
        Err(StoreError::StaleLog)
    }
}

/// Which manifest a new manifest numbered `seq` must replace: the one numbered `seq - 1`, or
/// none (`None`) for the first. Number 0 follows nothing.
pub(crate) fn manifest_follows(seq: u64) -> Result<Option<u64>, StoreError> {
    match seq {
        0 => Err(StoreError::StaleManifest),
        1 => Ok(None),
        n => Ok(Some(n - 1)),
    }
}

/// An invitation as stored.
#[derive(Debug, Clone)]
pub(crate) struct Invite {
    /// The team it joins.
    pub team: Id,
    /// The address it was issued to.
    pub email: String,
    /// When it expires.
    pub expires_at: i64,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
}

/// May `email` join with `invite` at `now`? The team to join.
pub(crate) fn join(invite: Option<Invite>, email: &str, now: i64) -> Result<Id, StoreError> {
    match invite {
        Some(i) if i.used_at.is_none() && i.expires_at > now => {
            if i.email == email {
                Ok(i.team)
            } else {
                Err(StoreError::InviteForOtherEmail)
            }
        }
        _ => Err(StoreError::InviteInvalid),
    }
}

/// A write for epoch `given` of a group at epoch `current` (`None`: no such group), such as a
/// membership's key or a token's: only for the current epoch.
pub(crate) fn current_epoch(current: Option<u64>, given: u64) -> Result<(), StoreError> {
    match current {
        None => Err(StoreError::NotFound),
        Some(c) if c == given => Ok(()),
        Some(_) => Err(StoreError::StaleEpoch),
    }
}

/// A rotation to `next` of a group at `current`: only to the epoch after the current one.
pub(crate) fn next_epoch(current: Option<u64>, next: u64) -> Result<(), StoreError> {
    current_epoch(current, next.wrapping_sub(1))
}

/// A membership needs the current key: given with the write, or already held.
pub(crate) fn member_key(given: bool, held: bool) -> Result<(), StoreError> {
    if given || held {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// A rotation must seal the new key to every machine token live at its time (`live`); one
/// missing means a token was created after the caller looked.
pub(crate) fn tokens_covered(
    live: impl IntoIterator<Item = Id>,
    keys: &[(Id, Vec<u8>)],
) -> Result<(), StoreError> {
    let given: HashSet<Id> = keys.iter().map(|(t, _)| *t).collect();
    if live.into_iter().all(|t| given.contains(&t)) {
        Ok(())
    } else {
        Err(StoreError::StaleEpoch)
    }
}

/// When a membership's access ended at `now`: when it was removed, or when it expired.
pub(crate) fn access_end(
    removed_at: Option<i64>,
    expires_at: Option<i64>,
    now: i64,
) -> Option<i64> {
    removed_at.or(expires_at.filter(|t| *t <= now))
}

/// An item was exposed to a member whose access ended at `end` when a version of it existed
/// before then (`first`: when its first version was written).
pub(crate) fn exposed(first: i64, end: Option<i64>) -> bool {
    end.is_none_or(|end| first < end)
}

/// A new access request, when `pending` says whether the requester already has a pending one
/// for the group.
pub(crate) fn new_request(pending: bool) -> Result<(), StoreError> {
    if pending {
        Err(StoreError::AlreadyPending)
    } else {
        Ok(())
    }
}

/// May the request be decided at `now`? Only once, and only before it lapses.
pub(crate) fn decide(request: Option<&AccessRequest>, now: i64) -> Result<(), StoreError> {
    match request {
        None => Err(StoreError::NotFound),
        Some(r) if r.decided_at.is_some() => Err(StoreError::AlreadyDecided),
        Some(r) if r.expires_at <= now => Err(StoreError::RequestExpired),
        Some(_) => Ok(()),
    }
}

/// The chain head an audit append continues from: the stored sequence number and hash.
pub(crate) fn audit_head(seq: i64, hash: &[u8]) -> Result<(u64, [u8; 32]), StoreError> {
    let hash = <[u8; 32]>::try_from(hash)
        .map_err(|_| StoreError::Backend("an audit hash is not 32 bytes".into()))?;
    let seq =
        u64::try_from(seq).map_err(|_| StoreError::Backend("an audit head is negative".into()))?;
    Ok((seq, hash))
}

/// Decide a batch of pushed changes against the current records, in order. `current` holds the
/// current record of every item the batch touches (updated as changes apply); `next_seq` is the
/// first free sequence number. Each change is compare-and-set on the item's version: applied
/// when `base_version` is current, `Applied` with the stored sequence number when the same
/// version and blob are already current (a resend), otherwise `Conflict` with the current
/// record. Returns the results and the applied records (in order).
pub(crate) fn push(
    current: &mut HashMap<Id, ItemRecord>,
    changes: Vec<PushChange>,
    mut next_seq: u64,
) -> (Vec<PushResult>, Vec<ItemRecord>) {
    let mut results = Vec::with_capacity(changes.len());
    let mut applied = Vec::new();
    for c in changes {
        let cur = current.get(&c.item_id);
        if let Some(r) = cur {
            if r.version == c.version && r.deleted == c.deleted && r.blob == c.blob {
                results.push(PushResult::Applied {
                    item_id: c.item_id,
                    version: r.version,
                    seq: r.seq,
                });
                continue;
            }
        }
        if cur.map_or(0, |r| r.version) != c.base_version {
            // The client edited a version the server never had: the current state is
            // "no item", version 0.
            let current = cur.cloned().unwrap_or(ItemRecord {
                item_id: c.item_id,
                version: 0,
                seq: 0,
                deleted: true,
                blob: Blob::default(),
            });
            results.push(PushResult::Conflict { current });
            continue;
        }
        let rec = ItemRecord {
            item_id: c.item_id,
            version: c.version,
            seq: next_seq,
            deleted: c.deleted,
            blob: c.blob,
        };
        next_seq += 1;
        results.push(PushResult::Applied {
            item_id: rec.item_id,
            version: rec.version,
            seq: rec.seq,
        });
        current.insert(rec.item_id, rec.clone());
        applied.push(rec);
    }
    (results, applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_entry_follows_the_last_one_only() {
        let entry = |seq: u64, prev: &[u8]| super::super::LogAppend {
            seq,
            prev: prev.to_vec(),
            entry: Vec::new(),
            signature: Vec::new(),
            hash: Vec::new(),
        };
        assert!(log_follows(None, &entry(1, b"")).is_ok());
        assert!(log_follows(None, &entry(2, b"h")).is_err());
        let head = || Some((3, b"h3".to_vec()));
        assert!(log_follows(head(), &entry(4, b"h3")).is_ok());
        for stale in [
            entry(3, b"h3"),
            entry(5, b"h3"),
            entry(4, b"other"),
            entry(1, b""),
        ] {
            assert!(matches!(
                log_follows(head(), &stale),
                Err(StoreError::StaleLog)
            ));
        }
    }

    fn id(n: u8) -> Id {
        Id([n; 16])
    }

    #[test]
    fn a_manifest_replaces_the_one_numbered_before_it() {
        assert!(matches!(
            manifest_follows(0),
            Err(StoreError::StaleManifest)
        ));
        assert_eq!(manifest_follows(1).ok(), Some(None));
        assert_eq!(manifest_follows(5).ok(), Some(Some(4)));
    }

    #[test]
    fn an_invitation_joins_once_before_it_expires_and_only_its_address() {
        let invite = |used_at| Invite {
            team: id(1),
            email: "bob@example.com".into(),
            expires_at: 100,
            used_at,
        };
        assert_eq!(
            join(Some(invite(None)), "bob@example.com", 99).unwrap(),
            id(1)
        );
        for (i, email, now) in [
            (None, "bob@example.com", 0),
            (Some(invite(Some(50))), "bob@example.com", 60),
            (Some(invite(None)), "bob@example.com", 100),
        ] {
            assert!(matches!(
                join(i, email, now),
                Err(StoreError::InviteInvalid)
            ));
        }
        assert!(matches!(
            join(Some(invite(None)), "eve@example.com", 99),
            Err(StoreError::InviteForOtherEmail)
        ));
    }

    #[test]
    fn epochs_follow_each_other() {
        assert!(current_epoch(Some(3), 3).is_ok());
        assert!(matches!(
            current_epoch(Some(3), 2),
            Err(StoreError::StaleEpoch)
        ));
        assert!(matches!(current_epoch(None, 1), Err(StoreError::NotFound)));
        assert!(next_epoch(Some(3), 4).is_ok());
        assert!(matches!(
            next_epoch(Some(3), 3),
            Err(StoreError::StaleEpoch)
        ));
        assert!(matches!(
            next_epoch(Some(3), 0),
            Err(StoreError::StaleEpoch)
        ));
        assert!(matches!(next_epoch(None, 2), Err(StoreError::NotFound)));
    }

    #[test]
    fn keys_must_be_there() {
        assert!(member_key(true, false).is_ok() && member_key(false, true).is_ok());
        assert!(matches!(
            member_key(false, false),
            Err(StoreError::NotFound)
        ));
        let keys = [(id(1), vec![1]), (id(2), vec![2])];
        assert!(tokens_covered([id(1)], &keys).is_ok());
        assert!(tokens_covered([], &[]).is_ok());
        assert!(matches!(
            tokens_covered([id(1), id(3)], &keys),
            Err(StoreError::StaleEpoch)
        ));
    }

    #[test]
    fn access_ends_when_removed_or_expired() {
        assert_eq!(access_end(Some(5), Some(3), 10), Some(5));
        assert_eq!(access_end(None, Some(3), 10), Some(3));
        assert_eq!(access_end(None, Some(30), 10), None, "not yet");
        assert_eq!(access_end(None, None, 10), None);
        assert!(exposed(4, Some(5)) && !exposed(5, Some(5)) && exposed(99, None));
    }

    #[test]
    fn a_request_is_decided_once_before_it_lapses() {
        let r = AccessRequest {
            id: id(1),
            team_id: id(2),
            group_id: id(3),
            requester: id(4),
            requester_email: "bob@example.com".into(),
            role: tessera_protocol::GroupRole::Viewer,
            duration_secs: 60,
            reasons: vec![],
            created_at: 0,
            expires_at: 100,
            decided_at: None,
            decided_by: None,
            approved: None,
            granted_role: None,
            granted_until: None,
        };
        assert!(decide(Some(&r), 99).is_ok());
        assert!(matches!(
            decide(Some(&r), 100),
            Err(StoreError::RequestExpired)
        ));
        assert!(matches!(decide(None, 0), Err(StoreError::NotFound)));
        let done = AccessRequest {
            decided_at: Some(5),
            ..r
        };
        assert!(matches!(
            decide(Some(&done), 6),
            Err(StoreError::AlreadyDecided)
        ));
        assert!(matches!(new_request(true), Err(StoreError::AlreadyPending)));
        assert!(new_request(false).is_ok());
    }

    #[test]
    fn an_audit_head_is_a_count_and_a_hash() {
        assert_eq!(audit_head(3, &[7; 32]).unwrap(), (3, [7; 32]));
        assert!(audit_head(3, &[7; 31]).is_err());
        assert!(audit_head(-1, &[7; 32]).is_err());
    }
}
