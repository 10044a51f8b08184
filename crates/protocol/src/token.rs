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
use serde::{Deserialize, Serialize};

use crate::group::group_limits;
use crate::{check_len, invalid, Blob, EpochKey, ErrorBody, Id, Validate};

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
}

impl Validate for CreateTokenRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
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
        ] {
            assert_eq!(
                bad.validate().unwrap_err().error.field.as_deref(),
                Some(field)
            );
        }
    }
}
