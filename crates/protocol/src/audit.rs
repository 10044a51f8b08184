//! The audit log: what happened in a team, by whom, to which item, group or account, kept by
//! the server as one hash chain per team.
//!
//! Entry `n` carries the SHA-256 of entry `n - 1` (`prev`) and its own hash over a fixed binary
//! encoding of its fields and `prev` ([`entry_hash`]). Anyone holding the entries can recompute
//! the chain ([`verify_chain`]): an edited entry no longer matches its hash, a deleted one leaves
//! a gap in the sequence numbers, reordered ones break the `prev` links. A client also remembers
//! the newest entry it verified (an *anchor*), so a server that rewrites the whole chain after it
//! is caught too.
//!
//! Entries hold ids, times and action names only; nothing a user typed.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{invalid, Blob, ErrorBody, Id, Validate};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// A team was created.
    TeamCreate,
    /// A successful sign-in.
    Login,
    /// A failed sign-in (wrong key or second factor); the actor is the account when it exists.
    LoginFailed,
    /// A session ended or was revoked.
    SessionRevoke,
    /// An invitation was issued.
    Invite,
    /// An invited account joined.
    Join,
    /// A team setting changed.
    Settings,
    /// A certificate was stored for an account.
    Certify,
    /// A group was created.
    GroupCreate,
    /// A membership was added or its role or expiry changed.
    MemberSet,
    /// A member was removed (a new key epoch started).
    MemberRemove,
    /// A group's key was rotated.
    KeyRotate,
    /// Shared items were read from the server.
    Fetch,
    /// An item was created in or moved into a group.
    Share,
    /// An item was changed.
    Change,
    /// An item was deleted from or moved out of a group.
    Unshare,
    /// A machine token was created.
    TokenCreate,
    /// A machine token was revoked.
    TokenRevoke,
    /// A machine token read a group.
    TokenUse,
    /// Access to a group was requested.
    AccessRequest,
    /// An access request was approved.
    AccessApprove,
    /// An access request was denied.
    AccessDeny,
    /// A member was offboarded (sessions, tokens and memberships ended).
    Offboard,
    /// A client revealed a concealed value (reported by the client).
    Reveal,
    /// A client copied a value (reported by the client).
    Copy,
}

impl AuditAction {
    /// The name used on the wire, in storage and in the hash.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TeamCreate => "team_create",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::SessionRevoke => "session_revoke",
            Self::Invite => "invite",
            Self::Join => "join",
            Self::Settings => "settings",
            Self::Certify => "certify",
            Self::GroupCreate => "group_create",
            Self::MemberSet => "member_set",
            Self::MemberRemove => "member_remove",
            Self::KeyRotate => "key_rotate",
            Self::Fetch => "fetch",
            Self::Share => "share",
            Self::Change => "change",
            Self::Unshare => "unshare",
            Self::TokenCreate => "token_create",
            Self::TokenRevoke => "token_revoke",
            Self::TokenUse => "token_use",
            Self::AccessRequest => "access_request",
            Self::AccessApprove => "access_approve",
            Self::AccessDeny => "access_deny",
            Self::Offboard => "offboard",
            Self::Reveal => "reveal",
            Self::Copy => "copy",
        }
    }

    /// Every action.
    pub const ALL: [AuditAction; 25] = [
        Self::TeamCreate,
        Self::Login,
        Self::LoginFailed,
        Self::SessionRevoke,
        Self::Invite,
        Self::Join,
        Self::Settings,
        Self::Certify,
        Self::GroupCreate,
        Self::MemberSet,
        Self::MemberRemove,
        Self::KeyRotate,
        Self::Fetch,
        Self::Share,
        Self::Change,
        Self::Unshare,
        Self::TokenCreate,
        Self::TokenRevoke,
        Self::TokenUse,
        Self::AccessRequest,
        Self::AccessApprove,
        Self::AccessDeny,
        Self::Offboard,
        Self::Reveal,
        Self::Copy,
    ];

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether clients may report it ([`ClientEvents`]).
    pub fn client_reported(self) -> bool {
        matches!(self, Self::Reveal | Self::Copy)
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Actor {
    /// Nobody known (a failed sign-in for an unknown address).
    Anonymous,
    /// An account.
    Account(Id),
    /// A machine token.
    Token(Id),
}

/// One entry of a team's audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the team's chain, from 1 without gaps.
    pub seq: u64,
    /// Unix time.
    pub at: i64,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
    /// The item concerned, if any.
    pub item_id: Option<Id>,
    /// The group concerned, if any.
    pub group_id: Option<Id>,
    /// The account concerned (added, removed, offboarded...), if any.
    pub subject: Option<Id>,
    /// Non-secret detail: a role, a count, an expiry.
    pub detail: String,
    /// The previous entry's hash (zeros for the first).
    pub prev: Blob,
    /// This entry's hash ([`entry_hash`]).
    pub hash: Blob,
}

