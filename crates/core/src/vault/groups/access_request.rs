//! Just-in-time access, client side: ask for time-boxed access to a group, list requests, and
//! (group admins) approve or deny them.
//!
//! A requester refers to the group by its id: the group's name is sealed under the group key,
//! which they do not hold (a live member asking for another role may use the name). The
//! reason they type is never sent in clear: it is sealed ([`tessera_crypto::seal`]) to the
//! X25519 key of each live admin of the group whose certificate chain verifies up to the
//! pinned team root, with associated data naming the team, the group, the request, the
//! requester and the recipient. Admins whose certificate does not verify do not receive it; if
//! none verifies, the request is refused with [`Error::Untrusted`] rather than sealing the
//! reason to keys the server could have swapped. An admin added after the request cannot read
//! its reason.
//!
//! Approving seals the group's current key to the requester exactly as
//! [`Vault::group_add`] does, after checking the requester's certificate chain
//! ([`Error::Untrusted`] otherwise). The server enforces the rest: who may approve, the
//! membership's end, and that a request is decided once.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tessera_crypto::envelope::associated_data;
use tessera_crypto::seal;
use tessera_protocol as proto;
use tessera_protocol::{access_limits, AccessRequestStatus, Blob, GroupRole, Id};

use super::{group_view, verified_member, TeamContext};
use crate::error::{Error, Result};
use crate::vault::Vault;

/// An access request, the group's name and the reason decrypted where this account can.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessRequestView {
    /// The request id (hex).
    pub id: String,
    /// The group id (hex).
    pub group_id: String,
    /// The group's name, when this account holds the group's keys.
    pub group_name: Option<String>,
    /// Who asked (e-mail).
    pub requester: String,
    /// Their account id (hex).
    pub requester_id: String,
    /// Whether this account asked.
    pub mine: bool,
    /// The role asked for.
    pub role: GroupRole,
    /// The duration asked for, seconds.
    pub duration_secs: i64,
    /// The reason, when it was sealed to this account (or this account wrote it).
    pub reason: Option<String>,
    /// Where it stands.
    pub status: AccessRequestStatus,
    /// When it was made (Unix time).
    pub created_at: i64,
    /// When it lapses undecided.
    pub expires_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// The role granted.
    pub granted_role: Option<GroupRole>,
    /// When the granted access ends.
    pub granted_until: Option<i64>,
}

fn reason_ad(team: &[u8; 16], group: &Id, request: &Id, requester: &Id, to: &Id) -> Vec<u8> {
    associated_data(
        "tessera access request reason",
        &[team, &group.0, &request.0, &requester.0, &to.0],
    )
}

fn check_grant(role: GroupRole, secs: i64) -> Result<()> {
    if role == GroupRole::Admin {
        return Err(Error::Invalid(
            "the admin role cannot be requested; ask a group admin to add you as admin".into(),
        ));
    }
    if !(access_limits::MIN_SECS..=access_limits::MAX_SECS).contains(&secs) {
        return Err(Error::Invalid(
            "access lasts from 1 minute to 30 days".into(),
        ));
    }
    Ok(())
}

fn view(
    i: proto::AccessRequestInfo,
    me: Id,
    group_name: Option<String>,
    reason: Option<String>,
) -> AccessRequestView {
    AccessRequestView {
        id: i.request_id.to_hex(),
        group_id: i.group_id.to_hex(),
        group_name,
        requester: i.requester_email,
        requester_id: i.requester_id.to_hex(),
        mine: i.requester_id == me,
        role: i.role,
        duration_secs: i.duration_secs,
        reason,
        status: i.status,
        created_at: i.created_at,
        expires_at: i.expires_at,
        decided_at: i.decided_at,
        granted_role: i.granted_role,
        granted_until: i.granted_until,
    }
}

/// A request among those you see, by id or a unique prefix of it.
fn find_request(ctx: &TeamContext, query: &str) -> Result<proto::AccessRequestInfo> {
    let q = query.trim().to_ascii_lowercase();
    if q.len() < 4 {
        return Err(Error::Invalid(
            "name a request by its id or its first 4 or more characters".into(),
        ));
    }
    let list: Vec<proto::AccessRequestInfo> = ctx.remote.get("/v1/requests")?;
    let mut found: Vec<_> = list
        .into_iter()
        .filter(|i| i.request_id.to_hex().starts_with(&q))
        .collect();
    match found.len() {
        0 => Err(Error::NotFound(format!(
            "no access request {query:?} among those you see (`tessera requests`)"
        ))),
        1 => Ok(found.pop().expect("one")),
        count => Err(Error::Ambiguous {
            query: query.to_owned(),
            count,
        }),
    }
}

impl Vault {
    /// The names of the groups this account holds keys of, by id.
    fn group_names(&self, ctx: &TeamContext) -> Result<HashMap<Id, String>> {
        self.fetch_groups(ctx)?
            .iter()
            .map(|g| Ok((g.info.group_id, group_view(&ctx.team_id, g)?.name)))
            .collect()
    }

    /// Open the reason of a request if it was sealed to this account.
    fn open_reason(
        &self,
        ctx: &TeamContext,
        i: &proto::AccessRequestInfo,
    ) -> Result<Option<String>> {
        let Some(sealed) = &i.reason else {
            return Ok(None);
        };
        let me = Id(self.account_id());
        let ad = reason_ad(
            &ctx.team_id,
            &i.group_id,
            &i.request_id,
            &i.requester_id,
            &me,
        );
        let tampered = || Error::Tampered {
            item: i.request_id.to_hex(),
        };
        let plain = self
            .keyset
            .open_sealed(&sealed.0, &ad)
            .map_err(|_| tampered())?;
        String::from_utf8(plain.to_vec())
            .map(Some)
            .map_err(|_| tampered())
    }

