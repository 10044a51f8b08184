//! The Account Secret Key: 128 random bits that live only on the user's devices and in the
//! printed Emergency Kit. Mixed into the key derivation (two-secret key derivation), it makes a
//! stolen server database useless for guessing master passwords offline.
//!
//! Human format: `T1-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`. `T1` names the format version; the 28
//! characters that follow are Crockford base32 (no I, L, O or U; those read as 1, 1, 0 on input,
//! case does not matter) of the 128 key bits, padded with two zero bits, then 10 bits of
//! SHA-256 checksum, so a mistyped or swapped character is caught before any key derivation.
use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::CryptoError;

/// Bytes of entropy in an Account Secret Key.
pub const SECRET_KEY_LEN: usize = 16;
const PREFIX: &str = "T1";
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_CHARS: usize = 28;

/// A 128-bit Account Secret Key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AccountSecretKey([u8; SECRET_KEY_LEN]);

impl AccountSecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; SECRET_KEY_LEN];
        crate::random_bytes(&mut k);
        Self(k)
    }

    /// From raw bytes (as stored on a device).
    pub fn from_bytes(bytes: [u8; SECRET_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes.
    pub fn expose_secret(&self) -> &[u8; SECRET_KEY_LEN] {
        &self.0
    }

    /// The printable form for the Emergency Kit.
    pub fn to_human(&self) -> Zeroizing<String> {
        let mut bits = Zeroizing::new([0u8; BODY_CHARS * 5 / 8 + 1]);
        bits[..SECRET_KEY_LEN].copy_from_slice(&self.0);
        // 128 key bits, 2 zero bits, 10 checksum bits = 140 bits = 28 characters.
        let sum = checksum(&self.0);
        let mut symbols = Zeroizing::new([0u8; BODY_CHARS]);
        for (i, sym) in symbols.iter_mut().enumerate().take(26) {
            *sym = read_bits(&bits[..], i * 5);
        }
        // The 26th symbol holds the last 3 key bits and 2 zero pad bits (already zero).
        symbols[26] = (sum >> 5) as u8 & 0x1f;
        symbols[27] = sum as u8 & 0x1f;
        let mut out = Zeroizing::new(String::with_capacity(PREFIX.len() + BODY_CHARS + 7));
        out.push_str(PREFIX);
        for (i, s) in symbols.iter().enumerate() {
            if i % 4 == 0 {
                out.push('-');
            }
            out.push(char::from(ALPHABET[usize::from(*s)]));
        }
        out
    }

    /// Parse the human form. Tolerates lower case, spaces, missing dashes and the look-alikes
    /// I/L (read as 1) and O (read as 0). Says what is wrong, never which bits.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let mut symbols = Zeroizing::new(Vec::with_capacity(BODY_CHARS + 2));
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            symbols.push(c.to_ascii_uppercase());
        }
        if symbols.len() < 2 || symbols[0] != 'T' || symbols[1] != '1' {
            return Err(CryptoError::InvalidSecretKey(
                "it must start with T1- (check you copied the Account Secret Key, not something else)".into(),
            ));
        }
        let body = &symbols[2..];
        if body.len() != BODY_CHARS {
            return Err(CryptoError::InvalidSecretKey(format!(
                "expected {BODY_CHARS} characters after T1-, found {}",
                body.len()
            )));
        }
        let mut values = Zeroizing::new([0u8; BODY_CHARS]);
        for (i, c) in body.iter().enumerate() {
            values[i] = decode_symbol(*c).ok_or_else(|| {
                CryptoError::InvalidSecretKey(format!(
                    "character {} ('{c}') is not one the key uses",
                    i + 1
                ))
            })?;
        }
        let mut bits = Zeroizing::new([0u8; BODY_CHARS * 5 / 8 + 1]);
        for (i, v) in values.iter().enumerate().take(26) {
            write_bits(&mut bits[..], i * 5, *v);
        }
        let pad_ok = bits[SECRET_KEY_LEN] == 0;
        let mut key = [0u8; SECRET_KEY_LEN];
        key.copy_from_slice(&bits[..SECRET_KEY_LEN]);
        let key = Self(key);
        let sum = (u16::from(values[26]) << 5) | u16::from(values[27]);
        if !pad_ok || checksum(&key.0) != sum {
            return Err(CryptoError::InvalidSecretKey(
                "the checksum does not match: a character is mistyped".into(),
            ));
        }
        Ok(key)
    }
}

