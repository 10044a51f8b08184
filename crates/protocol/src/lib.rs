//! Wire types shared by the Tessera client and the team server.
//!
//! The team server and its protocol arrive with the server issue; until then this crate only
//! fixes the API version both sides will check.
#![forbid(unsafe_code)]

/// The version of the client/server API. A server refuses clients of another major version.
pub const API_VERSION: u32 = 1;
