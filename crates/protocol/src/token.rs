//! Machine tokens for CI: read-only access of a job to one group, with an expiry, revocable.
//!
//! A group admin's client makes the token: a random secret it shows once, from which it derives a
//! bearer value (the server gets only its SHA-256) and an X25519 key pair (the server gets the
//! public key). The admin's client seals the group's current key to that public key and signs
//! the token record with the admin's Ed25519 key; every later rotation seals the new key to each
//! live token as well ([`crate::RotateRequest::token_keys`]).
//!
//! A job authenticates with `Authorization: Token <token id>.<bearer, base64url>` and may only
//! read its group's keys and items (`GET /v1/token/group`, `GET /v1/token/sync`).
//!
//! What the job trusts does not come from the server's word: the creating client makes a
//! [`TokenPin`] (the team root, the key it sealed to the token, the group's log and manifest
//! positions) and tags it under a key only the token's secret derives; the server stores the
//! [`TaggedTokenPin`] and serves it back with the group's log and the certificates of those who
//! signed it, which the job checks against the pinned root.
use serde::{Deserialize, Serialize};

use crate::group::group_limits;
use crate::{
    check_len, invalid, Blob, DirectoryEntry, EpochKey, ErrorBody, Id, SignedLogEntry, Validate,
};

/// The version of [`TokenPin`] this code writes.
pub const TOKEN_PIN_VERSION: u32 = 1;

/// A place in a signed sequence (a group log, a manifest): its number and the SHA-256 of that
/// entry (a log entry's [`SignedLogEntry::hash`], a manifest body's digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinPosition {
    /// The number, from 1.
    pub seq: u64,
    /// The SHA-256, 32 bytes.
    pub hash: Blob,
}

/// What a machine token's job trusts, as the creating admin's client knew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPin {
    /// [`TOKEN_PIN_VERSION`].
    pub v: u32,
    /// The team.
    pub team_id: Id,
    /// The group.
    pub group_id: Id,
    /// The token.
    pub token_id: Id,
    /// The team root's Ed25519 public key, as the creating device pinned it.
    pub root: Blob,
    /// The epoch of the key sealed to the token at creation.
    pub epoch: u64,
    /// [`crate::KeyDigest`] digest of that sealed key (for the token id).
    pub key: Blob,
    /// The group log's newest entry then (none: the group had no log yet).
    pub log: Option<PinPosition>,
    /// The newest manifest of the group the creating device had accepted (none: none yet).
    pub manifest: Option<PinPosition>,
}

impl TokenPin {
    /// The bytes that are tagged and stored.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a token pin always encodes")
    }

    /// Parse stored bytes; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let p: Self =
            serde_json::from_slice(bytes).map_err(|e| format!("it does not parse ({e})"))?;
        if p.v != TOKEN_PIN_VERSION {
            return Err(format!("it is version {}, not {TOKEN_PIN_VERSION}", p.v));
        }
        let hash_ok = |p: &Option<PinPosition>| {
            p.as_ref()
                .is_none_or(|p| p.seq >= 1 && p.hash.0.len() == 32)
        };
        if p.root.0.len() != 32 || p.key.0.len() != 32 || !hash_ok(&p.log) || !hash_ok(&p.manifest)
        {
            return Err(
                "a key, digest or position in it is malformed (a wrong length or a number 0)"
                    .into(),
            );
        }
        Ok(p)
    }
}

/// A [`TokenPin`]'s bytes and their HMAC-SHA256 tag under the token's pin key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaggedTokenPin {
    /// [`TokenPin::encode`].
    pub body: Blob,
    /// The tag, 32 bytes.
    pub tag: Blob,
}

/// The longest pin body the server stores.
pub const TOKEN_PIN_MAX: usize = 1024;

impl TaggedTokenPin {
    /// The stored form: the 32-byte tag, then the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        [&self.tag.0[..], &self.body.0[..]].concat()
    }

    /// From [`TaggedTokenPin::to_bytes`]; `None` when too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() > 32).then(|| Self {
            tag: Blob(bytes[..32].to_vec()),
            body: Blob(bytes[32..].to_vec()),
        })
    }
}

/// The authorization scheme of machine tokens (`Authorization: Token <id>.<bearer>`).
pub const TOKEN_SCHEME: &str = "Token";
/// The longest a token may live, seconds (366 days).
pub const TOKEN_MAX_LIFETIME: i64 = 366 * 24 * 3600;

/// Create a machine token for a group (group admins).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// A random id chosen by the client (bound into the sealed key, the name and the signature).
    pub token_id: Id,
    /// The token's name, sealed under the group key of `epoch`.
    pub name: Blob,
    /// The token's X25519 public key.
    pub exchange_public: Blob,
    /// SHA-256 of the token's bearer value.
    pub bearer_hash: Blob,
    /// When the token stops working (Unix time); in the future, at most a year away.
    pub expires_at: i64,
    /// The group's current epoch (the epoch of `key`).
    pub epoch: u64,
    /// The current epoch's group key sealed to the token.
    pub key: Blob,
    /// The creating admin's Ed25519 signature over the token record (team, group, token id,
    /// public key, expiry).
    pub signature: Blob,
    /// What the job is to trust, tagged under the token's pin key (clients from before pins
    /// send none).
    #[serde(default)]
    pub pin: Option<TaggedTokenPin>,
}

