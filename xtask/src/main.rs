//! `cargo xtask`: the project's own commands.
//!
//! * `cargo xtask run` installs what the desktop app needs (Debian packages, the UI's npm
//!   packages), builds it in release mode and starts it.
//! * `cargo xtask cli [ARGS...]` builds and runs the `tessera` CLI (with no arguments, its help).
//! * `cargo xtask test` installs what the tests need and runs every check CI runs: formatting,
//!   `cargo deny` (licences, one RustCrypto generation, sources), clippy and the whole test
//!   suite.
//! * `cargo xtask bench` runs the benchmarks and prints the figures for `docs/PERFORMANCE.md`.
//! * `cargo xtask dist [--debug]` builds the desktop app's .deb and .rpm (with the CLI inside).
#![forbid(unsafe_code)]

mod display;
mod dist;
mod ui;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use ui::build_ui;

/// Debian packages the desktop app needs to build and run (Tauri on Linux: WebKitGTK and
/// friends). Node.js and npm come from Debian only when the `npm` command is missing: a
/// machine may have them from elsewhere (NodeSource's nodejs bundles npm and conflicts with
/// Debian's npm package).
const APP_PACKAGES: &[&str] = &[
    "pkg-config",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    "libsoup-3.0-dev",
    "libxdo-dev",
    "fonts-dejavu-core",
    // The tray icon (libayatana-appindicator, pulled in by its -dev package above) talks to
    // the desktop over the D-Bus session bus; where none is running (SSH with X forwarding, a
    // bare X server, Xvfb) GLib starts one with `dbus-launch`, which this package provides.
    "dbus-x11",
];

/// Debian packages the tests need besides: `ssh-keygen` reads the keys we write, `openssl`
/// makes throwaway TLS certificates (and `curl` talks HTTPS to the server in its process tests),
/// `rpm` lists what the .rpm holds, `oathtool`
/// computes TOTP codes independently, Xvfb + WebKitWebDriver run the desktop app headless for
/// the end-to-end tests, `xclip` reads the clipboard they copy to, `systemd-analyze` and
/// `systemd-sysusers` check the server's unit and sysusers files (crates/server/tests/deploy.rs;
/// neither needs systemd running).
const TEST_PACKAGES: &[&str] = &[
    "openssh-client",
    "openssl",
    "curl",
    "rpm",
    "oathtool",
    "xvfb",
    "webkit2gtk-driver",
    "xclip",
    "systemd",
];

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    std::env::set_current_dir(&root).context("entering the workspace root")?;
    match cmd.as_str() {
        "run" => run(),
        "cli" => cli(&rest),
        "test" => test(),
        "bench" => bench(&rest),
        "dist" => dist::dist(&rest).map(|_| ()),
        _ => {
            eprintln!(
                "usage: cargo xtask <run | cli [ARGS...] | test | bench [NAME] | dist [--debug]>"
            );
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Ok(dir
        .parent()
        .context("xtask lives one level below the workspace root")?
        .to_path_buf())
}

fn run() -> Result<()> {
    // First: without a display the app cannot start, and the build takes many minutes.
    // A plain message (not an error with a backtrace): nothing is wrong with the build.
    if let Err(e) = display::ensure_display() {
        eprintln!("cargo xtask run: {e}");
        std::process::exit(1);
    }
    ensure_packages(APP_PACKAGES)?;
    step("UI", || build_ui(false))?;
    step("desktop app", || {
        cargo(&["build", "--release", "-p", "tessera-app"])
    })?;
    let bin = target_dir().join("release/tessera-app");
    let status = Command::new(&bin)
        .status()
        .with_context(|| format!("starting {}", bin.display()))?;
    std::process::exit(app_exit_code(status));
}

/// `cargo xtask run`'s exit code for the app's exit: its own code; 0 when SIGTERM or SIGINT
/// ended it (a stop asked for, not a failure: the app handles both by quitting cleanly, so
/// this only happens when one arrives before it has started); 128 + N for another signal N.
fn app_exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(SIGINT | SIGTERM)) => 0,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    }
}

