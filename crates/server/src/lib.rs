//! The Tessera team server: accounts, groups, sync and the audit log.
//!
//! Built by the server issue; this crate holds its place in the workspace until then.
#![forbid(unsafe_code)]

/// The API version this server speaks.
pub const API_VERSION: u32 = tessera_protocol::API_VERSION;
