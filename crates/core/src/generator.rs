//! Generated secrets and strength estimates: random passwords, passphrases, and a zxcvbn
//! estimate for passwords people choose themselves.
//!
//! * [`password`]: characters drawn uniformly from the enabled classes, with every enabled
//!   class guaranteed to appear;
//! * [`passphrase`]: words drawn uniformly from the EFF large wordlist (7,776 words, so
//!   log2(7776) ≈ 12.925 bits a word);
//! * [`strength`]: zxcvbn's score, guesses and feedback for a user-chosen password.
//!
//! Randomness comes from the operating system's CSPRNG ([`rand_core::OsRng`]); indices are drawn
//! with `Rng::gen_range`, which rejects out-of-zone samples, so no character or word is more
//! likely than another (no modulo bias). The entropy figure each generator reports is the log2 of
//! the number of equally likely outputs it can produce, not a rule of thumb.
//!
//! Generated secrets are [`SecretText`](crate::item::SecretText): zeroized on drop and `***` in
//! `Debug`. Each is written into a `String` whose final capacity is reserved up front, so no
//! reallocation leaves a copy behind in freed memory.
//!
//! ```
//! use tessera_core::generator::{self, PassphraseOptions, PasswordOptions};
//!
//! let pw = generator::generate_password(&PasswordOptions::default())?;
//! assert_eq!(pw.secret.expose_secret().len(), 20);
//! assert!(pw.entropy_bits > 120.0);
//!
//! let opts = PassphraseOptions { separator: " ".into(), ..PassphraseOptions::default() };
//! let phrase = generator::generate_passphrase(&opts)?;
//! assert_eq!(phrase.secret.expose_secret().split(' ').count(), 6);
//! assert!((phrase.entropy_bits - 6.0 * 7776f64.log2()).abs() < 1e-9);
//!
//! let s = generator::estimate_strength("password", &[]);
//! assert_eq!(s.score, 0);
//! # Ok::<(), tessera_core::Error>(())
//! ```
//!
//! # Attribution
//!
//! The passphrase wordlist (`generator/eff_large_wordlist.txt`) is the EFF Large Wordlist for
//! Passphrases by the Electronic Frontier Foundation,
//! <https://www.eff.org/dice>, licensed under the Creative Commons Attribution 3.0 United States
//! licence (CC BY 3.0 US). It is unmodified apart from removing the dice-roll numbers before
//! each word. See `crates/core/NOTICE`.

pub mod passphrase;
pub mod password;
pub mod strength;

pub use passphrase::{generate_passphrase, wordlist, PassphraseOptions, WORDLIST_LEN};
pub use password::{generate_password, PasswordOptions};
pub use strength::{estimate_strength, Strength};

use crate::error::Result;
use crate::item::SecretText;

/// A generator option a refusal's hint points to. Each front end names the options in its own
/// terms (the CLI a flag, the desktop a control) through [`SettingNames`], so a hint never
/// names an option the user cannot find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// [`PasswordOptions::length`].
    Length,
    /// [`PasswordOptions::lowercase`].
    Lowercase,
    /// [`PasswordOptions::uppercase`].
    Uppercase,
    /// [`PasswordOptions::digits`].
    Digits,
    /// [`PasswordOptions::symbols`].
    Symbols,
    /// [`PassphraseOptions::words`].
    Words,
    /// [`PassphraseOptions::separator`].
    Separator,
    /// [`PassphraseOptions::capitalize`].
    Capitalize,
}

impl Setting {
    /// Every setting a hint can name.
    pub const ALL: [Setting; 8] = [
        Self::Length,
        Self::Lowercase,
        Self::Uppercase,
        Self::Digits,
        Self::Symbols,
        Self::Words,
        Self::Separator,
        Self::Capitalize,
    ];

    /// The desktop generator dialog's label: the naming [`generate_password`] and
    /// [`generate_passphrase`] use.
    pub fn label(self) -> Option<&'static str> {
        Some(match self {
            Self::Length => "Length",
            Self::Lowercase => "Lowercase",
            Self::Uppercase => "Uppercase",
            Self::Digits => "Digits",
            Self::Symbols => "Symbols",
            Self::Words => "Words",
            Self::Separator => "Separator",
            Self::Capitalize => "Capitalise words",
        })
    }
}

/// How a front end names each [`Setting`] in hints: `None` for one it does not offer (a hint
/// then leaves that way out).
pub type SettingNames = fn(Setting) -> Option<&'static str>;

/// ` (NAME)` for a setting the front end offers, else nothing.
fn named(names: SettingNames, s: Setting) -> String {
    names(s).map(|n| format!(" ({n})")).unwrap_or_default()
}

/// [`generate_password`], with hints naming the options as `names` does.
pub fn generate_password_named(
    opts: &PasswordOptions,
    names: SettingNames,
) -> Result<GeneratedSecret> {
    opts.check(names)?;
    generate_password(opts)
}

/// [`generate_passphrase`], with hints naming the options as `names` does.
pub fn generate_passphrase_named(
    opts: &PassphraseOptions,
    names: SettingNames,
) -> Result<GeneratedSecret> {
    opts.check(names)?;
    generate_passphrase(opts)
}

/// A freshly generated secret and how much entropy it carries.
#[derive(Debug)]
pub struct GeneratedSecret {
    /// The password or passphrase.
    pub secret: SecretText,
    /// log2 of the number of equally likely values the generator could have produced with the
    /// same options: the bits an attacker who knows the options must search.
    pub entropy_bits: f64,
}
