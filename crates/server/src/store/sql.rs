//! The one query layer: every [`Store`] method is written here once, as SQL that SQLite and
//! PostgreSQL both run, over the small [`Sql`] trait each backend implements
//! ([`super::sqlite`], [`super::postgres`]). What a statement is allowed to do comes from
//! [`super::rules`]; a backend only opens connections, runs statements and commits.
//!
//! The SQL is the dialect the two share:
//! - placeholders are `$1`, `$2`, ... (the SQLite adapter rewrites them to `?1`, `?2`, ...);
//! - a row lock is a trailing `FOR UPDATE` (a SQLite write transaction holds the database's
//!   write lock from its first statement, so that adapter drops the clause);
//! - no arrays: a list is bound as `IN ($k, ...)` ([`list`]) and rows are written as
//!   multi-row `VALUES` ([`insert_rows`]), at most [`CHUNK`] rows a statement;
//! - booleans are `TRUE`, `FALSE` and `NOT column`;
//! - a parameter tested with `IS NULL` is compared with a column first (`col = $3 OR $3 IS
//!   NULL`), so that PostgreSQL can tell its type.
use std::future::Future;
use std::pin::Pin;

use tessera_protocol::{
    AuditEvent, AuditPage, AuditQuery, Blob, DirectoryEntry, EpochKey, ExposedRecord, GroupInfo,
    GroupMember, Id, MembershipWindow, OffboardResponse, PushChange, PushResult, SignedLogEntry,
};
use tokio::sync::broadcast;

use super::{
    id_from, AccessRequest, AccessRequests, Account, Audit, Decision, Group, LoginPolicy,
    Membership, NewAccessRequest, NewAccountRow, NewGroup, NewInvite, NewSession, NewToken,
    PullPage, Rotation, Session, SetMember, Store, StoreError, StoreFuture, StoredManifest, Team,
    Token, TokenStore,
};
use crate::events::{Change, ChangeHub};

mod access_request;
mod account;
mod audit;
mod group;
mod item;
mod offboard;
mod token;

/// The most rows one statement writes or looks up (each row binds up to 8 parameters; SQLite
/// allows 32,766 a statement, PostgreSQL 65,535).
pub(crate) const CHUNK: usize = 500;

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<u64> for Param<'_> {
    fn from(v: u64) -> Self {
        // Sequence numbers, versions and epochs stay far below 2^63.
        Param::Int(v as i64)
    }
}

impl From<u32> for Param<'_> {
    fn from(v: u32) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Param::Bytes(v)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Param<'a> {
    fn from(v: &'a [u8; N]) -> Self {
        Param::Bytes(v)
    }
}

impl<'a> From<&'a Id> for Param<'a> {
    fn from(v: &'a Id) -> Self {
        Param::Bytes(&v.0)
    }
}

impl<'a> From<&'a Blob> for Param<'a> {
    fn from(v: &'a Blob) -> Self {
        Param::Bytes(&v.0)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// The parameters of one statement: `params![a, b]` is `&[Param::from(a), Param::from(b)]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[$($crate::store::sql::Param::from($p)),*]
    };
}
pub(crate) use params;

/// A value a query returned.
#[derive(Debug, Default)]
pub(crate) enum Value {
    #[default]
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

/// One row a query returned; each getter takes its column out.
#[derive(Debug)]
pub(crate) struct Row(pub(crate) Vec<Value>);

fn wrong(i: usize, want: &str, got: &Value) -> StoreError {
    let got = match got {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Bool(_) => "a boolean",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
    };
    StoreError::Backend(format!("column {i} holds {got}, not {want}").into())
}

impl Row {
    fn take(&mut self, i: usize) -> Value {
        self.0.get_mut(i).map(std::mem::take).unwrap_or_default()
    }

    pub(crate) fn opt_i64(&mut self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.take(i) {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(v)),
            v => Err(wrong(i, "an integer", &v)),
        }
    }

    pub(crate) fn i64(&mut self, i: usize) -> Result<i64, StoreError> {
        self.opt_i64(i)?
            .ok_or_else(|| wrong(i, "an integer", &Value::Null))
    }

    pub(crate) fn u64(&mut self, i: usize) -> Result<u64, StoreError> {
        u64::try_from(self.i64(i)?)
            .map_err(|_| StoreError::Backend(format!("column {i} is negative").into()))
    }

    pub(crate) fn u32(&mut self, i: usize) -> Result<u32, StoreError> {
        u32::try_from(self.i64(i)?)
            .map_err(|_| StoreError::Backend(format!("column {i} is out of range").into()))
    }

