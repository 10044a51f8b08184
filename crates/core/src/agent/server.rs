//! The agent's server side: accept same-user connections, answer requests against the one
//! unlocked vault, lock after the idle timeout.
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tessera_crypto::kdf::KdfParams;
use zeroize::{Zeroize, Zeroizing};

use super::view::{self, GroupItemsView, HistoryView, ItemSummary, ItemView, StatusView};
use super::{AgentError, ErrorCode, Request, MAX_LINE, PROTOCOL_VERSION};
use crate::error::Error;
use crate::item::SecretText;
use crate::paths::VaultDir;
use crate::vault::{self, Credentials, Vault};

/// How an agent behaves.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The account's files.
    pub dir: VaultDir,
    /// Lock after this long without use: a request on the socket (other than `status`) or
    /// [`Agent::touch`]. Calls in process ([`Agent::call`], [`Agent::with_vault`]) do not count,
    /// so a screen that refreshes itself does not keep the vault open.
    pub idle_timeout: Duration,
    /// KDF parameters to upgrade weaker vaults to at unlock.
    pub kdf_target: KdfParams,
    /// Stop serving once locked (the CLI's agent); the desktop app keeps serving.
    pub exit_on_lock: bool,
    /// With `exit_on_lock`: give up when nobody unlocks within this time of starting.
    pub unlock_grace: Duration,
    /// Sync with the team server in the background: follow its change stream and push local
    /// writes at once. Off, only explicit `sync` requests talk to the server.
    pub auto_sync: bool,
}

struct State {
    vault: Option<Vault>,
    last_used: Instant,
    /// Why the vault last locked.
    lock_reason: Option<LockReason>,
}

/// Why the agent locked, for a lock screen that says so.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LockReason {
    /// Nobody used it for the idle timeout.
    Idle,
    /// A client of the socket asked (`tessera lock` in a terminal).
    Command,
    /// The process holding the agent asked ([`Agent::lock`], a `lock` through [`Agent::call`]):
    /// the desktop app's Lock button or tray menu.
    User,
}

/// Where a request came from: only a socket client's requests count as use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Socket,
    InProcess,
}

/// How background sync is doing, for a status line that is always visible.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SyncStatus {
    /// `unlinked`, `online`, `syncing`, `offline` (server unreachable) or `error` (it refused).
    pub state: SyncState,
    /// Local changes the server has not acknowledged yet.
    pub pending: usize,
    /// Unix time of the last sync that completed.
    pub last_sync_at: Option<i64>,
    /// What went wrong last, for people.
    pub message: Option<String>,
    /// Items whose edits collided and were kept as copies, since unlock.
    pub conflicts: usize,
}

/// The state of background sync.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The vault is not linked to a team server (or is locked).
    Unlinked,
    /// The last sync succeeded.
    Online,
    /// A sync is running.
    Syncing,
    /// The server could not be reached; changes wait in the outbox.
    Offline,
    /// The server refused the last sync.
    Error,
}

impl Default for SyncStatus {
    fn default() -> Self {
        Self {
            state: SyncState::Unlinked,
            pending: 0,
            last_sync_at: None,
            message: None,
            conflicts: 0,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    config: AgentConfig,
    idle_timeout_ms: AtomicU64,
    /// Counts changes to the unlocked items (writes and pulled versions), so a UI knows when to
    /// refresh.
    changes: AtomicU64,
    sync: Mutex<SyncStatus>,
    /// The socket path and a second handle on the listening socket (to wake the accept loop),
    /// while serving.
    listening: Mutex<Option<(PathBuf, UnixListener)>>,
    /// Asks the sync thread to push local changes now.
    push: Mutex<std::sync::mpsc::Sender<()>>,
    /// Requests being answered (read, handled, reply not yet written).
    busy: AtomicU64,
    /// The server's change stream is open and followed: a sync that succeeds leaves the
    /// replica of the groups live ([`Vault::set_live`]).
    following: AtomicBool,
}

impl Shared {
    /// The unlocked items changed: views refresh, and the sync thread pushes soon.
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        let push = self
            .push
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[allow(clippy::let_underscore_must_use)] // fails only without auto-sync: nobody pushes
        let _ = push.send(());
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the vault half-changed: every write is a
        // transaction, and in-memory updates follow a committed write. Keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn sync_status(&self) -> MutexGuard<'_, SyncStatus> {
        self.sync
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.load(Ordering::SeqCst))
    }

