//! The team server: `team create/invite/join`, `login`, `logout`, `sync`, `devices`, `mfa`.
use std::process::ExitCode;

use anyhow::{Context, Result};
use tessera_core::agent::Request;
use tessera_core::paths::VaultDir;
use tessera_core::vault::{Credentials, LinkInfo, SyncReport, Vault};
use tessera_crypto::AccountSecretKey;
use tessera_protocol::{DeviceInfo, InviteResponse, MfaConfirmResponse, MfaEnrolResponse};

use super::usage;
use crate::output::{date, Output};
use crate::prompt::{ask_secret, PasswordSource};
use crate::session::unlocked_client;

/// `tessera team ...`.
#[derive(clap::Subcommand)]
pub enum TeamCommand {
    /// Create a team on a server; you become its first admin.
    Create(CreateArgs),
    /// Invite someone (admins); prints what they need to join.
    Invite {
        /// Their e-mail address.
        email: String,
    },
    /// Join a team with an invitation (run `tessera init` first on a new machine).
    Join(JoinArgs),
    /// Certify a member's keys (team admins) so they can be added to groups.
    Certify {
        /// Their e-mail address.
        email: String,
    },
}

/// Where and who.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// The team server, e.g. https://tessera.example.com (plain http only on this machine).
    #[arg(long)]
    server: String,
    /// Your e-mail address (your login).
    #[arg(long)]
    email: String,
    /// A name for this device [default: the host name].
    #[arg(long)]
    device: Option<String>,
    #[command(flatten)]
    password: PasswordSource,
}

impl ServerArgs {
    fn device(&self) -> String {
        self.device.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "tessera-cli".into())
        })
    }
}

/// Arguments of `team create`.
#[derive(clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    who: ServerArgs,
}

/// Arguments of `team join`.
#[derive(clap::Args)]
pub struct JoinArgs {
    #[command(flatten)]
    who: ServerArgs,
    /// The invitation secret (it may begin with `-`).
    #[arg(long, allow_hyphen_values = true)]
    token: String,
    /// The team root fingerprint from the invitation (SHA256:...).
    #[arg(long)]
    fingerprint: String,
}

fn print_link(out: &Output, l: &LinkInfo, what: &str) -> Result<()> {
    out.show(l, |w| {
        writeln!(w, "{what} {} as {}.", l.server, l.email)?;
        writeln!(w, "Team root key: {} (pinned)", l.root_fingerprint)?;
        writeln!(
            w,
            "{} local change(s) will be uploaded by `tessera sync`.",
            l.pending
        )
    })
}

/// `team ...`.
pub fn team(c: TeamCommand, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    if let TeamCommand::Certify { email } = &c {
        return super::group::certify(email, dir, out);
    }
    let mut client = unlocked_client(dir)?;
    match c {
        TeamCommand::Create(a) => {
            let password = a.who.password.read("Master password: ")?;
            let l: LinkInfo = client.call(&Request::TeamCreate {
                server: a.who.server.clone(),
                email: a.who.email.clone(),
                device: a.who.device(),
                password,
            })?;
            print_link(out, &l, "Created a team on")?;
        }
        TeamCommand::Invite { email } => {
            let i: InviteResponse = client.call(&Request::TeamInvite {
                email: email.clone(),
            })?;
            let status: tessera_core::agent::StatusView = client.call(&Request::Status)?;
            let server = status.link.map(|l| l.server).unwrap_or_default();
            out.show(&i, |w| {
                writeln!(w, "Invitation for {email} (expires {}). Send them, over a channel you trust:", date(i.expires_at))?;
                writeln!(w, "  tessera team join --server {server} --email {email} --token={} --fingerprint {}", i.invite_token, i.root_fingerprint)
            })?;
        }
        TeamCommand::Join(a) => {
            let password = a.who.password.read("Master password: ")?;
            let l: LinkInfo = client.call(&Request::TeamJoin {
                server: a.who.server.clone(),
                token: a.token.clone(),
                fingerprint: a.fingerprint.clone(),
                email: a.who.email.clone(),
                device: a.who.device(),
                password,
            })?;
            print_link(out, &l, "Joined the team on")?;
        }
        TeamCommand::Certify { .. } => unreachable!("handled above"),
    }
    Ok(None)
}

/// Arguments of `login`.
#[derive(clap::Args)]
pub struct LoginArgs {
    #[command(flatten)]
    who: ServerArgs,
    /// Ask for a TOTP (or recovery) code: the account has a second factor.
    #[arg(long)]
    totp: bool,
    /// The team root fingerprint (SHA256:...) this device must find, as `tessera status` shows
    /// it on a device already signed in. Needed when the account's signed pin is not on the
    /// server yet; checked whenever given.
    #[arg(long, value_name = "SHA256:...")]
    fingerprint: Option<String>,
}

