//! Sync benchmarks against the release `tessera-server` binary over loopback, on SQLite and
//! PostgreSQL: `cargo bench -p tessera-server --bench sync`.
//!
//! 1. A 10,000-item vault links to a new team and pushes everything; a second device signs in
//!    and pulls it all (the "first sync": prelogin, KDF, login, pull, authenticate and decrypt
//!    every version, load the vault).
//! 2. Load: 200 concurrent clients (each its own account), each pushing one change then pulling,
//!    in a loop for `TESSERA_LOAD_SECONDS` (default 60) seconds: requests/s, p50/p99 latency and
//!    errors. Twice: flat out (no pause: a closed loop that saturates the machine, where latency
//!    is concurrency / throughput), and paced at one push+pull per client per second (what 200
//!    busy desktop clients send).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../core/benches/support/corpus.rs"]
mod corpus;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{psql, start, PASSWORD};
use tessera_core::vault::{Credentials, Vault};
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;
use tessera_protocol as proto;

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn first_sync(label: &str, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let sk = AccountSecretKey::generate();
    let mut a = Vault::create(
        &dir.path().join("a.sqlite"),
        PASSWORD,
        &sk,
        KdfParams::DEFAULT,
    )
    .unwrap();
    a.add_many(
        corpus::items(10_000, 5)
            .iter()
            .map(|i| i.data.duplicate())
            .collect(),
    )
    .unwrap();
    let creds = Credentials {
        email: "bench@example.com",
        device: "laptop",
        password: PASSWORD,
        secret_key: &sk,
    };
    a.create_team(url, &creds).unwrap();
    let t = Instant::now();
    let pushed = a.sync().unwrap().pushed;
    let push = t.elapsed();
    assert_eq!(pushed, 10_000);
    let device = Credentials {
        device: "desktop",
        ..creds
    };
    let t = Instant::now();
    let b =
        Vault::login_new_device(&dir.path().join("b.sqlite"), url, &device, None, None).unwrap();
    let first = t.elapsed();
    assert_eq!(b.len(), 10_000);
    println!(
        "{label:<11} push 10,000 items (first upload)                 {:>9}",
        secs(push)
    );
    println!(
        "{label:<11} first sync of a new device, 10,000 items         {:>9}",
        secs(first)
    );
    println!("{label:<11}   (KDF twice included: auth key, then unlock)");
    propagation(label, a, b);
}