    /// Stop accepting: the socket file goes first, so no new client reaches a closing agent.
    fn request_stop(&self) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            let listening = self
                .listening
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((socket, listener)) = listening.as_ref() {
                #[allow(clippy::let_underscore_must_use)] // best effort: the next start removes it
                let _ = std::fs::remove_file(socket);
                // Shutting a listening socket down makes a blocked accept() return at once.
                #[allow(clippy::let_underscore_must_use)] // else the next accept() sees the stop
                let _ = rustix::net::shutdown(listener, rustix::net::Shutdown::Both);
            }
        }
    }

    /// Drop the vault and every key it holds.
    fn lock(&self, st: &mut State, reason: LockReason) {
        if st.vault.take().is_some() {
            st.lock_reason = Some(reason);
            *self.sync_status() = SyncStatus::default();
        }
    }
}

/// Sync now if unlocked and linked; false once locked. Failures are recorded in the sync status
/// and left for the next attempt: the outbox keeps every change until the server acknowledges it.
fn sync_now(shared: &Shared) -> bool {
    let mut st = shared.state();
    let Some(v) = st.vault.as_mut() else {
        return false;
    };
    if !v.link_info().is_ok_and(|l| l.is_some()) {
        return true;
    }
    shared.sync_status().state = SyncState::Syncing;
    let result = v.sync();
    v.set_live(result.is_ok() && shared.following.load(Ordering::SeqCst));
    let pending = v.link_info().ok().flatten().map_or(0, |l| l.pending);
    drop(st);
    record_sync(shared, result.as_ref(), pending);
    if let Ok(report) = &result {
        if report.pulled > 0 || report.shared > 0 {
            shared.changes.fetch_add(1, Ordering::SeqCst);
        }
    }
    true
}

fn record_sync(shared: &Shared, result: Result<&vault::SyncReport, &Error>, pending: usize) {
    let mut s = shared.sync_status();
    s.pending = pending;
    match result {
        Ok(report) => {
            s.state = SyncState::Online;
            s.last_sync_at = Some(vault::now());
            s.message = None;
            s.conflicts += report.kept_both.len();
        }
        Err(e) => {
            s.state = if matches!(e, Error::Network(_)) {
                SyncState::Offline
            } else {
                SyncState::Error
            };
            s.message = Some(e.to_string());
        }
    }
}

