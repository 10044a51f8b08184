//! The group log: each group's membership and key epochs as a hash-chained list of entries,
//! each signed by a group admin, that every client replays and checks against the team root
//! it pinned before it seals a group key to anyone or accepts one (see `tessera-core`'s
//! `vault::groups::log`). The server stores and serves the entries; it cannot make one.
//!
//! An entry is sent and stored as the exact JSON bytes its author signed ([`SignedLogEntry`]);
//! the server checks the bytes it is given against the change the request makes (so its own
//! tables follow the log) and that each entry extends the one before, and never re-encodes.
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{check_len, invalid, Blob, ErrorBody, GroupRole, Id};

/// The entry format this build writes and reads.
pub const LOG_VERSION: u8 = 1;
/// Largest encoded entry, bytes (a rotation of a 10,000-member group fits).
pub const LOG_ENTRY_MAX: usize = 2 * 1024 * 1024;

/// A member as the log records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogMember {
    /// The account.
    pub account_id: Id,
    /// Its role in the group.
    pub role: GroupRole,
    /// When the membership ends (Unix time), if it does.
    pub expires_at: Option<i64>,
}

/// The SHA-256 digest of a sealed group key given to one recipient (a member or a machine
/// token): a recipient accepts the key it is served only if its digest is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDigest {
    /// The account or token the key is sealed to.
    pub id: Id,
    /// SHA-256 of the sealed key, as the server stores it.
    pub digest: Blob,
}

impl KeyDigest {
    /// The digest entry for `sealed`, given to `id`.
    pub fn of(id: Id, sealed: &[u8]) -> Self {
        Self {
            id,
            digest: Blob(Sha256::digest(sealed).to_vec()),
        }
    }
}

/// What one entry changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LogChange {
    /// The first entry: the members the group starts with and the epoch whose key they get.
    /// A new group starts with its creator as admin at epoch 1; a group made before logs
    /// existed starts its log with every member an admin vouched for and a fresh epoch.
    Genesis {
        /// Every member, the author among them as an admin.
        members: Vec<LogMember>,
        /// The epoch that starts.
        epoch: u64,
        /// Its key, sealed to each member.
        keys: Vec<KeyDigest>,
        /// Its key, sealed to each live machine token of the group.
        #[serde(default)]
        tokens: Vec<KeyDigest>,
    },
    /// A member added, or a member's role or end changed.
    SetMember {
        /// The member as they are from now on.
        member: LogMember,
        /// The group's current epoch.
        epoch: u64,
        /// The current epoch's key sealed to them, when they did not hold it.
        key: Option<Blob>,
    },
    /// A new epoch, removing members (or none: a plain rotation).
    Rotate {
        /// The epoch that starts: the previous one plus one.
        epoch: u64,
        /// Members removed with it.
        removed: Vec<Id>,
        /// Its key, sealed to each member who stays.
        keys: Vec<KeyDigest>,
        /// Its key, sealed to each live machine token of the group.
        #[serde(default)]
        tokens: Vec<KeyDigest>,
    },
}

/// One entry, as its author signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// [`LOG_VERSION`].
    pub v: u8,
    /// The team.
    pub team_id: Id,
    /// The group.
    pub group_id: Id,
    /// 1 for the first entry, then one more each.
    pub seq: u64,
    /// [`SignedLogEntry::hash`] of the entry before (empty for the first).
    pub prev: Blob,
    /// The admin who made and signed it.
    pub author: Id,
    /// When (Unix time, the author's clock).
    pub at: i64,
    /// The change.
    pub change: LogChange,
}

/// An entry's bytes and its author's signature over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedLogEntry {
    /// The JSON encoding of a [`LogEntry`], exactly as signed.
    pub entry: Blob,
    /// The author's Ed25519 signature (`tessera-crypto`'s `statement`, label "tessera group
    /// log v1").
    pub signature: Blob,
}

