//! Time-based one-time passwords (TOTP, RFC 6238) from `otpauth://` URIs or bare base32 secrets.
//!
//! A [`TotpSpec`] is what an authenticator app keeps for one account: the shared secret, the HMAC
//! algorithm, the number of digits, the time step, and the issuer and account names it shows.
//! Codes are computed by `totp-rs` (HMAC-SHA1/256/512 and dynamic truncation per RFC 4226 and
//! RFC 6238). Its `otpauth` feature is off because it pulls in the `url` crate and its ICU
//! tables; the `uri` submodule parses and writes the Key Uri Format itself.
//!
//! Accepted: `otpauth://totp/` URIs with SHA1, SHA256 or SHA512, 6 to 8 digits, a period of 1 to
//! 3600 seconds, and a secret of at least 80 bits (RFC 4226 asks for 128 and recommends 160, but
//! many services issue 80-bit secrets). Refused with a message that says what to fix: HOTP URIs,
//! other algorithms, digits or periods outside those ranges, secrets that are empty, shorter than
//! 80 bits or not base32.
//!
//! ```
//! use tessera_core::totp::TotpSpec;
//!
//! let spec = TotpSpec::parse(
//!     "otpauth://totp/ACME%20Co:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
//!      &issuer=ACME%20Co&algorithm=SHA1&digits=8&period=30",
//! )?;
//! assert_eq!(spec.issuer(), Some("ACME Co"));
//! assert_eq!(spec.account(), "alice@example.com");
//! assert_eq!(spec.code_at(59), "94287082"); // RFC 6238, Appendix B
//! assert_eq!(TotpSpec::parse(&spec.to_uri())?, spec);
//! # Ok::<(), tessera_core::Error>(())
//! ```
mod base32;
mod uri;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Digits when the URI does not say.
pub const DEFAULT_DIGITS: u8 = 6;
/// Seconds per code when the URI does not say.
pub const DEFAULT_PERIOD: u32 = 30;
/// The longest period accepted, in seconds.
pub const MAX_PERIOD: u32 = 3600;
/// The shortest secret accepted: 80 bits.
pub const MIN_SECRET_BYTES: usize = 10;
/// The longest input [`TotpSpec::parse`] reads.
pub const MAX_INPUT_LEN: usize = 8 * 1024;

const PERIOD_HINT: &str = "use a number of seconds from 1 to 3600 (usually 30)";

/// The HMAC hash of a TOTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TotpAlgorithm {
    /// HMAC-SHA1: the default, and the only one many apps support.
    #[default]
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl TotpAlgorithm {
    /// The name used in URIs: `SHA1`, `SHA256`, `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        }
    }

    fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            TotpAlgorithm::Sha1 => totp_rs::Algorithm::SHA1,
            TotpAlgorithm::Sha256 => totp_rs::Algorithm::SHA256,
            TotpAlgorithm::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

/// Everything needed to compute an account's codes. The secret is zeroized on drop and never
/// printed; equality compares it in constant time.
pub struct TotpSpec {
    algorithm: TotpAlgorithm,
    digits: u8,
    period: u32,
    secret: Zeroizing<Vec<u8>>,
    issuer: Option<String>,
    account: String,
}

fn digits_error(digits: impl fmt::Display) -> Error {
    Error::Invalid(format!(
        "TOTP codes of {digits} digits are not supported; use 6, 7 or 8 digits"
    ))
}

fn period_error(period: impl fmt::Display) -> Error {
    Error::Invalid(format!(
        "a TOTP period of {period} seconds is not supported; {PERIOD_HINT}"
    ))
}

