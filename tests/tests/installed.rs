//! The installed .deb. `cargo xtask test` (CI) builds it with `cargo xtask dist --debug`,
//! installs it on the machine with `dpkg -i`, then runs these with `--ignored`: the package
//! holds what it should, `tessera` from the package prints the workspace version and makes a
//! vault, and the installed app starts under Xvfb to that vault's unlock screen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::webdriver::{xvfb, Session};

const NEEDS_PACKAGE: &str =
    "needs the .deb installed: `cargo xtask test` installs it, then runs these";
const CLI: &str = "/usr/bin/tessera";
const APP: &str = "/usr/bin/tessera-app";

#[test]
#[ignore = "needs the .deb installed: `cargo xtask test` installs it, then runs these"]
fn the_package_installs_the_app_the_cli_and_the_desktop_entry() {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version} ${Status}", "tessera"])
        .output()
        .expect("dpkg-query");
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.starts_with(&format!(
            "{} install ok installed",
            env!("CARGO_PKG_VERSION")
        )),
        "{NEEDS_PACKAGE}; dpkg says: {status}"
    );
    let files = Command::new("dpkg")
        .args(["-L", "tessera"])
        .output()
        .unwrap();
    let files = String::from_utf8_lossy(&files.stdout);
    for f in [CLI, APP, "/usr/share/applications/Tessera.desktop"] {
        assert!(
            files.lines().any(|l| l == f),
            "the package lacks {f}:\n{files}"
        );
    }
    // On the PATH, as a user would type it.
    let which = Command::new("sh")
        .args(["-c", "command -v tessera"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&which.stdout).trim(), CLI);
}

#[test]
#[ignore = "needs the .deb installed: `cargo xtask test` installs it, then runs these"]
fn the_installed_cli_prints_the_version_and_the_installed_app_opens_its_unlock_screen() {
    let out = Command::new(CLI)
        .arg("--version")
        .output()
        .expect(NEEDS_PACKAGE);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tessera {}", env!("CARGO_PKG_VERSION"))
    );

    // A vault made by the installed CLI, where the app looks for it.
    let home = tempfile::tempdir().unwrap();
    let vault = home.path().join("vault");
    let pw = home.path().join("pw.txt");
    std::fs::write(&pw, "a long enough master password 42\n").unwrap();
    let init = Command::new(CLI)
        .env("TESSERA_HOME", &vault)
        .args(["init", "--password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "tessera init: {}",
        String::from_utf8_lossy(&init.stderr)
    );

    let (_x, display) = xvfb();
    let vars = support::app_env(home.path(), &vault, &display);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Session::start(Path::new(APP), &vars);
    s.testid("unlock-password");
    assert!(s.has_testid("unlock-submit"));
    assert!(
        !s.has_testid("create-password"),
        "the app did not find the vault"
    );
    std::fs::write(home.path().join("installed-unlock.png"), s.screenshot()).unwrap();
    s.close();
}

#[test]
#[ignore = "needs the .deb installed: `cargo xtask test` installs it, then runs these"]
fn the_server_package_installs_a_service_that_serves_with_its_example_configuration() {
    let files = Command::new("dpkg")
        .args(["-L", "tessera-server"])
        .output()
        .unwrap();
    let files = String::from_utf8_lossy(&files.stdout);
    for f in [
        "/usr/bin/tessera-server",
        "/usr/lib/systemd/system/tessera-server.service",
        "/usr/lib/sysusers.d/tessera-server.conf",
        "/etc/tessera/server.toml",
    ] {
        assert!(
            files.lines().any(|l| l == f),
            "{NEEDS_PACKAGE}; the server package lacks {f}:\n{files}"
        );
    }
    let conffiles = Command::new("dpkg-query")
        .args(["-W", "-f=${Conffiles}", "tessera-server"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&conffiles.stdout).contains("/etc/tessera/server.toml"));
    let out = Command::new("/usr/bin/tessera-server")
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tessera-server {}", env!("CARGO_PKG_VERSION"))
    );

    // The installed binary with the installed configuration, its address, data directory and
    // certificate moved to a free loopback port, a temporary directory and a throwaway
    // self-signed pair, answers its own `healthcheck` (GET /healthz over HTTPS).
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is missing: `cargo xtask test` installs it");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = support::webdriver::free_port();
    let overrides = |cmd: &mut Command| {
        cmd.args(["--config", "/etc/tessera/server.toml", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .env_remove("TESSERA_DATABASE_URL");
    };
    let mut serve = Command::new("/usr/bin/tessera-server");
    overrides(&mut serve);
    let mut child = serve.spawn().unwrap();
    let health = support::webdriver::wait_for(
        "the installed server's healthcheck",
        std::time::Duration::from_secs(20),
        || {
            let mut check = Command::new("/usr/bin/tessera-server");
            overrides(&mut check);
            let out = check.arg("healthcheck").output().unwrap();
            out.status
                .success()
                .then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap())
        },
    );
    #[allow(clippy::let_underscore_must_use)] // it may have exited already
    let _ = child.kill();
    #[allow(clippy::let_underscore_must_use)] // it is killed: only reaping is left
    let _ = child.wait();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
}
