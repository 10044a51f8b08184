//! `tessera-core`: everything a Tessera client knows, behind one facade.
//!
//! Items ([`item`]) live in an encrypted SQLite vault ([`vault`]); an in-memory index
//! ([`search`]) searches them; TOTP codes ([`totp`]), SSH keys ([`ssh`]) and passwords ([`generator`]) are generated here. The
//! shell, the CLI and the agent call this crate only; it never prints, prompts or exits.
//! With a team server the vault syncs, shares items through groups, and asks for and grants
//! time-boxed group access ([`Vault::request_access`], [`Vault::approve_access`]). The whole
//! personal vault can be exported to one file encrypted under a passphrase, and imported back
//! ([`vault::export`]).
#![forbid(unsafe_code)]

pub mod agent;
mod error;
pub mod generator;
pub mod hardening;
pub mod item;
pub mod paths;
pub mod remote;
pub mod search;
pub mod ssh;
pub mod store;
pub mod token;
pub mod totp;
pub mod vault;

pub use error::{Error, Result};
pub use vault::Vault;
