//! The offboarding review: what a member could reach, and ending all of it.
//!
//! The server knows who was in which group when and which sealed versions it holds; it cannot
//! tell what a version contains. The lead's client decrypts the versions with its own group keys
//! and decides which secrets are still as the member could have seen them.
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, GroupRole, Id, ItemRecord};

/// One membership of the member: when it began and when access ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipWindow {
    /// The group.
    pub group_id: Id,
    /// The role held.
    pub role: GroupRole,
    /// When it began (Unix time).
    pub from: i64,
    /// When access ended (removal or expiry), if it has.
    pub to: Option<i64>,
}

/// The current version of an item the member could decrypt: the item existed in the group
/// before their access ended (a version from the second it ended or later does not count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposedRecord {
    /// The group holding it.
    pub group_id: Id,
    /// Its current sealed version.
    pub record: ItemRecord,
}

/// `GET /v1/teams/{team_id}/accounts/{account_id}/offboarding` (team admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardingResponse {
    /// The member.
    pub account_id: Id,
    /// Their e-mail address.
    pub email: String,
    /// When they were offboarded, if they were.
    pub offboarded_at: Option<i64>,
    /// Their live sessions.
    pub live_sessions: u64,
    /// Every group membership they held.
    pub windows: Vec<MembershipWindow>,
    /// Items of those groups that existed before their access ended, current versions.
    pub records: Vec<ExposedRecord>,
    /// What they revealed or copied (client-reported audit entries).
    pub events: Vec<AuditEntry>,
}

/// `POST /v1/teams/{team_id}/accounts/{account_id}/offboard` (team admins): the account can no
/// longer sign in, its sessions end and its memberships are removed, in one transaction.
/// New group-key epochs follow from the admin's client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardResponse {
    /// Sessions ended.
    pub sessions_revoked: u64,
    /// Machine tokens they created, revoked.
    pub tokens_revoked: u64,
    /// Groups the member was removed from (their keys must be rotated).
    pub groups: Vec<Id>,
}