/// Follow the server's change stream: pull as soon as another device pushed.
fn watch_changes(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        let events = shared.state().vault.as_ref().map(Vault::change_events);
        match events {
            Some(Ok(Some(events))) => {
                // Catch up once the stream is open, then on every change.
                shared.following.store(true, Ordering::SeqCst);
                sync_now(shared);
                for () in events {
                    if shared.stop.load(Ordering::SeqCst) || !sync_now(shared) {
                        break;
                    }
                }
                // The stream ended: until it is open again, group reads ask the server first.
                shared.following.store(false, Ordering::SeqCst);
                if let Some(v) = shared.state().vault.as_ref() {
                    v.set_live(false);
                }
            }
            Some(Err(e)) => {
                let pending = shared
                    .state()
                    .vault
                    .as_ref()
                    .map_or(0, |v| v.link_info().ok().flatten().map_or(0, |l| l.pending));
                record_sync(shared, Err(&e), pending);
            }
            _ => {}
        }
        for _ in 0..20 {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Push local changes soon after they are made.
fn push_changes(shared: &Shared, requests: &std::sync::mpsc::Receiver<()>) {
    while requests.recv().is_ok() {
        while requests.try_recv().is_ok() {}
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        sync_now(shared);
    }
}

/// Serve `listener` until the vault is locked (with `exit_on_lock`) or forever.
/// Optionally start unlocked with `vault`.
pub fn serve(
    listener: &UnixListener,
    socket: PathBuf,
    config: AgentConfig,
    vault: Option<Vault>,
) -> crate::Result<()> {
    let agent = Agent::start(config, vault);
    let result = agent.serve(listener, socket);
    agent.stop();
    result
}

/// A running agent: the one unlocked vault of this user, its idle timer and background sync.
/// The CLI's agent process serves it on the socket; the desktop app holds one, calls it
/// directly and serves the same socket, so a terminal and the app share one unlock.
#[derive(Clone)]
pub struct Agent {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Agent")
    }
}

impl Agent {
    /// Start the idle timer and (with `auto_sync`) background sync; unlocked when `vault` is
    /// given.
    pub fn start(config: AgentConfig, vault: Option<Vault>) -> Self {
        let (push_tx, push_rx) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared {
            push: Mutex::new(push_tx),
            state: Mutex::new(State {
                vault,
                last_used: Instant::now(),
                lock_reason: None,
            }),
            stop: AtomicBool::new(false),
            idle_timeout_ms: AtomicU64::new(config.idle_timeout.as_millis() as u64),
            changes: AtomicU64::new(0),
            sync: Mutex::new(SyncStatus::default()),
            config,
            listening: Mutex::new(None),
            busy: AtomicU64::new(0),
            following: AtomicBool::new(false),
        });
        if shared.config.auto_sync {
            std::thread::spawn({
                let shared = Arc::clone(&shared);
                move || watch_changes(&shared)
            });
            std::thread::spawn({
                let shared = Arc::clone(&shared);
                move || push_changes(&shared, &push_rx)
            });
        }
        let started = Instant::now();
        std::thread::spawn({
            let shared = Arc::clone(&shared);
            move || watchdog(&shared, started)
        });
        Self { shared }
    }

    /// Answer same-user connections on `listener` (bound at `socket`) until stopped. Blocks.
    pub fn serve(&self, listener: &UnixListener, socket: PathBuf) -> crate::Result<()> {
        let shared = &self.shared;
        let handle = listener.try_clone().map_err(|e| Error::Io {
            context: "duplicating the agent socket".into(),
            source: e,
        })?;
        *shared
            .listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((socket, handle));
        while !shared.stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if shared.stop.load(Ordering::SeqCst) || !same_user(&stream) {
                        continue;
                    }
                    let shared = Arc::clone(shared);
                    std::thread::spawn(move || handle_connection(&shared, stream));
                }
                Err(_) if shared.stop.load(Ordering::SeqCst) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::Io {
                        context: "accepting agent connections".into(),
                        source: e,
                    })
                }
            }
        }
        // Let the request that stopped the agent (a `lock`) get its answer before the caller
        // exits the process.
        let deadline = Instant::now() + Duration::from_secs(2);
        while shared.busy.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Answer one request in process, as the socket would.
    pub fn call<T: serde::de::DeserializeOwned>(&self, request: &Request) -> Result<T, AgentError> {
        let internal = |m: String| AgentError {
            code: ErrorCode::Internal,
            message: m,
        };
        let line = Zeroizing::new(
            serde_json::to_vec(&super::Envelope {
                v: PROTOCOL_VERSION,
                body: request,
            })
            .map_err(|e| internal(format!("encoding the request: {e}")))?,
        );
        let reply = dispatch(&self.shared, &line, Origin::InProcess)?;
        // Skip the `{"ok":` prefix and the closing `}` and newline written by `ok`.
        let body = &reply.0[6..reply.0.len() - 2];
        serde_json::from_slice(body).map_err(|e| internal(format!("decoding the reply: {e}")))
    }

    /// Run `f` on the unlocked vault. Not counted as use (the user's input is, through
    /// [`Agent::touch`]). A write through `f` should be followed by [`Agent::changed`].
    pub fn with_vault<R>(
        &self,
        f: impl FnOnce(&mut Vault) -> crate::Result<R>,
    ) -> crate::Result<R> {
        let mut st = self.shared.state();
        let result = f(st.vault.as_mut().ok_or(Error::Locked)?);
        drop(st);
        tessera_crypto::scrub_stack();
        result
    }

    /// Hand over a vault unlocked elsewhere (a vault just created); locks any other first.
    pub fn set_vault(&self, vault: Vault) {
        let mut st = self.shared.state();
        self.shared.lock(&mut st, LockReason::User);
        st.vault = Some(vault);
        st.last_used = Instant::now();
    }

    /// Items were written outside a request: refresh views and push soon.
    pub fn changed(&self) {
        self.shared.changed();
    }

    /// A counter that moves whenever the unlocked items change.
    pub fn changes(&self) -> u64 {
        self.shared.changes.load(Ordering::SeqCst)
    }

    /// The user did something: restart the idle timer.
    pub fn touch(&self) {
        self.shared.state().last_used = Instant::now();
    }

    /// Lock now (the user asked: [`LockReason::User`]).
    pub fn lock(&self) {
        let mut st = self.shared.state();
        self.shared.lock(&mut st, LockReason::User);
    }

    /// True while a vault is unlocked.
    pub fn is_unlocked(&self) -> bool {
        self.shared.state().vault.is_some()
    }

    /// Why the vault locked, while it is locked (`None` when unlocked or never unlocked).
    pub fn lock_reason(&self) -> Option<LockReason> {
        let st = self.shared.state();
        st.vault.is_none().then_some(st.lock_reason).flatten()
    }

    /// Lock after this long without use.
    pub fn set_idle_timeout(&self, timeout: Duration) {
        self.shared
            .idle_timeout_ms
            .store(timeout.as_millis() as u64, Ordering::SeqCst);
    }

    /// How background sync is doing.
    pub fn sync_status(&self) -> SyncStatus {
        let mut s = self.shared.sync_status().clone();
        if let Some(v) = self.shared.state().vault.as_ref() {
            match v.link_info() {
                Ok(Some(link)) => s.pending = link.pending,
                _ => s.state = SyncState::Unlinked,
            }
        }
        s
    }

    /// Sync now (when linked) and return how it went.
    pub fn sync_now(&self) -> SyncStatus {
        sync_now(&self.shared);
        self.sync_status()
    }

    /// Lock, stop serving the socket and end the background threads.
    pub fn stop(&self) {
        self.lock();
        self.shared.request_stop();
    }
}

