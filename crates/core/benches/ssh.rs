//! SSH key generation beside OpenSSH: `cargo bench -p tessera-core --bench ssh`.
//!
//! Times Tessera's RSA-3072 and RSA-4096 generation (`SshKey::generate`, primes on every core)
//! and `ssh-keygen -t rsa -b N -N '' -f FILE` in the same run, interleaved so both see the same
//! load, and prints median, quartiles and range of each and the ratio of the medians. RSA
//! generation time varies a lot from run to run (the search for a prime ends by luck), so it
//! takes `TESSERA_BENCH_RSA_RUNS` runs of each (15 by default). It asserts the target of
//! docs/PERFORMANCE.md: Tessera's median within 3x of ssh-keygen's.
//!
//! `TESSERA_BENCH_RSA_BASELINE=1` adds the `rsa` crate's own generator (one thread, small-prime
//! screening only: what `ssh_key::private::RsaKeypair::random` runs) for comparison.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use rand_core::OsRng;
use ssh_key::private::RsaKeypair;
use tessera_core::ssh::{SshKey, SshKeyType};

/// The target: Tessera's median generation time at most this many times ssh-keygen's.
const TARGET_RATIO: f64 = 3.0;

struct Stats {
    sorted: Vec<Duration>,
}

impl Stats {
    fn new(mut times: Vec<Duration>) -> Self {
        times.sort();
        Self { sorted: times }
    }

    fn at(&self, q: f64) -> f64 {
        let i = ((self.sorted.len() - 1) as f64 * q).round() as usize;
        self.sorted[i].as_secs_f64()
    }

    fn median(&self) -> f64 {
        self.at(0.5)
    }

    fn line(&self) -> String {
        format!(
            "median {:>6.2} s   quartiles {:.2}-{:.2} s   range {:.2}-{:.2} s",
            self.median(),
            self.at(0.25),
            self.at(0.75),
            self.at(0.0),
            self.at(1.0)
        )
    }
}

fn ssh_keygen(bits: u32, dir: &std::path::Path) -> Duration {
    let path = dir.join("id_rsa");
    #[allow(clippy::let_underscore_must_use)] // a key of an earlier round, if any
    let _ = std::fs::remove_file(&path);
    #[allow(clippy::let_underscore_must_use)] // a key of an earlier round, if any
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let t = Instant::now();
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", &bits.to_string(), "-N", "", "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen (package openssh-client) must be installed for this benchmark");
    let took = t.elapsed();
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
    took
}

fn main() {
    let runs: usize = std::env::var("TESSERA_BENCH_RSA_RUNS")
        .ok()
        .map_or(15, |s| {
            s.parse().expect("TESSERA_BENCH_RSA_RUNS is a number")
        });
    let baseline = std::env::var_os("TESSERA_BENCH_RSA_BASELINE").is_some();
    let version = Command::new("ssh") // ssh-keygen has no version flag; ssh -V prints OpenSSH's
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default();
    println!(
        "RSA key generation, {runs} runs each, {} cores, beside {version}",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let dir = tempfile::tempdir().unwrap();
    let mut failed = Vec::new();
    for (key_type, bits) in [(SshKeyType::Rsa3072, 3072u32), (SshKeyType::Rsa4096, 4096)] {
        let (mut ours, mut theirs, mut single) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            let key = SshKey::generate(key_type, "bench").unwrap();
            ours.push(t.elapsed());
            assert_eq!(key.bits(), bits);
            theirs.push(ssh_keygen(bits, dir.path()));
            if baseline {
                let t = Instant::now();
                RsaKeypair::random(&mut OsRng, bits as usize).unwrap();
                single.push(t.elapsed());
            }
        }
        let (ours, theirs) = (Stats::new(ours), Stats::new(theirs));
        let ratio = ours.median() / theirs.median();
        println!("RSA-{bits} tessera      {}", ours.line());
        println!("RSA-{bits} ssh-keygen   {}", theirs.line());
        if baseline {
            println!("RSA-{bits} rsa crate    {}", Stats::new(single).line());
        }
        println!("RSA-{bits} ratio of medians (tessera / ssh-keygen): {ratio:.2} (target <= {TARGET_RATIO})");
        if ratio > TARGET_RATIO {
            failed.push(bits);
        }
    }
    assert!(
        failed.is_empty(),
        "RSA-{failed:?} generation is more than {TARGET_RATIO}x slower than ssh-keygen"
    );
}
