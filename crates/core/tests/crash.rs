//! A process writing to the vault is killed with SIGKILL at random points; the vault must open
//! afterwards and hold every write that had returned.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{login, PARAMS, PASSWORD};
use tessera_core::Vault;
use tessera_crypto::AccountSecretKey;

const WRITES: usize = 200;
const ENV_DIR: &str = "TESSERA_CRASH_CHILD_DIR";

/// The writer: run in a child process by `sigkill_during_writes_loses_nothing_that_returned`.
/// It adds items and edits, and prints a line once each write has returned.
#[test]
#[ignore = "helper process started by the crash test"]
fn crash_child_writer() {
    let dir = std::path::PathBuf::from(std::env::var(ENV_DIR).expect("run by the crash test"));
    let sk =
        AccountSecretKey::from_bytes(std::fs::read(dir.join("sk")).unwrap().try_into().unwrap());
    let round: usize = std::env::var("TESSERA_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let mut v = Vault::unlock(&dir.join("vault.sqlite"), PASSWORD, &sk, PARAMS).unwrap();
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut last = None;
    for i in 0..WRITES {
        let title = format!("r{round}-w{i}");
        if i % 3 == 2 {
            // Every third write edits the previous item: a new version in the same transaction.
            let id = last.unwrap();
            v.update(&id, login(&title, "u", &format!("pw{i}"), ""))
                .unwrap();
        } else {
            last = Some(v.add(login(&title, "u", &format!("pw{i}"), "")).unwrap());
        }
        writeln!(out, "ACK {title}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_during_writes_loses_nothing_that_returned() {
    let dir = tempfile::tempdir().unwrap();
    let sk = AccountSecretKey::generate();
    std::fs::write(dir.path().join("sk"), sk.expose_secret()).unwrap();
    let path = dir.path().join("vault.sqlite");
    Vault::create(&path, PASSWORD, &sk, PARAMS).unwrap().lock();

    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = std::process::id().into();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = 1 + (seed % (WRITES as u64 - 1)) as usize;
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV_DIR, dir.path())
            .env("TESSERA_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Skip the test harness's own lines until the writer says it is ready.
        for l in lines.by_ref() {
            if l.unwrap().ends_with("ready") {
                break;
            }
        }
        let mut seen = 0;
        for l in lines.by_ref() {
            let l = l.unwrap();
            let Some(title) = l.strip_prefix("ACK ") else {
                continue;
            };
            acknowledged.push(title.to_owned());
            seen += 1;
            if seen == kill_after {
                // Land the kill somewhere inside a following write.
                std::thread::sleep(Duration::from_micros(seed % 3000));
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Lines the child wrote before dying were acknowledged writes too.
        for l in lines.map_while(Result::ok) {
            if let Some(title) = l.strip_prefix("ACK ") {
                acknowledged.push(title.to_owned());
            }
        }

        let v = Vault::unlock(&path, PASSWORD, &sk, PARAMS).unwrap();
        assert!(
            v.damaged().is_empty(),
            "round {round}: damaged items {:?}",
            v.damaged()
        );
        // Edits replace titles, so look through every version of every item.
        let titles: std::collections::HashSet<String> = v
            .items()
            .flat_map(|i| v.history(&i.id).unwrap())
            .map(|h| h.data.title.clone())
            .collect();
        for t in &acknowledged {
            assert!(
                titles.contains(t),
                "round {round}: acknowledged write {t} was lost"
            );
        }
        v.lock();
    }
    assert!(acknowledged.len() >= 6);
}
