//! The agent's idle lock: what counts as use, and the reason a lock screen is given.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use tessera_core::agent::{self, Agent, AgentConfig, ItemView, LockReason, Request, StatusView};
use tessera_core::paths::VaultDir;
use tessera_core::Vault;

const IDLE: Duration = Duration::from_secs(1);

fn agent(dir: &tempfile::TempDir) -> Agent {
    let dir = VaultDir::new(dir.path().join("vault"));
    let (mut vault, _key) = Vault::create_in(&dir, support::PASSWORD, support::PARAMS).unwrap();
    vault
        .add(support::login("GitHub", "me", "pw", "https://github.com"))
        .unwrap();
    Agent::start(
        AgentConfig {
            dir,
            idle_timeout: IDLE,
            kdf_target: support::PARAMS,
            exit_on_lock: false,
            unlock_grace: Duration::MAX,
            auto_sync: false,
        },
        Some(vault),
    )
}

/// Serve `agent` on a socket in `dir`, as a terminal reaches it; the socket's path.
fn serve(agent: &Agent, dir: &tempfile::TempDir) -> std::path::PathBuf {
    let socket = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn({
        let agent = agent.clone();
        let socket = socket.clone();
        move || agent.serve(&listener, socket)
    });
    socket
}

/// Wait up to `limit` for the agent to lock; true when it did.
fn locks_within(agent: &Agent, limit: Duration, mut meanwhile: impl FnMut()) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !agent.is_unlocked() {
            return true;
        }
        meanwhile();
        std::thread::sleep(Duration::from_millis(100));
    }
    !agent.is_unlocked()
}

/// The desktop app's one-time-code view asks for a fresh code every second: calls in process
/// must not keep the vault open, or a code on screen stops auto-lock.
#[test]
fn calls_in_process_do_not_hold_off_the_idle_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let agent = agent(&tmp);
    let locked = locks_within(&agent, IDLE * 4, || {
        // Both fail once locked, and the lock is what is tested.
        #[allow(clippy::let_underscore_must_use)]
        let _ = agent.call::<ItemView>(&Request::Get {
            item: "GitHub".into(),
            reveal: false,
        });
        #[allow(clippy::let_underscore_must_use)]
        let _ = agent.with_vault(|v| Ok(v.len()));
    });
    assert!(
        locked,
        "the agent stayed unlocked while only the app polled it"
    );
    assert_eq!(agent.lock_reason(), Some(LockReason::Idle));
}

/// Input the app reports ([`Agent::touch`]) and a terminal's requests on the socket do count.
#[test]
fn the_users_input_and_terminal_requests_hold_off_the_idle_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let agent = agent(&tmp);
    assert!(
        !locks_within(&agent, IDLE * 3, || agent.touch()),
        "the agent locked although the user was active"
    );

    let socket = serve(&agent, &tmp);
    let mut client = agent::Client::connect(&socket).unwrap();
    assert!(
        !locks_within(&agent, IDLE * 3, || {
            client
                .call::<ItemView>(&Request::Get {
                    item: "GitHub".into(),
                    reveal: false,
                })
                .unwrap();
        }),
        "the agent locked although a terminal was using it"
    );
    agent.stop();
}

#[test]
fn each_lock_says_who_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let agent = agent(&tmp);
    assert_eq!(agent.lock_reason(), None, "unlocked: no reason");

    agent.lock();
    assert_eq!(agent.lock_reason(), Some(LockReason::User));

    let unlock = Request::Unlock {
        password: std::str::from_utf8(support::PASSWORD).unwrap().into(),
    };
    // An unlock is use: the idle timer starts again from it, however long the vault sat locked.
    std::thread::sleep(IDLE * 2);
    agent.call::<StatusView>(&unlock).unwrap();
    assert_eq!(agent.lock_reason(), None);
    std::thread::sleep(IDLE / 2);
    assert!(
        agent.is_unlocked(),
        "the vault locked at once after an unlock"
    );

    let socket = serve(&agent, &tmp);
    agent::Client::connect(&socket)
        .unwrap()
        .call::<StatusView>(&Request::Lock)
        .unwrap();
    assert_eq!(
        agent.lock_reason(),
        Some(LockReason::Command),
        "`tessera lock` in a terminal"
    );
    agent.stop();
}
