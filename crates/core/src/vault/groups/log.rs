//! The group log, client side: every entry replayed and checked before this device seals a
//! group key to anyone or accepts one.
//!
//! A log is accepted when each entry is the one after the last (its `seq` and the hash of the
//! entry before), names this team and group, and is signed by its author's Ed25519 key, the
//! author's keys certified up to the pinned team root, and the author an admin of the group
//! (a member with the admin role whose membership had not ended) in the state the entries
//! before made. The first entry is the only `genesis`, and its author is one of its admins.
//!
//! What the replay gives ([`GroupState`]) is the membership a client uses: the members it
//! seals a new epoch's key to, the roles it shows, and the digest of each sealed key, so a
//! member accepts a key only when an admin signed it for that group, epoch and recipient.
//! Each device keeps the newest entry it accepted per group (sealed under the vault key); a
//! shorter log, or another entry in that place, is refused as a rollback or a fork.
use std::collections::{BTreeMap, HashMap};

use tessera_crypto::envelope::{self, associated_data, Sealed};
use tessera_crypto::statement;
use tessera_crypto::Zeroizing;
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id, KeyDigest, LogChange, LogEntry, SignedLogEntry};

use super::{Anchor, TeamContext};
use crate::error::{Error, Result};
use crate::vault::{now, Vault};

/// One member as the log has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogMember {
    pub(crate) role: GroupRole,
    pub(crate) expires_at: Option<i64>,
}

impl LogMember {
    /// The membership has not ended at `t`.
    pub(crate) fn live_at(&self, t: i64) -> bool {
        self.expires_at.is_none_or(|end| end > t)
    }
}

/// A group's membership and key epochs as its verified log has them.
#[derive(Debug, Clone)]
pub(crate) struct GroupState {
    /// The last entry: its `seq` and hash.
    pub(crate) head: (u64, [u8; 32]),
    /// Every member with role and end (removed members are gone; ended ones stay, not live).
    pub(crate) members: BTreeMap<Id, LogMember>,
    /// The current key epoch.
    pub(crate) epoch: u64,
    /// SHA-256 of the key sealed to each recipient (member or machine token), by epoch.
    digests: HashMap<(u64, Id), Vec<u8>>,
}

impl GroupState {
    /// The member `who` with a membership live now.
    pub(crate) fn live_member(&self, who: Id) -> Option<LogMember> {
        let t = now();
        self.members.get(&who).copied().filter(|m| m.live_at(t))
    }

