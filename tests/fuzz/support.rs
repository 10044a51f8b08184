//! Fuzzing with proptest, shared by each crate's `tests/fuzz.rs` (included with `#[path]`).
//!
//! Every target gets two kinds of input: arbitrary bytes, and mutations of seed inputs (the files
//! under `tests/fuzz/corpus/<target>/`, real encodings a test adds, and every input that once
//! crashed a parser). A mutation flips, sets, inserts, removes, duplicates or truncates bytes and
//! writes boundary length values, so the inputs reach past the first length or magic check.
//!
//! Cases per target: `TESSERA_FUZZ_CASES` (default [`DEFAULT_CASES`], what CI runs); set it
//! higher for a longer run, e.g. `TESSERA_FUZZ_CASES=200000 cargo test -p tessera-core --test
//! fuzz --release`. Each property is run from a fresh random seed; a failure is shrunk and saved
//! by proptest beside the test (`tests/fuzz.proptest-regressions`), which replays it first on
//! every later run: commit it, and add the input to the corpus (see docs/TESTING.md).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per target when `TESSERA_FUZZ_CASES` is not set.
pub const DEFAULT_CASES: u32 = 2000;

/// The proptest configuration of every fuzz target.
pub fn config() -> Config {
    let cases = match std::env::var("TESSERA_FUZZ_CASES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("TESSERA_FUZZ_CASES={v:?} is not a number of cases")),
        Err(_) => DEFAULT_CASES,
    };
    Config {
        cases,
        // Inputs are small; shrinking a crash to its core is worth the time.
        max_shrink_iters: 4096,
        ..Config::default()
    }
}

/// The corpus directory of `target`.
pub fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fuzz/corpus"
    ))
    .join(target)
}

/// Every file of `target`'s corpus (none when the directory does not exist).
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(corpus_dir(target)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = dir.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// One edit of a seed. Positions and lengths are taken modulo the input's length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
    /// A piece repeated up to 2048 times, to reach length limits.
    Repeat(usize, usize, usize),
    /// A boundary value as a big-endian u16, u32 or u64 (lengths and counts).
    Boundary(usize, u8, u8),
}

const BOUNDARIES: [u64; 8] = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, u64::MAX];

impl Mutation {
    fn apply(&self, b: &mut Vec<u8>) {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
        match *self {
            Self::Flip(p, bit) if !b.is_empty() => {
                let i = at(p, b.len());
                b[i] ^= 1 << (bit % 8);
            }
            Self::Set(p, v) if !b.is_empty() => {
                let i = at(p, b.len());
                b[i] = v;
            }
            Self::Insert(p, v) => {
                let i = at(p, b.len() + 1);
                b.insert(i, v);
            }
            Self::Remove(p, n) if !b.is_empty() => {
                let i = at(p, b.len());
                let end = (i + 1 + n % 16).min(b.len());
                b.drain(i..end);
            }
            Self::Duplicate(p, n) if !b.is_empty() && b.len() < 1 << 16 => {
                let i = at(p, b.len());
                let end = (i + 1 + n % 64).min(b.len());
                let piece = b[i..end].to_vec();
                b.splice(i..i, piece);
            }
            Self::Truncate(p) => b.truncate(at(p, b.len() + 1)),
            Self::Repeat(p, n, times) if !b.is_empty() && b.len() < 1 << 16 => {
                let i = at(p, b.len());
                let end = (i + 1 + n % 16).min(b.len());
                let piece = b[i..end].repeat(1 + times % 2048);
                b.splice(i..i, piece);
            }
            Self::Boundary(p, width, which) if !b.is_empty() => {
                let v = BOUNDARIES[usize::from(which) % BOUNDARIES.len()].to_be_bytes();
                let width = [2, 4, 8][usize::from(width) % 3];
                let i = at(p, b.len());
                for (k, byte) in v[8 - width..].iter().enumerate() {
                    if let Some(slot) = b.get_mut(i + k) {
                        *slot = *byte;
                    }
                }
            }
            _ => {}
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Flip(p, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Set(p, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Insert(p, v)),
        (any::<usize>(), any::<usize>()).prop_map(|(p, n)| Mutation::Remove(p, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(p, n, t)| Mutation::Repeat(p, n, t)),
        (any::<usize>(), any::<u8>(), any::<u8>())
            .prop_map(|(p, w, v)| Mutation::Boundary(p, w, v)),
    ]
}

/// Inputs for a target: arbitrary bytes (one case in five) and mutated seeds: the corpus of
/// `target` plus `extra` (encodings the test makes).
pub fn input(target: &str, extra: Vec<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    let raw = proptest::collection::vec(any::<u8>(), 0..512);
    let mut seeds = corpus(target);
    seeds.extend(extra);
    if seeds.is_empty() {
        return raw.boxed();
    }
    let n = seeds.len();
    let mutated = (0..n, proptest::collection::vec(mutation(), 0..8)).prop_map(move |(i, ms)| {
        let mut b = seeds[i].clone();
        for m in &ms {
            m.apply(&mut b);
        }
        b
    });
    prop_oneof![1 => raw, 4 => mutated].boxed()
}

/// [`input`] as text, for parsers that take `&str` (invalid UTF-8 replaced).
pub fn text(target: &str, extra: Vec<Vec<u8>>) -> BoxedStrategy<String> {
    input(target, extra)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
        .boxed()
}