/// Lock after the idle timeout; with `exit_on_lock`, stop once locked or when nobody unlocks
/// within the grace period.
fn watchdog(shared: &Shared, started: Instant) {
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
        let mut st = shared.state();
        if st.vault.is_some() && st.last_used.elapsed() >= shared.idle_timeout() {
            shared.lock(&mut st, LockReason::Idle);
            if shared.config.exit_on_lock {
                drop(st);
                shared.request_stop();
            }
        } else if st.vault.is_none()
            && shared.config.exit_on_lock
            && started.elapsed() >= shared.config.unlock_grace
            && st.last_used.elapsed() >= shared.config.unlock_grace
        {
            drop(st);
            shared.request_stop();
        }
    }
}

fn same_user(stream: &UnixStream) -> bool {
    rustix::net::sockopt::socket_peercred(stream).is_ok_and(|c| c.uid == rustix::process::getuid())
}

/// A write buffer that zeroizes what it held whenever it grows and when dropped.
#[derive(Default)]
struct SecretBuf(Vec<u8>);

impl Write for SecretBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + b.len() > self.0.capacity() {
            let mut bigger =
                Vec::with_capacity((self.0.len() + b.len()).max(self.0.capacity() * 2).max(256));
            bigger.extend_from_slice(&self.0);
            self.0.zeroize();
            self.0 = bigger;
        }
        self.0.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

type Reply = Result<SecretBuf, AgentError>;

fn ok<T: Serialize>(value: &T) -> Reply {
    let mut buf = SecretBuf::default();
    buf.write_all(b"{\"ok\":")
        .and_then(|()| {
            serde_json::to_writer(&mut buf, value).map_err(std::io::Error::other)?;
            buf.write_all(b"}\n")
        })
        .map_err(|e| AgentError {
            code: ErrorCode::Internal,
            message: format!("encoding the reply: {e}"),
        })?;
    Ok(buf)
}

