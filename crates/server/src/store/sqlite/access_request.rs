//! [`AccessRequests`] on SQLite.
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tessera_protocol::{GroupRole, Id};

use super::{be, set_member_in, SqliteStore};
use crate::store::access_request::{
    decision_name, decode_reasons, encode_reasons, AccessRequest, AccessRequests, Decision,
    NewAccessRequest, REQUEST_COLS,
};
use crate::store::{id_from, rules, Audit, StoreError, StoreFuture};

/// A column of an id or of sealed reasons that does not decode: a corrupt row.
fn corrupt(i: usize, e: StoreError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, Type::Blob, Box::new(e))
}

fn id_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Id> {
    id_from(&r.get::<_, Vec<u8>>(i)?).map_err(|e| corrupt(i, e))
}

/// Read one row of [`REQUEST_COLS`].
fn request_row(r: &Row<'_>) -> rusqlite::Result<AccessRequest> {
    let role: String = r.get(5)?;
    let reasons: Vec<u8> = r.get(7)?;
    let decided_by: Option<Vec<u8>> = r.get(11)?;
    let decision: Option<String> = r.get(12)?;
    let granted_role: Option<String> = r.get(13)?;
    Ok(AccessRequest {
        id: id_col(r, 0)?,
        team_id: id_col(r, 1)?,
        group_id: id_col(r, 2)?,
        requester: id_col(r, 3)?,
        requester_email: r.get(4)?,
        role: GroupRole::parse(&role),
        duration_secs: r.get(6)?,
        reasons: decode_reasons(&reasons).map_err(|e| corrupt(7, e))?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        decided_at: r.get(10)?,
        decided_by: decided_by
            .map(|b| id_from(&b))
            .transpose()
            .map_err(|e| corrupt(11, e))?,
        approved: decision.map(|d| d == decision_name(true)),
        granted_role: granted_role.map(|g| GroupRole::parse(&g)),
        granted_until: r.get(14)?,
    })
}

fn query_requests(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<AccessRequest>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {REQUEST_COLS} FROM access_requests r JOIN accounts a ON a.id = r.requester
             WHERE {filter} ORDER BY r.created_at, r.id"
        ))
        .map_err(be)?;
    let rows = stmt.query_map(args, request_row).map_err(be)?;
    rows.map(|r| r.map_err(be)).collect()
}

fn one_request(conn: &Connection, id: Id) -> Result<Option<AccessRequest>, StoreError> {
    conn.query_row(
        &format!(
            "SELECT {REQUEST_COLS} FROM access_requests r JOIN accounts a ON a.id = r.requester
             WHERE r.id = ?1"
        ),
        [id.0],
        request_row,
    )
    .optional()
    .map_err(be)
}

impl AccessRequests for SqliteStore {
    fn create_access_request(&self, r: NewAccessRequest, audit: Audit<()>) -> StoreFuture<'_, ()> {
        self.audited(audit, move |tx| {
            let pending: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM access_requests
                     WHERE group_id = ?1 AND requester = ?2 AND decided_at IS NULL
                       AND expires_at > ?3)",
                    params![r.group_id.0, r.requester.0, r.created_at],
                    |row| row.get(0),
                )
                .map_err(be)?;
            rules::new_request(pending)?;
            tx.execute(
                "INSERT INTO access_requests (id, team_id, group_id, requester, role,
                     duration_secs, reasons, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.id.0,
                    r.team_id.0,
                    r.group_id.0,
                    r.requester.0,
                    r.role.as_str(),
                    r.duration_secs,
                    encode_reasons(&r.reasons),
                    r.created_at,
                    r.expires_at
                ],
            )
            .map_err(super::unique_to(StoreError::IdTaken))?;
            Ok(())
        })
    }

    fn access_request(&self, id: Id) -> StoreFuture<'_, Option<AccessRequest>> {
        self.run(move |conn| one_request(conn, id))
    }

    fn pending_access_requests(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>> {
        self.run(move |conn| {
            query_requests(
                conn,
                "r.group_id = ?1 AND r.decided_at IS NULL AND r.expires_at > ?2",
                params![group.0, now],
            )
        })
    }

    fn access_requests_for(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>> {
        self.run(move |conn| {
            query_requests(
                conn,
                "r.requester = ?1 OR (r.decided_at IS NULL AND r.expires_at > ?2
                   AND r.group_id IN (SELECT m.group_id FROM group_members m
                       WHERE m.account_id = ?1 AND m.role = 'admin' AND m.removed_at IS NULL
                         AND (m.expires_at IS NULL OR m.expires_at > ?2)))",
                params![account.0, now],
            )
        })
    }

    fn decide_access_request(
        &self,
        d: Decision,
        audit: Audit<AccessRequest>,
    ) -> StoreFuture<'_, AccessRequest> {
        self.audited(audit, move |tx| {
            rules::decide(one_request(tx, d.request)?.as_ref(), d.now)?;
            if let Some(grant) = &d.grant {
                set_member_in(tx, grant)?;
            }
            let n = tx
                .execute(
                    "UPDATE access_requests SET decided_at = ?2, decided_by = ?3, decision = ?4,
                         granted_role = ?5, granted_until = ?6
                     WHERE id = ?1 AND decided_at IS NULL",
                    params![
                        d.request.0,
                        d.now,
                        d.by.0,
                        decision_name(d.grant.is_some()),
                        d.grant.as_ref().map(|g| g.role.as_str()),
                        d.grant.as_ref().and_then(|g| g.expires_at)
                    ],
                )
                .map_err(be)?;
            if n != 1 {
                return Err(StoreError::AlreadyDecided);
            }
            one_request(tx, d.request)?.ok_or(StoreError::NotFound)
        })
    }
}
