//! The Tessera team server: accounts, invitations, login with a second factor, sessions and
//! item sync, over a JSON HTTP API (axum), stored in SQLite or PostgreSQL.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod events;
pub mod store;
pub mod tls;

pub use api::{serve, AppState};
pub use store::Store;

/// The API version this server speaks.
pub const API_VERSION: u32 = tessera_protocol::API_VERSION;