impl fmt::Debug for AccountSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountSecretKey(***)")
    }
}

fn checksum(key: &[u8; SECRET_KEY_LEN]) -> u16 {
    let digest = Sha256::new()
        .chain_update(b"tessera account secret key v1")
        .chain_update(key)
        .finalize();
    (u16::from(digest[0]) << 2 | u16::from(digest[1]) >> 6) & 0x3ff
}

fn decode_symbol(c: char) -> Option<u8> {
    let c = match c {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .map(|p| p as u8)
}

fn read_bits(buf: &[u8], offset: usize) -> u8 {
    let mut v = 0u8;
    for i in 0..5 {
        let bit = offset + i;
        let b = (buf[bit / 8] >> (7 - bit % 8)) & 1;
        v = (v << 1) | b;
    }
    v
}

fn write_bits(buf: &mut [u8], offset: usize, value: u8) {
    for i in 0..5 {
        let bit = offset + i;
        if (value >> (4 - i)) & 1 == 1 {
            buf[bit / 8] |= 1 << (7 - bit % 8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_shape() {
        let k = AccountSecretKey::generate();
        let h = k.to_human();
        assert_eq!(h.len(), 2 + 7 * 5);
        assert!(h.starts_with("T1-"));
        assert_eq!(h.split('-').count(), 8);
    }

    #[test]
    fn every_single_character_typo_is_caught_or_harmless() {
        let k = AccountSecretKey::generate();
        let h = k.to_human();
        let chars: Vec<char> = h.chars().collect();
        let mut caught = 0;
        let mut total = 0;
        for i in 3..chars.len() {
            if chars[i] == '-' {
                continue;
            }
            for &a in ALPHABET {
                let a = char::from(a);
                if a == chars[i] {
                    continue;
                }
                let mut t = chars.clone();
                t[i] = a;
                let s: String = t.into_iter().collect();
                total += 1;
                match AccountSecretKey::parse(&s) {
                    Err(_) => caught += 1,
                    Ok(other) => assert_ne!(other.expose_secret(), k.expose_secret()),
                }
            }
        }
        // A 10-bit checksum lets about 1 in 1024 random typos through.
        assert!(caught * 100 >= total * 99, "{caught}/{total}");
    }

    #[test]
    fn forgiving_input() {
        let k = AccountSecretKey::generate();
        let h = k
            .to_human()
            .to_lowercase()
            .replace('-', " ")
            .replace('0', "o");
        let back = AccountSecretKey::parse(&h).unwrap();
        assert_eq!(back.expose_secret(), k.expose_secret());
    }

    #[test]
    fn clear_errors() {
        let e = AccountSecretKey::parse("hello").unwrap_err().to_string();
        assert!(e.contains("T1-"), "{e}");
        let e = AccountSecretKey::parse("T1-ABCD").unwrap_err().to_string();
        assert!(e.contains("expected 28"), "{e}");
        let e = AccountSecretKey::parse("T1-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABC!")
            .unwrap_err()
            .to_string();
        assert!(e.contains("character 28"), "{e}");
    }

    proptest! {
        #[test]
        fn round_trip(bytes in any::<[u8; 16]>()) {
            let k = AccountSecretKey::from_bytes(bytes);
            let back = AccountSecretKey::parse(&k.to_human()).unwrap();
            prop_assert_eq!(back.expose_secret(), &bytes);
        }
    }
}
