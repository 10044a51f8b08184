//! Group logs: `GET /v1/groups/{group_id}/log?since=SEQ` for the group's live members, and
//! the rules every membership change follows: it carries the log entry that records it, and the
//! entry must say exactly what the request does, so the server's tables and the log never
//! disagree. The server cannot make an entry (it holds no member's signing key) and does not
//! check signatures: every client replays the log and checks each one against the team root it
//! pinned. What the server checks keeps honest clients consistent: here, that the entry names
//! this team, group and caller and matches the request; in the store, inside the change's
//! transaction, that it follows the group's last entry.
use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use tessera_protocol::{
    Blob, GroupRole, Id, KeyDigest, LogChange, LogEntry, LogMember, LogResponse, SignedLogEntry,
    Validate as _,
};

use super::group::live_member;
use super::{now, path_id, ApiError, AppState, Caller, Member};
use crate::store::LogAppend;

/// `?since=SEQ`: the entries after `SEQ` (0 for all).
#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    #[serde(default)]
    since: u64,
}

/// `GET /v1/groups/{group_id}/log?since=SEQ` (live members): the group's log entries after
/// `SEQ`, oldest first.
pub(super) async fn log(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LogResponse>, ApiError> {
    let group = path_id("group_id", &group)?;
    let Query(q) = query.map_err(|_| {
        ApiError::bad(
            "since",
            "since must be a non-negative integer (an entry number)",
        )
    })?;
    live_member(&state, &caller, group, now()).await?;
    Ok(Json(LogResponse {
        entries: state.store().group_log(group, q.since).await?,
    }))
}

fn bad(why: impl Into<String>) -> ApiError {
    ApiError::bad("log", why)
}

/// Parse `signed` and check it names this team, group and caller. Whether it follows the
/// group's last entry is the store's to check, inside the change's transaction
/// ([`crate::store::StoreError::StaleLog`]).
pub(super) fn next_entry(
    caller: &Caller,
    group: Id,
    signed: &SignedLogEntry,
) -> Result<(LogEntry, LogAppend), ApiError> {
    signed.validate().map_err(ApiError::from)?;
    let e = signed.parse().map_err(bad)?;
    if e.team_id != caller.team.id || e.group_id != group {
        return Err(bad("the log entry names another team or group"));
    }
    if e.author != caller.account.id {
        return Err(bad("the log entry is signed as another account than yours"));
    }
    let append = LogAppend {
        seq: e.seq,
        prev: e.prev.0.clone(),
        entry: signed.entry.0.clone(),
        signature: signed.signature.0.clone(),
        hash: signed.hash().to_vec(),
    };
    Ok((e, append))
}

/// The digests of `keys` by recipient, refusing a recipient named twice.
fn digests(keys: &[KeyDigest]) -> Result<BTreeMap<Id, &Blob>, ApiError> {
    let mut out = BTreeMap::new();
    for k in keys {
        if out.insert(k.id, &k.digest).is_some() {
            return Err(bad(format!("the log entry names {} twice", k.id)));
        }
    }
    Ok(out)
}

/// The key digests an entry names must be those of the sealed keys the request stores.
fn same_keys<'a>(
    named: &[KeyDigest],
    sent: impl Iterator<Item = (Id, &'a [u8])>,
    what: &str,
) -> Result<(), ApiError> {
    let named = digests(named)?;
    let sent: BTreeMap<Id, Vec<u8>> = sent
        .map(|(id, k)| (id, KeyDigest::of(id, k).digest.0))
        .collect();
    let matches = named.len() == sent.len()
        && named
            .iter()
            .all(|(id, d)| sent.get(id).is_some_and(|s| *s == d.0));
    if matches {
        Ok(())
    } else {
        Err(bad(format!(
            "the log entry does not name the {what} keys the request sends"
        )))
    }
}

/// A new group's first entry: a genesis with the creator as its only member, an admin, at
/// epoch 1, with the key the request seals to them.
pub(super) fn check_create(e: &LogEntry, creator: Id, key: &[u8]) -> Result<(), ApiError> {
    let LogChange::Genesis {
        members,
        epoch: 1,
        keys,
        tokens,
    } = &e.change
    else {
        return Err(bad(
            "a new group's log starts with a genesis entry at epoch 1",
        ));
    };
    let only_creator = members.len() == 1
        && members[0]
            == LogMember {
                account_id: creator,
                role: GroupRole::Admin,
                expires_at: None,
            };
    if !only_creator || !tokens.is_empty() {
        return Err(bad(
            "a new group's genesis entry names its creator as its only member, an admin",
        ));
    }
    same_keys(keys, std::iter::once((creator, key)), "member")
}

/// A membership change: the entry sets exactly this member, role and end at this epoch, with
/// the digest of the key the request sends (or none when none is sent).
pub(super) fn check_set_member(
    e: &LogEntry,
    member: &LogMember,
    epoch: u64,
    key: Option<&[u8]>,
) -> Result<(), ApiError> {
    let LogChange::SetMember {
        member: m,
        epoch: at,
        key: digest,
    } = &e.change
    else {
        return Err(bad("a membership change needs a set_member log entry"));
    };
    if m != member || *at != epoch {
        return Err(bad(
            "the log entry sets another member, role, end or epoch than the request",
        ));
    }
    let sent = key.map(|k| KeyDigest::of(member.account_id, k).digest);
    if digest.as_ref() != sent.as_ref() {
        return Err(bad("the log entry does not name the key the request sends"));
    }
    Ok(())
}

/// What a rotation stores, for [`check_rotate`].
pub(super) struct RotationSent<'a> {
    /// The new epoch.
    pub(super) epoch: u64,
    /// Members removed.
    pub(super) remove: &'a [Id],
    /// The members who stay, with role and end as the server has them.
    pub(super) stay: Vec<LogMember>,
    /// The new key sealed to each member.
    pub(super) keys: Vec<(Id, &'a [u8])>,
    /// The new key sealed to each machine token.
    pub(super) tokens: Vec<(Id, &'a [u8])>,
}

/// A rotation's entry: in a group with a log, a `rotate` naming this epoch, these removals and
/// these keys; in a group without one (made before logs), a genesis naming the members who
/// stay, as the server has them, and these keys.
pub(super) fn check_rotate(
    e: &LogEntry,
    first: bool,
    sent: &RotationSent<'_>,
) -> Result<(), ApiError> {
    let (keys, tokens) = match (&e.change, first) {
        (
            LogChange::Rotate {
                epoch,
                removed,
                keys,
                tokens,
            },
            false,
        ) => {
            let named: BTreeSet<Id> = removed.iter().copied().collect();
            let asked: BTreeSet<Id> = sent.remove.iter().copied().collect();
            if *epoch != sent.epoch || named != asked || named.len() != removed.len() {
                return Err(bad(
                    "the log entry rotates to another epoch or removes other members than the request",
                ));
            }
            (keys, tokens)
        }
        (
            LogChange::Genesis {
                members,
                epoch,
                keys,
                tokens,
            },
            true,
        ) => {
            let named: BTreeMap<Id, &LogMember> =
                members.iter().map(|m| (m.account_id, m)).collect();
            let same = *epoch == sent.epoch
                && named.len() == members.len()
                && named.len() == sent.stay.len()
                && sent
                    .stay
                    .iter()
                    .all(|m| named.get(&m.account_id).is_some_and(|n| *n == m));
            if !same {
                return Err(bad(
                    "the genesis entry must name the members who stay, with their roles and ends, \
                     and the new epoch",
                ));
            }
            (keys, tokens)
        }
        (_, true) => {
            return Err(bad(
                "this group has no log yet: its first entry must be a genesis entry",
            ))
        }
        (_, false) => return Err(bad("a rotation needs a rotate log entry")),
    };
    same_keys(keys, sent.keys.iter().copied(), "member")?;
    same_keys(tokens, sent.tokens.iter().copied(), "machine token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_protocol::LOG_VERSION;

    fn entry(change: LogChange) -> LogEntry {
        LogEntry {
            v: LOG_VERSION,
            team_id: Id([1; 16]),
            group_id: Id([2; 16]),
            seq: 2,
            prev: Blob(vec![1; 32]),
            author: Id([3; 16]),
            at: 0,
            change,
        }
    }

    fn member(id: u8, role: GroupRole) -> LogMember {
        LogMember {
            account_id: Id([id; 16]),
            role,
            expires_at: None,
        }
    }

    #[test]
    fn a_membership_entry_must_say_what_the_request_does() {
        let e = entry(LogChange::SetMember {
            member: member(4, GroupRole::Viewer),
            epoch: 3,
            key: Some(KeyDigest::of(Id([4; 16]), b"sealed").digest),
        });
        check_set_member(&e, &member(4, GroupRole::Viewer), 3, Some(b"sealed")).unwrap();
        // Another role, another key, no key, another epoch: each refused.
        assert!(check_set_member(&e, &member(4, GroupRole::Editor), 3, Some(b"sealed")).is_err());
        assert!(check_set_member(&e, &member(4, GroupRole::Viewer), 3, Some(b"other")).is_err());
        assert!(check_set_member(&e, &member(4, GroupRole::Viewer), 3, None).is_err());
        assert!(check_set_member(&e, &member(4, GroupRole::Viewer), 2, Some(b"sealed")).is_err());
    }

    const GONE: &[Id] = &[Id([5; 16])];

    #[test]
    fn a_rotation_entry_names_its_removals_and_every_key() {
        let e = entry(LogChange::Rotate {
            epoch: 4,
            removed: vec![Id([5; 16])],
            keys: vec![KeyDigest::of(Id([3; 16]), b"k3")],
            tokens: vec![],
        });
        let sent = |remove: &'static [Id], keys: Vec<(Id, &'static [u8])>| RotationSent {
            epoch: 4,
            remove,
            stay: vec![],
            keys,
            tokens: vec![],
        };
        check_rotate(&e, false, &sent(GONE, vec![(Id([3; 16]), b"k3")])).unwrap();
        // A key to someone the entry does not name (the server's own account) is refused.
        let extra = sent(GONE, vec![(Id([3; 16]), b"k3"), (Id([9; 16]), b"k9")]);
        assert!(check_rotate(&e, false, &extra).is_err());
        assert!(check_rotate(&e, false, &sent(&[], vec![(Id([3; 16]), b"k3")])).is_err());
        // A group without a log starts it with a genesis entry, not a rotation.
        assert!(check_rotate(&e, true, &sent(GONE, vec![(Id([3; 16]), b"k3")])).is_err());
    }

    #[test]
    fn a_new_group_starts_with_its_creator_alone() {
        let creator = Id([3; 16]);
        let genesis = |members| {
            entry(LogChange::Genesis {
                members,
                epoch: 1,
                keys: vec![KeyDigest::of(creator, b"k")],
                tokens: vec![],
            })
        };
        check_create(&genesis(vec![member(3, GroupRole::Admin)]), creator, b"k").unwrap();
        assert!(check_create(&genesis(vec![member(3, GroupRole::Viewer)]), creator, b"k").is_err());
        let two = vec![member(3, GroupRole::Admin), member(6, GroupRole::Viewer)];
        assert!(check_create(&genesis(two), creator, b"k").is_err());
        assert!(check_create(&genesis(vec![member(3, GroupRole::Admin)]), creator, b"x").is_err());
    }
}
