//! Passphrases: words drawn uniformly from the EFF large wordlist.
//!
//! The list has 7,776 (6^5) distinct words of 3 to 9 lowercase letters (four contain a hyphen:
//! `drop-down`, `felt-tip`, `t-shirt`, `yo-yo`), so each word carries log2(7776) ≈ 12.925 bits.
//! Capitalising every word is a fixed transformation and adds nothing. The optional digit is
//! one of 10 appended to one of the `n` words, adding log2(10 * n) bits.
//!
//! The figure counts word sequences, and different sequences always print differently: words are
//! letters (and those four hyphens), separators contain no letters or digits, and no hyphenated
//! word splits into two words of the list, so even with `-` as the separator a passphrase reads
//! back into exactly one sequence. An empty separator is allowed only with capitalisation, where
//! the capitals mark each word's start.
//!
//! Wordlist: EFF Large Wordlist for Passphrases, <https://www.eff.org/dice>, © Electronic Frontier
//! Foundation, CC BY 3.0 US; dice numbers removed. See `crates/core/NOTICE`.
use std::sync::LazyLock;

use rand::Rng;
use rand_core::{CryptoRng, OsRng, RngCore};
use zeroize::Zeroizing;

use super::password::into_secret;
use super::{named, GeneratedSecret, Setting, SettingNames};
use crate::error::{Error, Result};

/// The number of words in the list: 6^5, one per roll of five dice.
pub const WORDLIST_LEN: usize = 7776;
/// The fewest words in a passphrase.
pub const MIN_WORDS: usize = 3;
/// The most words in a passphrase.
pub const MAX_WORDS: usize = 20;
/// The longest separator, in characters.
pub const MAX_SEPARATOR_CHARS: usize = 8;

static WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let words: Vec<&'static str> = include_str!("eff_large_wordlist.txt").lines().collect();
    assert_eq!(
        words.len(),
        WORDLIST_LEN,
        "the shipped EFF wordlist has exactly 7,776 lines"
    );
    words
});

/// The EFF large wordlist, in its original (alphabetical) order.
pub fn wordlist() -> &'static [&'static str] {
    &WORDS
}

/// What a passphrase is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassphraseOptions {
    /// Number of words, `3..=20`.
    pub words: usize,
    /// Put between words: up to 8 characters, no letters, digits or control characters. May be
    /// empty only with `capitalize`, so the words stay apart.
    pub separator: String,
    /// Capitalise the first letter of every word (no extra entropy: it is not random).
    pub capitalize: bool,
    /// Append one random digit to one random word.
    pub include_digit: bool,
}

impl Default for PassphraseOptions {
    /// Six words joined by `-`: about 77.5 bits.
    fn default() -> Self {
        Self {
            words: 6,
            separator: "-".into(),
            capitalize: false,
            include_digit: false,
        }
    }
}

impl PassphraseOptions {
    /// Refuse options no passphrase can be made with; hints name the options as `names` does.
    pub fn check(&self, names: SettingNames) -> Result<()> {
        let words = named(names, Setting::Words);
        if !(MIN_WORDS..=MAX_WORDS).contains(&self.words) {
            return Err(Error::Invalid(format!(
                "a passphrase of {} words is not supported; choose {MIN_WORDS} to {MAX_WORDS} \
                 words{words}",
                self.words
            )));
        }
        let separator = named(names, Setting::Separator);
        if self.separator.chars().count() > MAX_SEPARATOR_CHARS {
            return Err(Error::Invalid(format!(
                "the separator {:?} is too long; use at most {MAX_SEPARATOR_CHARS} characters\
                 {separator}",
                self.separator
            )));
        }
        if let Some(c) = self
            .separator
            .chars()
            .find(|c| c.is_alphanumeric() || c.is_control())
        {
            return Err(Error::Invalid(format!(
                "the separator can't contain {c:?}: letters, digits and control characters would \
                 blur where words end; use punctuation or a space{separator}"
            )));
        }
        if self.separator.is_empty() && !self.capitalize {
            let capitalize = names(Setting::Capitalize).map_or_else(String::new, |n| {
                format!(", or capitalise the words ({n}) so that each one starts with a capital")
            });
            return Err(Error::Invalid(format!(
                "with no separator the words run together; choose a separator{separator}\
                 {capitalize}"
            )));
        }
        Ok(())
    }