fn handle_connection(shared: &Shared, stream: UnixStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Zeroizing::new(Vec::new());
        match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        shared.busy.fetch_add(1, Ordering::SeqCst);
        let reply = if line.len() > MAX_LINE {
            Err(AgentError {
                code: ErrorCode::Invalid,
                message: format!("request longer than {MAX_LINE} bytes"),
            })
        } else {
            dispatch(shared, &line, Origin::Socket)
        };
        let bytes = match reply {
            Ok(buf) => buf,
            Err(e) => {
                let mut buf = SecretBuf::default();
                #[allow(clippy::let_underscore_must_use)] // strings into memory: cannot fail
                let _ = serde_json::to_writer(&mut buf, &serde_json::json!({ "error": e }));
                buf.0.push(b'\n');
                buf
            }
        };
        let written = writer.write_all(&bytes.0);
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        if written.is_err() || shared.stop.load(Ordering::SeqCst) {
            return;
        }
    }
}

fn dispatch(shared: &Shared, line: &[u8], origin: Origin) -> Reply {
    let invalid = |m: String| AgentError {
        code: ErrorCode::Invalid,
        message: m,
    };
    let v: VersionOnly =
        serde_json::from_slice(line).map_err(|e| invalid(format!("malformed request: {e}")))?;
    if v.v != PROTOCOL_VERSION {
        return Err(AgentError {
            code: ErrorCode::UnsupportedVersion,
            message: format!("this agent speaks protocol {PROTOCOL_VERSION}, the client {}; use matching versions of Tessera", v.v),
        });
    }
    let request: Request =
        serde_json::from_slice(line).map_err(|e| invalid(format!("malformed request: {e}")))?;
    let mut st = shared.state();
    if origin == Origin::Socket && !matches!(request, Request::Status) {
        st.last_used = Instant::now();
    }
    let writes = matches!(
        request,
        Request::Add { .. }
            | Request::Update { .. }
            | Request::Remove { .. }
            | Request::Restore { .. }
            | Request::ImportEncrypted { .. }
            | Request::ImportPlain { .. }
    );
    let reply = handle(shared, &mut st, request, origin);
    drop(st);
    tessera_crypto::scrub_stack();
    if writes && reply.is_ok() {
        shared.changed();
    }
    reply
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Unlock; when already unlocked, still check the password, so a wrong one is never answered
/// with success.
fn unlock(shared: &Shared, st: &mut State, password: &SecretText) -> Reply {
    let dir = &shared.config.dir;
    let secret_key = dir.read_secret_key()?;
    let pw = password.expose_secret().as_bytes();
    match &st.vault {
        Some(vault) => vault.check_password(pw, &secret_key)?,
        None => {
            let vault =
                Vault::unlock(&dir.vault_file(), pw, &secret_key, shared.config.kdf_target)?;
            st.vault = Some(vault);
            st.last_used = Instant::now();
        }
    }
    ok(&status(shared, st)?)
}

fn handle(shared: &Shared, st: &mut State, request: Request, origin: Origin) -> Reply {
    let dir = &shared.config.dir;
    match request {
        Request::Status => ok(&status(shared, st)?),
        Request::Unlock { password } => unlock(shared, st, &password),
        Request::Lock => {
            shared.lock(
                st,
                match origin {
                    Origin::Socket => LockReason::Command,
                    Origin::InProcess => LockReason::User,
                },
            );
            if shared.config.exit_on_lock {
                shared.request_stop();
            }
            ok(&status(shared, st)?)
        }
        Request::List { filter } => ok(&view::list(unlocked(st)?, &filter)?),
        Request::Search {
            query,
            filter,
            limit,
        } => ok(&view::search(
            unlocked(st)?,
            &query,
            &filter,
            limit.unwrap_or(50),
        )?),
        Request::Get { item, reveal } => ok(&get_item(unlocked(st)?, &item, reveal)?),
        Request::Add { items } => {
            let ids = unlocked_mut(st)?.add_many(items)?;
            ok(&ids
                .iter()
                .map(crate::item::ItemId::to_hex)
                .collect::<Vec<_>>())
        }
        Request::Update { item, data } => {
            let v = unlocked_mut(st)?;
            match personal_or_shared(v, &item)? {
                Target::Personal(id) => ok(&v.update(&id, data)?),
                Target::Shared(group, id) => ok(&v.group_update(&group, &id, &data)?),
            }
        }
        Request::Remove { item, purge } => {
            ok(&remove_item(unlocked_mut(st)?, &item, purge)?.to_hex())
        }
        Request::Restore { item, version } => {
            let v = unlocked_mut(st)?;
            let id = personal_only(v, &item, "restoring an older version")?;
            match version {
                Some(n) => ok(&v.restore_version(&id, n)?),
                None => {
                    v.untrash(&id)?;
                    ok(&v.get(&id)?.version)
                }
            }
        }
        r @ (Request::Export { .. }
        | Request::ImportEncrypted { .. }
        | Request::ImportPlain { .. }) => handle_export(st, r),
        Request::History { item } => {
            let v = unlocked(st)?;
            let id = personal_only(v, &item, "its history")?;
            ok(&HistoryView::of(&v.history(&id)?))
        }
        request @ (Request::TeamCreate { .. }
        | Request::TeamJoin { .. }
        | Request::TeamInvite { .. }
        | Request::Sync
        | Request::Logout
        | Request::Devices
        | Request::RevokeDevice { .. }
        | Request::MfaEnrol
        | Request::MfaConfirm { .. }
        | Request::MfaDisable { .. }) => handle_team(shared, st, request),
        Request::ChangePassword { old, new } => {
            let secret_key = dir.read_secret_key()?;
            unlocked_mut(st)?.change_password(
                old.expose_secret().as_bytes(),
                new.expose_secret().as_bytes(),
                &secret_key,
                shared.config.kdf_target,
            )?;
            ok(&status(shared, st)?)
        }
        // Certify, Group*, Share, Unshare, Access, access requests.
        request => handle_groups(st, request),
    }
}

/// Encrypted export and import of the whole personal vault.
fn handle_export(st: &mut State, request: Request) -> Reply {
    match request {
        Request::Export { passphrase } => {
            let export = unlocked(st)?.export_encrypted(&passphrase, vault::export::EXPORT_KDF)?;
            ok(&view::ExportView {
                file: tessera_protocol::Blob(export.bytes),
                summary: export.summary,
            })
        }
        Request::ImportEncrypted { file, passphrase } => {
            ok(&unlocked_mut(st)?.import_encrypted(&file.0, &passphrase)?)
        }
        Request::ImportPlain { items } => ok(&unlocked_mut(st)?.import_plain(items)?),
        _ => Err(AgentError {
            code: ErrorCode::Internal,
            message: "not an export request".into(),
        }),
    }
}

/// Groups and sharing (they talk to the team server).
fn handle_groups(st: &mut State, request: Request) -> Reply {
    match request {
        Request::Certify { email } => ok(&unlocked(st)?.certify(&email)?),
        Request::GroupCreate { name } => ok(&unlocked(st)?.group_create(&name)?),
        Request::GroupList => ok(&unlocked(st)?.groups()?),
        Request::GroupMembers { group } => ok(&unlocked(st)?.group_members(&group)?),
        Request::GroupAdd {
            group,
            member,
            role,
            expires_at,
        } => ok(&unlocked(st)?.group_add(&group, &member, role, expires_at)?),
        Request::GroupRemove { group, member } => ok(&unlocked(st)?.group_remove(&group, &member)?),
        Request::GroupSign { group } => ok(&unlocked(st)?.group_sign(&group)?),
        Request::Share {
            item,
            group,
            expires_at,
        } => {
            let v = unlocked_mut(st)?;
            let shared = v.share(&item, &group)?;
            if expires_at.is_some() {
                v.set_share_expiry(&shared.id.to_hex(), &group, expires_at)?;
            }
            ok(&serde_json::json!({
                "item_id": shared.id.to_hex(),
                "title": shared.data.title,
                "group_id": shared.group_id,
                "epoch": shared.epoch,
            }))
        }
        Request::Unshare { item, group } => ok(&unlocked_mut(st)?.unshare(&item, &group)?.to_hex()),
        Request::Access { item } => ok(&unlocked(st)?.access(&item)?),
        Request::GroupItems { group } => {
            let read = unlocked(st)?.group_items(&group)?;
            ok(&GroupItemsView {
                items: read.iter().map(|i| ItemSummary::of(&i.as_item())).collect(),
                damaged: read.damaged,
            })
        }
        Request::GroupItem {
            group,
            item,
            reveal,
        } => {
            let it = unlocked(st)?.group_item(&group, &item, reveal)?;
            ok(&ItemView::of(&it.as_item(), reveal, vault::now()))
        }
        Request::TeamMembers => ok(&unlocked(st)?.team_members()?),
        Request::Audit { filter } => ok(&unlocked(st)?.audit(&filter)?),
        Request::AuditVerify => ok(&unlocked_mut(st)?.audit_verify()?),
        Request::Offboarding { member } => ok(&unlocked(st)?.offboarding(&member)?),
        Request::Offboard { member } => ok(&unlocked(st)?.offboard(&member)?),
        Request::Rotation { at } => {
            ok(&unlocked(st)?.rotation_report(at.unwrap_or_else(vault::now))?)
        }
        Request::RequestAccess {
            group,
            role,
            duration_secs,
            reason,
        } => ok(&unlocked(st)?.request_access(&group, role, duration_secs, reason.as_deref())?),
        Request::AccessRequests => ok(&unlocked(st)?.access_requests()?),
        Request::ApproveAccess {
            request,
            role,
            duration_secs,
        } => ok(&unlocked(st)?.approve_access(&request, role, duration_secs)?),
        Request::DenyAccess { request } => ok(&unlocked(st)?.deny_access(&request)?),
        Request::TokenCreate {
            group,
            name,
            expires_at,
        } => ok(&unlocked(st)?.token_create(&group, &name, expires_at)?),
        Request::TokenList { group } => ok(&unlocked(st)?.tokens(&group)?),
        Request::TokenRevoke { group, token } => ok(&unlocked(st)?.token_revoke(&group, &token)?),
        _ => Err(AgentError {
            code: ErrorCode::Internal,
            message: "not a group request".into(),
        }),
    }
}

/// What an item command names: a personal item, else a shared one (group id, item id).
enum Target {
    Personal(crate::item::ItemId),
    Shared(String, String),
}

fn personal_or_shared(v: &Vault, item: &str) -> Result<Target, Error> {
    match v.resolve(item) {
        Ok(id) => Ok(Target::Personal(id)),
        Err(Error::NotFound(why)) => {
            let (group, id) = v.resolve_shared(item).map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound(why),
                e => e,
            })?;
            Ok(Target::Shared(group, id))
        }
        Err(e) => Err(e),
    }
}

