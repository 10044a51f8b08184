//! The agent: one process per user that holds the unlocked vault and answers clients over a
//! Unix socket, so a terminal session does not type the master password for every command and
//! no session key sits in an environment variable.
//!
//! The CLI starts the agent with `tessera unlock`; the desktop app will serve the same socket
//! while it is unlocked. Locking either locks both.
//!
//! # Protocol (version [`PROTOCOL_VERSION`])
//!
//! Newline-delimited JSON over a stream socket. Each line from the client is a [`Request`]
//! carrying `"v": 1` and an `"op"`; each reply is one line, either `{"ok": VALUE}` or
//! `{"error": {"code": CODE, "message": TEXT}}` with `code` one of [`ErrorCode`]. A request with
//! another `v` gets `unsupported_version`. New operations and fields may be added within a
//! version; clients ignore fields they do not know. The socket is mode 0600 in a 0700
//! directory, and the agent also checks each peer's credentials: only the same user is served.
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::item::{FieldKind, ItemData, ItemKind, SecretText};

mod server;
mod view;

pub use server::{serve, Agent, AgentConfig, LockReason, SyncState, SyncStatus};
pub use view::{
    ExportView, FieldView, GroupItemsView, GroupTag, HistoryView, ItemSummary, ItemView, StatusView,
};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest request line the agent reads (an import of many items is one line).
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// Filters for listing and searching.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Only items of this kind.
    pub kind: Option<ItemKind>,
    /// Only items with this tag.
    pub tag: Option<String>,
    /// Only items in this folder or below it.
    pub folder: Option<String>,
    /// Only favourites.
    pub favourites: bool,
    /// Items in the trash instead of the others.
    pub trash: bool,
    /// Only this collection: `personal`, or a group's name or id (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A request to the agent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Is the vault unlocked, and what is in it.
    Status,
    /// Unlock with the master password (the Account Secret Key is read from this device). When
    /// the vault is already unlocked the password is still checked (`wrong_password` if it is
    /// wrong) and nothing else changes.
    Unlock {
        /// The master password.
        password: SecretText,
    },
    /// Lock: drop every key and decrypted value; the CLI's agent then exits.
    Lock,
    /// Items matching filters, sorted by title.
    List {
        /// Filters.
        #[serde(default)]
        filter: Filter,
    },
    /// Ranked fuzzy search.
    Search {
        /// The query text.
        query: String,
        /// Filters.
        #[serde(default)]
        filter: Filter,
        /// Most results to return.
        #[serde(default)]
        limit: Option<usize>,
    },
    /// One item, concealed values omitted unless `reveal`.
    Get {
        /// Id, id prefix or exact title.
        item: String,
        /// Include concealed values (the client reports a reveal).
        #[serde(default)]
        reveal: bool,
    },
    /// Add items (one, or an import of many in one transaction).
    Add {
        /// The new items.
        items: Vec<ItemData>,
    },
    /// Replace an item's content with a new version.
    Update {
        /// Id, id prefix or exact title.
        item: String,
        /// The new content.
        data: ItemData,
    },
    /// Move to the trash, or with `purge` delete from the trash for good.
    Remove {
        /// Id, id prefix or exact title.
        item: String,
        /// Delete for good (only items already in the trash).
        #[serde(default)]
        purge: bool,
    },
    /// Take an item out of the trash, or with `version` make an old version current.
    Restore {
        /// Id, id prefix or exact title.
        item: String,
        /// The version to restore.
        #[serde(default)]
        version: Option<u64>,
    },
    /// Export every personal item, history and trash included, encrypted under an export
    /// passphrase (see [`crate::vault::export`]); the reply ([`ExportView`]) carries the file's
    /// bytes for the client to write where the user chose. A weak passphrase is refused.
    Export {
        /// The export passphrase.
        passphrase: SecretText,
    },
    /// Import an encrypted export in one transaction; the reply is an
    /// [`ImportReport`](crate::vault::export::ImportReport).
    ImportEncrypted {
        /// The export file's bytes (base64 on the wire).
        file: tessera_protocol::Blob,
        /// Its passphrase.
        passphrase: SecretText,
    },
    /// Import the items of a plain JSON file in one transaction, skipping what is already here
    /// (the rule in [`plain`](crate::vault::export::plain)); the reply is a
    /// [`PlainImportReport`](crate::vault::export::plain::PlainImportReport).
    ImportPlain {
        /// The items, in the file's order.
        items: Vec<crate::vault::export::plain::PlainItem>,
    },
    /// Every version of an item (titles and dates; no concealed values).
    History {
        /// Id, id prefix or exact title.
        item: String,
    },
    /// Create a team on a server; this vault's owner becomes its first admin.
    TeamCreate {
        /// The server URL.
        server: String,
        /// The account e-mail.
        email: String,
        /// This device's name.
        device: String,
        /// The master password (to derive the auth key).
        password: SecretText,
    },
    /// Join a team with an invitation.
    TeamJoin {
        /// The server URL.
        server: String,
        /// The invitation secret.
        token: String,
        /// The team root fingerprint from the invitation, pinned.
        fingerprint: String,
        /// The account e-mail (the invited one).
        email: String,
        /// This device's name.
        device: String,
        /// The master password.
        password: SecretText,
    },
    /// Invite someone to the team (admins).
    TeamInvite {
        /// Who.
        email: String,
    },
    /// Pull and push changes now.
    Sync,
    /// Sign this device out of the server and unlink the vault.
    Logout,
    /// The account's signed-in devices.
    Devices,
    /// Sign a device out.
    RevokeDevice {
        /// Its session id.
        session_id: String,
    },
    /// Start TOTP enrolment.
    MfaEnrol,
    /// Finish TOTP enrolment with a first code.
    MfaConfirm {
        /// The code.
        code: String,
    },
    /// Turn the second factor off.
    MfaDisable {
        /// A current code.
        code: String,
    },
    /// Change the master password.
    ChangePassword {
        /// The current password, checked first.
        old: SecretText,
        /// The new password.
        new: SecretText,
    },
    /// Certify a team member's keys (team admins).
    Certify {
        /// The member's e-mail.
        email: String,
    },
    /// Create a group.
    GroupCreate {
        /// Its name.
        name: String,
    },
    /// Your groups.
    GroupList,
    /// A group's members.
    GroupMembers {
        /// The group (name or id).
        group: String,
    },
    /// Add a member, or change a member's role or expiry (group admins).
    GroupAdd {
        /// The group (name or id).
        group: String,
        /// The member (e-mail).
        member: String,
        /// The role.
        role: tessera_protocol::GroupRole,
        /// When the membership ends (Unix time), if it does.
        expires_at: Option<i64>,
    },
    /// Remove a member; a new key epoch starts (group admins).
    GroupRemove {
        /// The group (name or id).
        group: String,
        /// The member (e-mail).
        member: String,
    },
    /// Start the signed log of a group made before logs existed (group admins).
    GroupSign {
        /// The group (name or id).
        group: String,
    },
    /// Create a machine token for a group (group admins).
    TokenCreate {
        /// The group (name or id).
        group: String,
        /// The token's name.
        name: String,
        /// When it expires (Unix time).
        expires_at: i64,
    },
    /// A group's machine tokens (group admins).
    TokenList {
        /// The group (name or id).
        group: String,
    },
    /// Revoke a machine token (group admins).
    TokenRevoke {
        /// The group (name or id).
        group: String,
        /// The token (id, id prefix or name).
        token: String,
    },
    /// Move a personal item into a group.
    Share {
        /// The item.
        item: String,
        /// The group.
        group: String,
        /// When the share ends (Unix time), if it does.
        #[serde(default)]
        expires_at: Option<i64>,
    },
    /// Move a shared item back into your personal items.
    Unshare {
        /// The item (title or id).
        item: String,
        /// The group.
        group: String,
    },
    /// Who can decrypt an item.
    Access {
        /// The item (title or id).
        item: String,
    },
    /// The items of a group.
    GroupItems {
        /// The group (name or id).
        group: String,
    },
    /// One item of a group; revealing it is recorded in the team's audit log.
    GroupItem {
        /// The group (name or id).
        group: String,
        /// The item (title or id).
        item: String,
        /// Include concealed values.
        reveal: bool,
    },
    /// Everyone in the team directory.
    TeamMembers,
    /// The team's audit log (team admins).
    Audit {
        /// The filters.
        filter: crate::vault::AuditFilter,
    },
    /// Verify the audit log's hash chain (team admins).
    AuditVerify,
    /// The offboarding review of a member (team admins).
    Offboarding {
        /// The member (e-mail or account id).
        member: String,
    },
    /// Offboard a member: sessions, memberships, new key epochs (team admins).
    Offboard {
        /// The member (e-mail or account id).
        member: String,
    },
    /// Items overdue under their rotation policy.
    Rotation {
        /// As of this Unix time (now when absent).
        #[serde(default)]
        at: Option<i64>,
    },
    /// Ask for time-boxed access to a group.
    RequestAccess {
        /// The group (id, or the name of a group you are a live member of).
        group: String,
        /// The role asked for (viewer or editor).
        role: tessera_protocol::GroupRole,
        /// How long, seconds.
        duration_secs: i64,
        /// Why (sealed to the group's admins).
        #[serde(default)]
        reason: Option<String>,
    },
    /// Your access requests, and the pending ones of groups you administer.
    AccessRequests,
    /// Approve an access request (group admins).
    ApproveAccess {
        /// The request (id or unique prefix).
        request: String,
        /// A role other than the one asked for.
        #[serde(default)]
        role: Option<tessera_protocol::GroupRole>,
        /// A duration other than the one asked for, seconds.
        #[serde(default)]
        duration_secs: Option<i64>,
    },
    /// Deny an access request (group admins).
    DenyAccess {
        /// The request (id or unique prefix).
        request: String,
    },
}

