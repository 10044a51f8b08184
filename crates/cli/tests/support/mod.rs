//! Runs the real `tessera` binary against a vault in a temporary directory.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASSWORD: &str = "orbit lantern cobalt fjord 42";

pub struct Env {
    pub home: tempfile::TempDir,
    pub pw_file: PathBuf,
    pub tmp: tempfile::TempDir,
}

impl Env {
    /// A fresh home with an initialised vault (not unlocked).
    pub fn init() -> Self {
        let env = Self::empty();
        env.ok(&["init", "--password-file", env.pw()]);
        env
    }

    /// A fresh home with no vault.
    pub fn empty() -> Self {
        let home = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let pw_file = tmp.path().join("pw");
        std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
        Self { home, pw_file, tmp }
    }

    /// Initialised and unlocked.
    pub fn unlocked() -> Self {
        let env = Self::init();
        env.ok(&["unlock", "--password-file", env.pw()]);
        env
    }

    pub fn pw(&self) -> &str {
        self.pw_file.to_str().unwrap()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
        c.env("TESSERA_HOME", self.home.path())
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Run with `input` on standard input.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Run, expect success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "tessera {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Run with input, expect success, return stdout.
    pub fn ok_with_input(&self, args: &[&str], input: &str) -> String {
        let o = self.run_with_input(args, input);
        assert!(
            o.status.success(),
            "tessera {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Run, expect failure with `code`, return stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "tessera {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.run(&["lock"]);
    }
}
