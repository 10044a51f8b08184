//! `cargo xtask`: the project's own commands.
//!
//! * `cargo xtask run [ARGS...]` installs what the app needs and runs it (for now the `tessera`
//!   CLI; with no arguments it prints the CLI's help).
//! * `cargo xtask test` installs what the tests need and runs every check CI runs: formatting,
//!   clippy, the dependency-generation check and the whole test suite.
//! * `cargo xtask bench` runs the benchmarks and prints the figures for `docs/PERFORMANCE.md`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Debian packages the tests need, with the command that shows each is present.
const TEST_PACKAGES: &[(&str, &str)] = &[("openssh-client", "ssh-keygen")];

/// Crates of which the dependency tree must hold exactly one version (one RustCrypto generation).
const SINGLE_VERSION: &[&str] = &[
    "digest",
    "sha1",
    "sha2",
    "hmac",
    "rand_core",
    "rand",
    "getrandom",
    "aead",
    "cipher",
    "curve25519-dalek",
    "signature",
    "zeroize",
];

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    std::env::set_current_dir(&root).context("entering the workspace root")?;
    match cmd.as_str() {
        "run" => run(&rest),
        "test" => test(),
        "bench" => bench(&rest),
        _ => {
            eprintln!("usage: cargo xtask <run [ARGS...] | test | bench [NAME]>");
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

fn run(args: &[String]) -> Result<()> {
    cargo(&["build", "--release", "-p", "tessera-cli"])?;
    let target = target_dir();
    let bin = target.join("release/tessera");
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

fn test() -> Result<()> {
    ensure_packages(TEST_PACKAGES)?;
    step("PostgreSQL on 127.0.0.1:5432", ensure_postgres)?;
    step("formatting", || cargo(&["fmt", "--all", "--", "--check"]))?;
    step("one RustCrypto generation", check_single_versions)?;
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
    step("tests", run_tests)?;
    Ok(())
}

/// `cargo test --workspace`, its output passed through, closing with one total line
/// (`N passed, N failed`) so a reader of the log sees the whole count at the end.
fn run_tests() -> Result<()> {
    use std::io::{BufRead, Write};
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["test", "--workspace"])
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
    writeln!(
        stdout.lock(),
        "\nall tests: {passed} passed, {failed} failed"
    )?;
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

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
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

/// Install the Debian packages whose marker command is missing (needs root, as on CI).
fn ensure_packages(pkgs: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = pkgs
        .iter()
        .filter(|(_, marker)| !have(marker))
        .map(|(p, _)| *p)
        .collect();
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
        ensure_packages(&[("postgresql", "pg_ctlcluster")])?;
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

/// Fail when the normal dependency tree holds two versions of a crate that must be single.
fn check_single_versions() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--workspace",
            "-d",
            "-e",
            "normal",
            "--prefix",
            "depth",
            "--format",
            "{p}",
        ])
        .output()
        .context("running cargo tree -d")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Depth-0 lines are the duplicated crates themselves; deeper lines are their dependents.
    let dups: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix('0'))
        .filter(|l| {
            SINGLE_VERSION
                .iter()
                .any(|c| l.split(' ').next() == Some(*c))
        })
        .collect();
    if !dups.is_empty() {
        bail!("more than one version of: {}", dups.join(", "));
    }
    Ok(())
}
