//! Storage: one [`Store`] trait with domain methods, two backends that pass the same
//! conformance suite (`tests/store.rs`): [`sqlite::SqliteStore`] (the default, one file) and
//! [`postgres::PgStore`].
//!
//! The store keeps only hashes of secrets it must recognise (session and invitation tokens as
//! SHA-256, the auth key as an Argon2id PHC string computed by the caller) and ciphertext it
//! cannot open. Every method that writes more than one row runs in one transaction.
//!
//! Items belong to an account: a pull returns only the caller's own items, and an item id is
//! unique per account, so one account can never learn or overwrite another's items. Every change
//! gets the next number of its team's sequence; pushes of one team are serialised on the team row,
//! so changes commit in sequence order and a pull never skips one.
//!
//! Each method is written once, in the query layer `sql`, over the `sql::Sql` trait both
//! backends implement; the rules its statements enforce are the pure functions of `rules`.
//! Just-in-time access requests ([`access_request`]) and machine tokens ([`TokenStore`]) are
//! sub-traits every store implements.
use std::future::Future;
use std::pin::Pin;

use tessera_protocol::{
    AccountKeys, Actor, AuditEvent, AuditPage, AuditQuery, DirectoryEntry, ExposedRecord,
    GroupInfo, GroupMember, GroupRole, Id, ItemRecord, KdfInfo, MembershipWindow, OffboardResponse,
    PushChange, PushResult, SignedLogEntry,
};

pub mod access_request;
pub mod audit;
pub mod postgres;
pub(crate) mod rules;
pub mod schema;
pub(crate) mod sql;
pub mod sqlite;
mod token;

pub use token::{NewToken, Token, TokenStore};

pub use access_request::{AccessRequest, AccessRequests, Decision, NewAccessRequest};
pub use audit::Audit;

/// A boxed future returned by [`Store`] methods (object safe, `Send` for axum handlers).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Storage failures, named for what the caller can do about them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The e-mail address already belongs to an account.
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    /// The id (team, account or session) already exists.
    #[error("the id is already in use")]
    IdTaken,
    /// The invitation is unknown, used or expired.
    #[error("the invitation is unknown, used or expired")]
    InviteInvalid,
    /// The invitation was issued to another e-mail address.
    #[error("the invitation was issued to another e-mail address")]
    InviteForOtherEmail,
    /// The group moved to another epoch meanwhile: fetch it again and retry.
    #[error("the group's key epoch changed; fetch the group again")]
    StaleEpoch,
    /// The group's log has another last entry than the one the new entry follows: another
    /// admin changed the group meanwhile.
    #[error("the group's log moved on; fetch the group again")]
    StaleLog,
    /// A collection's manifest moved on meanwhile: another writer's came first.
    #[error("the collection's manifest moved on; read it again")]
    StaleManifest,
    /// The referenced team or account does not exist.
    #[error("not found")]
    NotFound,
    /// The requester already has a pending access request for the group.
    #[error("a pending access request for this group exists")]
    AlreadyPending,
    /// The access request was already approved or denied.
    #[error("the access request was already decided")]
    AlreadyDecided,
    /// The access request lapsed before anyone decided it.
    #[error("the access request expired")]
    RequestExpired,
    /// The database failed (connection lost, disk full, corrupt file...). The source says why;
    /// it is logged, never shown to clients.
    #[error("the database failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wrap a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// An account's role in its team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Manages the team: invites, settings, lifting lockouts.
    Admin,
    /// A member.
    Member,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Parse the stored name; anything unknown is the least privileged role.
    pub fn parse(s: &str) -> Self {
        if s == "admin" {
            Role::Admin
        } else {
            Role::Member
        }
    }
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// Its id.
    pub id: Id,
    /// The team root signing key's public half.
    pub root_public: Vec<u8>,
    /// Every member must have a TOTP second factor.
    pub require_mfa: bool,
    /// Unix time it was created.
    pub created_at: i64,
}

