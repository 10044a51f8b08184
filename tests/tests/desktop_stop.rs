//! Stopping the real desktop app (`tessera-app` under Xvfb) from outside, and what a test's
//! WebDriver session leaves behind.
//!
//! SIGTERM (`kill`, a desktop session ending) and SIGINT (Ctrl+C in the terminal of
//! `cargo xtask run`) quit the app cleanly: the vault it unlocked for the CLI locks, its
//! `agent.sock` goes, and it exits 0. A WebDriver session ends with `tauri-driver`,
//! WebKitWebDriver and the app all gone (none left running, reparented to PID 1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::bin;
use support::webdriver::{wait_for, xvfb, Guard, Session};

const PASSWORD: &str = "a long enough master password 42";

/// A home with a vault made by the CLI, and the environment the app runs in.
struct Home {
    dir: tempfile::TempDir,
    display: String,
}

impl Home {
    fn new(display: String) -> Self {
        let home = Self {
            dir: tempfile::tempdir().unwrap(),
            display,
        };
        std::fs::write(home.password_file(), format!("{PASSWORD}\n")).unwrap();
        let init = home.tessera(&["init", "--password-file", &home.password_file_arg()]);
        assert!(
            init.status.success(),
            "tessera init: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        home
    }

    fn vault(&self) -> PathBuf {
        self.dir.path().join("vault")
    }

    fn socket(&self) -> PathBuf {
        self.vault().join("agent.sock")
    }

    fn password_file(&self) -> PathBuf {
        self.dir.path().join("pw.txt")
    }

    fn password_file_arg(&self) -> String {
        self.password_file().display().to_string()
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        support::app_env(self.dir.path(), &self.vault(), &self.display)
    }

    fn tessera(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("tessera"));
        cmd.args(args).envs(self.vars());
        cmd.output().unwrap()
    }

    /// The `unlocked` of `tessera --json status`.
    fn unlocked(&self) -> Option<bool> {
        let out = self.tessera(&["--json", "status"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.get("unlocked").and_then(serde_json::Value::as_bool)
    }
}

/// Start the app (in its own process group, so nothing it starts outlives the test), unlock
/// it from the CLI through its socket, send `signal`, and return its exit status.
fn stop_with(signal: rustix::process::Signal) -> (Home, std::process::ExitStatus, String) {
    let (_x, display) = xvfb();
    let home = Home::new(display);
    let stderr = home.dir.path().join("app.stderr");
    let mut cmd = Command::new(bin("tessera-app"));
    cmd.envs(home.vars())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut app = Guard::group_leader(cmd.spawn().unwrap());

    // The app serves the CLI's socket once it has started; the CLI unlocks the app's vault.
    wait_for(
        "the app to serve agent.sock",
        Duration::from_secs(60),
        || home.socket().exists().then_some(()),
    );
    let unlock = home.tessera(&["unlock", "--password-file", &home.password_file_arg()]);
    assert!(
        unlock.status.success(),
        "tessera unlock through the app: {}",
        String::from_utf8_lossy(&unlock.stderr)
    );
    assert_eq!(
        home.unlocked(),
        Some(true),
        "the app's vault is not unlocked"
    );

    let pid = rustix::process::Pid::from_raw(app.child().id() as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
    let status = wait_for("the app to exit", Duration::from_secs(30), || {
        app.child().try_wait().unwrap()
    });
    let left = app.stop();
    assert!(left.is_empty(), "the app left processes running: {left:?}");
    let stderr = std::fs::read_to_string(&stderr).unwrap_or_default();
    (home, status, stderr)
}

fn assert_stopped_cleanly(home: &Home, status: std::process::ExitStatus, stderr: &str) {
    assert_eq!(
        status.code(),
        Some(0),
        "the app did not exit 0 ({status}); its stderr:\n{stderr}"
    );
    assert!(
        !home.socket().exists(),
        "the app left {} behind",
        home.socket().display()
    );
    // Nothing holds the vault open any more: the next command finds it locked.
    assert_eq!(home.unlocked(), Some(false));
    let out = home.tessera(&["list"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "tessera list after the app quit"
    );
}

#[test]
fn sigterm_locks_the_app_removes_its_socket_and_exits_0() {
    let (home, status, stderr) = stop_with(rustix::process::Signal::TERM);
    assert_stopped_cleanly(&home, status, &stderr);
}

#[test]
fn ctrl_c_sigint_locks_the_app_removes_its_socket_and_exits_0() {
    let (home, status, stderr) = stop_with(rustix::process::Signal::INT);
    assert_stopped_cleanly(&home, status, &stderr);
}

#[test]
fn a_webdriver_session_leaves_no_driver_or_app_running() {
    let (_x, display) = xvfb();
    let home = Home::new(display);
    let vars = home.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Session::start(Path::new(&bin("tessera-app")), &vars);
    s.testid("unlock-password");
    // Asserts that tauri-driver, WebKitWebDriver and the app are all gone.
    s.close();
}