/// An entry as an action produces it, before the store places it in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
    /// The item concerned.
    pub item_id: Option<Id>,
    /// The group concerned.
    pub group_id: Option<Id>,
    /// The account concerned.
    pub subject: Option<Id>,
    /// Non-secret detail.
    pub detail: String,
}

impl AuditEvent {
    /// An event with no item, group, subject or detail.
    pub fn new(actor: Actor, action: AuditAction) -> Self {
        Self {
            actor,
            action,
            item_id: None,
            group_id: None,
            subject: None,
            detail: String::new(),
        }
    }

    /// Name the item.
    #[must_use]
    pub fn item(mut self, id: Id) -> Self {
        self.item_id = Some(id);
        self
    }

    /// Name the group.
    #[must_use]
    pub fn group(mut self, id: Id) -> Self {
        self.group_id = Some(id);
        self
    }

    /// Name the account concerned.
    #[must_use]
    pub fn subject(mut self, id: Id) -> Self {
        self.subject = Some(id);
        self
    }

    /// Add detail.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Place the event in a chain after `prev` (the previous entry's hash, zeros for the first).
    pub fn chain(self, team: &Id, seq: u64, at: i64, prev: [u8; 32]) -> AuditEntry {
        let mut e = AuditEntry {
            seq,
            at,
            actor: self.actor,
            action: self.action,
            item_id: self.item_id,
            group_id: self.group_id,
            subject: self.subject,
            detail: self.detail,
            prev: Blob(prev.to_vec()),
            hash: Blob(Vec::new()),
        };
        e.hash = Blob(entry_hash(team, &e).to_vec());
        e
    }
}

fn put_id(h: &mut Sha256, id: Option<&Id>) {
    match id {
        Some(id) => {
            h.update([1]);
            h.update(id.0);
        }
        None => h.update([0]),
    }
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of an entry: SHA-256 over a domain label, the team, every field in a fixed
/// length-prefixed encoding and `prev`. The entry's own `hash` is not included.
pub fn entry_hash(team: &Id, e: &AuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera audit v1\0");
    h.update(team.0);
    h.update(e.seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    match e.actor {
        Actor::Anonymous => h.update([0]),
        Actor::Account(id) => {
            h.update([1]);
            h.update(id.0);
        }
        Actor::Token(id) => {
            h.update([2]);
            h.update(id.0);
        }
    }
    put_str(&mut h, e.action.as_str());
    put_id(&mut h, e.item_id.as_ref());
    put_id(&mut h, e.group_id.as_ref());
    put_id(&mut h, e.subject.as_ref());
    put_str(&mut h, &e.detail);
    h.update(&e.prev.0);
    h.finalize().into()
}

/// The first break found in a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// Entries between two sequence numbers are missing (deleted), or the chain does not start
    /// at 1.
    Missing {
        /// The last sequence number before the gap (0 at the start).
        after: u64,
        /// The next one present.
        next: u64,
    },
    /// An entry's content does not match its hash: it was changed.
    Edited {
        /// Its sequence number.
        seq: u64,
    },
    /// An entry does not follow the one before it (reordered, or one before it was replaced).
    Unlinked {
        /// Its sequence number.
        seq: u64,
    },
    /// The entry a client verified earlier (its anchor) is gone or different: the history up
    /// to it was rewritten.
    Rewritten {
        /// The anchor's sequence number.
        seq: u64,
    },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { after, next } if *next == after + 2 => write!(
                f,
                "entry {} is missing: it was deleted (the chain goes from {after} to {next})",
                after + 1
            ),
            Self::Missing { after, next } => write!(
                f,
                "entries {} to {} are missing: they were deleted (the chain goes from {after} to {next})",
                after + 1,
                next - 1
            ),
            Self::Edited { seq } => write!(
                f,
                "entry {seq} was changed after it was written: its content no longer matches its hash"
            ),
            Self::Unlinked { seq } => write!(
                f,
                "entry {seq} does not follow entry {}: entries were reordered or replaced",
                seq.saturating_sub(1)
            ),
            Self::Rewritten { seq } => write!(
                f,
                "entry {seq}, verified earlier on this device, is gone or different: the log was rewritten"
            ),
        }
    }
}