/// A new account as the store receives it (the auth key already hashed).
#[derive(Clone)]
pub struct NewAccountRow {
    /// The account id.
    pub id: Id,
    /// The team it belongs to.
    pub team_id: Id,
    /// The login e-mail address (lowercase).
    pub email: String,
    /// Its role.
    pub role: Role,
    /// Argon2id PHC string of the auth key.
    pub auth_hash: String,
    /// KDF parameters and salt.
    pub kdf: KdfInfo,
    /// Public keys and the wrapped keyset.
    pub keys: AccountKeys,
    /// Unix time of creation.
    pub created_at: i64,
}

impl std::fmt::Debug for NewAccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewAccountRow({})", self.id)
    }
}

/// A stored account.
#[derive(Clone)]
pub struct Account {
    /// The account id.
    pub id: Id,
    /// Its team.
    pub team_id: Id,
    /// The login e-mail address (lowercase).
    pub email: String,
    /// Its role.
    pub role: Role,
    /// Argon2id PHC string of the auth key.
    pub auth_hash: String,
    /// KDF parameters and salt.
    pub kdf: KdfInfo,
    /// Public keys and the wrapped keyset.
    pub keys: AccountKeys,
    /// Failed logins since the last success or lockout.
    pub failed_logins: u32,
    /// Logins are refused until this Unix time.
    pub locked_until: Option<i64>,
    /// The TOTP secret (pending or enrolled).
    pub mfa_secret: Option<Vec<u8>>,
    /// The TOTP second factor is confirmed and required at login.
    pub mfa_enabled: bool,
    /// The last TOTP time step accepted (a step is never accepted twice).
    pub mfa_last_step: i64,
    /// The account's signed pin of its team root: the root public key (32 bytes) then the
    /// account's signature (64), as the account sent it.
    pub root_pin: Option<Vec<u8>>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("team_id", &self.team_id)
            .field("role", &self.role)
            .field("mfa_enabled", &self.mfa_enabled)
            .finish_non_exhaustive()
    }
}

/// A collection's manifest as stored: its number (from the body), the body, what
/// authenticates it, and who signed it (a group's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    /// The manifest's number.
    pub seq: u64,
    /// The body, as the writer sent it.
    pub body: Vec<u8>,
    /// The tag or signature.
    pub auth: Vec<u8>,
    /// The signer of a group's manifest.
    pub signer: Option<Id>,
}

/// A new session (the token already hashed).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session id.
    pub id: Id,
    /// SHA-256 of the bearer token.
    pub token_hash: [u8; 32],
    /// The device's name.
    pub device_name: String,
    /// Unix time of sign-in.
    pub created_at: i64,
    /// Unix time it expires.
    pub expires_at: i64,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session id.
    pub id: Id,
    /// Its account.
    pub account_id: Id,
    /// The device's name.
    pub device_name: String,
    /// Unix time of sign-in.
    pub created_at: i64,
    /// Unix time last seen.
    pub last_seen_at: i64,
    /// Unix time it expires.
    pub expires_at: i64,
    /// Unix time it was revoked.
    pub revoked_at: Option<i64>,
}

impl Session {
    /// Whether it still authenticates at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A new invitation (the token already hashed).
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// SHA-256 of the invitation token.
    pub token_hash: [u8; 32],
    /// The team.
    pub team_id: Id,
    /// The invited e-mail address (lowercase).
    pub email: String,
    /// The admin who invited.
    pub created_by: Id,
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time it expires.
    pub expires_at: i64,
}

/// Lockout policy for failed logins.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Failures after which an account is locked.
    pub account_max_failures: u32,
    /// How long a lockout lasts, seconds.
    pub account_lock_secs: i64,
    /// Failures one client address may make per window.
    pub address_max_failures: u32,
    /// The address window, seconds.
    pub address_window_secs: i64,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            account_max_failures: 5,
            account_lock_secs: 15 * 60,
            address_max_failures: 20,
            address_window_secs: 60,
        }
    }
}