    pub(crate) fn bool(&mut self, i: usize) -> Result<bool, StoreError> {
        match self.take(i) {
            Value::Bool(b) => Ok(b),
            // SQLite keeps booleans as 0 and 1.
            Value::Int(v) => Ok(v != 0),
            v => Err(wrong(i, "a boolean", &v)),
        }
    }

    pub(crate) fn opt_text(&mut self, i: usize) -> Result<Option<String>, StoreError> {
        match self.take(i) {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t)),
            v => Err(wrong(i, "text", &v)),
        }
    }

    pub(crate) fn text(&mut self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| wrong(i, "text", &Value::Null))
    }

    pub(crate) fn opt_bytes(&mut self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.take(i) {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b)),
            v => Err(wrong(i, "bytes", &v)),
        }
    }

    pub(crate) fn bytes(&mut self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.opt_bytes(i)?
            .ok_or_else(|| wrong(i, "bytes", &Value::Null))
    }

    /// Bytes, or empty bytes for NULL.
    pub(crate) fn blob(&mut self, i: usize) -> Result<Blob, StoreError> {
        Ok(Blob(self.opt_bytes(i)?.unwrap_or_default()))
    }

    pub(crate) fn id(&mut self, i: usize) -> Result<Id, StoreError> {
        id_from(&self.bytes(i)?)
    }

    pub(crate) fn opt_id(&mut self, i: usize) -> Result<Option<Id>, StoreError> {
        self.opt_bytes(i)?.as_deref().map(id_from).transpose()
    }
}

/// A boxed future of the query layer.
pub(crate) type SqlFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A connection, or a transaction on one, that runs statements of the shared dialect.
///
/// Errors come back as [`StoreError`]: a uniqueness violation as [`StoreError::EmailTaken`]
/// when it is on an e-mail address and [`StoreError::IdTaken`] otherwise, anything else as
/// [`StoreError::Backend`].
pub(crate) trait Sql: Send {
    /// Run a statement and return its rows.
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Param<'a>]) -> SqlFuture<'a, Vec<Row>>;

    /// Run a statement and return how many rows it changed.
    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Param<'a>]) -> SqlFuture<'a, u64>;

    /// Tell every node's event streams about `change` once the transaction commits.
    fn announce(&mut self, change: Change) -> SqlFuture<'_, ()>;
}