    /// Every member whose membership is live now, in id order.
    pub(crate) fn live_members(&self) -> impl Iterator<Item = (Id, LogMember)> + '_ {
        let t = now();
        self.members
            .iter()
            .filter(move |(_, m)| m.live_at(t))
            .map(|(id, m)| (*id, *m))
    }

    /// Whether the log gives `recipient` a key of `epoch`.
    pub(crate) fn holds_key(&self, epoch: u64, recipient: Id) -> bool {
        self.digests.contains_key(&(epoch, recipient))
    }

    /// Whether an admin signed `sealed` as the key of `epoch` for `recipient`.
    pub(crate) fn signed_key(&self, epoch: u64, recipient: Id, sealed: &[u8]) -> bool {
        self.digests
            .get(&(epoch, recipient))
            .is_some_and(|d| *d == KeyDigest::of(recipient, sealed).digest.0)
    }

    fn apply(&mut self, e: &LogEntry) -> std::result::Result<(), String> {
        match &e.change {
            LogChange::Genesis { .. } => {
                return Err("a second genesis entry (only the first entry starts a group)".into())
            }
            LogChange::SetMember { member, epoch, key } => {
                if *epoch != self.epoch {
                    return Err(format!(
                        "it adds a member at epoch {epoch} while the group is at epoch {}",
                        self.epoch
                    ));
                }
                self.members.insert(
                    member.account_id,
                    LogMember {
                        role: member.role,
                        expires_at: member.expires_at,
                    },
                );
                if let Some(k) = key {
                    self.digests
                        .insert((self.epoch, member.account_id), k.0.clone());
                }
            }
            LogChange::Rotate {
                epoch,
                removed,
                keys,
                tokens,
            } => {
                if *epoch != self.epoch + 1 {
                    return Err(format!(
                        "it starts epoch {epoch} after epoch {}",
                        self.epoch
                    ));
                }
                for r in removed {
                    if self.members.remove(r).is_none() {
                        return Err(format!("it removes {r}, who is not a member"));
                    }
                }
                self.epoch = *epoch;
                self.record_keys(keys, tokens)?;
            }
        }
        if !self.members.values().any(|m| m.role == GroupRole::Admin) {
            return Err("it leaves the group without an admin".into());
        }
        Ok(())
    }

    /// Record the digests of a new epoch's keys; each member key must go to a member.
    fn record_keys(
        &mut self,
        keys: &[KeyDigest],
        tokens: &[KeyDigest],
    ) -> std::result::Result<(), String> {
        for k in keys {
            if !self.members.contains_key(&k.id) {
                return Err(format!(
                    "it gives the key of epoch {} to {}, who is not a member",
                    self.epoch, k.id
                ));
            }
            if self
                .digests
                .insert((self.epoch, k.id), k.digest.0.clone())
                .is_some()
            {
                return Err(format!(
                    "it gives {} the key of epoch {} twice",
                    k.id, self.epoch
                ));
            }
        }
        for t in tokens {
            self.digests.insert((self.epoch, t.id), t.digest.0.clone());
        }
        Ok(())
    }
}

fn refused(group: Id, why: impl Into<String>) -> Error {
    Error::GroupLog {
        group: group.to_hex(),
        why: why.into(),
    }
}

/// The group's whole log from the server.
pub(super) fn fetch_log(ctx: &TeamContext, group: Id) -> Result<Vec<SignedLogEntry>> {
    let r: proto::LogResponse = ctx.remote.get(&format!("/v1/groups/{group}/log?since=0"))?;
    Ok(r.entries)
}

/// The signing key of `author`, from a directory entry whose certificate chain verifies up to
/// the pinned root.
pub(super) fn author_key(
    ctx: &impl Anchor,
    directory: &[proto::DirectoryEntry],
    author: Id,
) -> std::result::Result<[u8; 32], String> {
    let hex = author.to_hex();
    let (_, subject) = super::verified_entry(ctx, directory, &hex).map_err(|e| match e {
        Error::NotFound(_) => format!("its author {hex} is not in the team directory"),
        e => format!("its author's keys are not certified: {e}"),
    })?;
    Ok(subject.signing_public)
}

/// Replay and check `entries` (the whole log, oldest first). `None` for an empty log (a group
/// made before logs existed, until an admin starts its log).
pub(crate) fn replay(
    ctx: &impl Anchor,
    group: Id,
    entries: &[SignedLogEntry],
    directory: &[proto::DirectoryEntry],
) -> Result<Option<GroupState>> {
    let mut keys: HashMap<Id, [u8; 32]> = HashMap::new();
    let mut state: Option<GroupState> = None;
    let mut prev: Option<[u8; 32]> = None;
    for (i, signed) in entries.iter().enumerate() {
        let seq = i as u64 + 1;
        let at = |why: String| refused(group, format!("entry {seq}: {why}"));
        let e = signed.parse().map_err(at)?;
        if e.seq != seq {
            return Err(at(format!(
                "it is numbered {} (entries were dropped or reordered)",
                e.seq
            )));
        }
        if e.team_id.0 != *ctx.team() || e.group_id != group {
            return Err(at("it belongs to another team or group".into()));
        }
        if e.prev.0 != prev.map(|p| p.to_vec()).unwrap_or_default() {
            return Err(at(
                "it does not follow the entry before (the log was rewritten)".into(),
            ));
        }
        let key = match keys.get(&e.author) {
            Some(k) => *k,
            None => {
                let k = author_key(ctx, directory, e.author).map_err(at)?;
                keys.insert(e.author, k);
                k
            }
        };
        statement::verify(
            &key,
            statement::GROUP_LOG,
            &signed.entry.0,
            &signed.signature.0,
        )
        .map_err(|_| at("its signature does not verify (it was changed or forged)".into()))?;
        let hash = signed.hash();
        match state.as_mut() {
            None => state = Some(genesis(&e, hash).map_err(at)?),
            Some(s) => {
                let admin = s
                    .members
                    .get(&e.author)
                    .is_some_and(|m| m.role == GroupRole::Admin && m.live_at(e.at));
                if !admin {
                    return Err(at(format!(
                        "its author {} was not an admin of the group",
                        e.author
                    )));
                }
                s.apply(&e).map_err(at)?;
                s.head = (seq, hash);
            }
        }
        prev = Some(hash);
    }
    Ok(state)
}