/// One page of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullPage {
    /// The changes, by sequence number.
    pub changes: Vec<ItemRecord>,
    /// More changes wait.
    pub more: bool,
}

/// A group as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its id.
    pub id: Id,
    /// Its team.
    pub team_id: Id,
    /// The current key epoch.
    pub epoch: u64,
    /// The name, sealed under the current epoch's key.
    pub name: Vec<u8>,
}

/// An account's membership of a group (live, expired or removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The role.
    pub role: GroupRole,
    /// When it ends, if it does.
    pub expires_at: Option<i64>,
    /// When it was removed, if it was.
    pub removed_at: Option<i64>,
}

impl Membership {
    /// Whether it grants access at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.removed_at.is_none() && self.expires_at.is_none_or(|t| t > now)
    }
}

/// A group's first epoch, as the store receives it.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// The group id.
    pub id: Id,
    /// Its team.
    pub team_id: Id,
    /// The sealed name.
    pub name: Vec<u8>,
    /// The creator (its first admin).
    pub created_by: Id,
    /// The epoch-1 key sealed to the creator.
    pub key: Vec<u8>,
    /// Unix time.
    pub created_at: i64,
    /// The log's first entry.
    pub log: LogAppend,
}

/// An entry to append to a group's log, in the transaction of the change it records; refused
/// with [`StoreError::StaleLog`] unless it follows the log's last entry (`seq` one more, `prev`
/// its hash, or `seq` 1 and `prev` empty for a group without a log).
#[derive(Debug, Clone)]
pub struct LogAppend {
    /// Its number.
    pub seq: u64,
    /// The hash of the entry it follows (empty for the first).
    pub prev: Vec<u8>,
    /// The entry as its author signed it.
    pub entry: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
    /// Its hash (what the next entry names as `prev`).
    pub hash: Vec<u8>,
}

/// Add or change a membership.
#[derive(Debug, Clone)]
pub struct SetMember {
    /// The group.
    pub group: Id,
    /// The member.
    pub account: Id,
    /// The role.
    pub role: GroupRole,
    /// When it ends.
    pub expires_at: Option<i64>,
    /// The epoch the key is for; must be current.
    pub epoch: u64,
    /// The current epoch's key sealed to the member, when given.
    pub key: Option<Vec<u8>>,
    /// The admin doing it.
    pub by: Id,
    /// Unix time.
    pub now: i64,
    /// The log entry that records it.
    pub log: LogAppend,
}

/// A new epoch, removing members.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The group.
    pub group: Id,
    /// The new epoch; the current must be one less.
    pub epoch: u64,
    /// Members removed.
    pub remove: Vec<Id>,
    /// The name sealed under the new key.
    pub name: Vec<u8>,
    /// The previous key sealed under the new one.
    pub prev: Vec<u8>,
    /// The new key sealed to each remaining member.
    pub keys: Vec<(Id, Vec<u8>)>,
    /// The new key sealed to each live machine token of the group.
    pub token_keys: Vec<(Id, Vec<u8>)>,
    /// The admin doing it.
    pub by: Id,
    /// Unix time.
    pub now: i64,
    /// The log entry that records it.
    pub log: LogAppend,
}

