//! Random passwords from character classes.
//!
//! Every character is drawn uniformly from the union of the enabled classes. A password that
//! misses an enabled class is thrown away and drawn again (rejection sampling), so the result is
//! uniform over exactly the set of passwords that contain every enabled class, and the entropy we
//! report is log2 of the size of that set, counted by inclusion-exclusion. Placing one character
//! of each class and shuffling, the usual shortcut, is not uniform and makes the figure a guess.
use rand::Rng;
use rand_core::{CryptoRng, OsRng, RngCore};
use zeroize::Zeroizing;

use super::{named, GeneratedSecret, Setting, SettingNames};
use crate::error::{Error, Result};
use crate::item::SecretText;

/// Lowercase ASCII letters.
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
/// Uppercase ASCII letters.
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// ASCII digits.
const DIGITS: &str = "0123456789";
/// All 32 printable ASCII punctuation characters.
const SYMBOLS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// Characters that are easily confused with another one in common fonts: zero and the letter O,
/// one, lowercase L, uppercase i and the bar, and the three quote marks.
pub const LOOK_ALIKES: &str = "0Oo1lI|`'\"";

/// The shortest password we generate.
pub const MIN_LENGTH: usize = 4;
/// The longest password we generate.
pub const MAX_LENGTH: usize = 1024;

/// What a random password is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
// Each flag is an independent checkbox in the UI and a flag on the command line.
#[allow(clippy::struct_excessive_bools)]
pub struct PasswordOptions {
    /// Number of characters, `4..=1024`.
    pub length: usize,
    /// Include `a-z`.
    pub lowercase: bool,
    /// Include `A-Z`.
    pub uppercase: bool,
    /// Include `0-9`.
    pub digits: bool,
    /// Include the 32 ASCII punctuation characters.
    pub symbols: bool,
    /// Leave out [`LOOK_ALIKES`] (`0 O o 1 l I |` and the quote marks).
    pub exclude_look_alikes: bool,
}

impl Default for PasswordOptions {
    /// 20 characters from all four classes: about 129 bits.
    fn default() -> Self {
        Self {
            length: 20,
            lowercase: true,
            uppercase: true,
            digits: true,
            symbols: true,
            exclude_look_alikes: false,
        }
    }
}

impl PasswordOptions {
    /// Refuse options no password can be made with; hints name the options as `names` does.
    pub fn check(&self, names: SettingNames) -> Result<()> {
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&self.length) {
            return Err(Error::Invalid(format!(
                "a password length of {} is not supported; choose {MIN_LENGTH} to {MAX_LENGTH} \
                 characters{}",
                self.length,
                named(names, Setting::Length)
            )));
        }
        if !(self.lowercase || self.uppercase || self.digits || self.symbols) {
            return Err(no_class(names));
        }
        Ok(())
    }
}

/// Every character class is off: name the ones the front end can turn on.
fn no_class(names: SettingNames) -> Error {
    let classes: Vec<&str> = [
        Setting::Lowercase,
        Setting::Uppercase,
        Setting::Digits,
        Setting::Symbols,
    ]
    .into_iter()
    .filter_map(names)
    .collect();
    if classes.is_empty() {
        return Error::Invalid("no character classes are enabled; turn on at least one".into());
    }
    Error::Invalid(format!(
        "no character classes are enabled; turn on at least one of: {}",
        classes.join(", ")
    ))
}

/// The characters a password may use, grouped by the class each belongs to.
struct Alphabet {
    /// Every usable character (ASCII).
    chars: Vec<u8>,
    /// For each entry of `chars`, the index of its class in `class_sizes`.
    class_of: Vec<u8>,
    /// The number of characters in each enabled class.
    class_sizes: Vec<usize>,
}

impl Alphabet {
    fn new(opts: &PasswordOptions) -> Result<Self> {
        let classes = [
            (opts.lowercase, LOWER),
            (opts.uppercase, UPPER),
            (opts.digits, DIGITS),
            (opts.symbols, SYMBOLS),
        ];
        let mut a = Alphabet {
            chars: Vec::new(),
            class_of: Vec::new(),
            class_sizes: Vec::new(),
        };
        for set in classes.iter().filter(|(on, _)| *on).map(|(_, set)| set) {
            let index = a.class_sizes.len() as u8;
            let before = a.chars.len();
            for c in set.bytes() {
                if !(opts.exclude_look_alikes && LOOK_ALIKES.as_bytes().contains(&c)) {
                    a.chars.push(c);
                    a.class_of.push(index);
                }
            }
            a.class_sizes.push(a.chars.len() - before);
        }
        if a.class_sizes.is_empty() {
            return Err(no_class(Setting::label));
        }
        Ok(a)
    }

