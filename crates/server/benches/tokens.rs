//! `tessera run` in a CI job with a machine token, resolving 20 `tessera://GROUP/ITEM/FIELD`
//! references against the `tessera-server` binary over loopback, on SQLite and PostgreSQL:
//!
//! ```text
//! cargo build --release -p tessera-cli
//! cargo bench -p tessera-server --bench tokens
//! ```
//!
//! The measured span is the whole process as a pipeline runs it, from start to the exec of the
//! child (`--no-mask`, child `true`): parse the token, fetch the keys sealed to it, open them,
//! pull and decrypt the group's items, resolve the references. No vault, no KDF. The release
//! `tessera` binary is taken from beside the server binary (build it first, as above).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::{creds, on_both_backends, percentiles, start, vault};
use tessera_core::item::{FieldKind, ItemData, ItemKind};

const REFS: usize = 20;
const RUNS: usize = 31;

fn tessera_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_tessera-server")).with_file_name("tessera");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --release -p tessera-cli` first",
        p.display()
    );
    p
}

fn bench(label: &str, db: Option<&str>) -> f64 {
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(db, data.path());
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, sk) = vault(dir.path());
    alice
        .create_team(&url, &creds("alice@example.com", &sk))
        .unwrap();
    alice.group_create("Deploy").unwrap();
    let items: Vec<ItemData> = (0..REFS)
        .map(|i| {
            ItemData::new(ItemKind::Login, format!("service-{i}"))
                .with_field("username", FieldKind::Text, "deploy")
                .with_field("password", FieldKind::Concealed, format!("secret-{i:06}"))
        })
        .collect();
    alice.group_import("Deploy", &items).unwrap();
    let now = tessera_core::vault::now();
    let token = alice.token_create("Deploy", "bench", now + 3600).unwrap();
    let home = tempfile::tempdir().unwrap();
    let vars: Vec<String> = (0..REFS)
        .map(|i| format!("V{i}=tessera://Deploy/service-{i}/password"))
        .collect();
    let run = |mask: bool| {
        let mut c = Command::new(tessera_bin());
        c.env_clear()
            .env("HOME", home.path())
            .env("TESSERA_TOKEN", token.token.expose_secret())
            .env("TESSERA_SERVER", &url)
            .arg("run");
        if !mask {
            c.arg("--no-mask");
        }
        for v in &vars {
            c.args(["--env", v]);
        }
        let t = Instant::now();
        let status = c
            .args(["--", "/bin/true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        assert!(status.success(), "tessera run failed");
        ms
    };
    run(false);
    let (p50, p95) = percentiles((0..RUNS).map(|_| run(false)).collect(), 95);
    let (m50, m95) = percentiles((0..RUNS).map(|_| run(true)).collect(), 95);
    println!(
        "{label}: tessera run with a machine token, {REFS} references, start to exec of the child: \
         median {p50:.1} ms, p95 {p95:.1} ms (output masked: median {m50:.1} ms, p95 {m95:.1} ms)"
    );
    p50
}

fn main() {
    for p50 in on_both_backends("tokens", bench) {
        assert!(p50 < 100.0, "tessera run with a token took {p50:.1} ms");
    }
}