/// The server's storage. Every method is one transaction. A method that makes an audited
/// change takes the action's [`Audit`] last and commits the entries it records in that same
/// transaction (see [`audit`]).
pub trait Store: AccessRequests + TokenStore + Send + Sync + 'static {
    /// A random secret of this server installation (created on first use, shared by every node
    /// on the same database); keys the fake prelogin answers (see [`crate::secret`]).
    fn server_secret(&self) -> StoreFuture<'_, [u8; 32]>;
    /// Replace the server secret with a fresh random one (created if there was none). Nodes
    /// read the secret when they start: running ones keep the old one until restarted.
    fn rotate_server_secret(&self) -> StoreFuture<'_, ()>;

    /// Create a team, its first admin and the admin's first session.
    fn create_team(
        &self,
        team: Team,
        admin: NewAccountRow,
        session: NewSession,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()>;
    /// A team by id.
    fn team(&self, id: Id) -> StoreFuture<'_, Option<Team>>;
    /// Set whether a team requires a second factor.
    fn set_require_mfa(&self, team: Id, require: bool, audit: Audit<()>) -> StoreFuture<'_, ()>;

    /// An account by (lowercase) e-mail address.
    fn account_by_email(&self, email: String) -> StoreFuture<'_, Option<Account>>;
    /// An account by id.
    fn account_by_id(&self, id: Id) -> StoreFuture<'_, Option<Account>>;

    /// Add a session to an account.
    fn create_session(
        &self,
        account: Id,
        session: NewSession,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()>;
    /// A session by the SHA-256 of its token (live or not; the caller checks).
    fn session_by_token_hash(&self, hash: [u8; 32]) -> StoreFuture<'_, Option<Session>>;
    /// Record that a session was used at `now`.
    fn touch_session(&self, id: Id, now: i64) -> StoreFuture<'_, ()>;
    /// An account's live sessions, oldest first.
    fn list_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<Session>>;
    /// Revoke one of an account's sessions; false when it has no such live session.
    fn revoke_session(
        &self,
        account: Id,
        id: Id,
        now: i64,
        audit: Audit<bool>,
    ) -> StoreFuture<'_, bool>;
    /// Revoke every live session of an account; returns how many.
    fn revoke_all_sessions(&self, account: Id, now: i64) -> StoreFuture<'_, u64>;
    /// Change a session's expiry (shortening sessions; tests use it to expire one).
    fn set_session_expiry(&self, id: Id, expires_at: i64) -> StoreFuture<'_, ()>;

    /// Store an invitation.
    fn create_invite(&self, invite: NewInvite, audit: Audit<()>) -> StoreFuture<'_, ()>;
    /// Consume an invitation and create the invited account and its first session, in one
    /// transaction. The invitation must be unused, unexpired at `now` and issued to
    /// `account.email`; otherwise nothing changes.
    fn join_team(
        &self,
        token_hash: [u8; 32],
        account: NewAccountRow,
        session: NewSession,
        now: i64,
        audit: Audit<Team>,
    ) -> StoreFuture<'_, Team>;

    /// Failed logins from `address` in the current window.
    fn address_failures(
        &self,
        address: String,
        now: i64,
        policy: LoginPolicy,
    ) -> StoreFuture<'_, u32>;
    /// Count a failed login against the address and (when known) the account; locks the account
    /// when it reaches the policy's limit.
    fn record_login_failure(
        &self,
        account: Option<Id>,
        address: String,
        now: i64,
        policy: LoginPolicy,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()>;
    /// Reset an account's failure counter after a successful login.
    fn clear_login_failures(&self, account: Id) -> StoreFuture<'_, ()>;
    /// Lift an account's lockout (an admin's decision).
    fn unlock_account(&self, account: Id) -> StoreFuture<'_, ()>;

    /// Start a TOTP enrolment: store the secret, not yet enabled (replaces a pending one).
    fn set_mfa_pending(&self, account: Id, secret: Vec<u8>) -> StoreFuture<'_, ()>;
    /// Enable the pending secret and replace the recovery codes (SHA-256 hashes).
    fn enable_mfa(&self, account: Id, recovery_hashes: Vec<[u8; 32]>) -> StoreFuture<'_, ()>;
    /// Remove the second factor and its recovery codes.
    fn disable_mfa(&self, account: Id) -> StoreFuture<'_, ()>;
    /// Accept a TOTP time step if it is later than the last accepted one (compare-and-set, so a
    /// code is never accepted twice, even by two nodes at once).
    fn use_totp_step(&self, account: Id, step: i64) -> StoreFuture<'_, bool>;
    /// Consume a recovery code by its hash; false when unknown or already used.
    fn use_recovery_code(&self, account: Id, hash: [u8; 32]) -> StoreFuture<'_, bool>;
    /// How many unused recovery codes an account has.
    fn recovery_codes_left(&self, account: Id) -> StoreFuture<'_, u32>;

    /// Apply a batch of changes to an account's items in one transaction. Each change is
    /// compare-and-set on the item's current version: applied with the team's next sequence
    /// number when `base_version` is current; `Applied` with the stored sequence number when the
    /// same version and blob are already current (a resend); otherwise `Conflict` with the
    /// current record.
    fn push(
        &self,
        team: Id,
        account: Id,
        changes: Vec<PushChange>,
        now: i64,
        audit: Audit<Vec<PushResult>>,
    ) -> StoreFuture<'_, Vec<PushResult>>;
    /// An account's item changes with a sequence number above `since`, oldest first, at most
    /// `limit` (one query).
    fn pull(&self, account: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage>;

    /// Every account of a team with its public keys and certificate chain, by e-mail.
    fn directory(&self, team: Id) -> StoreFuture<'_, Vec<DirectoryEntry>>;
    /// Store an account's certificate chain.
    fn set_certificate(&self, account: Id, chain: Vec<u8>, audit: Audit<()>)
        -> StoreFuture<'_, ()>;
    /// Store an account's signed pin of its team root (root public key, then signature).
    fn set_root_pin(&self, account: Id, pin: Vec<u8>) -> StoreFuture<'_, ()>;

    /// A collection's newest manifest (an account's personal items, or a group's).
    fn manifest(&self, collection: Id) -> StoreFuture<'_, Option<StoredManifest>>;
    /// Replace a collection's manifest with `m`, which must follow it
    /// ([`StoreError::StaleManifest`] otherwise: see [`rules::manifest_follows`]).
    fn put_manifest(&self, collection: Id, m: StoredManifest) -> StoreFuture<'_, ()>;

    /// Create a group (epoch 1) with its creator as admin.
    fn create_group(&self, group: NewGroup, audit: Audit<()>) -> StoreFuture<'_, ()>;
    /// A group by id.
    fn group(&self, id: Id) -> StoreFuture<'_, Option<Group>>;
    /// An account's membership of a group, if it ever had one.
    fn membership(&self, group: Id, account: Id) -> StoreFuture<'_, Option<Membership>>;
    /// Every group where `account` is a live member at `now`, with every epoch and the keys
    /// sealed to the account (a fixed number of queries, whatever the number of groups).
    fn groups_of(&self, account: Id, now: i64) -> StoreFuture<'_, Vec<GroupInfo>>;
    /// A group's live members at `now`.
    fn group_members(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<GroupMember>>;
    /// Add a member or change a role or expiry. [`StoreError::StaleEpoch`] when `epoch` is not
    /// current; [`StoreError::NotFound`] when the member lacks the current key and none is given.
    fn set_member(&self, m: SetMember, audit: Audit<()>) -> StoreFuture<'_, ()>;
    /// Remove members and start a new epoch, in one transaction. [`StoreError::StaleEpoch`]
    /// when the group is not at `epoch - 1`, or when a machine token that is live at `now` gets
    /// no key (one was created meanwhile).
    fn rotate_group(&self, r: Rotation, audit: Audit<()>) -> StoreFuture<'_, ()>;
    /// Apply changes to a group's items (as [`Store::push`] does for an account's).
    fn group_push(
        &self,
        team: Id,
        group: Id,
        changes: Vec<PushChange>,
        now: i64,
        audit: Audit<Vec<PushResult>>,
    ) -> StoreFuture<'_, Vec<PushResult>>;
    /// A group's log entries after `since`, oldest first.
    fn group_log(&self, group: Id, since: u64) -> StoreFuture<'_, Vec<SignedLogEntry>>;
    /// The number and hash of a group's last log entry (`None` for a group without a log).
    fn group_log_head(&self, group: Id) -> StoreFuture<'_, Option<(u64, Vec<u8>)>>;
    /// A group's item changes after `since` (one query).
    fn group_pull(&self, group: Id, since: u64, limit: usize) -> StoreFuture<'_, PullPage>;
    /// The group of `team` that holds `item` (not deleted), if any.
    fn group_of_item(&self, team: Id, item: Id) -> StoreFuture<'_, Option<Id>>;

    /// Append events to a team's audit chain at time `at`, in order, in a transaction of their
    /// own (concurrent appends through any node are serialised per team): for events that
    /// record no other change (reads, what clients report). A change's events go with the
    /// change, in its method's [`Audit`].
    fn append_audit(&self, team: Id, at: i64, events: Vec<AuditEvent>) -> StoreFuture<'_, ()>;
    /// A team's audit entries after `q.after` that match the query's filters, by sequence
    /// number, at most `limit`.
    fn audit_page(&self, team: Id, q: AuditQuery, limit: usize) -> StoreFuture<'_, AuditPage>;

    /// An account's membership windows and the current versions of the items of those groups
    /// that existed before its access to the group ended (the offboarding review).
    fn offboarding(
        &self,
        account: Id,
        now: i64,
    ) -> StoreFuture<'_, (Vec<MembershipWindow>, Vec<ExposedRecord>)>;
    /// Offboard an account in one transaction: it can no longer sign in, its sessions are
    /// revoked and its live memberships removed.
    fn offboard(
        &self,
        account: Id,
        by: Id,
        now: i64,
        audit: Audit<OffboardResponse>,
    ) -> StoreFuture<'_, OffboardResponse>;
    /// When an account was offboarded, if it was.
    fn offboarded_at(&self, account: Id) -> StoreFuture<'_, Option<i64>>;

    /// Set or clear when an item's share in a group ends.
    fn set_share_expiry(
        &self,
        group: Id,
        item: Id,
        expires_at: Option<i64>,
        audit: Audit<()>,
    ) -> StoreFuture<'_, ()>;
    /// When an item's share in a group ends, if it does.
    fn share_expiry(&self, group: Id, item: Id) -> StoreFuture<'_, Option<i64>>;
    /// The items of a group whose share has ended at `now`.
    fn ended_shares(&self, group: Id, now: i64) -> StoreFuture<'_, Vec<Id>>;

    /// Every change committed from now on by a push through any node on this database (see
    /// [`crate::events`]).
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::events::Change>;

    /// The connection pool's state, for `/metrics` (`None`: no pool, as on SQLite's one
    /// connection).
    fn pool_status(&self) -> Option<postgres::PoolStatus>;
}

/// Pass the bytes of an id read from a row; a wrong length means a corrupt row.
pub(crate) fn id_from(bytes: &[u8]) -> Result<Id, StoreError> {
    <[u8; 16]>::try_from(bytes)
        .map(Id)
        .map_err(|_| StoreError::Backend("an id column does not hold 16 bytes".into()))
}

/// The stored form of an actor: kind (0 anonymous, 1 account, 2 token) and id.
pub(crate) fn actor_parts(a: Actor) -> (i64, Option<[u8; 16]>) {
    match a {
        Actor::Anonymous => (0, None),
        Actor::Account(id) => (1, Some(id.0)),
        Actor::Token(id) => (2, Some(id.0)),
    }
}

/// The actor from its stored parts.
pub(crate) fn actor_from(kind: i64, id: Option<&[u8]>) -> Result<Actor, StoreError> {
    let id = || {
        id.ok_or_else(|| StoreError::Backend("an audit entry lacks its actor id".into()))
            .and_then(id_from)
    };
    match kind {
        0 => Ok(Actor::Anonymous),
        1 => Ok(Actor::Account(id()?)),
        2 => Ok(Actor::Token(id()?)),
        _ => Err(StoreError::Backend(
            "an audit entry has an unknown actor kind".into(),
        )),
    }
}
