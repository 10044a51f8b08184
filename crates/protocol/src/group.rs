//! Groups and sharing: the team directory with member certificates, groups whose key is sealed
//! to each member per epoch, memberships with roles and expiry, the items a group holds, and
//! who can read an item.
//!
//! The server never sees a group key or a group name: names are sealed under the group key,
//! group keys are sealed to each member's X25519 key (`wrapped`), and each epoch's record holds
//! the previous epoch's key sealed under the new one (`prev`), so a member added later reads the
//! whole history from one wrapped key.
use serde::{Deserialize, Serialize};

use crate::{check_len, invalid, Blob, ErrorBody, Id, Validate};

/// Limits for groups.
pub mod group_limits {
    /// Largest sealed group name, bytes.
    pub const NAME: usize = 1024;
    /// Largest sealed key (a group key sealed to a member, or the previous epoch's key).
    pub const KEY: usize = 256;
    /// Largest certificate chain, bytes.
    pub const CERTIFICATE: usize = 2048;
    /// Most members in one rotation.
    pub const MEMBERS: usize = 10_000;
}

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRole {
    /// Manages members and items.
    Admin,
    /// Changes items.
    Editor,
    /// Reads items only.
    Viewer,
}

impl GroupRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupRole::Admin => "admin",
            GroupRole::Editor => "editor",
            GroupRole::Viewer => "viewer",
        }
    }

    /// Parse a stored name; anything unknown is the least privileged role.
    pub fn parse(s: &str) -> Self {
        match s {
            "admin" => GroupRole::Admin,
            "editor" => GroupRole::Editor,
            _ => GroupRole::Viewer,
        }
    }

    /// May change items.
    pub fn can_write(self) -> bool {
        matches!(self, GroupRole::Admin | GroupRole::Editor)
    }
}

/// One account of the team with its public keys and certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// The account.
    pub account_id: Id,
    /// Its e-mail address.
    pub email: String,
    /// `admin` or `member` of the team.
    pub team_role: String,
    /// X25519 public key.
    pub exchange_public: Blob,
    /// Ed25519 public key.
    pub signing_public: Blob,
    /// The certificate chain (empty until an admin certifies the account).
    pub certificate: Blob,
}

/// Store a certificate chain for an account (team admins).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// The encoded chain.
    pub certificate: Blob,
}

impl Validate for CertificateRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        check_len(
            "certificate",
            self.certificate.0.len(),
            1,
            group_limits::CERTIFICATE,
        )
    }
}

/// Create a group; the caller becomes its first admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// A random id chosen by the client (it is bound into the sealed name and key).
    pub group_id: Id,
    /// The name, sealed under the group key of epoch 1.
    pub name: Blob,
    /// The group key of epoch 1, sealed to the caller.
    pub key: Blob,
    /// The group log's genesis entry, signed by the caller.
    pub log: crate::SignedLogEntry,
}

impl Validate for CreateGroupRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        check_len("name", self.name.0.len(), 1, group_limits::NAME)?;
        check_len("key", self.key.0.len(), 1, group_limits::KEY)?;
        self.log.validate()
    }
}

/// One epoch of a group's key, as a member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochKey {
    /// The epoch (1, 2, ...).
    pub epoch: u64,
    /// The epoch's key sealed to the caller (empty when it was never sealed to them).
    pub wrapped: Blob,
    /// The previous epoch's key sealed under this epoch's key (empty for epoch 1).
    pub prev: Blob,
}

/// A group the caller belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// The group.
    pub group_id: Id,
    /// The current epoch.
    pub epoch: u64,
    /// The name, sealed under the current epoch's key.
    pub name: Blob,
    /// The caller's role.
    pub role: GroupRole,
    /// When the caller's membership ends (Unix time), if it does.
    pub expires_at: Option<i64>,
    /// Every epoch, oldest first.
    pub keys: Vec<EpochKey>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The account.
    pub account_id: Id,
    /// Its e-mail address.
    pub email: String,
    /// Its role.
    pub role: GroupRole,
    /// When the membership ends, if it does.
    pub expires_at: Option<i64>,
    /// Who added the member.
    pub added_by: Id,
    /// When.
    pub added_at: i64,
    /// Whether the member holds the current epoch's key.
    pub has_current_key: bool,
}

/// Add a member or change one's role or expiry (group admins).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMemberRequest {
    /// The role.
    pub role: GroupRole,
    /// When the membership ends (Unix time), if it does.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The epoch `key` belongs to: must be the group's current epoch.
    pub epoch: u64,
    /// The current epoch's key sealed to the member; required when they do not hold it yet.
    #[serde(default)]
    pub key: Option<Blob>,
    /// The group log entry recording the change, signed by the caller.
    pub log: crate::SignedLogEntry,
}

