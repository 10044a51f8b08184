//! Text handling for the search index: case folding, tokens, hashes, edit distance.
//!
//! The index and the query go through the same functions, so whatever folding Unicode does
//! (`'İ'` becomes `"i̇"`) it does on both sides.

/// Tokens longer than this (base64 blobs, key material in a text field) are not indexed.
pub(super) const MAX_TOKEN_CHARS: usize = 32;

/// The deletion neighbourhood is built over this many leading characters of a token (SymSpell's
/// "prefix length"). It bounds the neighbourhood of a long token to 1 + 8 + 28 hashes; candidates
/// are verified with the full distance, and the window loses no true match (see `deletes`).
pub(super) const WINDOW: usize = 8;

use zeroize::Zeroize;

const NONE: usize = usize::MAX;
const K: u64 = 0x517c_c1b7_2722_0a95;
const SEED: u64 = 0x243f_6a88_85a3_08d3;

/// Lowercase `text` into `out` (cleared first), ASCII on a fast path.
pub(super) fn fold_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
        return;
    }
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// Folded `text` into `out` with each run of non-alphanumerics made one space and no space at
/// either end: the tokens, in order, space-separated. Titles are kept in this form, so a
/// phrase is a substring search.
pub(super) fn normalize_into(text: &str, out: &mut String) {
    let mut folded = String::with_capacity(text.len() + 8);
    fold_into(text, &mut folded);
    out.clear();
    for c in folded.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    folded.zeroize();
}

/// The tokens of folded text: maximal runs of alphanumeric characters, at most
/// [`MAX_TOKEN_CHARS`] long.
pub(super) fn tokens(folded: &str) -> impl Iterator<Item = &str> + Clone {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty() && char_len(t) <= MAX_TOKEN_CHARS)
}

/// Length in characters.
pub(super) fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// How many typos a word of `chars` characters may carry: 1 from 4 characters, 2 from 8.
///
/// The same number is the depth of a token's deletion neighbourhood: a token only has to give
/// up `k` characters to meet a query word with `k` typos when it is at least as long as the word.
pub(super) fn max_typos(chars: usize) -> usize {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h.max(1)
}

/// A non-zero 64-bit hash of a token's bytes, for the exact dictionary.
pub(super) fn hash_str(s: &str) -> u64 {
    hash_seeded(SEED, s)
}

/// The filter key of a folded tag.
pub(super) fn tag_key(tag: &str) -> u64 {
    hash_seeded(SEED ^ 0x7461_6700, tag)
}

/// The filter key of a folded folder path (no trailing `/`).
pub(super) fn folder_key(path: &str) -> u64 {
    hash_seeded(SEED ^ 0x666f_6c64, path)
}

/// The filter key of a group (its 16-byte id).
pub(super) fn group_key(group: &[u8; 16]) -> u64 {
    hash_bytes(SEED ^ 0x6772_6f75, group)
}

fn hash_seeded(seed: u64, s: &str) -> u64 {
    hash_bytes(seed, s.as_bytes())
}

fn hash_bytes(seed: u64, s: &[u8]) -> u64 {
    let mut h = seed ^ s.len() as u64;
    for chunk in s.chunks(8) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    fmix(h)
}

fn hash_skipping(chars: &[char], a: usize, b: usize) -> u64 {
    let mut h = SEED;
    for (i, &c) in chars.iter().enumerate() {
        if i != a && i != b {
            h = (h.rotate_left(5) ^ u64::from(u32::from(c))).wrapping_mul(K);
        }
    }
    fmix(h)
}