fn cli(args: &[String]) -> Result<()> {
    cargo(&["build", "--release", "-p", "tessera-cli"])?;
    let bin = target_dir().join("release/tessera");
    let args: Vec<String> = if args.is_empty() {
        vec!["--help".into()]
    } else {
        args.to_vec()
    };
    let status = Command::new(&bin)
        .args(&args)
        .status()
        .with_context(|| format!("starting {}", bin.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}

/// A tool built with `cargo install` (`krate` at the newest `version` that matches, with its
/// locked dependencies) into `target/tools` of the build's target directory, so CI reuses it
/// from one run to the next; returns the path of its binary.
fn ensure_tool(krate: &str, version: &str) -> Result<PathBuf> {
    let root = std::path::absolute(target_dir().join("tools")).context("resolving target/tools")?;
    let bin = root.join("bin").join(krate);
    if !is_executable(&bin) {
        let root_arg = root.display().to_string();
        cargo(&[
            "install",
            krate,
            "--locked",
            "--version",
            version,
            "--root",
            &root_arg,
        ])?;
    }
    Ok(bin)
}

/// `cargo deny` with the rules in deny.toml: licences, banned and duplicated crates (one
/// RustCrypto generation), crates.io as the only source. Warnings fail too (such as a licence
/// the list allows that no crate uses any more). Not `advisories`: the advisory database is a
/// git repository on GitHub, which CI cannot reach (README, Development).
fn cargo_deny(bin: &Path) -> Result<()> {
    let args = [
        "deny", "check", "--deny", "warnings", "licenses", "bans", "sources",
    ];
    let status = Command::new(bin)
        .args(args)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    if !status.success() {
        bail!(
            "cargo {} failed ({status}); deny.toml says what each rule is for",
            args.join(" ")
        );
    }
    Ok(())
}

fn test() -> Result<()> {
    let tree_before = ui::work_tree_status();
    ensure_packages(&[APP_PACKAGES, TEST_PACKAGES].concat())?;
    step("PostgreSQL on 127.0.0.1:5432", ensure_postgres)?;
    step("formatting", || cargo(&["fmt", "--all", "--", "--check"]))?;
    step("UI: install, svelte-check, component tests, build", || {
        build_ui(true)
    })?;
    let driver = step("tauri-driver", || ensure_tool("tauri-driver", "^2"))?;
    let deny = step("cargo-deny", || ensure_tool("cargo-deny", "^0.20"))?;
    step(
        "cargo deny: licences, one RustCrypto generation, sources",
        || cargo_deny(&deny),
    )?;
    step("clippy", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
    })?;
    // Unit, integration and doc tests. Not `--all-targets`: that would run the benchmark
    // binaries (harness = false) in a debug build; clippy above already compiles them.
    // The end-to-end tests run the `tessera` and `tessera-server` binaries themselves.
    step("binaries", || cargo(&["build", "--workspace", "--bins"]))?;
    step("tests", || run_tests(&driver, &[], "all tests"))?;
    // The packages: built from the debug build the tests used, installed on this machine, then
    // the installed `tessera` and `tessera-app` are run (tests/tests/installed.rs).
    let packages = dist::dist(&["--debug".to_owned()])?;
    step("the .rpm holds the app and the CLI", || {
        rpm_holds_both(&packages.rpm)
    })?;
    step("installing the packages (dpkg -i)", || {
        install_debs(&[&packages.deb, &packages.server_deb])
    })?;
    step("the installed package", || {
        run_tests(
            &driver,
            &["--workspace", "--test", "installed", "--", "--ignored"],
            "installed package tests",
        )
    })?;
    step("the work tree is as the run found it (git status)", || {
        ui::check_work_tree_unchanged(tree_before.as_ref())
    })
}

/// The .rpm cannot be installed on Debian; its file list is checked instead.
fn rpm_holds_both(rpm: &Path) -> Result<()> {
    let out = Command::new("rpm")
        .arg("-qpl")
        .arg(rpm)
        .output()
        .context("running rpm -qpl")?;
    let files = String::from_utf8_lossy(&out.stdout);
    for want in ["/usr/bin/tessera", "/usr/bin/tessera-app"] {
        if !files.lines().any(|l| l == want) {
            bail!("{} lacks {want}; it holds:\n{files}", rpm.display());
        }
    }
    Ok(())
}

fn install_debs(debs: &[&Path]) -> Result<()> {
    if !is_root() {
        bail!("installing the packages needs root (dpkg -i); run `cargo xtask test` as root, as CI does");
    }
    let status = Command::new("dpkg")
        .arg("-i")
        .args(debs)
        .status()
        .context("running dpkg -i")?;
    if !status.success() {
        bail!("dpkg -i failed ({status})");
    }
    Ok(())
}

/// `cargo test --workspace` (or `cargo test ARGS`), its output passed through, closing with
/// one total line (`N passed, N failed`) so a reader of the log sees the whole count at the end.
fn run_tests(tauri_driver: &Path, args: &[&str], label: &str) -> Result<()> {
    use std::io::{BufRead, Write};
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .arg("test")
        .args(if args.is_empty() {
            &["--workspace"]
        } else {
            args
        })
        .env("TAURI_DRIVER", tauri_driver)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running cargo test")?;
    let (mut passed, mut failed) = (0u64, 0u64);
    let stdout = std::io::stdout();
    for line in std::io::BufReader::new(child.stdout.take().context("cargo test stdout")?).lines() {
        let line = line.context("reading cargo test output")?;
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |word: &str| {
                rest.split(';')
                    .find_map(|part| part.trim().strip_suffix(word).map(str::trim))
                    .and_then(|n| n.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
                    .unwrap_or(0)
            };
            passed += count("passed");
            failed += count("failed");
        }
        writeln!(stdout.lock(), "{line}")?;
    }
    let status = child.wait().context("waiting for cargo test")?;
    writeln!(stdout.lock(), "\n{label}: {passed} passed, {failed} failed")?;
    if !status.success() {
        bail!("cargo test failed ({status})");
    }
    Ok(())
}

fn bench(args: &[String]) -> Result<()> {
    let mut cmd = vec!["bench", "--workspace"];
    cmd.extend(args.iter().map(String::as_str));
    cargo(&cmd)
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {name}");
    f().with_context(|| format!("step failed: {name}"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn have(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| is_executable(&d.join(cmd))))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True when Debian's package database has `pkg` installed.
fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", pkg])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"ii"))
}

/// Install the Debian packages that are missing (needs root, as on CI).
fn ensure_packages(pkgs: &[&str]) -> Result<()> {
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("==> installing Debian packages: {}", missing.join(" "));
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |extra: &[&str]| -> Result<()> {
        let mut argv: Vec<&str> = sudo.to_vec();
        argv.extend_from_slice(extra);
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .with_context(|| format!("running {}", argv.join(" ")))?;
        if !status.success() {
            bail!("{} failed ({status})", argv.join(" "));
        }
        Ok(())
    };
    apt(&["apt-get", "update", "-q"])?;
    let mut install = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
    install.extend(missing);
    apt(&install)
}

/// The server's tests run against a real PostgreSQL on 127.0.0.1:5432 that trusts local TCP
/// connections (as the project's machines provide). Start it if it is installed but down;
/// install and configure it if it is missing.
fn ensure_postgres() -> Result<()> {
    let up = || {
        std::net::TcpStream::connect_timeout(
            &"127.0.0.1:5432".parse().expect("a socket address"),
            std::time::Duration::from_secs(2),
        )
        .is_ok()
    };
    if up() {
        return Ok(());
    }
    if !have("pg_ctlcluster") {
        ensure_packages(&["postgresql"])?;
    }
    let versions = std::fs::read_dir("/etc/postgresql")
        .context("PostgreSQL is installed but /etc/postgresql is missing")?;
    for version in versions.flatten() {
        let hba = version.path().join("main/pg_hba.conf");
        let text = std::fs::read_to_string(&hba).unwrap_or_default();
        let line = "host all all 127.0.0.1/32 trust";
        if !text.contains(line) {
            std::fs::write(&hba, format!("# added by cargo xtask test: the test suite connects without a password\n{line}\n{text}"))
                .with_context(|| format!("configuring {}", hba.display()))?;
        }
        let v = version.file_name();
        let status = Command::new("pg_ctlcluster")
            .arg("--skip-systemctl-redirect")
            .arg(&v)
            .args(["main", "start"])
            .status()
            .context("starting PostgreSQL")?;
        if !status.success() {
            eprintln!(
                "pg_ctlcluster {} main start failed ({status})",
                v.to_string_lossy()
            );
        }
    }
    for _ in 0..50 {
        if up() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    bail!("PostgreSQL does not answer on 127.0.0.1:5432")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn exit_of(script: &str) -> i32 {
        app_exit_code(Command::new("sh").args(["-c", script]).status().unwrap())
    }

    /// Stopping the app with SIGTERM or Ctrl+C is a clean stop of `cargo xtask run`.
    #[test]
    fn the_app_ended_by_sigterm_or_sigint_is_a_clean_stop() {
        assert_eq!(exit_of("kill -TERM $$"), 0);
        assert_eq!(exit_of("kill -INT $$"), 0);
        assert_eq!(exit_of("exit 0"), 0);
        assert_eq!(exit_of("exit 3"), 3);
        assert_eq!(exit_of("kill -KILL $$"), 128 + 9);
    }
}