impl Validate for SetMemberRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        self.log.validate()?;
        if let Some(k) = &self.key {
            check_len("key", k.0.len(), 1, group_limits::KEY)?;
        }
        if self.epoch == 0 {
            return Err(invalid("epoch", "epoch starts at 1"));
        }
        if self.expires_at.is_some_and(|t| t <= 0) {
            return Err(invalid("expires_at", "expires_at must be a Unix time"));
        }
        Ok(())
    }
}

/// A key for one member in a rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberKey {
    /// The member.
    pub account_id: Id,
    /// The new epoch's key sealed to them.
    pub key: Blob,
}

/// Start a new epoch, removing members (group admins). The new key must be sealed to every
/// member who stays and whose membership has not expired, and to no one else.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Members to remove (may be empty: a plain key rotation).
    #[serde(default)]
    pub remove: Vec<Id>,
    /// The new epoch: the current one plus one.
    pub epoch: u64,
    /// The name sealed under the new key.
    pub name: Blob,
    /// The previous epoch's key sealed under the new key.
    pub prev: Blob,
    /// The new key, sealed to each remaining member.
    pub keys: Vec<MemberKey>,
    /// The new key, sealed to every live machine token of the group (see [`crate::TokenKey`]).
    #[serde(default)]
    pub token_keys: Vec<crate::TokenKey>,
    /// The group log entry recording the rotation (a genesis entry for a group without a log
    /// yet), signed by the caller.
    pub log: crate::SignedLogEntry,
}

impl Validate for RotateRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        self.log.validate()?;
        if self.epoch < 2 {
            return Err(invalid("epoch", "a rotation starts epoch 2 or later"));
        }
        check_len("name", self.name.0.len(), 1, group_limits::NAME)?;
        check_len("prev", self.prev.0.len(), 1, group_limits::KEY)?;
        if self.keys.is_empty() || self.keys.len() > group_limits::MEMBERS {
            return Err(invalid(
                "keys",
                format!("keys must hold 1 to {} entries", group_limits::MEMBERS),
            ));
        }
        if self.remove.len() > group_limits::MEMBERS {
            return Err(invalid("remove", "too many members to remove"));
        }
        for (i, k) in self.keys.iter().enumerate() {
            check_len(
                &format!("keys[{i}].key"),
                k.key.0.len(),
                1,
                group_limits::KEY,
            )?;
        }
        if self.token_keys.len() > group_limits::MEMBERS {
            return Err(invalid("token_keys", "too many machine tokens"));
        }
        for (i, k) in self.token_keys.iter().enumerate() {
            check_len(
                &format!("token_keys[{i}].key"),
                k.key.0.len(),
                1,
                group_limits::KEY,
            )?;
        }
        Ok(())
    }
}

/// Set or clear when an item's share ends (editors and admins of the group). After the end the
/// group's viewers and editors are served the item as deleted and cannot change it; its admins
/// still see it and can extend the share or move the item out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareExpiryRequest {
    /// When the share ends (Unix time); `null` for no end.
    pub expires_at: Option<i64>,
}

impl Validate for ShareExpiryRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        if self.expires_at.is_some_and(|t| t <= 0) {
            return Err(invalid("expires_at", "expires_at must be a Unix time"));
        }
        Ok(())
    }
}

/// Who can read an item: the group holding it and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessResponse {
    /// The item.
    pub item_id: Id,
    /// The group that holds it.
    pub group_id: Id,
    /// The group's name, sealed under its current key.
    pub group_name: Blob,
    /// The group's current epoch (its name opens with this epoch's key).
    pub epoch: u64,
    /// Every member whose membership is live, with role and expiry.
    pub members: Vec<GroupMember>,
    /// When the item's share ends, if it does.
    #[serde(default)]
    pub share_expires_at: Option<i64>,
    /// The group's live machine tokens (not revoked, not expired): each can decrypt the item.
    /// Servers from before December 2026 send none.
    #[serde(default)]
    pub tokens: Vec<crate::TokenInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bodies_name_the_field() {
        let r = RotateRequest {
            remove: vec![],
            epoch: 2,
            name: Blob(vec![1]),
            prev: Blob(vec![1]),
            keys: vec![MemberKey {
                account_id: Id([1; 16]),
                key: Blob(vec![0; group_limits::KEY + 1]),
            }],
            token_keys: vec![],
            log: crate::group_log::test_entry(),
        };
        assert_eq!(
            r.validate().unwrap_err().error.field.as_deref(),
            Some("keys[0].key")
        );
        let s = SetMemberRequest {
            role: GroupRole::Viewer,
            expires_at: Some(-1),
            epoch: 1,
            key: None,
            log: crate::group_log::test_entry(),
        };
        assert_eq!(
            s.validate().unwrap_err().error.field.as_deref(),
            Some("expires_at")
        );
        assert!(
            serde_json::from_str::<SetMemberRequest>(r#"{"role": "owner", "epoch": 1}"#).is_err()
        );
    }
}
