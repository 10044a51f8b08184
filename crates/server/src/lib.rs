//! The Tessera team server: accounts, invitations, login with a second factor, sessions and
//! item sync, groups and read-only machine tokens for CI, over a JSON HTTP API (axum), stored in
//! SQLite or PostgreSQL. Connected clients hear of changes through Server-Sent Events
//! ([`events`]; across nodes through PostgreSQL LISTEN/NOTIFY), and the server can terminate TLS
//! itself ([`tls`]). Groups share items between members with roles and expiry; members ask for
//! time-boxed access and group admins approve it (just-in-time access, enforced by the server).
//!
//! The `tessera-server` binary reads its settings through [`config`] (a TOML file, flags and the
//! environment), rotates the installation's [`secret`] and checks a running node ([`health`]).
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod backup;
pub mod config;
pub mod events;
mod fault;
pub mod health;
pub mod secret;
pub mod store;
pub mod tls;

pub use api::{serve, AppState};
pub use store::Store;

/// The API version this server speaks.
pub const API_VERSION: u32 = tessera_protocol::API_VERSION;