fn genesis(e: &LogEntry, hash: [u8; 32]) -> std::result::Result<GroupState, String> {
    let LogChange::Genesis {
        members,
        epoch,
        keys,
        tokens,
    } = &e.change
    else {
        return Err("the first entry is not a genesis entry".into());
    };
    let mut state = GroupState {
        head: (1, hash),
        members: BTreeMap::new(),
        epoch: *epoch,
        digests: HashMap::new(),
    };
    for m in members {
        let new = LogMember {
            role: m.role,
            expires_at: m.expires_at,
        };
        if state.members.insert(m.account_id, new).is_some() {
            return Err(format!("it lists {} twice", m.account_id));
        }
    }
    if !state
        .members
        .get(&e.author)
        .is_some_and(|m| m.role == GroupRole::Admin)
    {
        return Err("its author is not one of the admins it names".into());
    }
    if *epoch == 0 {
        return Err("it starts epoch 0".into());
    }
    state.record_keys(keys, tokens)?;
    Ok(state)
}

/// A team and root key given by the caller.
struct Given {
    team_id: [u8; 16],
    root: [u8; 32],
}

impl Anchor for Given {
    fn team(&self) -> &[u8; 16] {
        &self.team_id
    }
    fn root(&self) -> &[u8; 32] {
        &self.root
    }
}

/// Check a group's whole signed log (oldest first) offline, as every client does before it
/// seals or accepts a group key: each entry follows the one before, names `team_id` and
/// `group`, and is signed by an admin of the group whose keys `directory` certifies up to
/// `root`. Returns the number of entries (0: the group has no log yet); the error names the
/// first entry refused and why.
pub fn verify_group_log(
    team_id: [u8; 16],
    root: [u8; 32],
    group: Id,
    entries: &[SignedLogEntry],
    directory: &[proto::DirectoryEntry],
) -> Result<u64> {
    let state = replay(&Given { team_id, root }, group, entries, directory)?;
    Ok(state.map_or(0, |s| s.head.0))
}

/// Check that `entries` reach the entry `reader` accepted before (`seen`: its number and hash):
/// a shorter log is a rollback, another entry in its place a fork.
pub(super) fn reaches(
    group: Id,
    entries: &[SignedLogEntry],
    seen: Option<(u64, [u8; 32])>,
    reader: &str,
) -> Result<()> {
    let Some((seq, hash)) = seen else {
        return Ok(());
    };
    match usize::try_from(seq - 1).ok().and_then(|i| entries.get(i)) {
        None => Err(refused(
            group,
            format!(
                "the server sent {} entries; {reader} has seen {seq} (a rollback)",
                entries.len()
            ),
        )),
        Some(e) if e.hash() != hash => Err(refused(
            group,
            format!("entry {seq} is not the one {reader} saw before (the log was forked)"),
        )),
        Some(_) => Ok(()),
    }
}

/// What a group's newest accepted log entry is sealed with.
const HEAD_LABEL: &str = "tessera group log head";

