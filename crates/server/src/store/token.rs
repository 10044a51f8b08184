//! Machine tokens in storage: the [`TokenStore`] part of every [`super::Store`].
//!
//! A token row holds what the server needs to recognise and serve a CI job: the SHA-256 of its
//! bearer value (never the value), its X25519 public key, the creating admin's signature over the
//! token record (clients check it before sealing a new group key to the token), its name sealed
//! under the group key, and its lifetime. The group key of each epoch sealed to the token sits in
//! its own table, one row per epoch, written in the transaction that creates the token or rotates
//! the group.
use tessera_protocol::{EpochKey, Id};

use super::{Audit, StoreFuture};

/// A new machine token, as the store receives it.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token id.
    pub id: Id,
    /// Its group.
    pub group_id: Id,
    /// The group's team.
    pub team_id: Id,
    /// The name, sealed under the group key of `epoch`.
    pub name: Vec<u8>,
    /// The token's X25519 public key.
    pub exchange_public: Vec<u8>,
    /// The creating admin's signature over the token record.
    pub signature: Vec<u8>,
    /// SHA-256 of the bearer value.
    pub token_hash: [u8; 32],
    /// The admin who created it.
    pub created_by: Id,
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time it expires.
    pub expires_at: i64,
    /// The epoch of `key`; must be the group's current epoch.
    pub epoch: u64,
    /// The current group key sealed to the token.
    pub key: Vec<u8>,
    /// The creating client's tagged pin (what the job trusts), when it made one.
    pub pin: Option<Vec<u8>>,
}

/// A stored machine token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token id.
    pub id: Id,
    /// Its group.
    pub group_id: Id,
    /// The group's team.
    pub team_id: Id,
    /// The sealed name.
    pub name: Vec<u8>,
    /// The epoch whose key seals the name.
    pub name_epoch: u64,
    /// The X25519 public key.
    pub exchange_public: Vec<u8>,
    /// The creating admin's signature.
    pub signature: Vec<u8>,
    /// The admin who created it.
    pub created_by: Id,
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time it expires.
    pub expires_at: i64,
    /// Unix time it was revoked.
    pub revoked_at: Option<i64>,
    /// Unix time it was last used.
    pub last_used_at: Option<i64>,
    /// The tagged pin the creating client made (tokens from before pins have none).
    pub pin: Option<Vec<u8>>,
}

impl Token {
    /// Whether it still authenticates at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Machine-token storage; every method is one transaction (the audited ones commit their
/// [`Audit`] in it).
pub trait TokenStore {
    /// Store a token and the current group key sealed to it. [`super::StoreError::StaleEpoch`]
    /// when `epoch` is not the group's current one; [`super::StoreError::IdTaken`] when the id
    /// (or the bearer hash) is in use; [`super::StoreError::NotFound`] without such a group.
    fn create_token(&self, token: NewToken, audit: Audit<()>) -> StoreFuture<'_, ()>;
    /// A group's tokens (live, expired and revoked), oldest first.
    fn group_tokens(&self, group: Id) -> StoreFuture<'_, Vec<Token>>;
    /// A token by the SHA-256 of its bearer value (live or not; the caller checks).
    fn token_by_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Token>>;
    /// Revoke one of a group's tokens at `now`; false when the group has no such unrevoked token.
    fn revoke_token(
        &self,
        group: Id,
        token: Id,
        now: i64,
        audit: Audit<bool>,
    ) -> StoreFuture<'_, bool>;
    /// Record that a token was used at `now`.
    fn touch_token(&self, token: Id, now: i64) -> StoreFuture<'_, ()>;
    /// Every epoch of the token's group, oldest first, with the key sealed to the token (empty
    /// for epochs before it existed) and the previous key sealed under each (one query).
    fn token_keys(&self, token: Id) -> StoreFuture<'_, Vec<EpochKey>>;
}