/// `rm`: a personal item to the trash (or, with `purge`, deleted with its history); a shared
/// one only with `purge`, deleted from its group for every member.
fn remove_item(v: &mut Vault, item: &str, purge: bool) -> Result<crate::item::ItemId, Error> {
    Ok(match personal_or_shared(v, item)? {
        Target::Personal(id) if purge => {
            v.purge(&id)?;
            id
        }
        Target::Personal(id) => {
            v.trash(&id)?;
            id
        }
        Target::Shared(group, id) if purge => v.group_delete(&group, &id)?,
        Target::Shared(group, _) => {
            return Err(Error::Invalid(format!(
                "{item:?} is shared in group {}, and shared items have no trash: \
                 `tessera rm --purge` deletes it from the group for every member, \
                 `tessera unshare` moves it into your own items",
                group_name(v, &group)
            )))
        }
    })
}

/// A personal item; a shared one is refused naming what it lacks (`what`).
fn personal_only(v: &Vault, item: &str, what: &str) -> Result<crate::item::ItemId, Error> {
    match personal_or_shared(v, item)? {
        Target::Personal(id) => Ok(id),
        Target::Shared(group, _) => Err(Error::Invalid(format!(
            "{item:?} is shared in group {}: {what} is not kept on this device yet (only its \
             current version is)",
            group_name(v, &group)
        ))),
    }
}