    /// log2 of the number of `length`-character strings over this alphabet that contain at least
    /// one character of every class.
    ///
    /// By inclusion-exclusion the count is `sum over subsets S of the classes of
    /// (-1)^|S| * (N - |S|)^length`, where `|S|` counts the characters in S. Factoring out
    /// `N^length` keeps every term in `[0, 1]`, so the sum is computed in `f64` without overflow.
    fn entropy_bits(&self, length: usize) -> f64 {
        let n = self.chars.len() as f64;
        let k = self.class_sizes.len();
        let exponent = i32::try_from(length).expect("length is validated to be at most 1024");
        let mut fraction = 0.0;
        for subset in 0..(1u32 << k) {
            let excluded: usize = (0..k)
                .filter(|i| subset & (1 << i) != 0)
                .map(|i| self.class_sizes[i])
                .sum();
            let term = ((n - excluded as f64) / n).powi(exponent);
            if subset.count_ones() % 2 == 0 {
                fraction += term;
            } else {
                fraction -= term;
            }
        }
        length as f64 * n.log2() + fraction.log2()
    }
}

/// A random password drawn from the operating system's CSPRNG.
///
/// Fails with [`Error::Invalid`] when the length is outside `4..=1024` or no class is enabled.
pub fn generate_password(opts: &PasswordOptions) -> Result<GeneratedSecret> {
    generate_password_with(opts, &mut OsRng)
}

/// [`generate_password`] with a caller-chosen CSPRNG (tests use a seeded one).
pub(crate) fn generate_password_with<R: RngCore + CryptoRng>(
    opts: &PasswordOptions,
    rng: &mut R,
) -> Result<GeneratedSecret> {
    opts.check(Setting::label)?;
    let alphabet = Alphabet::new(opts)?;
    let buf = fill(&alphabet, opts.length, rng);
    Ok(GeneratedSecret {
        secret: into_secret(buf),
        entropy_bits: alphabet.entropy_bits(opts.length),
    })
}

/// Draw passwords until one contains every class. Every attempt overwrites the previous one in
/// the same buffer, whose capacity is reserved once.
fn fill<R: RngCore + CryptoRng>(
    alphabet: &Alphabet,
    length: usize,
    rng: &mut R,
) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(String::with_capacity(length));
    let capacity = buf.capacity();
    let all_classes = (1u32 << alphabet.class_sizes.len()) - 1;
    loop {
        buf.clear();
        let mut seen = 0u32;
        for _ in 0..length {
            let i = rng.gen_range(0..alphabet.chars.len());
            buf.push(char::from(alphabet.chars[i]));
            seen |= 1 << alphabet.class_of[i];
        }
        if seen == all_classes {
            break;
        }
    }
    debug_assert_eq!(buf.capacity(), capacity, "the buffer never reallocates");
    buf
}

