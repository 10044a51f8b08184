//! What the shell holds: the vault directory, the embedded agent (the one unlocked vault, also
//! served on the CLI's socket), the clipboard and the settings.
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tessera_core::agent::{self, Agent, AgentConfig, Request, StatusView};
use tessera_core::paths::VaultDir;
use tessera_crypto::kdf::KdfParams;

use crate::clipboard::Clipboard;
use crate::settings::Settings;

/// Shared by every command.
pub struct AppState {
    /// This user's vault directory.
    pub dir: VaultDir,
    /// The unlocked vault, its idle timer and background sync.
    pub agent: Agent,
    /// Copy and clear.
    pub clipboard: Arc<Clipboard>,
    settings: Mutex<Settings>,
}

impl AppState {
    /// Open the state for `dir`, locked.
    pub fn new(dir: VaultDir) -> Self {
        let settings = Settings::load(dir.dir());
        let agent = Agent::start(
            AgentConfig {
                dir: dir.clone(),
                idle_timeout: Duration::from_secs(u64::from(settings.auto_lock_minutes) * 60),
                kdf_target: KdfParams::DEFAULT,
                exit_on_lock: false,
                unlock_grace: Duration::MAX,
                auto_sync: true,
            },
            None,
        );
        Self {
            dir,
            agent,
            clipboard: Clipboard::new(),
            settings: Mutex::new(settings),
        }
    }

    /// The settings, locked for reading or changing.
    pub fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Serve the CLI's agent socket from this process, so `tessera` commands in a terminal use
    /// the app's unlock. An agent the CLI started earlier is asked to lock (it then exits) and
    /// the socket is taken over. Returns the socket path, to remove at exit.
    pub fn serve_socket(&self) -> std::io::Result<PathBuf> {
        let socket = self.dir.agent_socket();
        tessera_core::store::create_private_dir(self.dir.dir()).map_err(std::io::Error::other)?;
        if let Ok(mut other) = agent::Client::connect(&socket) {
            // It may be stopping already; waited for below
            #[allow(clippy::let_underscore_must_use)]
            let _ = other.call::<StatusView>(&Request::Lock);
            for _ in 0..50 {
                if !socket.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(40));
            }
        }
        #[allow(clippy::let_underscore_must_use)] // a stale socket; bind below reports what matters
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
        }
        let agent = self.agent.clone();
        let path = socket.clone();
        std::thread::spawn(move || {
            if let Err(e) = agent.serve(&listener, path) {
                eprintln!("tessera: the agent socket stopped: {e}");
            }
        });
        Ok(socket)
    }
}
