//! `cargo xtask run` on a machine without a graphical session stops at once, before installing
//! or building anything, and says how to get one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `xtask run` with `env` set (and no display otherwise); returns exit code and stderr.
/// Killed after 30 s: a run that got past the check would go on to install and build.
fn run_without_a_display(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("run")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(30) {
            #[allow(clippy::let_underscore_must_use)] // it may have exited already
            let _ = child.kill();
            #[allow(clippy::let_underscore_must_use)] // it is killed: only reaping is left
            let _ = child.wait();
            panic!("`cargo xtask run` without a display did not stop at once");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn without_a_display_run_says_it_needs_a_graphical_session_before_building() {
    let (code, stderr) = run_without_a_display(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("neither DISPLAY nor WAYLAND_DISPLAY is set"),
        "{stderr}"
    );
    assert!(stderr.contains("needs a graphical session"), "{stderr}");
    assert!(stderr.contains("ssh -X"), "{stderr}");
    // Nothing was installed or built: no step started.
    assert!(!stderr.contains("==>"), "{stderr}");
}

#[test]
fn a_display_nobody_serves_is_named() {
    let (code, stderr) = run_without_a_display(&[("DISPLAY", ":64999")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("DISPLAY=:64999"), "{stderr}");
    assert!(stderr.contains("/tmp/.X11-unix/X64999"), "{stderr}");
    assert!(!stderr.contains("==>"), "{stderr}");
}
