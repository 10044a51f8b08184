//! CLI start-up and `tessera run` timings: `cargo bench -p tessera-cli --bench cli`.
//!
//! Runs the release `tessera` binary as a script would: `--version`, `--help`, and `run` with a
//! 20-variable environment set, through the agent (KDF excluded) and unlocking in-process from a
//! password file (KDF included). The child is `true`, so each figure is start to exec plus the
//! few hundred microseconds `true` takes.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::semicolon_if_nothing_returned
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tessera(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.env("TESSERA_HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut v: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

fn row(name: &str, (median, p95): (Duration, Duration)) {
    println!(
        "{name:<60} median {:>7.2} ms   p95 {:>7.2} ms",
        median.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3
    );
}

fn ok(c: &mut Command) {
    let s = c.status().unwrap();
    assert!(s.success(), "{c:?} failed");
}

fn main() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let pw = h.join("pw");
    std::fs::write(&pw, "benchmark orbit lantern cobalt 42\n").unwrap();
    let pw = pw.to_str().unwrap();
    ok(tessera(h).args(["init", "--password-file", pw]));
    ok(tessera(h).args(["unlock", "--password-file", pw]));
    let fields: Vec<serde_json::Value> = (0..20)
        .map(|i| serde_json::json!({"name": format!("VAR_{i}"), "kind": "concealed", "value": format!("value-{i}-0123456789abcdef")}))
        .collect();
    let items = h.join("items.json");
    std::fs::write(
        &items,
        serde_json::json!([{"kind": "env_set", "title": "env20", "fields": fields}]).to_string(),
    )
    .unwrap();
    ok(tessera(h).args(["import", items.to_str().unwrap()]));

    println!("tessera CLI timings (release build)");
    row(
        "tessera --version",
        time(50, || ok(tessera(h).arg("--version"))),
    );
    row("tessera --help", time(50, || ok(tessera(h).arg("--help"))));
    row(
        "tessera run, 20 variables, agent unlocked (KDF excluded)",
        time(30, || {
            ok(tessera(h).args(["run", "-e", "env20", "--no-mask", "--", "true"]))
        }),
    );
    row(
        "  same, output masked (default)",
        time(30, || {
            ok(tessera(h).args(["run", "-e", "env20", "--", "true"]))
        }),
    );
    ok(tessera(h).arg("lock"));
    row(
        "tessera run, 20 variables, locked, --password-file (KDF incl.)",
        time(7, || {
            ok(tessera(h).args([
                "run",
                "-e",
                "env20",
                "--no-mask",
                "--password-file",
                pw,
                "--",
                "true",
            ]))
        }),
    );
}
