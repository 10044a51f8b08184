//! `tessera-core`: everything a Tessera client knows, behind one facade.
//!
//! Items ([`item`]) live in an encrypted SQLite vault; an in-memory index searches them;
//! TOTP codes, SSH keys and passwords are generated here. The shell, the CLI and the agent call
//! this crate only; it never prints, prompts or exits.
#![forbid(unsafe_code)]

mod error;
pub mod item;
pub mod ssh;

pub use error::{Error, Result};