/// One-item change on device A until device B, following the change stream, has pulled it.
fn propagation(label: &str, mut a: Vault, b: Vault) {
    use std::sync::mpsc;
    let b = Arc::new(std::sync::Mutex::new(b));
    let (seen_tx, seen_rx) = mpsc::channel::<usize>();
    let events = b.lock().unwrap().change_events().unwrap().unwrap();
    std::thread::spawn({
        let b = Arc::clone(&b);
        move || {
            for () in events {
                let mut v = b.lock().unwrap();
                v.sync().unwrap();
                if seen_tx.send(v.len()).is_err() {
                    return;
                }
            }
        }
    });
    let mut times = Vec::new();
    for i in 0..30 {
        let before = b.lock().unwrap().len();
        let t = Instant::now();
        let note = tessera_core::item::ItemData::new(
            tessera_core::item::ItemKind::SecureNote,
            format!("note {i}"),
        );
        a.add(note).unwrap();
        a.sync().unwrap();
        while seen_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("device B saw no change within 10 s")
            <= before
        {}
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{label:<11} one-item change seen by another device, median of 30 {:>6.1} ms (max {:.1} ms)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

fn call<T: serde::de::DeserializeOwned>(
    req: ureq::RequestBuilder<ureq::typestate::WithBody>,
    body: &impl serde::Serialize,
) -> Result<T, String> {
    let mut resp = req
        .header("tessera-api", "1")
        .send_json(body)
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    resp.body_mut().read_json().map_err(|e| e.to_string())
}

fn random<const N: usize>() -> Vec<u8> {
    let mut b = [0u8; N];
    tessera_crypto::random_bytes(&mut b);
    b.to_vec()
}

/// A protocol-level account (random keys: the server cannot tell).
fn new_account(agent: &ureq::Agent, url: &str, n: usize) -> String {
    let header = random::<92>();
    let req = proto::CreateTeamRequest {
        root_public: proto::Blob(random::<32>()),
        admin: proto::NewAccount {
            account_id: proto::Id(random::<16>().try_into().unwrap()),
            email: format!(
                "load{n}-{}@example.com",
                proto::Id(random::<16>().try_into().unwrap())
            ),
            device_name: "load".into(),
            auth_key: proto::Blob(random::<32>()),
            kdf: proto::KdfInfo {
                memory_kib: 65536,
                iterations: 3,
                parallelism: 4,
                salt: proto::Blob(random::<16>()),
            },
            keys: proto::AccountKeys {
                exchange_public: proto::Blob(random::<32>()),
                signing_public: proto::Blob(random::<32>()),
                header: proto::Blob(header),
                wrapped_keyset: proto::Blob(random::<125>()),
            },
        },
    };
    let r: proto::LoginResponse = call(agent.post(format!("{url}/v1/teams")), &req).unwrap();
    r.session.token
}

/// One load client: push one change, pull, (pause,) repeat until stopped.
fn client_loop(
    url: &str,
    token: &str,
    pace: Option<Duration>,
    stop: &AtomicBool,
) -> (Vec<Duration>, usize) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let auth = format!("Bearer {token}");
    let item = proto::Id(random::<16>().try_into().unwrap());
    let (mut version, mut cursor) = (0u64, 0u64);
    let (mut lat, mut errors) = (Vec::new(), 0usize);
    // Paced clients start spread over the period, as independent desktops would.
    if let Some(p) = pace {
        let spread =
            u64::from_le_bytes(random::<8>().try_into().unwrap()) % (p.as_millis() as u64).max(1);
        std::thread::sleep(Duration::from_millis(spread));
    }
    while !stop.load(Ordering::Relaxed) {
        let cycle = Instant::now();
        let push = proto::PushRequest {
            changes: vec![proto::PushChange {
                item_id: item,
                base_version: version,
                version: version + 1,
                deleted: false,
                blob: proto::Blob(random::<400>()),
            }],
        };
        let t = Instant::now();
        match call::<proto::PushResponse>(
            agent
                .post(format!("{url}/v1/sync"))
                .header("authorization", &auth),
            &push,
        ) {
            Ok(_) => version += 1,
            Err(_) => errors += 1,
        }
        lat.push(t.elapsed());
        let t = Instant::now();
        let pulled = agent
            .get(format!("{url}/v1/sync?since={cursor}"))
            .header("tessera-api", "1")
            .header("authorization", &auth)
            .call()
            .map_err(|e| e.to_string())
            .and_then(|mut r| {
                if r.status().is_success() {
                    r.body_mut()
                        .read_json::<proto::PullResponse>()
                        .map_err(|e| e.to_string())
                } else {
                    Err(format!("HTTP {}", r.status()))
                }
            });
        match pulled {
            Ok(p) => cursor = p.cursor,
            Err(_) => errors += 1,
        }
        lat.push(t.elapsed());
        if let Some(p) = pace {
            std::thread::sleep(p.saturating_sub(cycle.elapsed()));
        }
    }
    (lat, errors)
}

fn load(label: &str, url: &str, pace: Option<Duration>) {
    const CLIENTS: usize = 200;
    let seconds: u64 = std::env::var("TESSERA_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    if seconds == 0 {
        return;
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections_per_host(0)
        .build()
        .into();
    let tokens: Vec<String> = (0..CLIENTS).map(|n| new_account(&agent, url, n)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let url = url.to_owned();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || client_loop(&url, &token, pace, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    let mode = if pace.is_some() {
        "paced 1/s"
    } else {
        "flat out "
    };
    println!(
        "{label:<11} load {mode}, {CLIENTS} clients x {seconds} s: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} requests, {errors} errors",
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        all.len()
    );
}

fn main() {
    println!(
        "tessera-server sync benchmarks (release, loopback, 2 cores shared by client and server)"
    );
    {
        let data = tempfile::tempdir().unwrap();
        let (_server, url) = start(None, data.path());
        first_sync("SQLite", &url);
        load("SQLite", &url, None);
        load("SQLite", &url, Some(Duration::from_secs(1)));
    }
    let db = format!("tessera_bench_{}", std::process::id());
    assert!(
        psql(&format!("CREATE DATABASE {db}")),
        "PostgreSQL must run on 127.0.0.1:5432"
    );
    {
        let data = tempfile::tempdir().unwrap();
        let (_server, url) = start(
            Some(&format!("postgres://postgres@127.0.0.1:5432/{db}")),
            data.path(),
        );
        first_sync("PostgreSQL", &url);
        load("PostgreSQL", &url, None);
        load("PostgreSQL", &url, Some(Duration::from_secs(1)));
    }
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
