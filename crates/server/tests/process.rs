//! The real `tessera-server` binary: killed (SIGKILL) in the middle of pushes and restarted on
//! the same data, on SQLite and PostgreSQL; serving HTTPS with `--tls-cert`/`--tls-key`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use rand::Rng as _;
use serde_json::{json, Value};
use support::http::{create_team, hex_id, str_of, user, Api, B64};
use support::process::{free_port, Proc};
use support::PgDatabase;

/// What the client knows the server acknowledged, per item: (version, deleted, blob, seq).
type Acked = HashMap<String, (u64, bool, Vec<u8>, u64)>;

/// One change the client pushes: (item, base version, deleted, blob).
type Change = (String, u64, bool, Vec<u8>);

fn push_json(batch: &[Change]) -> Value {
    let changes: Vec<Value> = batch
        .iter()
        .map(|(item, base, deleted, blob)| {
            json!({"item_id": item, "base_version": base, "version": base + 1,
                   "deleted": deleted, "blob": B64.encode(blob)})
        })
        .collect();
    json!({ "changes": changes })
}

/// Push a batch: the results when the server answered, `None` when the connection failed (the
/// server died). Every change must be applied: this client is the only writer.
fn push(agent: &ureq::Agent, base: &str, token: &str, batch: &[Change]) -> Option<Vec<u64>> {
    let res = agent
        .post(format!("{base}/v1/sync"))
        .header("tessera-api", "1")
        .header("authorization", format!("Bearer {token}"))
        .send_json(push_json(batch));
    let mut res = res.ok()?;
    let status = res.status().as_u16();
    let v: Value = res.body_mut().read_json().ok()?;
    assert_eq!(status, 200, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), batch.len());
    Some(
        results
            .iter()
            .zip(batch)
            .map(|(r, (item, base, ..))| {
                assert_eq!(r["result"], "applied", "{r}");
                assert_eq!(&str_of(&r["item_id"]), item);
                assert_eq!(r["version"].as_u64().unwrap(), base + 1);
                r["seq"].as_u64().unwrap()
            })
            .collect(),
    )
}

fn record(acked: &mut Acked, batch: &[Change], seqs: &[u64]) {
    for ((item, base, deleted, blob), seq) in batch.iter().zip(seqs) {
        acked.insert(item.clone(), (base + 1, *deleted, blob.clone(), *seq));
    }
}

/// A random batch of 1 to 20 changes to distinct items: new items, edits and deletions of
/// acknowledged ones.
fn random_batch(acked: &Acked, n: &mut u64) -> Vec<Change> {
    let mut rng = rand::thread_rng();
    let mut batch: Vec<Change> = Vec::new();
    let mut used = HashSet::new();
    let existing: Vec<&String> = acked.keys().collect();
    for _ in 0..rng.gen_range(1..=20) {
        *n += 1;
        let blob = format!("blob {n}").into_bytes();
        if !existing.is_empty() && rng.gen_bool(0.5) {
            let item = existing[rng.gen_range(0..existing.len())];
            if !used.insert(item.clone()) {
                continue;
            }
            let (version, ..) = acked[item];
            if rng.gen_bool(0.1) {
                batch.push((item.clone(), version, true, Vec::new()));
            } else {
                batch.push((item.clone(), version, false, blob));
            }
        } else {
            batch.push((hex_id(), 0, false, blob));
        }
    }
    batch
}

/// Pull everything; every item exactly once, in its acknowledged state, seq values unique.
fn check(api: &Api, token: &str, acked: &Acked) {
    let mut seen: HashMap<String, (u64, bool, Vec<u8>, u64)> = HashMap::new();
    let mut seqs = HashSet::new();
    let mut since = 0;
    loop {
        let v = api.ok("GET", &format!("/v1/sync?since={since}"), Some(token), None);
        for c in v["changes"].as_array().unwrap() {
            let item = str_of(&c["item_id"]);
            let seq = c["seq"].as_u64().unwrap();
            assert!(seqs.insert(seq), "seq {seq} twice");
            let rec = (
                c["version"].as_u64().unwrap(),
                c["deleted"].as_bool().unwrap(),
                B64.decode(str_of(&c["blob"])).unwrap(),
                seq,
            );
            assert!(seen.insert(item.clone(), rec).is_none(), "{item} twice");
        }
        since = v["cursor"].as_u64().unwrap();
        if v["more"] != true {
            break;
        }
    }
    assert_eq!(seen.len(), acked.len(), "items lost or invented");
    for (item, want) in acked {
        assert_eq!(seen.get(item), Some(want), "{item}");
    }
}

