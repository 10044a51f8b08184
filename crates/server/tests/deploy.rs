//! The deployment files in `installers/server/`: the systemd unit passes `systemd-analyze
//! verify` and keeps its hardening, the sysusers file parses, the container file points at
//! files that exist and a port the example configuration listens on. And the binary's side of
//! them: `healthcheck` over HTTP and HTTPS, and a clean exit on SIGTERM.
//!
//! The systemd checks need `systemd-analyze` and `systemd-sysusers` (Debian package systemd,
//! which `cargo xtask test` installs) but no running systemd; a missing tool fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn installers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../installers/server")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(installers().join(name)).unwrap()
}

/// Run a tool of Debian package `package`; panics, saying what to install, when it is missing.
fn run(package: &str, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): install Debian package {package}, or run the tests \
             with `cargo xtask test`, which installs it"
            )
        })
}

/// `systemd-analyze verify --man=no` on a copy of `unit` whose ExecStart names the binary
/// built for this test (verify refuses an ExecStart that does not exist). The problems it
/// reports about the unit.
fn verify_unit(unit: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera-server.service");
    let unit = unit.replace(
        "/usr/bin/tessera-server",
        env!("CARGO_BIN_EXE_tessera-server"),
    );
    std::fs::write(&path, unit).unwrap();
    let out = run(
        "systemd",
        "systemd-analyze",
        &["verify", "--man=no", path.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Keep what concerns this unit: without a running systemd, verify may also talk about the
    // machine (other units, the manager).
    let mut problems: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("tessera-server"))
        .map(str::to_owned)
        .collect();
    if !out.status.success() && problems.is_empty() {
        problems.push(format!("exit status {}: {stderr}", out.status));
    }
    problems
}

#[test]
fn the_systemd_unit_verifies_and_catches_mistakes() {
    let unit = read("tessera-server.service");
    let problems = verify_unit(&unit);
    assert!(problems.is_empty(), "{problems:#?}");
    // The check itself works: a misspelt key, a bad value and a missing program are reported.
    for (from, to, want) in [
        ("ProtectSystem=strict", "ProtectSytem=strict", "Unknown key"),
        ("Restart=on-failure", "Restart=sometimes", "sometimes"),
        (
            "ExecStart=/usr/bin/tessera-server",
            "ExecStart=/nonexistent/tessera-server",
            "not executable",
        ),
    ] {
        assert!(unit.contains(from), "{from}");
        let problems = verify_unit(&unit.replace(from, to));
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{to}: {problems:#?}"
        );
    }
}

#[test]
fn the_systemd_unit_keeps_its_hardening() {
    let unit = read("tessera-server.service");
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for want in [
        "ExecStart=/usr/bin/tessera-server --config /etc/tessera/server.toml",
        "User=tessera",
        "StateDirectory=tessera-server",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
    ] {
        assert!(lines.contains(&want), "the unit lacks {want}");
    }
    // The data directory the unit grants is the one the example configuration uses.
    let config = read("tessera-server.toml");
    assert!(config.contains("data_dir = \"/var/lib/tessera-server\""));
    // The user exists through the sysusers file.
    assert!(read("tessera-server.sysusers")
        .lines()
        .any(|l| l.starts_with("u ") && l.split_whitespace().nth(1) == Some("tessera")));
}

/// `systemd-analyze security --offline=yes` (systemd 250 and later) rates the unit; the score
/// docs/DEPLOYMENT.md quotes must not get worse.
#[test]
fn the_systemd_unit_exposure_stays_low() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera-server.service");
    std::fs::write(&path, read("tessera-server.service")).unwrap();
    let out = run(
        "systemd",
        "systemd-analyze",
        &["security", "--offline=yes", path.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let score = stdout
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for tessera-server.service: ")
                .nth(1)
        })
        .unwrap_or_else(|| {
            panic!(
                "systemd-analyze security --offline=yes gave no exposure level (it needs \
                 systemd 250 or later; Debian 12 has 252): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let value: f64 = score.split_whitespace().next().unwrap().parse().unwrap();
    assert!(value <= 1.5, "exposure {score}");
}

#[test]
fn the_sysusers_file_parses() {
    let root = tempfile::tempdir().unwrap();
    let file = installers().join("tessera-server.sysusers");
    let out = run(
        "systemd",
        "systemd-sysusers",
        &[
            &format!("--root={}", root.path().display()),
            "--dry-run",
            file.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Creating user 'tessera'"), "{stderr}");
}

#[test]
fn the_container_file_uses_what_exists() {
    let text = read("Containerfile");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("COPY ") {
            if rest.starts_with("--from") || rest == ". ." {
                continue;
            }
            let source = rest.split_whitespace().next().unwrap();
            assert!(repo.join(source).exists(), "COPY {source}: no such file");
        }
    }
    assert!(text.contains("USER tessera"));
    assert!(text.contains("VOLUME [\"/var/lib/tessera-server\"]"));
    assert!(text.contains("\"healthcheck\"]"));
    // The port it exposes is the one the configuration it ships listens on.
    let file = tessera_server::config::FileConfig::read(&installers().join("tessera-server.toml"))
        .unwrap();
    let port = file.listen.unwrap().port();
    assert!(text.contains(&format!("EXPOSE {port}")), "EXPOSE {port}");
    // The toolchain of the builder image is the pinned one.
    let pinned = std::fs::read_to_string(repo.join("rust-toolchain.toml")).unwrap();
    let channel = pinned
        .lines()
        .find_map(|l| l.strip_prefix("channel = \""))
        .unwrap()
        .trim_end_matches('"');
    let minor = channel.rsplit_once('.').map_or(channel, |(a, _)| a);
    assert!(
        text.contains(&format!("rust:{minor}-slim-bookworm")),
        "{minor}"
    );
}

/// A running server process; killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    #[allow(clippy::let_underscore_must_use)] // best effort: it may have exited already
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn server(config: &Path, log: &Path) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Proc(child)
}

fn healthcheck(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .arg("--config")
        .arg(config)
        .arg("healthcheck")
        .output()
        .unwrap()
}

/// Wait until `healthcheck` succeeds; its output.
fn until_healthy(config: &Path, log: &Path) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = healthcheck(config);
        if out.status.success() {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "never healthy: {}\nlog: {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A self-signed certificate for 127.0.0.1 from the `openssl` command: (cert, key).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = run(
        "openssl",
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=tessera.example.com",
            "-days",
            "1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[test]
fn healthcheck_answers_over_http_and_https_and_fails_when_down() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let plain = dir.path().join("plain.toml");
    std::fs::write(
        &plain,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    // Nothing listens yet.
    let out = healthcheck(&plain);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unhealthy") && err.contains(&port.to_string()),
        "{err}"
    );

    let log = dir.path().join("plain.log");
    let running = server(&plain, &log);
    let out = until_healthy(&plain, &log);
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["status"], "ok");
    drop(running);

    // HTTPS on a wildcard address: the check goes to the loopback address and does not care
    // that the certificate names another host.
    let (cert, key) = self_signed(dir.path());
    let tls = dir.path().join("tls.toml");
    std::fs::write(
        &tls,
        format!(
            "listen = \"0.0.0.0:{}\"\ndata_dir = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            free_port(),
            data.display(),
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let log = dir.path().join("tls.log");
    let _running = server(&tls, &log);
    let out = until_healthy(&tls, &log);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ok\""));
    // A plain-HTTP check of the TLS port fails.
    let wrong = dir.path().join("wrong.toml");
    let text = std::fs::read_to_string(&tls).unwrap();
    let mut kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("tls_")).collect();
    kept.push("insecure_http = true");
    std::fs::write(&wrong, kept.join("\n")).unwrap();
    assert_eq!(healthcheck(&wrong).status.code(), Some(1));
}

/// systemd and container runtimes stop the server with SIGTERM: it logs and exits 0.
#[cfg(unix)]
#[test]
fn sigterm_ends_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\n",
            free_port(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("server.log");
    let mut running = server(&config, &log);
    until_healthy(&config, &log);
    let pid = running.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("shutting down") && log.contains("SIGTERM"),
        "{log}"
    );
}
