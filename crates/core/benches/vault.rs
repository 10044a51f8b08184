//! Vault benchmarks: `cargo bench -p tessera-core --bench vault`.
//!
//! Prints, for docs/PERFORMANCE.md: the KDF alone (default parameters), an import of 10,000
//! items in one transaction, unlocking a 10,000-item vault to a searchable list (KDF included),
//! checking 100,000 item-row MACs, unlocking a 100,000-item vault (and the first unlock of one
//! written before rows had MACs, which adds them), and the memory of an unlocked 100,000-item
//! vault (measured in a child process).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod corpus;
}

use std::path::Path;
use std::time::{Duration, Instant};

use support::corpus;
use tessera_core::search::Query;
use tessera_core::store::{ItemState, RowAuth};
use tessera_core::vault::Header;
use tessera_core::Vault;
use tessera_crypto::envelope::{associated_data, Sealed};
use tessera_crypto::kdf::{self, KdfParams};
use tessera_crypto::keyset::Keyset;
use tessera_crypto::{AccountSecretKey, SymmetricKey};

const PASSWORD: &[u8] = b"benchmark master password";
const CHILD: &str = "TESSERA_BENCH_MEMORY_CHILD";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    if let Ok(dir) = std::env::var(CHILD) {
        memory_child(Path::new(&dir));
        return;
    }
    let params = KdfParams::DEFAULT;
    println!(
        "tessera-core vault benchmarks ({} cores)",
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    let sk = AccountSecretKey::generate();
    let salt = kdf::random_salt();
    let kdf_times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            kdf::derive_master_key(PASSWORD, &sk, &salt, params).unwrap();
            t.elapsed()
        })
        .collect();
    println!(
        "{:<58} {:>10}",
        format!("KDF alone, {params}"),
        ms(median(kdf_times))
    );

    let dir = tempfile::tempdir().unwrap();
    let items = corpus::items(10_000, 7);
    let mut import_times = Vec::new();
    for round in 0..3 {
        let path = dir.path().join(format!("import-{round}.sqlite"));
        let mut v = Vault::create(&path, PASSWORD, &sk, params).unwrap();
        let batch: Vec<_> = items.iter().map(|i| i.data.duplicate()).collect();
        let t = Instant::now();
        v.add_many(batch).unwrap();
        import_times.push(t.elapsed());
    }
    println!(
        "{:<58} {:>10}",
        "Import 10,000 items in one transaction",
        ms(median(import_times))
    );

    let path = dir.path().join("import-0.sqlite");
    let unlock_times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let v = Vault::unlock(&path, PASSWORD, &sk, params).unwrap();
            let hits = v.search(&Query::new("github prod").limit(10)).hits;
            let d = t.elapsed();
            assert!(!hits.is_empty());
            v.lock();
            d
        })
        .collect();
    println!(
        "{:<58} {:>10}",
        "Unlock 10,000 items to a searchable list (KDF included)",
        ms(median(unlock_times))
    );

    row_macs();

    // Memory: build a 100,000-item vault here, measure its unlock in a fresh process.
    let big = dir.path().join("big.sqlite");
    let mut v = Vault::create(&big, PASSWORD, &sk, params).unwrap();
    v.add_many(
        corpus::items(100_000, 11)
            .iter()
            .map(|i| i.data.duplicate())
            .collect(),
    )
    .unwrap();
    v.lock();
    unlock_big(&big, dir.path(), &sk, params);
    std::fs::write(dir.path().join("sk"), sk.expose_secret()).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, dir.path())
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

/// The MAC check unlock runs over every item row, alone, on one core.
fn row_macs() {
    let auth = RowAuth::new(&SymmetricKey::generate(), [1; 16]);
    let rows: Vec<([u8; 16], ItemState, [u8; 32])> = (0..100_000u32)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            let s = ItemState {
                version: 3,
                created_at: 1_700_000_000,
                trashed_at: None,
            };
            (id, s, auth.item(&id, &s))
        })
        .collect();
    let mac_times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            assert!(rows
                .iter()
                .all(|(id, s, mac)| auth.item_ok(id, s, Some(mac))));
            t.elapsed()
        })
        .collect();
    println!(
        "{:<58} {:>10}",
        "Check 100,000 item-row MACs (one core; part of unlock)",
        ms(median(mac_times))
    );
}

