//! What the benchmarks share: the `tessera-server` binary on a free loopback port, vaults of
//! benchmark accounts, PostgreSQL databases made and dropped, percentiles.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tessera_core::vault::{Credentials, Vault};
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;

/// Every benchmark account's master password.
pub const PASSWORD: &[u8] = b"benchmark master password";

/// A server process, killed when dropped.
pub struct Server(Child);

impl Drop for Server {
    #[allow(clippy::let_underscore_must_use)] // best effort: it may have exited already
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `tessera-server` on SQLite in `data` or on the PostgreSQL database `db`.
pub fn start(db: Option<&str>, data: &std::path::Path) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera-server"));
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

/// Run SQL as `postgres` on 127.0.0.1:5432; whether it worked.
pub fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            sql,
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run `bench` on SQLite, then on a fresh PostgreSQL database (skipped, and said so, when no
/// server runs on 127.0.0.1:5432). Returns the figures of each backend that ran.
pub fn on_both_backends<T>(tag: &str, mut bench: impl FnMut(&str, Option<&str>) -> T) -> Vec<T> {
    let mut out = vec![bench("SQLite", None)];
    let db = format!("tessera_bench_{tag}_{}", std::process::id());
    if psql(&format!("CREATE DATABASE {db}")) {
        out.push(bench(
            "PostgreSQL",
            Some(&format!("postgres://postgres@127.0.0.1:5432/{db}")),
        ));
        psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    } else {
        println!("PostgreSQL: skipped (no server on 127.0.0.1:5432)");
    }
    out
}

/// A new vault in `dir` (floor KDF: the benchmarks time other things).
pub fn vault(dir: &std::path::Path) -> (Vault, AccountSecretKey) {
    let sk = AccountSecretKey::generate();
    let v = Vault::create(&dir.join("v.sqlite"), PASSWORD, &sk, KdfParams::FLOOR).unwrap();
    (v, sk)
}

/// Benchmark credentials.
pub fn creds<'a>(email: &'a str, sk: &'a AccountSecretKey) -> Credentials<'a> {
    Credentials {
        email,
        device: "bench",
        password: PASSWORD,
        secret_key: sk,
    }
}

/// The median and the `pct` percentile of durations in milliseconds.
pub fn percentiles(mut t: Vec<f64>, pct: usize) -> (f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[(t.len() * pct / 100).min(t.len() - 1)])
}