impl dyn Sql + '_ {
    /// The first row, if any.
    pub(crate) async fn opt(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// The one row a statement must return.
    pub(crate) async fn one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row, StoreError> {
        self.opt(sql, params)
            .await?
            .ok_or_else(|| StoreError::Backend("a query that returns a row returned none".into()))
    }

    /// Run a statement that must change a row ([`StoreError::NotFound`] when it changed none).
    pub(crate) async fn change(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<(), StoreError> {
        match self.execute(sql, params).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

/// `$first, $first + 1, ...`: `n` placeholders for `IN (...)`.
pub(crate) fn list(first: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 7);
    push_list(&mut out, first, n);
    out
}

/// Append [`list`]`(first, n)` to `out` (one buffer for a whole statement, no formatter).
fn push_list(out: &mut String, first: usize, n: usize) {
    for i in first..first + n {
        if i > first {
            out.push_str(", ");
        }
        out.push('$');
        let mut digits = [0u8; 20];
        let (mut at, mut v) = (digits.len(), i);
        loop {
            at -= 1;
            digits[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        out.extend(digits[at..].iter().map(|&d| char::from(d)));
    }
}

/// Write `rows` with `head` (`INSERT INTO t (a, b) VALUES`) and `tail` (an `ON CONFLICT`
/// clause, or nothing), [`CHUNK`] rows a statement.
pub(crate) async fn insert_rows<const W: usize>(
    s: &mut dyn Sql,
    head: &str,
    tail: &str,
    rows: &[[Param<'_>; W]],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * W * 7);
        sql.push_str(head);
        for r in 0..chunk.len() {
            sql.push_str(if r == 0 { " (" } else { ", (" });
            push_list(&mut sql, 1 + r * W, W);
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        let p: Vec<Param<'_>> = chunk.iter().flatten().copied().collect();
        s.execute(&sql, &p).await?;
    }
    Ok(())
}

/// What a backend runs: a function of a connection, in a transaction or not.
pub(crate) type Work<T> = Box<dyn for<'t> FnOnce(&'t mut dyn Sql) -> SqlFuture<'t, T> + Send>;

/// Box `f` as [`Work`] (this fixes the closure's signature for the borrow checker).
pub(crate) fn work<T, F>(f: F) -> Work<T>
where
    F: for<'t> FnOnce(&'t mut dyn Sql) -> SqlFuture<'t, T> + Send + 'static,
{
    Box::new(f)
}

/// A database the query layer runs on. Every `Backend` is a [`Store`].
pub(crate) trait Backend: Send + Sync + 'static {
    /// Run `work` in one transaction that holds the locks it takes until it commits; commit when
    /// it returns `Ok`, roll back otherwise.
    fn transact<T: Send + 'static>(&self, work: Work<T>) -> StoreFuture<'_, T>;

    /// Run `work` without a transaction of its own: reads, and writes of one statement (which
    /// the database applies atomically). On PostgreSQL this saves a `BEGIN` and a `COMMIT`.
    fn run<T: Send + 'static>(&self, work: Work<T>) -> StoreFuture<'_, T>;

    /// The node's change fan-out.
    fn hub(&self) -> &ChangeHub;

    /// The connection pool's state, where there is one.
    fn pool(&self) -> Option<super::postgres::PoolStatus>;

    /// Run `w` in a transaction and commit it with the entries `audit` records for its result
    /// ([`audit::append`]): both or neither.
    fn audited<T: Send + 'static>(&self, audit: Audit<T>, w: Work<T>) -> StoreFuture<'_, T> {
        self.transact(work(move |s| {
            Box::pin(async move {
                let out = w(&mut *s).await?;
                audit::append(s, audit.entries(&out)).await?;
                Ok(out)
            })
        }))
    }
}

/// `self.run(...)` of one shared query function: `run!(self, f(a, b))`.
macro_rules! run {
    ($store:expr, $($f:ident)::+ ($($arg:expr),* $(,)?)) => {
        $store.run(work(move |s| Box::pin($($f)::+(s, $($arg),*))))
    };
}

/// `self.transact(...)` of one shared query function.
macro_rules! transact {
    ($store:expr, $($f:ident)::+ ($($arg:expr),* $(,)?)) => {
        $store.transact(work(move |s| Box::pin($($f)::+(s, $($arg),*))))
    };
}

/// `self.audited(...)` of one shared query function.
macro_rules! audited {
    ($store:expr, $audit:expr, $($f:ident)::+ ($($arg:expr),* $(,)?)) => {
        $store.audited($audit, work(move |s| Box::pin($($f)::+(s, $($arg),*))))
    };
}

impl<B: Backend> Store for B {
    fn server_secret(&self) -> StoreFuture<'_, [u8; 32]> {
        run!(self, account::server_secret())
    }

    fn rotate_server_secret(&self) -> StoreFuture<'_, ()> {
        run!(self, account::rotate_server_secret())
    }

    fn create_team(
        &self,
        team: Team,
        admin: NewAccountRow,
        session: NewSession,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        audited!(self, audit, account::create_team(team, admin, session))
    }

    fn team(&self, id: Id) -> StoreFuture<'_, Option<Team>> {
        run!(self, account::team(id))
    }

    fn set_require_mfa(&self, team: Id, require: bool, audit: Audit<()>) -> StoreFuture<'_, ()> {
        audited!(self, audit, account::set_require_mfa(team, require))
    }

    fn account_by_email(&self, email: String) -> StoreFuture<'_, Option<Account>> {
        run!(self, account::by_email(email))
    }

    fn account_by_id(&self, id: Id) -> StoreFuture<'_, Option<Account>> {
        run!(self, account::by_id(id))
    }

    fn create_session(
        &self,
        account: Id,
        session: NewSession,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        audited!(self, audit, account::create_session(account, session))
    }

    fn session_by_token_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Session>> {
        run!(self, account::session_by_token_hash(hash))
    }

    fn touch_session(&self, id: Id, now: i64) -> StoreFuture<'_, ()> {
        run!(self, account::touch_session(id, now))
    }

    fn list_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<Session>> {
        run!(self, account::list_sessions(account, now))
    }

    fn revoke_session(
        &self,
        account: Id,
        id: Id,
        now: i64,
        audit: Audit<bool>,
    ) -> StoreFuture<'_, bool> {
        audited!(self, audit, account::revoke_session(account, id, now))
    }

    fn revoke_all_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, u64> {
        run!(self, account::revoke_all_sessions(account, now))
    }

    fn set_session_expiry(&self, id: Id, expires_at: i64) -> StoreFuture<'_, ()> {
        run!(self, account::set_session_expiry(id, expires_at))
    }

    fn create_invite(&self, invite: NewInvite, audit: Audit<()>) -> StoreFuture<'_, ()> {
        audited!(self, audit, account::create_invite(invite))
    }

    fn join_team(
        &self,
        token_hash: [u8; 32],
        account: NewAccountRow,
        session: NewSession,
        now: i64,
        audit: Audit<Team>,
    ) -> StoreFuture<'_, Team> {
        audited!(
            self,
            audit,
            account::join_team(token_hash, account, session, now)
        )
    }

    fn address_failures(
        &self,
        address: String,
        now: i64,
        policy: LoginPolicy,
    ) -> StoreFuture<'_, u32> {
        run!(self, account::address_failures(address, now, policy))
    }

    fn record_login_failure(
        &self,
        account: Option<Id>,
        address: String,
        now: i64,
        policy: LoginPolicy,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        audited!(
            self,
            audit,
            account::record_login_failure(account, address, now, policy)
        )
    }

    fn clear_login_failures(&self, account: Id) -> StoreFuture<'_, ()> {
        run!(self, account::clear_login_failures(account))
    }

    fn unlock_account(&self, account: Id) -> StoreFuture<'_, ()> {
        run!(self, account::unlock(account))
    }

    fn set_mfa_pending(&self, account: Id, secret: Vec<u8>) -> StoreFuture<'_, ()> {
        run!(self, account::set_mfa_pending(account, secret))
    }

    fn enable_mfa(&self, account: Id, recovery_hashes: Vec<[u8; 32]>) -> StoreFuture<'_, ()> {
        transact!(self, account::enable_mfa(account, recovery_hashes))
    }

    fn disable_mfa(&self, account: Id) -> StoreFuture<'_, ()> {
        transact!(self, account::disable_mfa(account))
    }

    fn use_totp_step(&self, account: Id, step: i64) -> StoreFuture<'_, bool> {
        run!(self, account::use_totp_step(account, step))
    }

    fn use_recovery_code(&self, account: Id, hash: [u8; 32]) -> StoreFuture<'_, bool> {
        run!(self, account::use_recovery_code(account, hash))
    }

    fn recovery_codes_left(&self, account: Id) -> StoreFuture<'_, u32> {
        run!(self, account::recovery_codes_left(account))
    }

    fn push(
        &self,
        team: Id,
        account: Id,
        changes: Vec<PushChange>,
        now: i64,
        audit: Audit<Vec<PushResult>>,
    ) -> StoreFuture<'_, Vec<PushResult>> {
        audited!(
            self,
            audit,
            item::push(item::PERSONAL, team, account, changes, now)
        )
    }

    fn pull(&self, account: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage> {
        run!(self, item::pull(item::PERSONAL, account, since, limit))
    }

    fn directory(&self, team: Id) -> StoreFuture<'_, Vec<DirectoryEntry>> {
        run!(self, account::directory(team))
    }

    fn set_certificate(
        &self,
        account: Id,
        chain: Vec<u8>,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        audited!(self, audit, account::set_certificate(account, chain))
    }

    fn set_root_pin(&self, account: Id, pin: Vec<u8>) -> StoreFuture<'_, ()> {
        run!(self, account::set_root_pin(account, pin))
    }

    fn manifest(&self, collection: Id) -> StoreFuture<'_, Option<StoredManifest>> {
        run!(self, group::manifest(collection))
    }

    fn put_manifest(&self, collection: Id, m: StoredManifest) -> StoreFuture<'_, ()> {
        run!(self, group::put_manifest(collection, m))
    }

    fn create_group(&self, g: NewGroup, audit: Audit<()>) -> StoreFuture<'_, ()> {
        audited!(self, audit, group::create(g))
    }

    fn group(&self, id: Id) -> StoreFuture<'_, Option<Group>> {
        run!(self, group::get(id))
    }

    fn membership(&self, group: Id, account: Id) -> StoreFuture<'_, Option<Membership>> {
        run!(self, group::membership(group, account))
    }

    fn groups_of(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<GroupInfo>> {
        run!(self, group::groups_of(account, now))
    }

    fn group_members(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<GroupMember>> {
        run!(self, group::members(group, now))
    }

    fn set_member(&self, m: SetMember, audit: Audit<()>) -> StoreFuture<'_, ()> {
        audited!(self, audit, group::set_member(m))
    }

    fn rotate_group(&self, r: Rotation, audit: Audit<()>) -> StoreFuture<'_, ()> {
        audited!(self, audit, group::rotate(r))
    }

    fn group_push(
        &self,
        team: Id,
        group: Id,
        changes: Vec<PushChange>,
        now: i64,
        audit: Audit<Vec<PushResult>>,
    ) -> StoreFuture<'_, Vec<PushResult>> {
        audited!(
            self,
            audit,
            item::push(item::GROUP, team, group, changes, now)
        )
    }

    fn group_log(&self, group: Id, since: u64) -> StoreFuture<'_, Vec<SignedLogEntry>> {
        run!(self, group::log(group, since))
    }

    fn group_log_head(&self, group: Id) -> StoreFuture<'_, Option<(u64, Vec<u8>)>> {
        run!(self, group::log_head(group))
    }

    fn group_pull(&self, group: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage> {
        run!(self, item::pull(item::GROUP, group, since, limit))
    }

    fn group_of_item(&self, team: Id, item: Id) -> StoreFuture<'_, Option<Id>> {
        run!(self, item::group_of(team, item))
    }

    fn append_audit(&self, team: Id, at: i64, events: Vec<AuditEvent>) -> StoreFuture<'_, ()> {
        let entries = Audit::new(team, at, events).entries(&());
        transact!(self, audit::append(entries))
    }

    fn audit_page(&self, team: Id, q: AuditQuery, limit: usize) -> StoreFuture<'_, AuditPage> {
        run!(self, audit::page(team, q, limit))
    }

    fn offboarding(
        &self,
        account: Id,
        now: i64,
    ) -> StoreFuture<'_, (Vec<MembershipWindow>, Vec<ExposedRecord>)> {
        run!(self, offboard::review(account, now))
    }

    fn offboard(
        &self,
        account: Id,
        by: Id,
        now: i64,
        audit: Audit<OffboardResponse>,
    ) -> StoreFuture<'_, OffboardResponse> {
        audited!(self, audit, offboard::offboard(account, by, now))
    }

    fn offboarded_at(&self, account: Id) -> StoreFuture<'_, Option<i64>> {
        run!(self, offboard::offboarded_at(account))
    }

    fn set_share_expiry(
        &self,
        group: Id,
        item: Id,
        expires_at: Option<i64>,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()> {
        audited!(
            self,
            audit,
            group::set_share_expiry(group, item, expires_at)
        )
    }

    fn share_expiry(&self, group: Id, item: Id) -> StoreFuture<'_, Option<i64>> {
        run!(self, group::share_expiry(group, item))
    }

    fn ended_shares(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<Id>> {
        run!(self, group::ended_shares(group, now))
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.hub().subscribe()
    }

    fn pool_status(&self) -> Option<super::postgres::PoolStatus> {
        self.pool()
    }
}