impl TotpSpec {
    /// A spec with no issuer or account name. Fails with [`Error::Invalid`] when the secret is
    /// shorter than 80 bits, `digits` is outside `6..=8` or `period` outside `1..=3600`.
    pub fn new(
        secret: Zeroizing<Vec<u8>>,
        algorithm: TotpAlgorithm,
        digits: u8,
        period: u32,
    ) -> Result<Self> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(Error::Invalid(format!(
                "the TOTP secret is only {} bits; Tessera needs at least 80 bits (16 base32 \
                 characters), so check that you copied all of it",
                secret.len() * 8
            )));
        }
        if !(6..=8).contains(&digits) {
            return Err(digits_error(digits));
        }
        if !(1..=MAX_PERIOD).contains(&period) {
            return Err(period_error(period));
        }
        Ok(Self {
            algorithm,
            digits,
            period,
            secret,
            issuer: None,
            account: String::new(),
        })
    }

    /// Set the names shown beside the code. Both are trimmed; an empty issuer is none.
    ///
    /// The issuer can't contain `:`, nor can the account when there is no issuer: the label of an
    /// `otpauth` URI is `Issuer:account`, so either would be read back differently.
    pub fn with_label(mut self, issuer: Option<&str>, account: &str) -> Result<Self> {
        let issuer = issuer.map(str::trim).filter(|i| !i.is_empty());
        let account = account.trim();
        if issuer.is_some_and(|i| i.contains(':')) {
            return Err(Error::Invalid(
                "a TOTP issuer can't contain ':', which separates issuer and account in the \
                 label; remove it"
                    .into(),
            ));
        }
        if issuer.is_none() && account.contains(':') {
            return Err(Error::Invalid(
                "a TOTP account name can't contain ':' unless an issuer is set, or it would be \
                 read as `issuer:account`; set the issuer"
                    .into(),
            ));
        }
        self.issuer = issuer.map(str::to_owned);
        account.clone_into(&mut self.account);
        self.fits()
    }

    /// Refuse a spec whose URI [`TotpSpec::parse`] would not read back: the URI is what an item
    /// stores, and percent-encoding can make it three times (the issuer, written twice, six
    /// times) longer than the text it came from.
    fn fits(self) -> Result<Self> {
        let len = self.to_uri().len();
        if len > MAX_INPUT_LEN {
            return Err(Error::Invalid(format!(
                "this TOTP secret and its names are too long: its otpauth URI would be {len} \
                 bytes, more than the {MAX_INPUT_LEN} Tessera reads; shorten the issuer or the \
                 account name"
            )));
        }
        Ok(self)
    }

    /// Parse an `otpauth://totp/...` URI, or a bare base32 secret (then SHA1, 6 digits, 30 s).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() > MAX_INPUT_LEN {
            return Err(Error::Invalid(format!(
                "the TOTP secret or URI is {} bytes long; Tessera reads at most {MAX_INPUT_LEN}",
                text.len()
            )));
        }
        let scheme = text.find("://").map(|at| text[..at].to_ascii_lowercase());
        match scheme.as_deref() {
            Some("otpauth") => uri::parse(text),
            Some("otpauth-migration") => Err(Error::Invalid(
                "this is a Google Authenticator export (otpauth-migration://), which holds \
                 several accounts; export or scan them one at a time"
                    .into(),
            )),
            Some(other) => Err(Error::Invalid(format!(
                "a {other}:// URI is not a TOTP secret; paste an otpauth://totp/ URI or the \
                 base32 secret"
            ))),
            None => Self::new(
                base32::decode(text)?,
                TotpAlgorithm::Sha1,
                DEFAULT_DIGITS,
                DEFAULT_PERIOD,
            )?
            .fits(),
        }
    }

    /// The `otpauth://totp/` URI, with every parameter explicit. It contains the secret.
    pub fn to_uri(&self) -> Zeroizing<String> {
        uri::emit(self)
    }

    /// The code for the time step containing `unix_time` (seconds since 1970).
    pub fn code_at(&self, unix_time: u64) -> String {
        // The copy of the secret inside `TOTP` is zeroized on drop (totp-rs `zeroize` feature).
        // `new_unchecked` because totp-rs insists on 128 bits and we accept 80.
        let totp = totp_rs::TOTP::new_unchecked(
            self.algorithm.to_totp_rs(),
            usize::from(self.digits),
            0,
            u64::from(self.period),
            self.secret.to_vec(),
        );
        totp.generate(unix_time)
    }

    /// Seconds from `unix_time` until the next code, `1..=period`.
    pub fn seconds_remaining_at(&self, unix_time: u64) -> u32 {
        let into_step =
            u32::try_from(unix_time % u64::from(self.period)).expect("a remainder is < period");
        self.period - into_step
    }

    /// The current code and the seconds it stays valid. A clock set before 1970 counts as 1970.
    pub fn now(&self) -> (String, u32) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (self.code_at(now), self.seconds_remaining_at(now))
    }

    /// The HMAC algorithm.
    pub fn algorithm(&self) -> TotpAlgorithm {
        self.algorithm
    }

    /// Digits per code, `6..=8`.
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// Seconds per code, `1..=3600`.
    pub fn period(&self) -> u32 {
        self.period
    }

    /// Who issued the secret ("GitHub"), if known.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name ("alice@example.com"); may be empty.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The raw shared secret. Greppable on purpose.
    pub fn expose_secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for TotpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpSpec")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("secret", &"***")
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .finish()
    }
}