    /// log2 of the number of equally likely passphrases these options produce.
    pub fn entropy_bits(&self) -> f64 {
        let words = self.words as f64;
        let mut bits = words * (WORDLIST_LEN as f64).log2();
        if self.include_digit {
            bits += (10.0 * words).log2();
        }
        bits
    }
}

/// A random passphrase drawn from the operating system's CSPRNG.
///
/// Fails with [`Error::Invalid`] when the word count is outside `3..=20` or the separator is
/// unusable.
pub fn generate_passphrase(opts: &PassphraseOptions) -> Result<GeneratedSecret> {
    generate_passphrase_with(opts, &mut OsRng)
}

/// [`generate_passphrase`] with a caller-chosen CSPRNG (tests use a seeded one).
pub(crate) fn generate_passphrase_with<R: RngCore + CryptoRng>(
    opts: &PassphraseOptions,
    rng: &mut R,
) -> Result<GeneratedSecret> {
    opts.check(Setting::label)?;
    let list = wordlist();
    // The chosen indices are as secret as the words.
    let mut picks: Zeroizing<Vec<usize>> = Zeroizing::new(Vec::with_capacity(opts.words));
    picks.extend((0..opts.words).map(|_| rng.gen_range(0..list.len())));
    let digit = opts
        .include_digit
        .then(|| Zeroizing::new((rng.gen_range(0..opts.words), rng.gen_range(0..10u8))));

    let length = picks.iter().map(|&i| list[i].len()).sum::<usize>()
        + opts.separator.len() * (opts.words - 1)
        + usize::from(digit.is_some());
    let mut buf = Zeroizing::new(String::with_capacity(length));
    let capacity = buf.capacity();
    for (n, &i) in picks.iter().enumerate() {
        if n > 0 {
            buf.push_str(&opts.separator);
        }
        let word = list[i];
        if opts.capitalize {
            // Every word starts with an ASCII letter.
            buf.push(word.as_bytes()[0].to_ascii_uppercase().into());
            buf.push_str(&word[1..]);
        } else {
            buf.push_str(word);
        }
        if let Some(d) = digit.as_deref() {
            if d.0 == n {
                buf.push(char::from(b'0' + d.1));
            }
        }
    }
    debug_assert_eq!(buf.len(), length, "the length was computed up front");
    debug_assert_eq!(buf.capacity(), capacity, "the buffer never reallocates");
    Ok(GeneratedSecret {
        secret: into_secret(buf),
        entropy_bits: opts.entropy_bits(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn opts(words: usize, separator: &str, capitalize: bool, digit: bool) -> PassphraseOptions {
        PassphraseOptions {
            words,
            separator: separator.into(),
            capitalize,
            include_digit: digit,
        }
    }

    #[test]
    fn wordlist_is_the_eff_large_list() {
        let list = wordlist();
        assert_eq!(list.len(), 7776);
        assert_eq!(
            list.iter().collect::<HashSet<_>>().len(),
            7776,
            "words are unique"
        );
        assert!(list.iter().all(|w| (3..=9).contains(&w.len())
            && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
        assert_eq!(
            (list[0], list[1], list[7775]),
            ("abacus", "abdomen", "zoom")
        );
        assert!(list.windows(2).all(|w| w[0] < w[1]), "sorted as published");
        // The module's claim that passphrases read back unambiguously with `-` rests on this.
        let set: HashSet<&str> = list.iter().copied().collect();
        let hyphenated: Vec<&str> = list.iter().copied().filter(|w| w.contains('-')).collect();
        assert_eq!(hyphenated, ["drop-down", "felt-tip", "t-shirt", "yo-yo"]);
        for w in hyphenated {
            assert!(!w.split('-').all(|part| set.contains(part)), "{w}");
        }
    }

    #[test]
    fn words_are_from_the_list_and_count_matches() {
        let list: HashSet<&str> = wordlist().iter().copied().collect();
        let mut rng = StdRng::seed_from_u64(1);
        for words in [3, 6, 20] {
            for sep in [" ", ".", "::", "😀"] {
                let p =
                    generate_passphrase_with(&opts(words, sep, false, false), &mut rng).unwrap();
                let parts: Vec<&str> = p.secret.expose_secret().split(sep).collect();
                assert_eq!(parts.len(), words);
                assert!(parts.iter().all(|w| list.contains(w)), "{parts:?}");
            }
        }
    }

    #[test]
    fn capitalisation_and_digit() {
        let list: HashSet<&str> = wordlist().iter().copied().collect();
        let mut rng = StdRng::seed_from_u64(2);
        let mut digit_positions = HashSet::new();
        for _ in 0..200 {
            let p = generate_passphrase_with(&opts(4, " ", true, true), &mut rng).unwrap();
            let parts: Vec<&str> = p.secret.expose_secret().split(' ').collect();
            assert_eq!(parts.len(), 4);
            let with_digit: Vec<usize> = (0..4)
                .filter(|&i| parts[i].ends_with(|c: char| c.is_ascii_digit()))
                .collect();
            assert_eq!(with_digit.len(), 1, "{parts:?}");
            digit_positions.insert(with_digit[0]);
            for w in parts {
                assert!(w.starts_with(|c: char| c.is_ascii_uppercase()), "{w}");
                let bare = w.trim_end_matches(|c: char| c.is_ascii_digit());
                assert!(w.len() - bare.len() <= 1);
                assert!(list.contains(bare.to_ascii_lowercase().as_str()), "{w}");
            }
        }
        assert_eq!(digit_positions.len(), 4, "the digit lands on every word");
        // No separator is fine when capitals mark the words.
        let p = generate_passphrase(&opts(3, "", true, false)).unwrap();
        assert_eq!(
            p.secret
                .expose_secret()
                .chars()
                .filter(char::is_ascii_uppercase)
                .count(),
            3
        );
    }

    #[test]
    fn entropy_is_exact() {
        let per_word = 7776f64.log2();
        assert!((per_word - 12.924_812_503_605_78).abs() < 1e-12);
        let p = generate_passphrase(&opts(6, "-", false, false)).unwrap();
        assert!((p.entropy_bits - 6.0 * per_word).abs() < 1e-9);
        // Capitalising adds nothing; the digit adds log2(10 * words).
        let p = generate_passphrase(&opts(5, "-", true, true)).unwrap();
        assert!((p.entropy_bits - (5.0 * per_word + 50f64.log2())).abs() < 1e-9);
        let p = generate_passphrase(&opts(20, " ", false, false)).unwrap();
        assert!((p.entropy_bits - 20.0 * per_word).abs() < 1e-9);
    }

    #[test]
    fn options_are_validated() {
        let cases = [
            (opts(2, "-", false, false), "choose 3 to 20 words"),
            (opts(21, "-", false, false), "choose 3 to 20 words"),
            (opts(0, "-", false, false), "choose 3 to 20 words"),
            (opts(5, "123456789", false, false), "at most 8"),
            (opts(5, "x", false, false), "can't contain 'x'"),
            (opts(5, "7", false, false), "can't contain '7'"),
            (opts(5, "\n", false, false), "can't contain '\\n'"),
            (opts(5, "", false, false), "no separator"),
        ];
        for (o, want) in cases {
            let err = generate_passphrase(&o).unwrap_err();
            assert!(err.to_string().contains(want), "{o:?}: {err}");
        }
    }

    #[test]
    fn words_are_roughly_uniform() {
        // 77,760 words over 7,776 slots: each first letter's share should match its share of
        // the list within a few percent.
        let mut rng = StdRng::seed_from_u64(3);
        let list = wordlist();
        let mut expected = [0f64; 26];
        for w in list {
            expected[usize::from(w.as_bytes()[0] - b'a')] += 1.0 / 7776.0;
        }
        let mut got = [0u32; 26];
        let draws = 4_000;
        for _ in 0..draws {
            let p = generate_passphrase_with(&opts(20, " ", false, false), &mut rng).unwrap();
            for w in p.secret.expose_secret().split(' ') {
                got[usize::from(w.as_bytes()[0] - b'a')] += 1;
            }
        }
        let total = f64::from(draws * 20);
        for (letter, (&g, &e)) in got.iter().zip(&expected).enumerate() {
            let share = f64::from(g) / total;
            assert!((share - e).abs() < 0.005, "letter {letter}: {share} vs {e}");
        }
    }
}
