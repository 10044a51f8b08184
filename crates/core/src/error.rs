use thiserror::Error;

/// Errors of the client core. Variants are named for what the caller can do about them.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The vault is locked; unlock it first.
    #[error("the vault is locked; unlock it first")]
    Locked,
    /// Wrong master password or Account Secret Key. Deliberately does not say which.
    #[error("wrong master password or Account Secret Key")]
    WrongPassword,
    /// No item (or version) matches.
    #[error("not found: {0}")]
    NotFound(String),
    /// More than one item matches a name; the caller should use an id.
    #[error("{query:?} matches {count} items; use the item id instead (shown by `tessera list`)")]
    Ambiguous {
        /// What was looked up.
        query: String,
        /// How many items matched.
        count: usize,
    },
    /// An item's stored ciphertext, nonce, key or metadata was modified or corrupted.
    #[error("item {item} is damaged or was tampered with: its data does not authenticate")]
    Tampered {
        /// The id of the damaged item (as stored).
        item: String,
    },
    /// A plain value the vault file keeps beside an item (its current version, creation time or
    /// trash state, its upload-queue entry, the newest version seen from the team server) does
    /// not match its MAC, or the item's current version is missing: the file was changed
    /// outside Tessera, for example to roll the item back to an older version.
    #[error("item {item}{named} was changed outside Tessera: {what}; restore the vault file from a backup", named = title.as_ref().map(|t| format!(" ({t:?})")).unwrap_or_default())]
    TamperedRecord {
        /// The item's id (as stored).
        item: String,
        /// Its title, when its content still opens.
        title: Option<String>,
        /// What does not match.
        what: String,
    },
    /// The vault header (the unlock metadata) is damaged.
    #[error("the vault header is damaged or was tampered with: {0}")]
    TamperedHeader(String),
    /// The wrapped keyset does not match its checksum (or is missing or truncated): the file is
    /// damaged, and the master password was not even tried. Told apart from
    /// [`Error::WrongPassword`] by an unkeyed checksum checked before any key derivation.
    #[error("the wrapped keyset in {path} is damaged ({why}), so the master password could not be checked; restore the vault file from a backup")]
    DamagedKeyset {
        /// The vault file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// The file is not a Tessera vault (not `SQLite`, truncated, or another application's database).
    #[error("{path} is not a Tessera vault: {reason}")]
    NotAVault {
        /// The file that was opened.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The vault was written by a newer Tessera.
    #[error("this vault uses format {found}, newer than the {supported} this version of Tessera reads; upgrade Tessera")]
    NewerFormat {
        /// The vault's format version.
        found: i64,
        /// The newest format this build reads.
        supported: i64,
    },
    /// An encrypted export did not open: the export passphrase is wrong, or the encrypted part
    /// of the file was changed. AES-GCM cannot tell the two apart, so neither can this.
    #[error("wrong export passphrase, or the file was changed after it was written")]
    WrongPassphrase,
    /// The file is not a Tessera export (it does not start with the export magic).
    #[error("this is not a Tessera export: {0}")]
    NotAnExport(String),
    /// A Tessera export whose clear header or length is damaged (truncated, bytes changed).
    #[error("the export file is damaged: {0}")]
    DamagedExport(String),
    /// An export written in a format this build does not read.
    #[error("this export uses format {found}; this version of Tessera reads format {supported}{hint}", hint = if *found > i64::from(*supported) { "; upgrade Tessera" } else { "" })]
    UnsupportedExport {
        /// The file's format version.
        found: i64,
        /// The format this build reads.
        supported: u32,
    },
    /// A vault already exists where one was to be created.
    #[error("a vault already exists at {0}; refusing to overwrite it")]
    AlreadyExists(String),
    /// Input that does not pass validation; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// A cryptographic failure that is not a wrong password or a tampered item.
    #[error(transparent)]
    Crypto(#[from] tessera_crypto::CryptoError),
    /// The database failed (disk full, I/O error, locked by another process...).
    #[error("vault database error: {0}")]
    Database(String),
    /// The team server refused a request; `message` is the server's explanation.
    #[error("the team server refused: {message}")]
    Remote {
        /// The HTTP status.
        status: u16,
        /// The server's error code.
        code: tessera_protocol::ErrorCode,
        /// The server's message.
        message: String,
    },
    /// The team server could not be reached or answered nonsense.
    #[error("cannot reach the team server: {0}")]
    Network(String),
    /// The server offered an item version older than one this device has already seen.
    #[error("the server offered version {offered} of item {item}, older than version {seen} seen before; refusing the rollback")]
    Rollback {
        /// The item.
        item: String,
        /// The version offered.
        offered: u64,
        /// The newest version seen.
        seen: u64,
    },
    /// A member's keys could not be verified up to the pinned team root: the client refuses to
    /// seal a key to them.
    #[error("refusing to share with {who}: {why}")]
    Untrusted {
        /// The member (e-mail).
        who: String,
        /// Why the certificate was refused.
        why: String,
    },
    /// A group's membership log does not verify (a hostile server, or damage): nothing is
    /// sealed to its members or accepted from it until it does.
    #[error("the membership log of group {group} is refused: {why}")]
    GroupLog {
        /// The group (id).
        group: String,
        /// What was wrong.
        why: String,
    },
    /// The server left out an item version a collection's manifest names: it may be hiding it.
    #[error("the server did not send version {version} of item {item} of {collection}, which the item list its writer signed names; refusing the incomplete answer (the server may be hiding it)")]
    Omitted {
        /// The collection ("your personal items", or the group).
        collection: String,
        /// The item (id).
        item: String,
        /// The version left out.
        version: u64,
    },
    /// A collection's manifest does not verify, is older than one seen, or was withheld.
    #[error("the item list of {collection} is refused: {why}")]
    Manifest {
        /// The collection ("your personal items", or the group).
        collection: String,
        /// What was wrong.
        why: String,
    },
    /// The team root key a server presented at login is not the one this account pinned (or
    /// the pin cannot be checked): the device is not signed in.
    #[error("refusing the team root key the server presented: {0}")]
    TeamRoot(String),
    /// What a machine token's job trusts (its pin, made by the token's creator and tagged under
    /// a key only the token derives) is missing, forged, or contradicts what the server served.
    #[error("refusing what the server served for this machine token: {0}")]
    TokenPin(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// Whether this says stored or served data is damaged or was changed (exit 6), rather than
    /// that a request failed or was wrong.
    pub fn is_tampering(&self) -> bool {
        matches!(
            self,
            Error::Tampered { .. }
                | Error::TamperedRecord { .. }
                | Error::TamperedHeader(_)
                | Error::DamagedKeyset { .. }
                | Error::DamagedExport(_)
                | Error::NotAVault { .. }
                | Error::Rollback { .. }
                | Error::Untrusted { .. }
                | Error::GroupLog { .. }
                | Error::TeamRoot(_)
                | Error::TokenPin(_)
                | Error::Omitted { .. }
                | Error::Manifest { .. }
        )
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Database(e.to_string())
    }
}

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