impl PartialEq for TotpSpec {
    fn eq(&self, other: &Self) -> bool {
        let same_secret: bool = self.secret.as_slice().ct_eq(other.secret.as_slice()).into();
        same_secret
            && self.algorithm == other.algorithm
            && self.digits == other.digits
            && self.period == other.period
            && self.issuer == other.issuer
            && self.account == other.account
    }
}

impl Eq for TotpSpec {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn algorithm(name: &str) -> TotpAlgorithm {
        match name {
            "SHA1" => TotpAlgorithm::Sha1,
            "SHA256" => TotpAlgorithm::Sha256,
            "SHA512" => TotpAlgorithm::Sha512,
            _ => panic!("unknown algorithm {name} in the vector file"),
        }
    }

    /// RFC 6238 Appendix B, all 18 codes, from the shared vector file.
    #[test]
    fn rfc6238_vectors() {
        let text = include_str!("../../../tests/vectors/rfc6238_totp.txt");
        let mut seeds = Vec::new();
        let mut checked = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f[..] {
                ["seed", alg, seed] => seeds.push((algorithm(alg), hex(seed))),
                ["code", time, alg, code] => {
                    let alg = algorithm(alg);
                    let seed = &seeds.iter().find(|(a, _)| *a == alg).unwrap().1;
                    let spec = TotpSpec::new(Zeroizing::new(seed.clone()), alg, 8, 30).unwrap();
                    assert_eq!(spec.code_at(time.parse().unwrap()), code, "{line}");
                    // The same through a URI.
                    let again = TotpSpec::parse(&spec.to_uri()).unwrap();
                    assert_eq!(again.code_at(time.parse().unwrap()), code, "{line}");
                    checked += 1;
                }
                _ => panic!("bad vector line {line:?}"),
            }
        }
        assert_eq!(
            seeds.iter().map(|(_, s)| s.len()).collect::<Vec<_>>(),
            [20, 32, 64]
        );
        assert_eq!(checked, 18);
    }

    #[test]
    fn parses_a_full_uri() {
        let spec = TotpSpec::parse(
            "otpauth://totp/ACME%20Co:%20john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
             &issuer=ACME+Co&algorithm=sha256&digits=7&period=60&image=https%3A%2F%2Fx.invalid",
        )
        .unwrap();
        assert_eq!(spec.issuer(), Some("ACME Co"));
        assert_eq!(spec.account(), "john.doe@email.com");
        assert_eq!(spec.algorithm(), TotpAlgorithm::Sha256);
        assert_eq!((spec.digits(), spec.period()), (7, 60));
        assert_eq!(spec.expose_secret().len(), 20);
        assert_eq!(format!("{spec:?}").matches("***").count(), 1);
        assert!(!format!("{spec:?}").contains("HXDM"));
    }

    #[test]
    fn label_forms() {
        let s = "secret=JBSWY3DPEHPK3PXPJBSWY3DP";
        let cases: [(&str, Option<&str>, &str); 7] = [
            ("alice", None, "alice"),
            ("GitHub:alice", Some("GitHub"), "alice"),
            ("GitHub%3Aalice", Some("GitHub"), "alice"),
            ("GitHub%3aalice", Some("GitHub"), "alice"),
            // The issuer parameter wins over the label prefix.
            ("Old:alice?issuer=New&", Some("New"), "alice"),
            ("", None, ""),
            ("%E2%9C%93:b%C3%BCro", Some("✓"), "büro"),
        ];
        for (label, issuer, account) in cases {
            let sep = if label.contains('?') { "" } else { "?" };
            let uri = format!("otpauth://totp/{label}{sep}{s}");
            let spec = TotpSpec::parse(&uri).unwrap();
            assert_eq!((spec.issuer(), spec.account()), (issuer, account), "{uri}");
        }
        // No label at all, and an upper-case scheme.
        let spec = TotpSpec::parse(&format!("OTPAUTH://TOTP?{s}")).unwrap();
        assert_eq!((spec.issuer(), spec.account()), (None, ""));
    }

    #[test]
    fn bare_secrets_take_the_defaults() {
        for text in [
            "JBSWY3DPEHPK3PXP",
            "jbsw y3dp ehpk 3pxp",
            "JBSWY3DPEHPK3PXP======\n",
        ] {
            let spec = TotpSpec::parse(text).unwrap();
            assert_eq!(spec.expose_secret(), b"Hello!\xde\xad\xbe\xef");
            assert_eq!(spec.algorithm(), TotpAlgorithm::Sha1);
            assert_eq!((spec.digits(), spec.period()), (6, 30));
            assert_eq!((spec.issuer(), spec.account()), (None, ""));
        }
    }

    #[test]
    fn parse_errors_say_what_to_do() {
        let ok = "JBSWY3DPEHPK3PXP";
        let cases: Vec<(String, &str)> = vec![
            (format!("otpauth://hotp/x?secret={ok}&counter=1"), "HOTP (counter-based)"),
            (format!("otpauth://sotp/x?secret={ok}"), "unknown one-time password type \"sotp\""),
            (format!("otpauth://totp/x?secret={ok}&algorithm=MD5"), "unknown TOTP algorithm \"MD5\"; use SHA1, SHA256 or SHA512"),
            (format!("otpauth://totp/x?secret={ok}&digits=5"), "5 digits are not supported; use 6, 7 or 8"),
            (format!("otpauth://totp/x?secret={ok}&digits=9"), "9 digits"),
            (format!("otpauth://totp/x?secret={ok}&digits=300"), "300 digits"),
            (format!("otpauth://totp/x?secret={ok}&digits=six"), "\"six\" is not a whole number; use 6, 7 or 8"),
            (format!("otpauth://totp/x?secret={ok}&period=0"), "period of 0 seconds is not supported; use a number of seconds from 1 to 3600"),
            (format!("otpauth://totp/x?secret={ok}&period=3601"), "period of 3601 seconds"),
            (format!("otpauth://totp/x?secret={ok}&period=99999999999"), "period of 99999999999 seconds"),
            (format!("otpauth://totp/x?secret={ok}&period=-30"), "\"-30\" is not a whole number"),
            (format!("otpauth://totp/x?secret={ok}&digits=6&digits=8"), "\"digits\" parameter twice"),
            ("otpauth://totp/x?issuer=ACME".into(), "no secret parameter"),
            ("otpauth://totp/x?secret=".into(), "the TOTP secret is empty"),
            ("otpauth://totp/x?secret=JBSW1DPEHPK3PXP".into(), "not valid base32: character '1' at position 5 (a '1' is usually the letter I or L); secrets use A-Z and 2-7"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3P".into(), "14 base32 characters long"),
            ("JBSWY3DPEHPK3===".into(), "only 64 bits; Tessera needs at least 80 bits (16 base32 characters)"),
            (String::new(), "the TOTP secret is empty"),
            ("otpauth:/totp/x?secret=JBSWY3DPEHPK3PXP".into(), "not valid base32: character ':'"),
            ("otpauth-migration://offline?data=abc".into(), "Google Authenticator export"),
            ("https://example.com/?secret=JBSWY3DPEHPK3PXP".into(), "a https:// URI is not a TOTP secret"),
            (format!("otpauth://totp/%ZZ?secret={ok}"), "label has a broken %-escape"),
            (format!("otpauth://totp/%FF?secret={ok}"), "not UTF-8"),
            (format!("otpauth://totp/x?secret={ok}&issuer=a%3Ab"), "issuer can't contain ':'"),
            ("A".repeat(MAX_INPUT_LEN + 1), "Tessera reads at most 8192"),
        ];
        for (input, want) in cases {
            let err = TotpSpec::parse(&input).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)));
            let msg = err.to_string();
            assert!(
                msg.contains(want),
                "{input:?}\n  got:  {msg}\n  want: {want}"
            );
        }
    }

    /// Found by fuzzing: a URI under the input limit whose names percent-encode to a stored URI
    /// over it (`tessera add --totp` saves `to_uri()`), so the item's code could never be read
    /// back. Every spec that parses now has a URI that parses to it.
    #[test]
    fn a_spec_whose_uri_would_not_read_back_is_refused() {
        let issuer = "\u{e9}".repeat(1500);
        let input = format!("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer={issuer}");
        assert!(input.len() < MAX_INPUT_LEN);
        let e = TotpSpec::parse(&input).unwrap_err().to_string();
        assert!(
            e.contains("too long") && e.contains("shorten the issuer"),
            "{e}"
        );
        let long_secret = "A".repeat(MAX_INPUT_LEN - 8);
        let e = TotpSpec::parse(&long_secret).unwrap_err().to_string();
        assert!(e.contains("its otpauth URI would be"), "{e}");
        let base = TotpSpec::parse("JBSWY3DPEHPK3PXP").unwrap();
        let e = base
            .with_label(Some(&"\u{e9}".repeat(800)), "me")
            .unwrap_err()
            .to_string();
        assert!(e.contains("too long"), "{e}");
        let crash =
            include_bytes!("../../../tests/fuzz/corpus/otpauth/crash-uri-longer-than-the-limit");
        if let Ok(spec) = TotpSpec::parse(&String::from_utf8_lossy(crash)) {
            TotpSpec::parse(&spec.to_uri()).unwrap();
        }
    }

    #[test]
    fn eighty_bit_secrets_are_accepted() {
        let spec = TotpSpec::parse("JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(spec.expose_secret().len() * 8, 80);
        assert_eq!(spec.code_at(0).len(), 6);
    }

    #[test]
    fn to_uri_is_explicit_and_encoded() {
        let spec = TotpSpec::new(
            Zeroizing::new(b"12345678901234567890".to_vec()),
            TotpAlgorithm::Sha512,
            8,
            45,
        )
        .unwrap()
        .with_label(Some(" ACME & Co "), "bob+tag@example.com")
        .unwrap();
        assert_eq!(
            spec.to_uri().as_str(),
            "otpauth://totp/ACME%20%26%20Co:bob%2Btag%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20%26%20Co\
             &algorithm=SHA512&digits=8&period=45"
        );
        let uri = spec.to_uri();
        assert_eq!(
            uri.capacity(),
            uri.len(),
            "allocated once at its final size"
        );
    }

    #[test]
    fn labels_that_would_not_read_back_are_refused() {
        let new = || TotpSpec::parse("JBSWY3DPEHPK3PXP").unwrap();
        assert!(new().with_label(Some("A:B"), "x").is_err());
        assert!(new().with_label(None, "a:b").is_err());
        let spec = new().with_label(Some("A"), "a:b").unwrap();
        assert_eq!(TotpSpec::parse(&spec.to_uri()).unwrap(), spec);
        let spec = new().with_label(Some("  "), " x ").unwrap();
        assert_eq!((spec.issuer(), spec.account()), (None, "x"));
    }

    #[test]
    fn seconds_remaining() {
        let spec = TotpSpec::parse("JBSWY3DPEHPK3PXP").unwrap();
        for (t, left) in [
            (0, 30),
            (1, 29),
            (29, 1),
            (30, 30),
            (59, 1),
            (1_111_111_111, 29),
        ] {
            assert_eq!(spec.seconds_remaining_at(t), left, "t = {t}");
        }
        let minute = TotpSpec::new(Zeroizing::new(vec![7; 10]), TotpAlgorithm::Sha1, 6, 1).unwrap();
        assert_eq!(minute.seconds_remaining_at(u64::MAX), 1);
        let hour =
            TotpSpec::new(Zeroizing::new(vec![7; 10]), TotpAlgorithm::Sha1, 6, 3600).unwrap();
        assert_eq!(hour.seconds_remaining_at(3599), 1);
        assert_eq!(hour.seconds_remaining_at(7200), 3600);
        // The code changes exactly when the countdown runs out.
        let t = 1_700_000_000;
        let next = t + u64::from(spec.seconds_remaining_at(t));
        assert_eq!(spec.code_at(t), spec.code_at(next - 1));
        let (code, left) = spec.now();
        assert_eq!(code.len(), 6);
        assert!((1..=30).contains(&left));
    }

    fn arb_spec() -> impl Strategy<Value = TotpSpec> {
        (
            proptest::collection::vec(any::<u8>(), MIN_SECRET_BYTES..80),
            prop_oneof![
                Just(TotpAlgorithm::Sha1),
                Just(TotpAlgorithm::Sha256),
                Just(TotpAlgorithm::Sha512)
            ],
            6u8..=8,
            1u32..=MAX_PERIOD,
            proptest::option::of("[^:]{0,12}"),
            "\\PC{0,16}",
        )
            .prop_filter_map("labels that can't be written", |(s, a, d, p, i, acc)| {
                TotpSpec::new(Zeroizing::new(s), a, d, p)
                    .unwrap()
                    .with_label(i.as_deref(), &acc)
                    .ok()
            })
    }

    proptest! {
        #[test]
        fn uri_round_trip(spec in arb_spec()) {
            let uri = spec.to_uri();
            let again = TotpSpec::parse(&uri).unwrap();
            prop_assert_eq!(&again, &spec);
            prop_assert_eq!(again.to_uri(), uri);
        }

        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn parse_never_panics(text in "\\PC{0,64}", tail in "[A-Za-z0-9%:=&?/+]{0,40}") {
            let _ = TotpSpec::parse(&text);
            let _ = TotpSpec::parse(&format!("otpauth://totp/{text}?{tail}"));
        }
    }
}
