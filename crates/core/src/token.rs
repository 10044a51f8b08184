//! Machine tokens for CI pipelines: a job reads one group's items with a token, without a vault
//! or a master password.
//!
//! A group admin creates the token with [`crate::Vault::token_create`] and stores the string it
//! returns (`tsr2_...`) in the CI secret store; the job sets it as `TESSERA_TOKEN` and the team
//! server's URL as `TESSERA_SERVER`. How the keys work is described in the `groups::token` module
//! of [`crate::vault`]: the token's secret derives the bearer value the server checks and the
//! X25519 key the group key is sealed to.
//!
//! ```no_run
//! use tessera_core::token::{MachineToken, TokenClient};
//! let token = MachineToken::parse(&std::env::var("TESSERA_TOKEN")?)?;
//! let client = TokenClient::connect("https://tessera.example.com", &token)?;
//! if let Some(w) = client.warning() {
//!     eprintln!("warning: {w}");
//! }
//! let read = client.items()?;
//! for item in read.iter() {
//!     println!("{} in {}", item.data.title, client.group_name());
//! }
//! for d in &read.damaged {
//!     eprintln!("left out: {} ({})", d.item, d.why);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
pub use crate::vault::{CreatedToken, MachineToken, TokenClient, TokenView};

/// The environment variable that holds a machine token.
pub const TOKEN_ENV: &str = "TESSERA_TOKEN";
/// The environment variable that holds the team server's URL for a machine token.
pub const SERVER_ENV: &str = "TESSERA_SERVER";