/// The closed set of error codes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The vault is locked.
    Locked,
    /// Wrong master password or Account Secret Key.
    WrongPassword,
    /// Wrong export passphrase, or the encrypted export was changed (they cannot be told apart).
    WrongPassphrase,
    /// No such item or version.
    NotFound,
    /// A name matches several items.
    Ambiguous,
    /// Stored data does not authenticate.
    Tampered,
    /// The request or its data is invalid.
    Invalid,
    /// The client speaks another protocol version.
    UnsupportedVersion,
    /// The team server refused the request.
    Remote,
    /// The team server could not be reached.
    Network,
    /// Anything else (I/O, database); the message says what.
    Internal,
}

/// An error as it crosses the socket.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What happened and what to do, for people.
    pub message: String,
}

impl From<&Error> for ErrorCode {
    /// The one mapping from the core's errors to codes: the socket, the desktop and the CLI's
    /// exit codes all read it.
    fn from(e: &Error) -> Self {
        match e {
            Error::Locked => Self::Locked,
            Error::WrongPassword => Self::WrongPassword,
            Error::WrongPassphrase => Self::WrongPassphrase,
            Error::NotFound(_) => Self::NotFound,
            Error::Ambiguous { .. } => Self::Ambiguous,
            e if e.is_tampering() => Self::Tampered,
            Error::Invalid(_)
            | Error::AlreadyExists(_)
            | Error::Crypto(_)
            | Error::NotAnExport(_)
            | Error::UnsupportedExport { .. } => Self::Invalid,
            Error::Remote { .. } => Self::Remote,
            Error::Network(_) => Self::Network,
            _ => Self::Internal,
        }
    }
}

