//! `token create/list/revoke`: machine tokens for CI pipelines (group admins).
//!
//! A token reads one group, never writes, and stops working at its expiry or when revoked. Its
//! secret is printed once, at creation, to standard output (the warning goes to standard error),
//! and never again. A job uses it as
//! `TESSERA_TOKEN=tsr2_... TESSERA_SERVER=https://... tessera run --env PW=tessera://GROUP/ITEM/password -- CMD`.
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use tessera_core::agent::Request;
use tessera_core::paths::VaultDir;
use tessera_core::token::{CreatedToken, TokenView};

use super::group::expires_at;
use super::usage;
use crate::output::{date, Output};
use crate::session::unlocked_client;

/// `tessera token ...`.
#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Create a read-only machine token for one group, for CI (group admins). The token is
    /// shown once: store it in your CI secret store.
    Create {
        /// The group (name or id).
        group: String,
        /// A name that says where the token is used (e.g. `deploy-prod pipeline`).
        #[arg(long)]
        name: String,
        /// When it stops working: a duration from now (`30m`, `8h`, `90d`), a date
        /// (`2027-01-31`) or a Unix time; at most a year away.
        #[arg(long, value_name = "DURATION_OR_DATE")]
        expires: String,
    },
    /// A group's machine tokens: name, creator, expiry, last use, state (group admins).
    List {
        /// The group (name or id).
        group: String,
    },
    /// Revoke a machine token (group admins); its next request is refused.
    Revoke {
        /// The group (name or id).
        group: String,
        /// The token (id, id prefix or name).
        token: String,
    },
}

fn when(t: Option<i64>) -> String {
    t.map_or_else(|| "never".into(), date)
}

/// `token ...`.
pub fn token(c: TokenCommand, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    match c {
        TokenCommand::Create {
            group,
            name,
            expires,
        } => {
            let Some(expires_at) = expires_at(Some(&expires))? else {
                return usage("--expires is required");
            };
            let mut client = unlocked_client(dir)?;
            let t: CreatedToken = client.call(&Request::TokenCreate {
                group,
                name,
                expires_at,
            })?;
            if !out.json {
                let mut e = std::io::stderr().lock();
                writeln!(
                    e,
                    "Created machine token {:?} ({}) for group {}: read-only, expires {} UTC.\n\
                     Store it in your CI secret store now; it is not shown again.\n\
                     Use: TESSERA_TOKEN=<token> TESSERA_SERVER=<server URL> tessera run --env NAME=tessera://{}/ITEM/FIELD -- CMD",
                    t.name,
                    t.id,
                    t.group,
                    date(t.expires_at),
                    t.group
                )?;
            }
            out.show(&t, |w| writeln!(w, "{}", t.token.expose_secret()))?;
        }
        TokenCommand::List { group } => {
            let mut client = unlocked_client(dir)?;
            let ts: Vec<TokenView> = client.call(&Request::TokenList {
                group: group.clone(),
            })?;
            out.show(&ts, |w| {
                if ts.is_empty() {
                    writeln!(w, "{group} has no machine tokens.")?;
                }
                for t in &ts {
                    writeln!(
                        w,
                        "{:<24} {:<7} expires {}  last used {}  by {}  {}",
                        t.name,
                        t.state,
                        date(t.expires_at),
                        when(t.last_used_at),
                        t.created_by,
                        t.id
                    )?;
                }
                Ok(())
            })?;
        }
        TokenCommand::Revoke { group, token } => {
            let mut client = unlocked_client(dir)?;
            let t: TokenView = client.call(&Request::TokenRevoke { group, token })?;
            out.show(&t, |w| {
                writeln!(
                    w,
                    "Revoked machine token {:?} ({}); it is refused from now on.",
                    t.name, t.id
                )
            })?;
        }
    }
    Ok(None)
}
