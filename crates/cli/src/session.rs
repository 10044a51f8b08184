//! Reaching the unlocked vault: through the agent when one runs, or (for `run`/`inject` with a
//! password source) by unlocking in this process for the one command.
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use tessera_core::agent::{self, AgentError, Client, ErrorCode, ItemView, Request, StatusView};
use tessera_core::paths::VaultDir;
use tessera_core::vault::{self, Vault};
use tessera_crypto::kdf::KdfParams;

use crate::prompt::PasswordSource;

/// A connection to the agent, or None when no agent is running.
pub fn connect(dir: &VaultDir) -> Option<Client> {
    Client::connect(&dir.agent_socket()).ok()
}

/// A connection to an agent with the vault unlocked, or a "locked" error saying what to do.
pub fn unlocked_client(dir: &VaultDir) -> Result<Client> {
    ensure_vault(dir)?;
    let mut client = connect(dir).ok_or_else(locked)?;
    match client.call::<StatusView>(&Request::Status) {
        Ok(s) if s.unlocked => Ok(client),
        // Not unlocked, or an agent that is just exiting.
        _ => Err(locked()),
    }
}

fn locked() -> anyhow::Error {
    anyhow::Error::new(AgentError {
        code: ErrorCode::Locked,
        message: "the vault is locked; run `tessera unlock` first".into(),
    })
}

/// Fail clearly when there is no vault yet.
pub fn ensure_vault(dir: &VaultDir) -> Result<()> {
    if dir.vault_file().exists() {
        Ok(())
    } else {
        Err(anyhow::Error::new(tessera_core::Error::NotFound(format!(
            "no vault at {}; create one with `tessera init`",
            dir.vault_file().display()
        ))))
    }
}

/// Start an agent process (locked) if none answers, and return a connection to it.
pub fn start_agent(dir: &VaultDir, idle_timeout: Duration, auto_sync: bool) -> Result<Client> {
    if let Some(c) = connect(dir) {
        return Ok(c);
    }
    let socket = dir.agent_socket();
    #[allow(clippy::let_underscore_must_use)] // a stale socket nobody answers on; usually none
    let _ = std::fs::remove_file(&socket);
    let exe = std::env::current_exe().context("finding the tessera executable")?;
    Command::new(exe)
        .arg("--home")
        .arg(dir.dir())
        .arg("agent")
        .arg("--idle-timeout")
        .arg(idle_timeout.as_secs().to_string())
        .args((!auto_sync).then_some("--no-auto-sync"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting the agent")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(c) = connect(dir) {
            return Ok(c);
        }
        if Instant::now() > deadline {
            return Err(anyhow!(
                "the agent did not start within 10 s (socket {})",
                socket.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Where `run` and `inject` read items from.
pub enum Source {
    /// The running agent.
    Agent(Client),
    /// A vault unlocked in this process for this one command.
    Local(Box<Vault>),
}

impl Source {
    /// The agent if it is unlocked; else, when a password source is given or a terminal is
    /// there, unlock in this process.
    pub fn open(dir: &VaultDir, password: &PasswordSource) -> Result<Self> {
        ensure_vault(dir)?;
        if let Ok(c) = unlocked_client(dir) {
            return Ok(Self::Agent(c));
        }
        if !password.is_given() && !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return Err(locked());
        }
        tessera_core::hardening::mark_non_dumpable()?;
        let pw = password.read("Master password: ")?;
        let sk = dir.read_secret_key()?;
        let vault = Vault::unlock(
            &dir.vault_file(),
            pw.expose_secret().as_bytes(),
            &sk,
            KdfParams::DEFAULT,
        )?;
        Ok(Self::Local(Box::new(vault)))
    }

    /// One item with its concealed values: a personal one, or with `group` one of that
    /// group's (its reveal recorded in the team's audit log).
    pub fn reveal_in(&mut self, group: Option<&str>, item: &str) -> Result<ItemView> {
        Ok(match (self, group) {
            (Self::Agent(c), None) => c.call(&Request::Get {
                item: item.to_owned(),
                reveal: true,
            })?,
            (Self::Agent(c), Some(g)) => c.call(&Request::GroupItem {
                group: g.to_owned(),
                item: item.to_owned(),
                reveal: true,
            })?,
            (Self::Local(v), None) => {
                let id = v.resolve(item)?;
                ItemView::of(v.get(&id)?, true, vault::now())
            }
            (Self::Local(v), Some(g)) => {
                ItemView::of(&v.group_item(g, item, true)?.as_item(), true, vault::now())
            }
        })
    }
}

/// Serve as the agent on this account's socket until locked.
pub fn run_agent(dir: &VaultDir, idle_timeout: Duration, auto_sync: bool) -> Result<()> {
    tessera_core::hardening::harden_process()?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    tessera_core::store::create_private_dir(dir.dir())?;
    let socket = dir.agent_socket();
    if connect(dir).is_some() {
        return Err(anyhow!("an agent already serves {}", socket.display()));
    }
    #[allow(clippy::let_underscore_must_use)] // a stale socket; bind below reports what matters
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket)
        .with_context(|| format!("listening on {}", socket.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", socket.display()))?;
    }
    let config = agent::AgentConfig {
        dir: dir.clone(),
        idle_timeout,
        kdf_target: KdfParams::DEFAULT,
        exit_on_lock: true,
        unlock_grace: Duration::from_secs(60),
        auto_sync,
    };
    let result = agent::serve(&listener, socket.clone(), config, None);
    drop(listener);
    remove_if_ours(&socket);
    Ok(result?)
}

fn remove_if_ours(socket: &Path) {
    // Another agent may have replaced the socket after ours stopped answering; only remove a
    // socket nobody answers on.
    if std::os::unix::net::UnixStream::connect(socket).is_err() {
        // Cleanup at exit; a leftover is removed next start
        #[allow(clippy::let_underscore_must_use)]
        let _ = std::fs::remove_file(socket);
    }
}