impl SignedLogEntry {
    /// The hash the next entry names as `prev`: SHA-256 over the length of the entry, the
    /// entry and the signature.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((self.entry.0.len() as u64).to_be_bytes());
        h.update(&self.entry.0);
        h.update(&self.signature.0);
        h.finalize().into()
    }

    /// Parse the entry (the signature is the client's to check).
    pub fn parse(&self) -> Result<LogEntry, String> {
        let e: LogEntry = serde_json::from_slice(&self.entry.0)
            .map_err(|e| format!("the entry is not a group log entry ({e})"))?;
        if e.v != LOG_VERSION {
            return Err(format!(
                "the entry has format version {}, this build reads {LOG_VERSION}",
                e.v
            ));
        }
        Ok(e)
    }
}

impl crate::Validate for SignedLogEntry {
    fn validate(&self) -> Result<(), ErrorBody> {
        check_len("log.entry", self.entry.0.len(), 2, LOG_ENTRY_MAX)?;
        check_len("log.signature", self.signature.0.len(), 64, 64)?;
        self.parse()
            .map(|_| ())
            .map_err(|why| invalid("log.entry", why))
    }
}

/// A group's log from an entry on (`GET /v1/groups/{id}/log?since=SEQ`: the entries after
/// `SEQ`, oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogResponse {
    /// The entries.
    pub entries: Vec<SignedLogEntry>,
}

/// A well-formed entry (its signature is not a real one), for the tests of request bodies.
#[cfg(test)]
pub(crate) fn test_entry() -> SignedLogEntry {
    let entry = LogEntry {
        v: LOG_VERSION,
        team_id: Id([1; 16]),
        group_id: Id([2; 16]),
        seq: 1,
        prev: Blob(vec![]),
        author: Id([1; 16]),
        at: 1,
        change: LogChange::Rotate {
            epoch: 2,
            removed: vec![],
            keys: vec![],
            tokens: vec![],
        },
    };
    SignedLogEntry {
        entry: Blob(serde_json::to_vec(&entry).expect("encodes")),
        signature: Blob(vec![0; 64]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Validate as _;

    fn entry() -> LogEntry {
        LogEntry {
            v: LOG_VERSION,
            team_id: Id([1; 16]),
            group_id: Id([2; 16]),
            seq: 1,
            prev: Blob(vec![]),
            author: Id([3; 16]),
            at: 1_800_000_000,
            change: LogChange::Genesis {
                members: vec![LogMember {
                    account_id: Id([3; 16]),
                    role: GroupRole::Admin,
                    expires_at: None,
                }],
                epoch: 1,
                keys: vec![KeyDigest::of(Id([3; 16]), b"sealed")],
                tokens: vec![],
            },
        }
    }

    #[test]
    fn an_entry_parses_back_and_its_hash_covers_the_signature() {
        let signed = SignedLogEntry {
            entry: Blob(serde_json::to_vec(&entry()).unwrap()),
            signature: Blob(vec![7; 64]),
        };
        signed.validate().unwrap();
        assert_eq!(signed.parse().unwrap(), entry());
        let other = SignedLogEntry {
            signature: Blob(vec![8; 64]),
            ..signed.clone()
        };
        assert_ne!(signed.hash(), other.hash());
    }

    #[test]
    fn a_bad_entry_names_the_field() {
        let mut e = entry();
        e.v = 2;
        let bad = SignedLogEntry {
            entry: Blob(serde_json::to_vec(&e).unwrap()),
            signature: Blob(vec![7; 64]),
        };
        let err = bad.validate().unwrap_err();
        assert_eq!(err.error.field.as_deref(), Some("log.entry"));
        let short = SignedLogEntry {
            signature: Blob(vec![7; 10]),
            ..bad
        };
        assert_eq!(
            short.validate().unwrap_err().error.field.as_deref(),
            Some("log.signature")
        );
    }
}
