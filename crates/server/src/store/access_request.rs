//! Access requests in storage: the [`AccessRequests`] methods every [`super::Store`] has, and
//! the rows they read and write.
//!
//! A request is *pending* until a group admin decides it or until `expires_at` passes; an
//! account has at most one pending request per group (checked and inserted in one transaction).
//! Approving writes the membership (as [`super::Store::set_member`] does) and the decision in
//! one transaction, so a request is never approved twice and never approved without its
//! membership.
use tessera_protocol::{AccessRequestStatus, GroupRole, Id};

use super::{id_from, Audit, SetMember, StoreError, StoreFuture};

/// A new request as the store receives it.
#[derive(Debug, Clone)]
pub struct NewAccessRequest {
    /// Its id (chosen by the client).
    pub id: Id,
    /// The team.
    pub team_id: Id,
    /// The group asked for.
    pub group_id: Id,
    /// Who asks.
    pub requester: Id,
    /// The role asked for.
    pub role: GroupRole,
    /// The duration asked for, seconds.
    pub duration_secs: i64,
    /// The reason sealed to each admin: (admin, sealed reason).
    pub reasons: Vec<(Id, Vec<u8>)>,
    /// Unix time.
    pub created_at: i64,
    /// When it lapses undecided.
    pub expires_at: i64,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Its id.
    pub id: Id,
    /// The team.
    pub team_id: Id,
    /// The group asked for.
    pub group_id: Id,
    /// Who asked.
    pub requester: Id,
    /// Their e-mail address.
    pub requester_email: String,
    /// The role asked for.
    pub role: GroupRole,
    /// The duration asked for, seconds.
    pub duration_secs: i64,
    /// The reason sealed to each admin: (admin, sealed reason).
    pub reasons: Vec<(Id, Vec<u8>)>,
    /// Unix time it was made.
    pub created_at: i64,
    /// When it lapses undecided.
    pub expires_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// Who decided.
    pub decided_by: Option<Id>,
    /// Approved (true) or denied (false), once decided.
    pub approved: Option<bool>,
    /// The role granted.
    pub granted_role: Option<GroupRole>,
    /// When the granted access ends.
    pub granted_until: Option<i64>,
}

impl AccessRequest {
    /// Where it stands at `now`.
    pub fn status(&self, now: i64) -> AccessRequestStatus {
        match self.approved {
            Some(true) => AccessRequestStatus::Approved,
            Some(false) => AccessRequestStatus::Denied,
            None if self.expires_at <= now => AccessRequestStatus::Expired,
            None => AccessRequestStatus::Pending,
        }
    }

    /// Whether it still waits for a decision at `now`.
    pub fn is_pending(&self, now: i64) -> bool {
        self.status(now) == AccessRequestStatus::Pending
    }
}

/// Decide a request: approve with the membership to write, or deny (`grant` is `None`).
#[derive(Debug, Clone)]
pub struct Decision {
    /// The request.
    pub request: Id,
    /// The admin deciding.
    pub by: Id,
    /// Unix time.
    pub now: i64,
    /// For an approval, the membership to write (its `expires_at` is the end of access).
    pub grant: Option<SetMember>,
}

/// The access request methods of a store.
pub trait AccessRequests {
    /// Store a new request. [`StoreError::IdTaken`] when the id exists;
    /// [`StoreError::AlreadyPending`] when the requester has a pending request for the group.
    fn create_access_request(&self, r: NewAccessRequest, audit: Audit<()>) -> StoreFuture<'_, ()>;
    /// A request by id.
    fn access_request(&self, id: Id) -> StoreFuture<'_, Option<AccessRequest>>;
    /// A group's pending requests at `now`, oldest first.
    fn pending_access_requests(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>>;
    /// The requests `account` sees at `now`: its own (any status) and the pending requests of
    /// every group it is a live admin of, oldest first (one query).
    fn access_requests_for(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>>;
    /// Decide a pending request in one transaction, returning it as decided.
    /// [`StoreError::NotFound`] when it does not exist; [`StoreError::AlreadyDecided`] when it
    /// was decided; [`StoreError::RequestExpired`] when it lapsed; for an approval, the errors of
    /// [`super::Store::set_member`] (and then nothing changes).
    fn decide_access_request(
        &self,
        d: Decision,
        audit: Audit<AccessRequest>,
    ) -> StoreFuture<'_, AccessRequest>;
}

/// Encode sealed reasons for the `reasons` column: per copy, the 16-byte account id, the
/// length as 4 bytes big-endian, then the sealed bytes.
pub(crate) fn encode_reasons(reasons: &[(Id, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, sealed) in reasons {
        out.extend_from_slice(&id.0);
        let len = u32::try_from(sealed.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(sealed);
    }
    out
}

/// Decode the `reasons` column; a malformed value means a corrupt row.
pub(crate) fn decode_reasons(mut b: &[u8]) -> Result<Vec<(Id, Vec<u8>)>, StoreError> {
    let corrupt = || StoreError::Backend("an access request's reasons are malformed".into());
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 20 {
            return Err(corrupt());
        }
        let id = id_from(&b[..16])?;
        let len = u32::from_be_bytes([b[16], b[17], b[18], b[19]]) as usize;
        let rest = &b[20..];
        if rest.len() < len {
            return Err(corrupt());
        }
        out.push((id, rest[..len].to_vec()));
        b = &rest[len..];
    }
    Ok(out)
}

/// The stored decision name.
pub(crate) fn decision_name(approved: bool) -> &'static str {
    if approved {
        "approved"
    } else {
        "denied"
    }
}

/// Columns every request query selects, in the order [`super::sqlite`] and
/// [`super::postgres`] read them (`r` the request, `a` the requester's account).
pub(crate) const REQUEST_COLS: &str = "r.id, r.team_id, r.group_id, r.requester, a.email, r.role,
    r.duration_secs, r.reasons, r.created_at, r.expires_at, r.decided_at, r.decided_by,
    r.decision, r.granted_role, r.granted_until";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_refuse_truncation() {
        let r = vec![(Id([1; 16]), vec![9; 40]), (Id([2; 16]), vec![])];
        let b = encode_reasons(&r);
        assert_eq!(decode_reasons(&b).unwrap(), r);
        assert!(decode_reasons(&b[..b.len() - 1]).is_err());
        assert!(decode_reasons(&b[..10]).is_err());
        assert!(decode_reasons(&[]).unwrap().is_empty());
    }
}
