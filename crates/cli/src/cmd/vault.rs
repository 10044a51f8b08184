//! `init`, `unlock`, `lock`, `status`, `passwd` and the hidden `agent`.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tessera_core::agent::{Request, StatusView};
use tessera_core::generator::estimate_strength;
use tessera_core::paths::VaultDir;
use tessera_core::Vault;
use tessera_crypto::kdf::KdfParams;

use super::usage;
use crate::output::Output;
use crate::prompt::{NewPasswordSource, PasswordSource};
use crate::session;

/// Arguments of `init`.
#[derive(clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    password: PasswordSource,
    /// Accept a master password the strength estimate calls weak.
    #[arg(long)]
    allow_weak_password: bool,
}

#[derive(Serialize)]
struct Kit {
    vault: String,
    vault_id: String,
    secret_key: String,
    kdf: String,
}

/// Create the vault, store the Account Secret Key on this device, print the Emergency Kit.
pub fn init(a: &InitArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let params = KdfParams::DEFAULT;
    tessera_core::hardening::mark_non_dumpable()?;
    if dir.vault_file().exists() {
        // Checked before asking for a password, and again when creating.
        return Err(
            tessera_core::Error::AlreadyExists(dir.vault_file().display().to_string()).into(),
        );
    }
    let password = a.password.read("Choose a master password: ")?;
    if !a.password.is_given() {
        let again = a.password.read("Repeat the master password: ")?;
        if again != password {
            return usage("the two passwords differ; nothing was created");
        }
    }
    let strength = estimate_strength(password.expose_secret(), &[]);
    if strength.score < 3 && !a.allow_weak_password {
        let mut why = format!(
            "this master password is weak (strength {}/4, cracked in {})",
            strength.score, strength.crack_time_display
        );
        if let Some(w) = &strength.warning {
            why.push_str(": ");
            why.push_str(w);
        }
        why.push_str("; choose a longer one (`tessera generate --passphrase` makes one) or pass --allow-weak-password");
        return usage(why);
    }
    let (vault, secret_key) = Vault::create_in(dir, password.expose_secret().as_bytes(), params)?;
    let kit = Kit {
        vault: dir.vault_file().display().to_string(),
        vault_id: vault.vault_id(),
        secret_key: secret_key.to_human().to_string(),
        kdf: params.to_string(),
    };
    vault.lock();
    out.show(&kit, |w| {
        writeln!(w, "Created the vault {}", kit.vault)?;
        writeln!(w)?;
        writeln!(w, "  EMERGENCY KIT — print this, keep it safe, offline")?;
        writeln!(w, "  Account Secret Key: {}", kit.secret_key)?;
        writeln!(w, "  Vault id:           {}", kit.vault_id)?;
        writeln!(w)?;
        writeln!(
            w,
            "You need the Account Secret Key and your master password to open this vault on a new"
        )?;
        writeln!(
            w,
            "device. This device keeps a copy in {}.",
            dir.secret_key_file().display()
        )?;
        writeln!(w, "Next: `tessera unlock`.")
    })?;
    Ok(None)
}

/// Arguments of `unlock`.
#[derive(clap::Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    password: PasswordSource,
    /// Lock after this long without use: seconds, or with a unit (90s, 5m, 2h; at most 24h).
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    timeout: Duration,
    /// Work offline: no background sync with the team server (`tessera sync` still works).
    #[arg(long)]
    offline: bool,
}

