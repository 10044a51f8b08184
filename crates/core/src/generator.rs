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

use crate::item::SecretText;

/// A freshly generated secret and how much entropy it carries.
#[derive(Debug)]
pub struct GeneratedSecret {
    /// The password or passphrase.
    pub secret: SecretText,
    /// log2 of the number of equally likely values the generator could have produced with the
    /// same options: the bits an attacker who knows the options must search.
    pub entropy_bits: f64,
}
