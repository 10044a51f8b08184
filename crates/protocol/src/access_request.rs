//! Just-in-time access: a team member asks for time-boxed access to a group, a group admin
//! approves (sending the group key sealed to them) or denies.
//!
//! The reason a requester types is sealed on their device to the X25519 key of each live admin
//! of the group whose certificate verifies ([`SealedReason`]); the server stores the sealed
//! copies and hands each admin only the copy sealed to them, so it never reads the reason.
use serde::{Deserialize, Serialize};

use crate::{check_len, group_limits, invalid, Blob, ErrorBody, GroupRole, Id, Validate};

/// Limits for access requests.
pub mod access_limits {
    /// Shortest access one may ask for or grant, seconds (one minute).
    pub const MIN_SECS: i64 = 60;
    /// Longest access one may ask for or grant, seconds (30 days).
    pub const MAX_SECS: i64 = 30 * 24 * 3600;
    /// How long a request waits for a decision before it lapses, seconds (7 days).
    pub const PENDING_SECS: i64 = 7 * 24 * 3600;
    /// Longest reason, characters, before sealing.
    pub const REASON_CHARS: usize = 500;
    /// Largest sealed reason, bytes.
    pub const SEALED_REASON: usize = 4096;
    /// Most admins a reason is sealed to.
    pub const REASON_COPIES: usize = 100;
    /// How far the end an approver signs may be from the server's now plus the duration,
    /// seconds (their clocks differ).
    pub const CLOCK_SKEW_SECS: i64 = 300;
}

/// The reason for a request, sealed to one group admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedReason {
    /// The admin it is sealed to.
    pub account_id: Id,
    /// The reason, sealed to the admin's X25519 key.
    pub reason: Blob,
}

/// Ask for access to a group for a while (any team member who is not a live admin of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessRequest {
    /// A random id chosen by the client (it is bound into the sealed reason).
    pub request_id: Id,
    /// The role asked for: `viewer` or `editor` (admin cannot be requested).
    pub role: GroupRole,
    /// How long the access should last once granted, seconds.
    pub duration_secs: i64,
    /// The reason sealed to each group admin (empty when none was given).
    #[serde(default)]
    pub reasons: Vec<SealedReason>,
}

fn check_duration(field: &str, secs: i64) -> Result<(), ErrorBody> {
    if !(access_limits::MIN_SECS..=access_limits::MAX_SECS).contains(&secs) {
        return Err(invalid(
            field,
            format!(
                "{field} must be {} to {} seconds (1 minute to 30 days)",
                access_limits::MIN_SECS,
                access_limits::MAX_SECS
            ),
        ));
    }
    Ok(())
}

fn check_role(field: &str, role: GroupRole) -> Result<(), ErrorBody> {
    if role == GroupRole::Admin {
        return Err(invalid(
            field,
            "the admin role cannot be requested or granted through a request; ask a group \
             admin to add you as admin",
        ));
    }
    Ok(())
}

impl Validate for CreateAccessRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        check_role("role", self.role)?;
        check_duration("duration_secs", self.duration_secs)?;
        if self.reasons.len() > access_limits::REASON_COPIES {
            return Err(invalid(
                "reasons",
                "the reason is sealed to too many admins",
            ));
        }
        for (i, r) in self.reasons.iter().enumerate() {
            check_len(
                &format!("reasons[{i}].reason"),
                r.reason.0.len(),
                1,
                access_limits::SEALED_REASON,
            )?;
        }
        Ok(())
    }
}

/// Grant a pending request (group admins): the requester becomes a member with the requested
/// role (or `role`) until now plus the requested duration (or `duration_secs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveAccessRequest {
    /// The epoch `key` belongs to: must be the group's current epoch.
    pub epoch: u64,
    /// The current epoch's key sealed to the requester; required when they do not hold it.
    #[serde(default)]
    pub key: Option<Blob>,
    /// A role other than the one requested (`viewer` or `editor`).
    #[serde(default)]
    pub role: Option<GroupRole>,
    /// A duration other than the one requested, seconds.
    #[serde(default)]
    pub duration_secs: Option<i64>,
    /// The group log entry adding the requester with the granted role until the end (now plus
    /// the duration, by the approver's clock, within [`access_limits::CLOCK_SKEW_SECS`] of the
    /// server's), signed by the approver.
    pub log: crate::SignedLogEntry,
}

impl Validate for ApproveAccessRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        if self.epoch == 0 {
            return Err(invalid("epoch", "epoch starts at 1"));
        }
        if let Some(k) = &self.key {
            check_len("key", k.0.len(), 1, group_limits::KEY)?;
        }
        if let Some(r) = self.role {
            check_role("role", r)?;
        }
        if let Some(d) = self.duration_secs {
            check_duration("duration_secs", d)?;
        }
        self.log.validate()
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRequestStatus {
    /// Waiting for a group admin.
    Pending,
    /// Granted.
    Approved,
    /// Refused.
    Denied,
    /// Nobody decided before it lapsed.
    Expired,
}

/// An access request as the server shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequestInfo {
    /// The request.
    pub request_id: Id,
    /// The group asked for.
    pub group_id: Id,
    /// Who asked.
    pub requester_id: Id,
    /// Their e-mail address.
    pub requester_email: String,
    /// The role asked for.
    pub role: GroupRole,
    /// The duration asked for, seconds.
    pub duration_secs: i64,
    /// When it was made (Unix time).
    pub created_at: i64,
    /// When it lapses if nobody decides (Unix time).
    pub expires_at: i64,
    /// Where it stands.
    pub status: AccessRequestStatus,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// The admin who decided.
    pub decided_by: Option<Id>,
    /// The role granted (approved requests).
    pub granted_role: Option<GroupRole>,
    /// When the granted access ends (approved requests).
    pub granted_until: Option<i64>,
    /// The reason sealed to the caller, when the caller is an admin it was sealed to.
    pub reason: Option<Blob>,
}

/// The live admins of a group, for sealing a request's reason to them (any team member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAdmins {
    /// The group.
    pub group_id: Id,
    /// Its live admins' account ids.
    pub admins: Vec<Id>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_requests_name_the_field() {
        let ok = CreateAccessRequest {
            request_id: Id([1; 16]),
            role: GroupRole::Viewer,
            duration_secs: 3600,
            reasons: vec![],
        };
        assert!(ok.validate().is_ok());
        let field = |r: &CreateAccessRequest| r.validate().unwrap_err().error.field;
        for (r, f) in [
            (
                CreateAccessRequest {
                    role: GroupRole::Admin,
                    ..ok.clone()
                },
                "role",
            ),
            (
                CreateAccessRequest {
                    duration_secs: access_limits::MAX_SECS + 1,
                    ..ok.clone()
                },
                "duration_secs",
            ),
            (
                CreateAccessRequest {
                    duration_secs: 59,
                    ..ok.clone()
                },
                "duration_secs",
            ),
            (
                CreateAccessRequest {
                    reasons: vec![SealedReason {
                        account_id: Id([2; 16]),
                        reason: Blob(vec![]),
                    }],
                    ..ok.clone()
                },
                "reasons[0].reason",
            ),
        ] {
            assert_eq!(field(&r).as_deref(), Some(f));
        }
        let a = ApproveAccessRequest {
            epoch: 1,
            key: None,
            role: Some(GroupRole::Admin),
            duration_secs: None,
            log: crate::group_log::test_entry(),
        };
        assert_eq!(
            a.validate().unwrap_err().error.field.as_deref(),
            Some("role")
        );
        assert!(serde_json::from_str::<ApproveAccessRequest>(r#"{"epoch": 1, "x": 2}"#).is_err());
    }
}