/// A held group's name, by id (the id when it is not held).
fn group_name(v: &Vault, group: &str) -> String {
    v.held_groups()
        .into_iter()
        .find(|g| g.id == group)
        .map_or_else(|| group.to_owned(), |g| g.name)
}

/// One item in full: a personal one, else a shared one, read (and a reveal recorded) as its
/// group's.
fn get_item(v: &Vault, item: &str, reveal: bool) -> Result<ItemView, Error> {
    match personal_or_shared(v, item)? {
        Target::Personal(id) => Ok(ItemView::of(v.get(&id)?, reveal, vault::now())),
        Target::Shared(group, id) => {
            let it = v.group_item(&group, &id, reveal)?;
            Ok(ItemView::of(&it.as_item(), reveal, vault::now()))
        }
    }
}

/// Requests that talk to the team server.
fn handle_team(shared: &Shared, st: &mut State, request: Request) -> Reply {
    let dir = &shared.config.dir;
    match request {
        Request::TeamCreate {
            server,
            email,
            device,
            password,
        } => {
            let secret_key = dir.read_secret_key()?;
            let c = Credentials {
                email: &email,
                device: &device,
                password: password.expose_secret().as_bytes(),
                secret_key: &secret_key,
            };
            ok(&unlocked_mut(st)?.create_team(&server, &c)?)
        }
        Request::TeamJoin {
            server,
            token,
            fingerprint,
            email,
            device,
            password,
        } => {
            let secret_key = dir.read_secret_key()?;
            let c = Credentials {
                email: &email,
                device: &device,
                password: password.expose_secret().as_bytes(),
                secret_key: &secret_key,
            };
            ok(&unlocked_mut(st)?.join_team(&server, &token, &fingerprint, &c)?)
        }
        Request::TeamInvite { email } => ok(&unlocked(st)?.invite(&email)?),
        Request::Sync => ok(&unlocked_mut(st)?.sync()?),
        Request::Logout => {
            unlocked_mut(st)?.logout()?;
            ok(&true)
        }
        Request::Devices => ok(&unlocked(st)?.devices()?),
        Request::RevokeDevice { session_id } => {
            unlocked(st)?.revoke_device(&session_id)?;
            ok(&true)
        }
        Request::MfaEnrol => ok(&unlocked(st)?.mfa_enrol()?),
        Request::MfaConfirm { code } => ok(&unlocked(st)?.mfa_confirm(&code)?),
        Request::MfaDisable { code } => {
            unlocked(st)?.mfa_disable(&code)?;
            ok(&true)
        }
        _ => Err(AgentError {
            code: ErrorCode::Internal,
            message: "not a team request".into(),
        }),
    }
}