/// Checks a chain piece by piece (entries arrive in pages, by sequence number).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    team: Id,
    last_seq: u64,
    last_hash: [u8; 32],
    anchor: Option<(u64, [u8; 32])>,
    anchor_seen: bool,
}

impl ChainVerifier {
    /// A verifier for `team`'s chain from its start; `anchor` is a `(seq, hash)` verified
    /// earlier that must still be there.
    pub fn new(team: Id, anchor: Option<(u64, [u8; 32])>) -> Self {
        Self {
            team,
            last_seq: 0,
            last_hash: [0; 32],
            anchor,
            anchor_seen: false,
        }
    }

    /// Check the next entry.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainBreak> {
        if e.seq != self.last_seq + 1 {
            if e.seq <= self.last_seq {
                return Err(ChainBreak::Unlinked { seq: e.seq });
            }
            return Err(ChainBreak::Missing {
                after: self.last_seq,
                next: e.seq,
            });
        }
        let hash: [u8; 32] = entry_hash(&self.team, e);
        if e.hash.0 != hash {
            return Err(ChainBreak::Edited { seq: e.seq });
        }
        if e.prev.0 != self.last_hash {
            return Err(ChainBreak::Unlinked { seq: e.seq });
        }
        if let Some((seq, h)) = self.anchor {
            if seq == e.seq {
                if h != hash {
                    return Err(ChainBreak::Rewritten { seq });
                }
                self.anchor_seen = true;
            }
        }
        self.last_seq = e.seq;
        self.last_hash = hash;
        Ok(())
    }

    /// End of the chain: the anchor must have been seen. Returns the newest `(seq, hash)`, the
    /// next anchor.
    pub fn finish(self) -> Result<(u64, [u8; 32]), ChainBreak> {
        if let Some((seq, _)) = self.anchor {
            if !self.anchor_seen {
                return Err(ChainBreak::Rewritten { seq });
            }
        }
        Ok((self.last_seq, self.last_hash))
    }
}

/// Verify a whole chain in one go (see [`ChainVerifier`]).
pub fn verify_chain(
    team: &Id,
    entries: &[AuditEntry],
    anchor: Option<(u64, [u8; 32])>,
) -> Result<(u64, [u8; 32]), ChainBreak> {
    let mut v = ChainVerifier::new(*team, anchor);
    for e in entries {
        v.push(e)?;
    }
    v.finish()
}

/// Query of `GET /v1/audit`: entries after a sequence number, optionally filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries with a larger sequence number (0 for the start).
    #[serde(default)]
    pub after: u64,
    /// At most this many (default and cap [`audit_limits::PAGE`]).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Only this actor (an account or token id).
    #[serde(default)]
    pub actor: Option<Id>,
    /// Only entries about this item.
    #[serde(default)]
    pub item: Option<Id>,
    /// Only entries about this account (as actor or subject).
    #[serde(default)]
    pub account: Option<Id>,
    /// Only entries at or after this Unix time.
    #[serde(default)]
    pub since: Option<i64>,
    /// Only entries before this Unix time.
    #[serde(default)]
    pub until: Option<i64>,
}

/// Limits of the audit API.
pub mod audit_limits {
    /// Most entries in one page.
    pub const PAGE: usize = 1000;
    /// Most events a client reports at once.
    pub const EVENTS: usize = 500;
    /// How far a reported event's time may lie from the server's clock, seconds (30 days
    /// back: a client reports what it queued while offline; 5 minutes ahead).
    pub const PAST: i64 = 30 * 24 * 3600;
    /// See [`PAST`].
    pub const FUTURE: i64 = 300;
}

/// A page of entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries, by sequence number.
    pub entries: Vec<AuditEntry>,
    /// More entries wait after the last one.
    pub more: bool,
}