impl Validate for CreateTokenRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        if let Some(p) = &self.pin {
            check_len("pin.body", p.body.0.len(), 1, TOKEN_PIN_MAX)?;
            check_len("pin.tag", p.tag.0.len(), 32, 32)?;
        }
        check_len("name", self.name.0.len(), 1, group_limits::NAME)?;
        check_len("exchange_public", self.exchange_public.0.len(), 32, 32)?;
        check_len("bearer_hash", self.bearer_hash.0.len(), 32, 32)?;
        check_len("key", self.key.0.len(), 1, group_limits::KEY)?;
        check_len("signature", self.signature.0.len(), 64, 64)?;
        if self.epoch == 0 {
            return Err(invalid("epoch", "epoch starts at 1"));
        }
        if self.expires_at <= 0 {
            return Err(invalid("expires_at", "expires_at must be a Unix time"));
        }
        Ok(())
    }
}

/// A machine token as group admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token.
    pub token_id: Id,
    /// Its name, sealed under the group key of `name_epoch`.
    pub name: Blob,
    /// The epoch whose key seals the name.
    pub name_epoch: u64,
    /// The token's X25519 public key.
    pub exchange_public: Blob,
    /// The creating admin's signature over the token record.
    pub signature: Blob,
    /// The admin who created it.
    pub created_by: Id,
    /// When.
    pub created_at: i64,
    /// When it expires.
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was last used, if ever.
    pub last_used_at: Option<i64>,
}

/// A new epoch's key for one machine token in a rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKey {
    /// The token.
    pub token_id: Id,
    /// The new epoch's key sealed to it.
    pub key: Blob,
}

/// What a machine token reads about its group: its keys, sealed to the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGroup {
    /// The team.
    pub team_id: Id,
    /// The group.
    pub group_id: Id,
    /// The token.
    pub token_id: Id,
    /// The group's current epoch.
    pub epoch: u64,
    /// The group's name, sealed under the current epoch's key.
    pub name: Blob,
    /// When the token expires.
    pub expires_at: i64,
    /// Every epoch, oldest first, `wrapped` being the key sealed to the token (empty for epochs
    /// before the token existed).
    pub keys: Vec<EpochKey>,
    /// The pin its creating client made (none for tokens from before pins).
    #[serde(default)]
    pub pin: Option<TaggedTokenPin>,
    /// The group's whole signed log, oldest first.
    #[serde(default)]
    pub log: Vec<SignedLogEntry>,
    /// The directory entries (keys and certificate chains) of every account that signed an
    /// entry of the log or the group's newest manifest.
    #[serde(default)]
    pub signers: Vec<DirectoryEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bodies_name_the_field() {
        let ok = CreateTokenRequest {
            token_id: Id([1; 16]),
            name: Blob(vec![1]),
            exchange_public: Blob(vec![2; 32]),
            bearer_hash: Blob(vec![3; 32]),
            expires_at: 1_900_000_000,
            epoch: 1,
            key: Blob(vec![4; 80]),
            signature: Blob(vec![5; 64]),
            pin: Some(TaggedTokenPin {
                body: Blob(pin().encode()),
                tag: Blob(vec![6; 32]),
            }),
        };
        assert!(ok.validate().is_ok());
        for (bad, field) in [
            (
                CreateTokenRequest {
                    exchange_public: Blob(vec![2; 31]),
                    ..ok.clone()
                },
                "exchange_public",
            ),
            (
                CreateTokenRequest {
                    bearer_hash: Blob(vec![]),
                    ..ok.clone()
                },
                "bearer_hash",
            ),
            (
                CreateTokenRequest {
                    signature: Blob(vec![0; 65]),
                    ..ok.clone()
                },
                "signature",
            ),
            (
                CreateTokenRequest {
                    expires_at: 0,
                    ..ok.clone()
                },
                "expires_at",
            ),
            (
                CreateTokenRequest {
                    pin: Some(TaggedTokenPin {
                        body: Blob(vec![1; TOKEN_PIN_MAX + 1]),
                        tag: Blob(vec![6; 32]),
                    }),
                    ..ok.clone()
                },
                "pin.body",
            ),
            (
                CreateTokenRequest {
                    pin: Some(TaggedTokenPin {
                        body: Blob(vec![1]),
                        tag: Blob(vec![6; 31]),
                    }),
                    ..ok.clone()
                },
                "pin.tag",
            ),
        ] {
            assert_eq!(
                bad.validate().unwrap_err().error.field.as_deref(),
                Some(field)
            );
        }
    }

    fn pin() -> TokenPin {
        TokenPin {
            v: TOKEN_PIN_VERSION,
            team_id: Id([1; 16]),
            group_id: Id([2; 16]),
            token_id: Id([3; 16]),
            root: Blob(vec![4; 32]),
            epoch: 2,
            key: Blob(vec![5; 32]),
            log: Some(PinPosition {
                seq: 3,
                hash: Blob(vec![6; 32]),
            }),
            manifest: None,
        }
    }

    #[test]
    fn a_pin_round_trips_and_a_malformed_one_says_why() {
        let p = pin();
        assert_eq!(TokenPin::decode(&p.encode()).unwrap(), p);
        let tagged = TaggedTokenPin {
            body: Blob(p.encode()),
            tag: Blob(vec![9; 32]),
        };
        assert_eq!(TaggedTokenPin::from_bytes(&tagged.to_bytes()), Some(tagged));
        assert_eq!(TaggedTokenPin::from_bytes(&[0; 32]), None);
        let short_root = TokenPin {
            root: Blob(vec![4; 31]),
            ..pin()
        };
        let zero_seq = TokenPin {
            manifest: Some(PinPosition {
                seq: 0,
                hash: Blob(vec![6; 32]),
            }),
            ..pin()
        };
        let later = TokenPin { v: 2, ..pin() };
        for (bad, why) in [
            (short_root.encode(), "is malformed"),
            (zero_seq.encode(), "a number 0"),
            (later.encode(), "version 2"),
            (b"{}".to_vec(), "does not parse"),
        ] {
            let e = TokenPin::decode(&bad).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