fn unlocked(st: &State) -> Result<&Vault, Error> {
    st.vault.as_ref().ok_or(Error::Locked)
}

fn unlocked_mut(st: &mut State) -> Result<&mut Vault, Error> {
    st.vault.as_mut().ok_or(Error::Locked)
}

fn status(shared: &Shared, st: &State) -> Result<StatusView, Error> {
    let file = shared.config.dir.vault_file();
    let timeout = shared.idle_timeout();
    Ok(match &st.vault {
        Some(v) => {
            let trashed = v.items().filter(|i| i.trashed_at.is_some()).count() as u64;
            StatusView {
                unlocked: true,
                vault: file.display().to_string(),
                items: v.len() as u64 + v.damaged().len() as u64,
                trashed,
                damaged: v.damaged(),
                warnings: v.warnings().to_vec(),
                kdf: Some(v.header().kdf.to_string()),
                idle_timeout_secs: timeout.as_secs(),
                locks_in_secs: Some(timeout.saturating_sub(st.last_used.elapsed()).as_secs()),
                link: v.link_info()?,
            }
        }
        None => {
            let (items, trashed) = vault::locked_counts(&file)?;
            StatusView {
                unlocked: false,
                vault: file.display().to_string(),
                items,
                trashed,
                damaged: Vec::new(),
                warnings: Vec::new(),
                kdf: None,
                idle_timeout_secs: timeout.as_secs(),
                locks_in_secs: None,
                link: None,
            }
        }
    })
}