/// The meta key of a group's newest accepted log entry.
fn head_meta(group: Id) -> String {
    format!("group_log_head:{group}")
}

impl Vault {
    /// Sign `change` as the next entry of `group`'s log (after `state`, or the first).
    pub(crate) fn sign_log_entry(
        &self,
        ctx: &TeamContext,
        group: Id,
        state: Option<&GroupState>,
        change: LogChange,
    ) -> SignedLogEntry {
        let (seq, prev) = state.map_or((1, Vec::new()), |s| (s.head.0 + 1, s.head.1.to_vec()));
        let entry = LogEntry {
            v: proto::LOG_VERSION,
            team_id: Id(ctx.team_id),
            group_id: group,
            seq,
            prev: Blob(prev),
            author: Id(self.account_id()),
            at: now(),
            change,
        };
        let bytes = serde_json::to_vec(&entry).expect("a log entry always encodes");
        let signature = statement::sign(&self.keyset, statement::GROUP_LOG, &bytes);
        SignedLogEntry {
            entry: Blob(bytes),
            signature: Blob(signature.to_vec()),
        }
    }

    /// Fetch, replay and check a group's log, and check it against the newest entry this device
    /// accepted before (then remember the new newest). `None` for a group without a log yet.
    pub(crate) fn group_state(
        &self,
        ctx: &TeamContext,
        group: Id,
        directory: &[proto::DirectoryEntry],
    ) -> Result<Option<GroupState>> {
        let entries = fetch_log(ctx, group)?;
        let state = replay(ctx, group, &entries, directory)?;
        let seen = self.seen_head(group)?;
        reaches(group, &entries, seen, "this device")?;
        if let Some(s) = &state {
            if seen.is_none_or(|(seq, _)| seq < s.head.0) {
                self.remember_head(group, s.head)?;
            }
        }
        Ok(state)
    }

    /// A `meta` value sealed under the vault key, bound to `label`, this vault and `group`;
    /// `what` names it in the error when it does not open.
    pub(in crate::vault) fn sealed_meta(
        &self,
        key: &str,
        label: &str,
        group: &str,
        what: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let Some(raw) = self.store.meta(key)? else {
            return Ok(None);
        };
        let damaged = || Error::TamperedHeader(format!("{what} of group {group} is damaged"));
        let sealed = Sealed::from_bytes(raw).map_err(|_| damaged())?;
        let ad = associated_data(label, &[&self.header.vault_id, group.as_bytes()]);
        envelope::open(self.keyset.vault_key(), &sealed, &ad)
            .map(Some)
            .map_err(|_| damaged())
    }

    /// Seal `plain` as the `meta` value `key` (see [`Vault::sealed_meta`]).
    pub(in crate::vault) fn put_sealed_meta(
        &self,
        key: &str,
        label: &str,
        group: &str,
        plain: &[u8],
    ) -> Result<()> {
        let ad = associated_data(label, &[&self.header.vault_id, group.as_bytes()]);
        let sealed = envelope::seal(self.keyset.vault_key(), plain, &ad);
        self.store.put_meta_now(key, sealed.as_bytes())
    }

    /// The newest entry of `group`'s log this device accepted, if any.
    fn seen_head(&self, group: Id) -> Result<Option<(u64, [u8; 32])>> {
        let what = "the remembered log position";
        self.sealed_position(&head_meta(group), HEAD_LABEL, group, what)
    }

    /// A position (a number from 1, and a 32-byte hash) kept as a sealed `meta` value
    /// ([`Vault::sealed_meta`], scoped to `scope`); `what` names it when it is damaged.
    pub(in crate::vault) fn sealed_position(
        &self,
        key: &str,
        label: &str,
        scope: Id,
        what: &str,
    ) -> Result<Option<(u64, [u8; 32])>> {
        let Some(plain) = self.sealed_meta(key, label, &scope.to_hex(), what)? else {
            return Ok(None);
        };
        let damaged = || Error::TamperedHeader(format!("{what} of {scope} is damaged"));
        if plain.len() != 40 {
            return Err(damaged());
        }
        let seq = u64::from_be_bytes(plain[..8].try_into().expect("8 bytes"));
        let hash: [u8; 32] = plain[8..].try_into().expect("32 bytes");
        if seq == 0 {
            return Err(damaged());
        }
        Ok(Some((seq, hash)))
    }