/// Push in a loop from another thread, SIGKILL the server at a random point, restart it on the
/// same data and port, resend what was not acknowledged: nothing acknowledged is lost or
/// doubled, resends are applied once. Five rounds.
fn killed_mid_push_and_restarted(args: &[String], dir: &Path) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut args = args.to_vec();
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    let log = dir.join("server.log");
    let api = Api::new(base.clone());
    let mut server = Proc::start(&args, &log, &base);
    let (_, _, token) = create_team(&api, &user("crash@example.com"));
    let mut acked = Acked::new();
    let mut n = 0u64;
    let mut last_acked: Vec<Change> = Vec::new();
    let (mut pushes, mut unacked_resent, mut committed_before_kill) = (0u32, 0u32, 0u32);
    for round in 0..5 {
        let pusher = {
            let (base, token) = (base.clone(), token.clone());
            let mut acked = acked.clone();
            let mut last = last_acked.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(20)))
                    .build()
                    .into();
                let mut pushes = 0u32;
                loop {
                    let batch = random_batch(&acked, &mut n);
                    match push(&agent, &base, &token, &batch) {
                        Some(seqs) => {
                            record(&mut acked, &batch, &seqs);
                            last = batch;
                            pushes += 1;
                        }
                        None => return (acked, last, batch, n, pushes),
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(rand::thread_rng().gen_range(50..500)));
        server.kill();
        let (a, last, unacked, n2, p) = pusher.join().unwrap();
        (acked, last_acked, n, pushes) = (a, last, n2, pushes + p);
        server = Proc::start(&args, &log, &base);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        // The batch the client never saw answered: applied now, or already (a resend).
        let max_seq = acked.values().map(|a| a.3).max().unwrap_or(0);
        let seqs = push(&agent, &base, &token, &unacked).expect("the restarted server answers");
        if seqs.iter().all(|&s| s <= max_seq) {
            committed_before_kill += 1;
        }
        record(&mut acked, &unacked, &seqs);
        unacked_resent += 1;
        // Resending it again, and resending the last acknowledged batch (its items the
        // unacknowledged one did not move on), changes nothing: same versions, same seqs.
        let touched: HashSet<&String> = unacked.iter().map(|c| &c.0).collect();
        let mut resend: Vec<Change> = last_acked
            .iter()
            .filter(|c| !touched.contains(&c.0))
            .cloned()
            .collect();
        resend.extend(unacked.iter().cloned());
        let before = acked.clone();
        let seqs = push(&agent, &base, &token, &resend).unwrap();
        let mut again = acked.clone();
        record(&mut again, &resend, &seqs);
        assert_eq!(again, before, "round {round}: a resend moved something");
        last_acked = unacked;
        check(&api, &token, &acked);
    }
    assert!(pushes > 0, "no push was acknowledged before the kills");
    eprintln!(
        "{pushes} acknowledged pushes, {unacked_resent} unacknowledged batches resent \
         ({committed_before_kill} of them had committed before the kill), {} items",
        acked.len()
    );
    server.kill();
}

#[test]
fn sqlite_killed_mid_push_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    killed_mid_push_and_restarted(
        &["--data-dir".into(), data.display().to_string()],
        dir.path(),
    );
}

#[test]
fn postgres_killed_mid_push_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, url) = PgDatabase::create();
    killed_mid_push_and_restarted(&["--database-url".into(), url], dir.path());
}

/// `curl` with `args`: (success, stdout).
fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A self-signed P-256 certificate for 127.0.0.1 from the `openssl` CLI: (cert, key).
fn self_signed(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args(["-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(status.success());
    (cert.display().to_string(), key.display().to_string())
}

/// `--tls-cert`/`--tls-key`: `/healthz` over HTTPS with the certificate as the only trust
/// anchor; plain HTTP to the same port and HTTPS without trusting the certificate fail. With TLS
/// a non-loopback address is allowed; without it, it is refused.
#[test]
fn tls_serves_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let data = dir.path().join("data").display().to_string();
    let log = dir.path().join("server.log");
    let port = free_port();
    let https = format!("https://127.0.0.1:{port}/healthz");
    let args: Vec<String> = [
        "--data-dir",
        &data,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--listen",
        // Any address is allowed with TLS; the test reaches it on 127.0.0.1.
        &format!("0.0.0.0:{port}"),
    ]
    .map(str::to_owned)
    .to_vec();
    let server = Proc::start_until(&args, &log, || curl(&["--cacert", &cert, &https]).0);

    let (ok, body) = curl(&["--cacert", &cert, &https]);
    assert!(ok);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    // The certificate is not otherwise trusted.
    assert!(!curl(&[&https]).0);
    // Plain HTTP to the TLS port fails.
    let (ok, body) = curl(&[&format!("http://127.0.0.1:{port}/healthz")]);
    assert!(!ok, "plain HTTP answered: {body}");
    assert!(ureq::get(format!("http://127.0.0.1:{port}/healthz"))
        .call()
        .is_err());
    // The API works over TLS (an authenticated call, then a pull).
    let (ok, body) = curl(&[
        "--cacert",
        &cert,
        "-H",
        "tessera-api: 1",
        &format!("https://127.0.0.1:{port}/v1/sync"),
    ]);
    assert!(ok);
    assert!(body.contains("unauthorized"), "{body}");
    server.kill();

    // Without TLS, a non-loopback address is refused, and the message says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args([
            "--data-dir",
            &data,
            "--listen",
            &format!("0.0.0.0:{}", free_port()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-cert"));
    // A key that is not a key is refused at startup, without echoing the file.
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(["--data-dir", &data, "--tls-cert", &cert, "--tls-key", &cert])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("private key"), "{err}");
    assert!(!err.contains("BEGIN"), "{err}");
}