/// Sign in on a new device: builds this device's vault from the server.
pub fn login(a: &LoginArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    if dir.vault_file().exists() {
        return usage(format!(
            "this device already has a vault at {}; `tessera unlock` and `tessera team join` link it instead",
            dir.vault_file().display()
        ));
    }
    tessera_core::hardening::mark_non_dumpable()?;
    let password = a.who.password.read("Master password: ")?;
    let secret_key = match dir.read_secret_key() {
        Ok(k) => k,
        Err(_) => {
            let text = ask_secret("Account Secret Key (from your Emergency Kit)", false)?;
            AccountSecretKey::parse(text.expose_secret())?
        }
    };
    let code = if a.totp {
        Some(ask_secret("TOTP or recovery code", false)?)
    } else {
        None
    };
    let device = a.who.device();
    let c = Credentials {
        email: &a.who.email,
        device: &device,
        password: password.expose_secret().as_bytes(),
        secret_key: &secret_key,
    };
    let vault = Vault::login_new_device(
        &dir.vault_file(),
        &a.who.server,
        &c,
        code.as_ref(),
        a.fingerprint.as_deref(),
    )
    .inspect_err(|_| {
        // Cleanup: the sign-in error is the one to report
        #[allow(clippy::let_underscore_must_use)]
        let _ = std::fs::remove_file(dir.vault_file());
    })
    .context("signing in")?;
    dir.write_secret_key(&secret_key)?;
    let n = vault.len();
    vault.lock();
    out.done(
        &serde_json::json!({ "items": n }),
        &format!("Signed in: {n} items on this device. Next: `tessera unlock`."),
    )?;
    Ok(None)
}

/// `logout`.
pub fn logout(dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let _: bool = unlocked_client(dir)?.call(&Request::Logout)?;
    out.done(
        &serde_json::json!({ "logged_out": true }),
        "Signed out; the local vault stays on this device.",
    )?;
    Ok(None)
}

/// `sync`.
pub fn sync(dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let r: SyncReport = unlocked_client(dir)?.call(&Request::Sync)?;
    out.show(&r, |w| {
        writeln!(w, "Synced: {} received, {} sent.", r.pulled, r.pushed)?;
        for t in &r.merged {
            writeln!(w, "  merged edits made here and elsewhere: {t}")?;
        }
        for t in &r.kept_both {
            writeln!(w, "  conflicting edits, both kept: {t}")?;
        }
        if r.shared > 0 {
            writeln!(w, "  shared items: {} changed on this device", r.shared)?;
        }
        if r.events_sent > 0 {
            writeln!(
                w,
                "  {} reveals and copies made offline sent to the team's audit log",
                r.events_sent
            )?;
        }
        for g in &r.refused_groups {
            writeln!(w, "  refused group (its copy here is kept as it was): {g}")?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// Arguments of `devices`.
#[derive(clap::Args)]
pub struct DevicesArgs {
    /// Sign this device (session id) out.
    #[arg(long, value_name = "SESSION")]
    revoke: Option<String>,
}

/// `devices`.
pub fn devices(a: &DevicesArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    if let Some(id) = &a.revoke {
        let _: bool = client.call(&Request::RevokeDevice {
            session_id: id.clone(),
        })?;
        return out
            .done(
                &serde_json::json!({ "revoked": id }),
                &format!("Signed out {id}."),
            )
            .map(|()| None);
    }
    let d: Vec<DeviceInfo> = client.call(&Request::Devices)?;
    out.show(&d, |w| {
        for x in &d {
            let me = if x.current { " (this device)" } else { "" };
            writeln!(
                w,
                "{}  {:24} last seen {}{me}",
                x.session_id,
                x.device_name,
                date(x.last_seen_at)
            )?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// `tessera mfa ...`.
#[derive(clap::Subcommand)]
pub enum MfaCommand {
    /// Enrol a TOTP second factor: shows the secret, asks for a first code, prints recovery codes.
    Enrol,
    /// Turn the second factor off (asks for a current code).
    Disable,
}

/// `mfa ...`.
pub fn mfa(c: &MfaCommand, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    match c {
        MfaCommand::Enrol => {
            let e: MfaEnrolResponse = client.call(&Request::MfaEnrol)?;
            eprintln!(
                "Add this to your authenticator app:\n  {}\n  (secret {})",
                e.otpauth_uri, e.secret
            );
            let code = ask_secret("Code shown by the app", false)?;
            let r: MfaConfirmResponse = client.call(&Request::MfaConfirm {
                code: code.expose_secret().to_owned(),
            })?;
            out.show(&r, |w| {
                writeln!(w, "Second factor on. Recovery codes (each works once; keep them with your Emergency Kit):")?;
                for c in &r.recovery_codes {
                    writeln!(w, "  {c}")?;
                }
                Ok(())
            })?;
        }
        MfaCommand::Disable => {
            let code = ask_secret("Current code", false)?;
            let _: bool = client.call(&Request::MfaDisable {
                code: code.expose_secret().to_owned(),
            })?;
            out.done(&serde_json::json!({ "mfa": false }), "Second factor off.")?;
        }
    }
    Ok(None)
}
