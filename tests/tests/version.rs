//! One version everywhere: the workspace's `Cargo.toml` is the only place it is written. The
//! CLI's and the server's `--version`, the server's `/healthz` and the desktop app (its About
//! box and its packages, through Tauri's fallback to `Cargo.toml`) all report it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::{bin, Server};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn version_of(binary: &str) -> String {
    let out = Command::new(bin(binary)).arg("--version").output().unwrap();
    assert!(out.status.success(), "{binary} --version failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_cli_and_the_server_print_the_workspace_version() {
    assert_eq!(version_of("tessera"), format!("tessera {VERSION}"));
    assert_eq!(
        version_of("tessera-server"),
        format!("tessera-server {VERSION}")
    );
}

#[test]
fn the_health_endpoint_reports_the_workspace_version() {
    let server = Server::start(None);
    let health: serde_json::Value = ureq::get(&format!("{}/healthz", server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], VERSION);
}

#[test]
fn no_other_file_writes_a_version_of_its_own() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Without `version`, Tauri takes the app's (and its .deb's and .rpm's) from Cargo.toml.
    let conf: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("src-tauri/tauri.conf.json")).unwrap(),
    )
    .unwrap();
    assert!(
        conf.get("version").is_none(),
        "tauri.conf.json sets a version"
    );
    for installer in std::fs::read_dir(root.join("installers/desktop")).unwrap() {
        let path = installer.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            v.get("version").is_none(),
            "{} sets a version",
            path.display()
        );
    }
    // Every crate of the workspace inherits the workspace's version.
    for manifest in [
        "crates/crypto",
        "crates/core",
        "crates/protocol",
        "crates/server",
        "crates/cli",
        "src-tauri",
    ] {
        let text = std::fs::read_to_string(root.join(manifest).join("Cargo.toml")).unwrap();
        assert!(
            text.contains("version.workspace = true"),
            "{manifest}/Cargo.toml does not take the workspace version"
        );
    }
}