/// Start (or reuse) the agent and unlock it.
pub fn unlock(a: &UnlockArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    session::ensure_vault(dir)?;
    dir.read_secret_key()?;
    let running = session::connect(dir);
    let started_here = running.is_none();
    if let Some(mut c) = running {
        let s: StatusView = c.call(&Request::Status)?;
        if s.unlocked {
            // A password given is still checked: a wrong one must not look accepted.
            let checked = a.password.is_given();
            if checked {
                let password = a.password.read("Master password: ")?;
                let _: StatusView = c.call(&Request::Unlock { password })?;
            }
            out.show(&s, |w| {
                if checked {
                    writeln!(
                        w,
                        "Already unlocked ({} items); the password is right.",
                        s.items
                    )
                } else {
                    writeln!(
                        w,
                        "Already unlocked ({} items); no password was asked for.",
                        s.items
                    )
                }
            })?;
            return Ok(None);
        }
    }
    let password = a.password.read("Master password: ")?;
    let mut client = session::start_agent(dir, a.timeout, !a.offline)?;
    let s: StatusView = match client.call(&Request::Unlock { password }) {
        Ok(s) => s,
        Err(e) => {
            // An agent this command started and could not unlock would sit there locked until
            // its idle timeout; locking it makes it exit and remove its socket. Failing that,
            // the unlock error is still the one worth reporting.
            if started_here {
                drop(client.call::<StatusView>(&Request::Lock));
            }
            return Err(e.into());
        }
    };
    out.show(&s, |w| {
        writeln!(
            w,
            "Unlocked: {} items; locks after {} without use.",
            s.items,
            human_duration(a.timeout)
        )?;
        if !s.damaged.is_empty() {
            writeln!(
                w,
                "WARNING: {} item(s) are damaged and could not be opened: {}",
                s.damaged.len(),
                s.damaged.join(", ")
            )?;
        }
        for warning in &s.warnings {
            writeln!(w, "WARNING: {warning}")?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// `90`, `90s`, `5m`, `2h` to a duration between 1 s and 24 h.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 5m or 2h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("unknown unit {unit:?}; use s, m or h")),
    };
    if !(1..=86_400).contains(&secs) {
        return Err("the timeout must be between 1 second and 24 hours".into());
    }
    Ok(Duration::from_secs(secs))
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// Lock: the agent drops its keys and exits.
pub fn lock(dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let locked = match session::connect(dir) {
        Some(mut c) => {
            let _: StatusView = c.call(&Request::Lock)?;
            true
        }
        None => false,
    };
    let msg = if locked { "Locked." } else { "Already locked." };
    out.done(&serde_json::json!({ "locked": true }), msg)?;
    Ok(None)
}

/// Status, from the agent or (locked) from the file.
pub fn status(dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    session::ensure_vault(dir)?;
    let s: StatusView = match session::connect(dir) {
        Some(mut c) => c.call(&Request::Status)?,
        None => {
            let (items, trashed) = tessera_core::vault::locked_counts(&dir.vault_file())?;
            StatusView {
                unlocked: false,
                vault: dir.vault_file().display().to_string(),
                items,
                trashed,
                damaged: Vec::new(),
                warnings: Vec::new(),
                kdf: None,
                idle_timeout_secs: 0,
                locks_in_secs: None,
                link: None,
            }
        }
    };
    out.show(&s, |w| {
        writeln!(w, "Vault:  {}", s.vault)?;
        writeln!(
            w,
            "State:  {}",
            if s.unlocked { "unlocked" } else { "locked" }
        )?;
        writeln!(w, "Items:  {} ({} in the trash)", s.items, s.trashed)?;
        if let Some(k) = &s.kdf {
            writeln!(w, "KDF:    {k}")?;
        }
        if let Some(t) = s.locks_in_secs {
            writeln!(w, "Locks:  in {}:{:02} without use", t / 60, t % 60)?;
        }
        if let Some(l) = &s.link {
            writeln!(w, "Server: {} as {}", l.server, l.email)?;
            writeln!(w, "Team root key: {}", l.root_fingerprint)?;
        }
        if !s.damaged.is_empty() {
            writeln!(
                w,
                "Damaged items (could not be opened): {}",
                s.damaged.join(", ")
            )?;
        }
        for warning in &s.warnings {
            writeln!(w, "WARNING: {warning}")?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// Arguments of `passwd`.
#[derive(clap::Args)]
pub struct PasswdArgs {
    /// Where the current master password comes from (else the terminal).
    #[command(flatten)]
    password: PasswordSource,
    #[command(flatten)]
    new_password: NewPasswordSource,
    /// Accept a new master password the strength estimate calls weak.
    #[arg(long)]
    allow_weak_password: bool,
}

/// Change the master password (the vault must be unlocked).
pub fn passwd(a: &PasswdArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = session::unlocked_client(dir)?;
    let old = a.password.read("Current master password: ")?;
    let new = a.new_password.read()?;
    let strength = estimate_strength(new.expose_secret(), &[]);
    if strength.score < 3 && !a.allow_weak_password {
        return usage(format!(
            "the new master password is weak (strength {}/4, cracked in {}); choose a longer one \
             (`tessera generate --passphrase` makes one) or pass --allow-weak-password; nothing \
             was changed",
            strength.score, strength.crack_time_display
        ));
    }
    let _: StatusView = client
        .call(&Request::ChangePassword { old, new })
        .context("changing the master password")?;
    out.done(
        &serde_json::json!({ "changed": true }),
        "Master password changed. Your Account Secret Key is unchanged.",
    )?;
    Ok(None)
}

/// Arguments of the hidden `agent` command.
#[derive(clap::Args)]
pub struct AgentArgs {
    /// Lock and exit after this many seconds without use.
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
    /// No background sync with the team server.
    #[arg(long)]
    no_auto_sync: bool,
}

/// Serve as the agent.
pub fn agent(a: &AgentArgs, dir: &VaultDir) -> Result<Option<ExitCode>> {
    session::run_agent(
        dir,
        Duration::from_secs(a.idle_timeout.max(1)),
        !a.no_auto_sync,
    )?;
    Ok(None)
}