    /// Ask for `role` in a group for `duration_secs` (a group id, or the name of a group you
    /// are a live member of), with an optional reason sealed to the group's admins.
    pub fn request_access(
        &self,
        group: &str,
        role: GroupRole,
        duration_secs: i64,
        reason: Option<&str>,
    ) -> Result<AccessRequestView> {
        check_grant(role, duration_secs)?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > access_limits::REASON_CHARS) {
            return Err(Error::Invalid(format!(
                "a reason is at most {} characters",
                access_limits::REASON_CHARS
            )));
        }
        let ctx = self.team_context()?;
        let (gid, name) = match Id::parse(&group.trim().to_ascii_lowercase()) {
            Some(id) => (id, self.group_names(&ctx)?.remove(&id)),
            None => match self.find_group(&ctx, group) {
                Ok((keys, v)) => (keys.info.group_id, Some(v.name)),
                Err(Error::NotFound(_)) => {
                    return Err(Error::NotFound(format!(
                        "no group {group:?} among yours; ask for access by the group's id \
                         (a member sees it in `tessera group list`)"
                    )))
                }
                Err(e) => return Err(e),
            },
        };
        let me = Id(self.account_id());
        let request = Id(rand::random());
        let mut reasons = Vec::new();
        if let Some(text) = reason {
            let admins: proto::GroupAdmins = ctx
                .remote
                .get(&format!("/v1/groups/{gid}/admins"))
                .map_err(|e| super::remote_not_found(e, group))?;
            let directory: Vec<proto::DirectoryEntry> = ctx
                .remote
                .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))?;
            let mut refused = None;
            for admin in &admins.admins {
                match verified_member(&ctx, &directory, &admin.to_hex()) {
                    Ok((account, exchange)) => reasons.push(proto::SealedReason {
                        account_id: account,
                        reason: Blob(seal::seal_to(
                            &exchange,
                            text.as_bytes(),
                            &reason_ad(&ctx.team_id, &gid, &request, &me, &account),
                        )),
                    }),
                    Err(e) => refused = refused.or(Some(e)),
                }
            }
            if reasons.is_empty() {
                return Err(refused.unwrap_or_else(|| {
                    Error::Invalid("the group has no admin to send the reason to".into())
                }));
            }
        }
        let info: proto::AccessRequestInfo = ctx
            .remote
            .post(
                &format!("/v1/groups/{gid}/requests"),
                &proto::CreateAccessRequest {
                    request_id: request,
                    role,
                    duration_secs,
                    reasons,
                },
            )
            .map_err(|e| super::remote_not_found(e, group))?;
        Ok(view(info, me, name, reason.map(str::to_owned)))
    }

    /// Your own requests with their status, and the pending requests of every group you
    /// administer (group names and reasons decrypted).
    pub fn access_requests(&self) -> Result<Vec<AccessRequestView>> {
        let ctx = self.team_context()?;
        let list: Vec<proto::AccessRequestInfo> = ctx.remote.get("/v1/requests")?;
        let names = self.group_names(&ctx)?;
        let me = Id(self.account_id());
        let out = list
            .into_iter()
            .map(|i| {
                let reason = self.open_reason(&ctx, &i)?;
                let name = names.get(&i.group_id).cloned();
                Ok(view(i, me, name, reason))
            })
            .collect();
        tessera_crypto::scrub_stack();
        out
    }

    /// Approve a request (group admins): the requester's certificate is checked up to the
    /// pinned team root before the group's current key is sealed to them. `role` and
    /// `duration_secs` override what was asked.
    pub fn approve_access(
        &self,
        request: &str,
        role: Option<GroupRole>,
        duration_secs: Option<i64>,
    ) -> Result<AccessRequestView> {
        let ctx = self.team_context()?;
        let req = find_request(&ctx, request)?;
        check_grant(
            role.unwrap_or(req.role),
            duration_secs.unwrap_or(req.duration_secs),
        )?;
        let reason = self.open_reason(&ctx, &req)?;
        let (keys, group) = self.find_signed_group(&ctx, &req.group_id.to_hex())?;
        let directory = Self::directory(&ctx)?;
        let (account, exchange) = verified_member(&ctx, &directory, &req.requester_id.to_hex())?;
        let granted = role.unwrap_or(req.role);
        let end = crate::vault::now() + duration_secs.unwrap_or(req.duration_secs);
        let entry = self.member_entry(&ctx, &keys, account, exchange, granted, Some(end))?;
        let info: proto::AccessRequestInfo = ctx.remote.post(
            &format!("/v1/requests/{}/approve", req.request_id),
            &proto::ApproveAccessRequest {
                epoch: entry.epoch,
                key: entry.key,
                role,
                duration_secs,
                log: entry.entry,
            },
        )?;
        Ok(view(info, Id(self.account_id()), Some(group.name), reason))
    }

    /// Deny a request (group admins).
    pub fn deny_access(&self, request: &str) -> Result<AccessRequestView> {
        let ctx = self.team_context()?;
        let req = find_request(&ctx, request)?;
        let reason = self.open_reason(&ctx, &req)?;
        let name = self.group_names(&ctx)?.remove(&req.group_id);
        let info: proto::AccessRequestInfo = ctx.remote.post(
            &format!("/v1/requests/{}/deny", req.request_id),
            &serde_json::json!({}),
        )?;
        Ok(view(info, Id(self.account_id()), name, reason))
    }
}