/// Hashes of the deletion neighbourhood of `chars`: its first [`WINDOW`] characters with up to
/// `depth` of them deleted, deduplicated, into `out`.
///
/// Why the window loses nothing: take an alignment of a word and a token with `k` edits and
/// cut both at `WINDOW` characters. Every character of either cut that is not paired inside
/// both cuts is either an edit or paired past the other cut, and only one side can have the
/// latter; counting shows each side then needs at most `k` deletions to reach a common string,
/// and a token under 8 characters at most 1. So `max_typos` of each side's full length is
/// enough depth.
pub(super) fn deletes(chars: &[char], depth: usize, out: &mut Vec<u64>) {
    out.clear();
    let w = &chars[..chars.len().min(WINDOW)];
    out.push(hash_skipping(w, NONE, NONE));
    if depth >= 1 {
        for i in 0..w.len() {
            out.push(hash_skipping(w, i, NONE));
        }
    }
    if depth >= 2 {
        for i in 0..w.len() {
            for j in i + 1..w.len() {
                out.push(hash_skipping(w, i, j));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// Optimal-string-alignment (restricted Damerau-Levenshtein) distance between `a` and `b` if it
/// is at most `max`: substitution, insertion, deletion and adjacent transposition cost 1.
/// `rows` is reusable scratch.
pub(super) fn osa_within(
    a: &[char],
    b: &[char],
    max: usize,
    rows: &mut [Vec<usize>; 3],
) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let n = b.len();
    for r in rows.iter_mut() {
        r.clear();
        r.resize(n + 1, 0);
    }
    let [prev2, prev, cur] = rows;
    for (j, v) in prev.iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(prev2, prev);
        std::mem::swap(prev, cur);
    }
    let d = prev[n];
    (d <= max).then_some(d)
}

/// True when `needle` is a subsequence of `hay`.
pub(super) fn is_subsequence(needle: &[char], hay: &str) -> bool {
    let mut it = hay.chars();
    needle.iter().all(|&c| it.any(|h| h == c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn dist(a: &str, b: &str) -> Option<usize> {
        let mut rows = Default::default();
        osa_within(&chars(a), &chars(b), 2, &mut rows)
    }

    #[test]
    fn distance_counts_each_kind_of_typo_once() {
        assert_eq!(dist("github", "github"), Some(0));
        assert_eq!(dist("githbu", "github"), Some(1));
        assert_eq!(dist("gtihub", "github"), Some(1));
        assert_eq!(dist("gihub", "github"), Some(1));
        assert_eq!(dist("gitxhub", "github"), Some(1));
        assert_eq!(dist("gitxub", "github"), Some(1));
        assert_eq!(dist("kubernets", "kubernetes"), Some(1));
        assert_eq!(dist("kuberentse", "kubernetes"), Some(2));
        assert_eq!(dist("abc", "xyz"), None);
    }

    #[test]
    fn tokens_split_hosts_and_addresses() {
        let mut f = String::new();
        fold_into("DB-Prod.eu-west-1 Alice@Example.COM Zürich", &mut f);
        let t: Vec<&str> = tokens(&f).collect();
        assert_eq!(
            t,
            ["db", "prod", "eu", "west", "1", "alice", "example", "com", "zürich"]
        );
    }

    fn shares_delete(q: &[char], t: &[char]) -> bool {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        deletes(q, max_typos(q.len()), &mut a);
        deletes(t, max_typos(t.len()), &mut b);
        a.iter().any(|h| b.binary_search(h).is_ok())
    }

    proptest! {
        /// The windowed neighbourhood never loses a match the distance allows.
        #[test]
        fn window_loses_no_match(t in "[abc]{1,14}", edits in proptest::collection::vec((0u8..4, 0usize..14, "[abcd]"), 1..3)) {
            let mut q = chars(&t);
            for (op, at, c) in edits {
                let c = c.chars().next().unwrap_or('a');
                let at = at.min(q.len());
                match op {
                    0 if at < q.len() => q[at] = c,
                    1 => q.insert(at, c),
                    2 if at < q.len() => { q.remove(at); }
                    3 if at + 1 < q.len() => q.swap(at, at + 1),
                    _ => {}
                }
            }
            let t = chars(&t);
            let mut rows = Default::default();
            if osa_within(&q, &t, max_typos(q.len()), &mut rows).is_some() {
                prop_assert!(shares_delete(&q, &t));
            }
        }
    }
}
