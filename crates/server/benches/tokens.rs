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

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tessera_core::item::{FieldKind, ItemData, ItemKind};
use tessera_core::vault::{Credentials, Vault};
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;

const PASSWORD: &[u8] = b"benchmark master password";
const REFS: usize = 20;
const RUNS: usize = 31;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tessera-server"))
}

fn tessera_bin() -> PathBuf {
    let p = server_bin().with_file_name("tessera");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --release -p tessera-cli` first",
        p.display()
    );
    p
}

fn start(db: Option<&str>, data: &std::path::Path) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(server_bin());
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data);
    if let Some(u) = db {
        cmd.args(["--database-url", u]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    (Server(child), format!("http://127.0.0.1:{port}"))
}

fn percentiles(mut t: Vec<f64>) -> (f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[t.len() * 95 / 100])
}

fn bench(label: &str, db: Option<&str>) -> f64 {
    let data = tempfile::tempdir().unwrap();
    let (_server, url) = start(db, data.path());
    let dir = tempfile::tempdir().unwrap();
    let sk = AccountSecretKey::generate();
    let mut alice = Vault::create(
        &dir.path().join("v.sqlite"),
        PASSWORD,
        &sk,
        KdfParams::FLOOR,
    )
    .unwrap();
    alice
        .create_team(
            &url,
            &Credentials {
                email: "alice@example.com",
                device: "bench",
                password: PASSWORD,
                secret_key: &sk,
            },
        )
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
    let (p50, p95) = percentiles((0..RUNS).map(|_| run(false)).collect());
    let (m50, m95) = percentiles((0..RUNS).map(|_| run(true)).collect());
    println!(
        "{label}: tessera run with a machine token, {REFS} references, start to exec of the child: \
         median {p50:.1} ms, p95 {p95:.1} ms (output masked: median {m50:.1} ms, p95 {m95:.1} ms)"
    );
    p50
}

fn main() {
    let sqlite = bench("SQLite", None);
    assert!(
        sqlite < 100.0,
        "tessera run with a token took {sqlite:.1} ms"
    );
    let db = format!("tessera_bench_tokens_{}", std::process::id());
    let psql = |sql: &str| {
        Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .output()
            .unwrap()
    };
    if psql(&format!("CREATE DATABASE {db}")).status.success() {
        let pg = bench(
            "PostgreSQL",
            Some(&format!("postgres://postgres@127.0.0.1:5432/{db}")),
        );
        psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        assert!(pg < 100.0, "tessera run with a token took {pg:.1} ms");
    } else {
        println!("PostgreSQL: skipped (no server on 127.0.0.1:5432)");
    }
}
