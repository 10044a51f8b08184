//! The one error type commands return: a code from a closed set (mirrored in
//! `ui/src/lib/ipc.ts`) and a message written for people. Internal errors are described, never
//! dumped.
use serde::Serialize;
use tessera_core::agent::{AgentError, ErrorCode};

/// What kind of failure, for the UI to choose its wording and next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The vault is locked.
    Locked,
    /// Wrong master password.
    WrongPassword,
    /// No such item, field or version.
    NotFound,
    /// A name matches several items.
    Ambiguous,
    /// Stored data does not authenticate.
    Tampered,
    /// The input is invalid; the message says which part and why.
    Invalid,
    /// Another protocol version.
    UnsupportedVersion,
    /// The team server refused.
    Remote,
    /// The team server could not be reached.
    Network,
    /// Anything else.
    Internal,
    /// No vault exists yet on this device.
    NoVault,
    /// A vault exists already (first-run screen on a device that has one).
    VaultExists,
    /// The clipboard could not be used.
    Clipboard,
    /// Wrong export passphrase (or an export file changed after it was written).
    WrongPassphrase,
}

/// An error as the web view receives it: `{ code, message }`.
#[derive(Debug, Clone, Serialize)]
pub struct CmdError {
    /// What kind of failure.
    pub code: Code,
    /// What happened and what to do.
    pub message: String,
}

impl CmdError {
    /// An error from parts.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Invalid input, with the reason.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::Invalid, message)
    }
}

impl From<AgentError> for CmdError {
    fn from(e: AgentError) -> Self {
        let code = match e.code {
            ErrorCode::Locked => Code::Locked,
            ErrorCode::WrongPassword => Code::WrongPassword,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::Ambiguous => Code::Ambiguous,
            ErrorCode::Tampered => Code::Tampered,
            ErrorCode::Invalid => Code::Invalid,
            ErrorCode::UnsupportedVersion => Code::UnsupportedVersion,
            ErrorCode::Remote => Code::Remote,
            ErrorCode::Network => Code::Network,
            ErrorCode::WrongPassphrase => Code::WrongPassphrase,
            _ => Code::Internal,
        };
        let message = match e.code {
            ErrorCode::WrongPassword => {
                "Wrong master password. Check Caps Lock and try again.".to_owned()
            }
            ErrorCode::Locked => "The vault is locked. Unlock it to continue.".to_owned(),
            _ => e.message,
        };
        Self { code, message }
    }
}

impl From<tessera_core::Error> for CmdError {
    fn from(e: tessera_core::Error) -> Self {
        match e {
            tessera_core::Error::AlreadyExists(what) => Self::new(
                Code::VaultExists,
                format!("A vault already exists at {what}; unlock it instead."),
            ),
            e => AgentError::from(e).into(),
        }
    }
}

/// A command's result.
pub type CmdResult<T> = Result<T, CmdError>;

/// Run blocking work (the KDF, key generation, network) off the async executor.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CmdError::new(Code::Internal, format!("a background task failed: {e}")))?
}