/// One event a client reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEvent {
    /// `reveal` or `copy`.
    pub action: AuditAction,
    /// The item.
    pub item_id: Id,
    /// The group holding it, when it is shared.
    #[serde(default)]
    pub group_id: Option<Id>,
    /// Which kind of field (`password`, `username`, `totp`, `custom`...): a fixed name chosen
    /// by the client, never a label the user typed.
    #[serde(default)]
    pub field: String,
    /// When it happened (Unix time; events queued offline arrive later).
    pub at: i64,
}

/// `POST /v1/audit/events`: events that happened on a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEvents {
    /// The events, oldest first.
    pub events: Vec<ClientEvent>,
}

impl Validate for ClientEvents {
    fn validate(&self) -> Result<(), ErrorBody> {
        if self.events.is_empty() || self.events.len() > audit_limits::EVENTS {
            return Err(invalid(
                "events",
                format!("events must hold 1 to {} entries", audit_limits::EVENTS),
            ));
        }
        for (i, e) in self.events.iter().enumerate() {
            if !e.action.client_reported() {
                return Err(invalid(
                    &format!("events[{i}].action"),
                    format!(
                        "events[{i}].action: a client may report only reveal and copy, not {}",
                        e.action.as_str()
                    ),
                ));
            }
            if e.field.len() > 32 || !e.field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(invalid(
                    &format!("events[{i}].field"),
                    format!("events[{i}].field must be a field kind such as password: at most 32 lowercase letters or underscores"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let team = Id([7; 16]);
        let mut prev = [0u8; 32];
        (1..=n)
            .map(|seq| {
                let e = AuditEvent::new(Actor::Account(Id([1; 16])), AuditAction::Login)
                    .detail(format!("n={seq}"))
                    .chain(&team, seq, 1_700_000_000 + seq as i64, prev);
                prev.copy_from_slice(&e.hash.0);
                e
            })
            .collect()
    }

    #[test]
    fn a_good_chain_verifies_and_each_kind_of_tampering_is_named() {
        let team = Id([7; 16]);
        let good = chain(6);
        let (seq, head) = verify_chain(&team, &good, None).unwrap();
        assert_eq!(seq, 6);
        assert_eq!(
            verify_chain(&team, &good, Some((3, head))),
            Err(ChainBreak::Rewritten { seq: 3 })
        );
        let anchor = (3, <[u8; 32]>::try_from(good[2].hash.0.as_slice()).unwrap());
        assert!(verify_chain(&team, &good, Some(anchor)).is_ok());

        let mut edited = good.clone();
        edited[3].detail = "n=999".into();
        assert_eq!(
            verify_chain(&team, &edited, None),
            Err(ChainBreak::Edited { seq: 4 })
        );

        let mut deleted = good.clone();
        deleted.remove(2);
        assert_eq!(
            verify_chain(&team, &deleted, None),
            Err(ChainBreak::Missing { after: 2, next: 4 })
        );
        assert!(ChainBreak::Missing { after: 2, next: 4 }
            .to_string()
            .contains("entry 3 is missing"));

        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert_eq!(
            verify_chain(&team, &swapped, None),
            Err(ChainBreak::Missing { after: 1, next: 3 })
        );

        // Reordered and renumbered with recomputed hashes: the links give it away.
        let mut renumbered = good.clone();
        renumbered.swap(1, 2);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
            e.hash = Blob(entry_hash(&team, e).to_vec());
        }
        assert_eq!(
            verify_chain(&team, &renumbered, None),
            Err(ChainBreak::Unlinked { seq: 2 })
        );

        // The same chain does not verify for another team.
        assert_eq!(
            verify_chain(&Id([8; 16]), &good, None),
            Err(ChainBreak::Edited { seq: 1 })
        );
        // A truncated tail is only caught by the anchor.
        assert_eq!(
            verify_chain(&team, &good[..4], Some((6, head))),
            Err(ChainBreak::Rewritten { seq: 6 })
        );
    }

    #[test]
    fn clients_report_only_reveal_and_copy() {
        let ev = |action| ClientEvents {
            events: vec![ClientEvent {
                action,
                item_id: Id([1; 16]),
                group_id: None,
                field: "password".into(),
                at: 1,
            }],
        };
        assert!(ev(AuditAction::Copy).validate().is_ok());
        let err = ev(AuditAction::Login).validate().unwrap_err();
        assert_eq!(err.error.field.as_deref(), Some("events[0].action"));
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
    }
}