    /// Keep `(seq, hash)` as the sealed position `key` (see [`Vault::sealed_position`]).
    pub(in crate::vault) fn put_sealed_position(
        &self,
        key: &str,
        label: &str,
        scope: Id,
        (seq, hash): (u64, [u8; 32]),
    ) -> Result<()> {
        let mut plain = seq.to_be_bytes().to_vec();
        plain.extend_from_slice(&hash);
        self.put_sealed_meta(key, label, &scope.to_hex(), &plain)
    }

    fn remember_head(&self, group: Id, head: (u64, [u8; 32])) -> Result<()> {
        self.put_sealed_position(&head_meta(group), HEAD_LABEL, group, head)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn member(id: u8, role: GroupRole, expires_at: Option<i64>) -> (Id, LogMember) {
        (Id([id; 16]), LogMember { role, expires_at })
    }

    fn state() -> GroupState {
        GroupState {
            head: (1, [0; 32]),
            members: [
                member(1, GroupRole::Admin, None),
                member(2, GroupRole::Viewer, None),
            ]
            .into_iter()
            .collect(),
            epoch: 1,
            digests: HashMap::new(),
        }
    }

    fn entry(change: LogChange) -> LogEntry {
        LogEntry {
            v: proto::LOG_VERSION,
            team_id: Id([7; 16]),
            group_id: Id([9; 16]),
            seq: 2,
            prev: Blob(vec![]),
            author: Id([1; 16]),
            at: now(),
            change,
        }
    }

    #[test]
    fn a_rotation_names_members_only_and_the_next_epoch() {
        let outsider = KeyDigest::of(Id([5; 16]), b"sealed");
        let mut s = state();
        let err = s
            .apply(&entry(LogChange::Rotate {
                epoch: 2,
                removed: vec![],
                keys: vec![outsider],
                tokens: vec![],
            }))
            .unwrap_err();
        assert!(err.contains("not a member"), "{err}");
        let mut s = state();
        let err = s
            .apply(&entry(LogChange::Rotate {
                epoch: 3,
                removed: vec![],
                keys: vec![],
                tokens: vec![],
            }))
            .unwrap_err();
        assert!(err.contains("starts epoch 3 after epoch 1"), "{err}");

        let mut s = state();
        s.apply(&entry(LogChange::Rotate {
            epoch: 2,
            removed: vec![Id([2; 16])],
            keys: vec![KeyDigest::of(Id([1; 16]), b"k")],
            tokens: vec![],
        }))
        .unwrap();
        assert!(s.signed_key(2, Id([1; 16]), b"k"));
        assert!(!s.signed_key(2, Id([1; 16]), b"other"));
        assert!(s.live_member(Id([2; 16])).is_none());
    }

    #[test]
    fn no_entry_may_leave_the_group_without_an_admin() {
        let mut s = state();
        let err = s
            .apply(&entry(LogChange::SetMember {
                member: proto::LogMember {
                    account_id: Id([1; 16]),
                    role: GroupRole::Editor,
                    expires_at: None,
                },
                epoch: 1,
                key: None,
            }))
            .unwrap_err();
        assert!(err.contains("without an admin"), "{err}");
    }

    #[test]
    fn an_ended_membership_is_not_live() {
        let mut s = state();
        s.members.insert(
            Id([3; 16]),
            LogMember {
                role: GroupRole::Editor,
                expires_at: Some(now() - 1),
            },
        );
        assert!(s.live_member(Id([3; 16])).is_none());
        assert_eq!(s.live_members().count(), 2);
    }
}
