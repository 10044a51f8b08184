//! Base32 (RFC 4648, section 6) for TOTP secrets, as people paste them: any case, with or without
//! `=` padding, with spaces between groups.
//!
//! Written here rather than taken from a crate so that errors can say which character is wrong
//! and where, and so that decoded bytes go straight into a zeroizing buffer of the final size.
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The value of one base32 digit, any case.
fn value(c: char) -> Option<u32> {
    match c {
        'A'..='Z' => Some(c as u32 - 'A' as u32),
        'a'..='z' => Some(c as u32 - 'a' as u32),
        '2'..='7' => Some(c as u32 - '2' as u32 + 26),
        _ => None,
    }
}

/// What a character that is not base32 was probably meant to be.
fn hint(c: char) -> &'static str {
    match c {
        '0' => " (a '0' is usually the letter O)",
        '1' => " (a '1' is usually the letter I or L)",
        '8' => " (an '8' is usually the letter B)",
        _ => "",
    }
}

/// Decode a base32 secret. Whitespace anywhere and `=` padding at the end are ignored.
pub(super) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut digits = 0usize;
    let mut padding_at = None;
    for (i, c) in text.chars().enumerate() {
        if c.is_whitespace() {
            continue;
        }
        if c == '=' {
            padding_at.get_or_insert(i + 1);
            continue;
        }
        if value(c).is_none() || padding_at.is_some() {
            let what = if value(c).is_some() {
                format!(
                    "character '{c}' at position {} comes after the '=' padding at position {}",
                    i + 1,
                    padding_at.unwrap_or_default()
                )
            } else {
                format!("character {c:?} at position {}{}", i + 1, hint(c))
            };
            return Err(Error::Invalid(format!(
                "the TOTP secret is not valid base32: {what}; secrets use A-Z and 2-7"
            )));
        }
        digits += 1;
    }
    if digits == 0 {
        return Err(Error::Invalid(
            "the TOTP secret is empty; paste the secret key (letters A-Z and digits 2-7) the \
             service showed you"
                .into(),
        ));
    }
    if matches!(digits % 8, 1 | 3 | 6) {
        return Err(Error::Invalid(format!(
            "the TOTP secret is {digits} base32 characters long, a length no base32 encoding \
             produces; part of it is probably missing, so copy it again"
        )));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(digits * 5 / 8));
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.chars() {
        if let Some(v) = value(c) {
            acc = (acc << 5 | v) & 0xfff;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
    }
    acc.zeroize();
    debug_assert_eq!(
        out.len(),
        digits * 5 / 8,
        "the length was computed up front"
    );
    Ok(out)
}

/// The number of characters [`encode_into`] writes for `bytes` bytes.
pub(super) fn encoded_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

/// Append the unpadded, uppercase base32 form of `bytes` to `out`.
pub(super) fn encode_into(out: &mut String, bytes: &[u8]) {
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8 | u32::from(b)) & 0xfff;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[(acc >> bits & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[(acc << (5 - bits) & 31) as usize]));
    }
    acc.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648, section 10.
    const RFC4648: [(&str, &str); 7] = [
        ("", ""),
        ("f", "MY======"),
        ("fo", "MZXQ===="),
        ("foo", "MZXW6==="),
        ("foob", "MZXW6YQ="),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI======"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, encoded) in RFC4648 {
            let mut s = String::new();
            encode_into(&mut s, plain.as_bytes());
            assert_eq!(s, encoded.trim_end_matches('='));
            assert_eq!(s.len(), encoded_len(plain.len()));
            if !plain.is_empty() {
                assert_eq!(&decode(encoded).unwrap()[..], plain.as_bytes());
                let lower = encoded.trim_end_matches('=').to_ascii_lowercase();
                assert_eq!(&decode(&lower).unwrap()[..], plain.as_bytes());
            }
        }
    }

    #[test]
    fn spaces_and_case_are_ignored() {
        let a = decode("JBSWY3DPEHPK3PXP").unwrap();
        let b = decode(" jbsw y3dp\tehpk 3pxp ").unwrap();
        assert_eq!(a, b);
        assert_eq!(&a[..], b"Hello!\xde\xad\xbe\xef");
    }

    #[test]
    fn errors_say_what_and_where() {
        let cases = [
            (
                "JBSW1",
                "character '1' at position 5 (a '1' is usually the letter I or L)",
            ),
            (
                "AB0C",
                "character '0' at position 3 (a '0' is usually the letter O)",
            ),
            (
                "AB C!",
                "character '!' at position 5; secrets use A-Z and 2-7",
            ),
            (
                "MY==A",
                "character 'A' at position 5 comes after the '=' padding at position 3",
            ),
            ("", "the TOTP secret is empty"),
            ("  == ", "the TOTP secret is empty"),
            ("ABC", "3 base32 characters long"),
            ("ABCDEFGHI", "9 base32 characters long"),
        ];
        for (input, want) in cases {
            let err = decode(input).unwrap_err().to_string();
            assert!(err.contains(want), "{input:?}: {err}");
        }
    }
}