/// Unlock the 100,000-item vault `big`, and a copy of it as an older build wrote it.
fn unlock_big(big: &Path, dir: &Path, sk: &AccountSecretKey, params: KdfParams) {
    let unlock = || {
        let t = Instant::now();
        Vault::unlock(big, PASSWORD, sk, params).unwrap().lock();
        t.elapsed()
    };
    let times: Vec<Duration> = (0..3).map(|_| unlock()).collect();
    println!(
        "{:<58} {:>10}",
        "Unlock 100,000 items, median of 3 (KDF included)",
        ms(median(times))
    );
    // The same vault as an older build wrote it (header format 1, no MACs): its first unlock
    // adds them, in the same transaction as the header.
    let old = dir.join("old.sqlite");
    std::fs::copy(big, &old).unwrap();
    downgrade_to_format_1(&old, sk);
    let t = Instant::now();
    Vault::unlock(&old, PASSWORD, sk, params).unwrap().lock();
    println!(
        "{:<58} {:>10}",
        "First unlock of a 100,000-item format 1 vault (adds MACs)",
        ms(t.elapsed())
    );
}

/// Rewrite a vault as a build before row MACs wrote it: header format 1 (its keyset re-wrapped
/// for that header, as `vault.rs` binds it), no MACs, no item count.
fn downgrade_to_format_1(path: &Path, sk: &AccountSecretKey) {
    use sha2::Digest as _;
    let conn = rusqlite::Connection::open(path).unwrap();
    let meta = |key: &str| -> Vec<u8> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    };
    let header = Header::decode(&meta("header")).unwrap();
    let ad = |h: &Header| associated_data("tessera keyset", &[&h.body()]);
    let kek = kdf::derive_master_key(PASSWORD, sk, &header.salt, header.kdf)
        .unwrap()
        .encryption_key();
    let keyset = Keyset::unwrap(
        &kek,
        &Sealed::from_bytes(meta("keyset")).unwrap(),
        &ad(&header),
    )
    .unwrap();
    let old = Header {
        format: 1,
        ..header
    };
    let wrapped = keyset.wrap(&kek, &ad(&old)).into_bytes();
    let set = |key: &str, value: &[u8]| {
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            rusqlite::params![value, key],
        )
        .unwrap();
    };
    set("header", &old.encode());
    set("keyset_sha256", &sha2::Sha256::digest(&wrapped));
    set("keyset", &wrapped);
    conn.execute_batch("UPDATE items SET mac = NULL; DELETE FROM meta WHERE key = 'item_count';")
        .unwrap();
}

fn memory_child(dir: &Path) {
    let sk =
        AccountSecretKey::from_bytes(std::fs::read(dir.join("sk")).unwrap().try_into().unwrap());
    let before = rss_kib();
    let t = Instant::now();
    let v = Vault::unlock(&dir.join("big.sqlite"), PASSWORD, &sk, KdfParams::DEFAULT).unwrap();
    let took = t.elapsed();
    let after = rss_kib();
    println!(
        "{:<58} {:>10}",
        "Unlock 100,000 items (KDF included)",
        ms(took)
    );
    println!(
        "{:<58} {:>10}",
        "Memory of an unlocked 100,000-item vault (RSS growth)",
        format!("{} MiB", (after.saturating_sub(before)) / 1024)
    );
    println!(
        "{:<58} {:>10}",
        "  of which the search index (estimate)",
        format!("{} MiB", v.search_memory_bytes() / (1024 * 1024))
    );
    let file = std::fs::metadata(dir.join("big.sqlite")).unwrap().len();
    println!(
        "{:<58} {:>10}",
        "Vault file size, 100,000 items",
        format!("{} MiB", file / (1024 * 1024))
    );
}