impl From<Error> for AgentError {
    fn from(e: Error) -> Self {
        Self {
            code: ErrorCode::from(&e),
            message: e.to_string(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    #[serde(flatten)]
    body: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply<T> {
    Ok(T),
    Error(AgentError),
}

/// A connection to a running agent.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("agent::Client")
    }
}

impl Client {
    /// Connect to the agent's socket. Fails when no agent runs there.
    pub fn connect(socket: &Path) -> std::io::Result<Self> {
        let stream = UnixStream::connect(socket)?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Send one request and read its reply, deserialised as `T`.
    pub fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        request: &Request,
    ) -> Result<T, AgentError> {
        let internal = |m: String| AgentError {
            code: ErrorCode::Internal,
            message: m,
        };
        let mut line = zeroize::Zeroizing::new(
            serde_json::to_vec(&Envelope {
                v: PROTOCOL_VERSION,
                body: request,
            })
            .map_err(|e| internal(format!("encoding the request: {e}")))?,
        );
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .map_err(|e| internal(format!("the agent went away: {e}")))?;
        let mut reply = zeroize::Zeroizing::new(String::new());
        let n = self
            .reader
            .read_line(&mut reply)
            .map_err(|e| internal(format!("reading the agent's reply: {e}")))?;
        if n == 0 {
            return Err(internal(
                "the agent closed the connection (it may have locked)".into(),
            ));
        }
        match serde_json::from_str::<Reply<T>>(&reply)
            .map_err(|e| internal(format!("unexpected reply from the agent: {e}")))?
        {
            Reply::Ok(v) => Ok(v),
            Reply::Error(e) => Err(e),
        }
    }
}

/// The standard treatment of a field name on a kind, else `fallback`.
pub fn field_kind_for(kind: ItemKind, name: &str, fallback: FieldKind) -> FieldKind {
    kind.template()
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(fallback, |(_, k)| *k)
}