impl<B: Backend> AccessRequests for B {
    fn create_access_request(&self, r: NewAccessRequest, audit: Audit<()>) -> StoreFuture<'_, ()> {
        audited!(self, audit, access_request::create(r))
    }

    fn access_request(&self, id: Id) -> StoreFuture<'_, Option<AccessRequest>> {
        run!(self, access_request::get(id))
    }

    fn pending_access_requests(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>> {
        run!(self, access_request::pending(group, now))
    }

    fn access_requests_for(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<AccessRequest>> {
        run!(self, access_request::for_account(account, now))
    }

    fn decide_access_request(
        &self,
        d: Decision,
        audit: Audit<AccessRequest>,
    ) -> StoreFuture<'_, AccessRequest> {
        audited!(self, audit, access_request::decide(d))
    }
}

impl<B: Backend> TokenStore for B {
    fn create_token(&self, t: NewToken, audit: Audit<()>) -> StoreFuture<'_, ()> {
        audited!(self, audit, token::create(t))
    }

    fn group_tokens(&self, group: Id) -> StoreFuture<'_, Vec<Token>> {
        run!(self, token::of_group(group))
    }

    fn token_by_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Token>> {
        run!(self, token::by_hash(hash))
    }

    fn revoke_token(
        &self,
        group: Id,
        token: Id,
        now: i64,
        audit: Audit<bool>,
    ) -> StoreFuture<'_, bool> {
        audited!(self, audit, token::revoke(group, token, now))
    }

    fn touch_token(&self, token: Id, now: i64) -> StoreFuture<'_, ()> {
        run!(self, token::touch(token, now))
    }

    fn token_keys(&self, token: Id) -> StoreFuture<'_, Vec<EpochKey>> {
        run!(self, token::keys(token))
    }
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn lists_number_their_placeholders() {
        assert_eq!(list(2, 3), "$2, $3, $4");
        assert_eq!(list(1, 0), "");
        assert_eq!(list(9, 3), "$9, $10, $11");
        assert_eq!(list(5999, 2), "$5999, $6000");
    }
}
