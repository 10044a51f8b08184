//! `tessera-protocol`: the JSON wire types of the Tessera team server API, shared by the
//! client and the server, with the limits every request body is validated against.
//!
//! Everything a user typed travels only inside [`Blob`]s the client sealed (the reason of an
//! access request included); the server sees ids, sizes, timestamps, e-mail addresses (account
//! identifiers) and who belongs where.
//!
//! Every request carries the header [`API_VERSION_HEADER`]; a server refuses a client of another
//! major version with `unsupported_version`. Errors are `{"error": {"code", "message", "field"}}`
//! ([`ErrorBody`]); `field` names the request field that was wrong.
//!
//! ```
//! use tessera_protocol::{Id, PushChange, PushRequest, Validate, Blob};
//! let push = PushRequest { changes: vec![PushChange {
//!     item_id: Id([1; 16]), base_version: 0, version: 1, deleted: false, blob: Blob(vec![0; 64]),
//! }] };
//! assert!(push.validate().is_ok());
//! let json = serde_json::to_string(&push).unwrap();
//! assert!(json.contains("\"item_id\":\"01010101010101010101010101010101\""));
//! ```
#![forbid(unsafe_code)]

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

mod access_request;
mod account;
mod audit;
mod error;
mod event;
mod group;
mod group_log;
mod manifest;
mod offboard;
mod sync;
mod token;

pub use access_request::*;
pub use account::*;
pub use audit::*;
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use event::{ChangeEvent, EVENT_CHANGE, EVENT_RESYNC};
pub use group::*;
pub use group_log::*;
pub use manifest::*;
pub use offboard::*;
pub use sync::*;
pub use token::*;

/// The API's major version; client and server must agree.
pub const API_VERSION: u32 = 1;
/// The header that carries [`API_VERSION`] on every request.
pub const API_VERSION_HEADER: &str = "tessera-api";

/// Limits on request bodies. A request over a limit gets 400 (or 413) naming the field.
pub mod limits {
    /// Largest request body, bytes.
    pub const BODY: usize = 16 * 1024 * 1024;
    /// Largest sealed item version, bytes (an item's values are limited to 64 KiB each).
    pub const BLOB: usize = 1024 * 1024;
    /// Most changes in one push.
    pub const PUSH_CHANGES: usize = 1000;
    /// Most changes one pull returns.
    pub const PULL_CHANGES: usize = 1000;
    /// Longest e-mail address.
    pub const EMAIL: usize = 254;
    /// Longest device name.
    pub const DEVICE_NAME: usize = 100;
    /// Largest wrapped keyset, bytes.
    pub const KEYSET: usize = 4096;
}

/// Checks a decoded request against the limits; the error names the field.
pub trait Validate {
    /// `Ok` or a 400 naming what is wrong.
    fn validate(&self) -> Result<(), ErrorBody>;
}

/// Lowercase hex of any bytes: ids, digests, and stored ids too damaged to be ids.
///
/// ```
/// assert_eq!(tessera_protocol::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// A 128-bit id, as 32 lowercase hex digits on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Id(pub [u8; 16]);

impl Id {
    /// The hex form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parse 32 hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut b = [0u8; 16];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(b))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.to_hex()
    }
}

impl TryFrom<String> for Id {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("{s:?} is not an id (32 hex digits)"))
    }
}

/// Opaque bytes (ciphertext, public keys), standard base64 on the wire.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Blob(pub Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl From<Blob> for String {
    fn from(b: Blob) -> String {
        base64::engine::general_purpose::STANDARD.encode(b.0)
    }
}

impl TryFrom<String> for Blob {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Blob)
            .map_err(|e| format!("not valid base64: {e}"))
    }
}

/// A 400 for `field` with `message`.
pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::BadRequest, message).with_field(field)
}

/// Check a length bound.
pub(crate) fn check_len(field: &str, len: usize, min: usize, max: usize) -> Result<(), ErrorBody> {
    if len < min || len > max {
        return Err(invalid(
            field,
            format!("{field} must be {min} to {max} bytes long, got {len}"),
        ));
    }
    Ok(())
}