/// Move the generated string into a [`SecretText`] without copying its bytes.
pub(super) fn into_secret(mut buf: Zeroizing<String>) -> SecretText {
    SecretText::new(std::mem::take(&mut *buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn opts(length: usize, classes: [bool; 4], exclude: bool) -> PasswordOptions {
        PasswordOptions {
            length,
            lowercase: classes[0],
            uppercase: classes[1],
            digits: classes[2],
            symbols: classes[3],
            exclude_look_alikes: exclude,
        }
    }

    /// Exact count of valid strings by inclusion-exclusion in integers, for small lengths.
    fn exact_log2(class_sizes: &[usize], length: u32) -> f64 {
        let n: usize = class_sizes.iter().sum();
        let k = class_sizes.len();
        let mut count: i128 = 0;
        for subset in 0..(1u32 << k) {
            let excluded: usize = (0..k)
                .filter(|i| subset & (1 << i) != 0)
                .map(|i| class_sizes[i])
                .sum();
            let term = ((n - excluded) as i128).pow(length);
            count += if subset.count_ones() % 2 == 0 {
                term
            } else {
                -term
            };
        }
        (count as f64).log2()
    }

    #[test]
    fn length_is_validated() {
        for bad in [0, 3, 1025, usize::MAX] {
            let err = generate_password(&opts(bad, [true; 4], false)).unwrap_err();
            assert!(err.to_string().contains("choose 4 to 1024"), "{err}");
        }
        for good in [4, 1024] {
            let pw = generate_password(&opts(good, [true; 4], false)).unwrap();
            assert_eq!(pw.secret.expose_secret().len(), good);
        }
    }

    #[test]
    fn at_least_one_class_is_required() {
        let err = generate_password(&opts(16, [false; 4], false)).unwrap_err();
        assert!(err.to_string().contains("at least one"), "{err}");
    }

    #[test]
    fn every_enabled_class_appears_and_no_other() {
        let mut rng = StdRng::seed_from_u64(7);
        for mask in 1u8..16 {
            let classes = [mask & 1 != 0, mask & 2 != 0, mask & 4 != 0, mask & 8 != 0];
            for _ in 0..200 {
                // Length 4 with all classes on is the hardest case for "every class appears".
                let o = opts(4, classes, mask % 3 == 0);
                let pw = generate_password_with(&o, &mut rng).unwrap();
                let s = pw.secret.expose_secret();
                let has = |set: &str| s.chars().any(|c| set.contains(c));
                for (on, set) in classes.iter().zip([LOWER, UPPER, DIGITS, SYMBOLS]) {
                    assert_eq!(*on, has(set), "{classes:?}");
                }
                if o.exclude_look_alikes {
                    assert!(!has(LOOK_ALIKES));
                }
            }
        }
    }

    #[test]
    fn characters_are_roughly_uniform() {
        // 10 digits, 100,000 draws: each digit expects 10,000 with a standard deviation of
        // about 95; a bias of even 5% would move one by 500.
        let mut rng = StdRng::seed_from_u64(42);
        let mut counts = [0u32; 10];
        for _ in 0..100 {
            let pw =
                generate_password_with(&opts(1000, [false, false, true, false], false), &mut rng)
                    .unwrap();
            for b in pw.secret.expose_secret().bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        for c in counts {
            assert!((9_500..=10_500).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn entropy_of_a_single_class_is_length_times_log2_alphabet() {
        let pw = generate_password(&opts(16, [true, false, false, false], false)).unwrap();
        assert!((pw.entropy_bits - 16.0 * 26f64.log2()).abs() < 1e-9);
        // Look-alikes removed: a-z without `o` and `l` is 24 characters.
        let pw = generate_password(&opts(10, [true, false, false, false], true)).unwrap();
        assert!((pw.entropy_bits - 10.0 * 24f64.log2()).abs() < 1e-9);
        // Digits without `0` and `1`: 8 characters, 3 bits each.
        let pw = generate_password(&opts(12, [false, false, true, false], true)).unwrap();
        assert!((pw.entropy_bits - 36.0).abs() < 1e-9);
    }

    #[test]
    fn entropy_with_several_classes_counts_only_valid_passwords() {
        for (classes, exclude, sizes) in [
            ([true; 4], false, vec![26, 26, 10, 32]),
            ([true; 4], true, vec![24, 24, 8, 28]),
            ([true, false, true, false], false, vec![26, 10]),
        ] {
            let a = Alphabet::new(&opts(8, classes, exclude)).unwrap();
            assert_eq!(a.class_sizes, sizes);
            for length in [4, 5, 8, 12, 16] {
                let got = a.entropy_bits(length);
                let want = exact_log2(&sizes, length as u32);
                assert!(
                    (got - want).abs() < 1e-9,
                    "{sizes:?} {length}: {got} vs {want}"
                );
                // Slightly less than the naive length * log2(N), never more.
                let naive = length as f64 * (sizes.iter().sum::<usize>() as f64).log2();
                assert!(got < naive);
            }
        }
        // The default options: 20 characters of 94, a hair under 20 * log2(94) = 131.09.
        let pw = generate_password(&PasswordOptions::default()).unwrap();
        assert!(
            (130.0..131.1).contains(&pw.entropy_bits),
            "{}",
            pw.entropy_bits
        );
    }

    #[test]
    fn buffer_is_allocated_once_at_its_final_size() {
        let a = Alphabet::new(&opts(4, [true; 4], true)).unwrap();
        let buf = fill(&a, 37, &mut OsRng);
        assert_eq!(buf.len(), 37);
        assert_eq!(buf.capacity(), 37);
    }

    #[test]
    fn two_passwords_differ() {
        let o = PasswordOptions::default();
        let a = generate_password(&o).unwrap();
        let b = generate_password(&o).unwrap();
        assert_ne!(a.secret.expose_secret(), b.secret.expose_secret());
        assert_eq!(format!("{:?}", a.secret), "***");
    }
}
