//! The real `tessera-server` binary as a child process, shared by the suites that start it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running server process; killed when dropped (also when a test fails).
pub struct Proc {
    child: Child,
}

impl Proc {
    /// Start the binary with `args`, logging to `log`, and wait until `/healthz` answers.
    pub fn start(args: &[String], log: &Path, base: &str) -> Self {
        Self::start_with_env(args, &[], log, base)
    }

    /// [`Proc::start`] with environment variables `env` set for the process.
    pub fn start_with_env(args: &[String], env: &[(&str, &str)], log: &Path, base: &str) -> Self {
        let health = format!("{base}/healthz");
        Self::spawn(args, env, log, || {
            ureq::get(&health).call().is_ok_and(|r| r.status() == 200)
        })
    }

    /// Start the binary with `args`, logging to `log`, and wait until `ready` holds. It runs
    /// in the log's directory (a test's temporary one), where the core dump of a run that
    /// aborts would land.
    pub fn start_until(args: &[String], log: &Path, ready: impl Fn() -> bool) -> Self {
        Self::spawn(args, &[], log, ready)
    }

    fn spawn(args: &[String], env: &[(&str, &str)], log: &Path, ready: impl Fn() -> bool) -> Self {
        let dir = log.parent().expect("the log is in a directory").to_owned();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
            .args(args)
            .env_remove("TESSERA_DATABASE_URL")
            .env_remove("TESSERA_FAULT")
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut p = Self { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = p.child.try_wait().unwrap() {
                panic!("the server exited early: {status}");
            }
            if ready() {
                return p;
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Wait (at most 10 s) for the process to end by itself; how it ended.
    pub fn exited(mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server is still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    #[allow(clippy::let_underscore_must_use)] // best effort: it may have exited already
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (bound and released; the server binds it again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
