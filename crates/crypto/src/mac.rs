//! Message authentication for values that must stay readable without a key (row metadata the
//! store indexes) but must not change unnoticed.
//!
//! ```text
//! MAC key = HKDF-SHA256(salt = none, IKM = a 256-bit key, info = label)     RFC 5869
//! tag     = HMAC-SHA256(MAC key, u32 len | label | u32 len | part | ...)    RFC 2104
//! ```
//!
//! The message is encoded as [`crate::envelope::associated_data`] encodes associated data (each
//! of the label and the parts prefixed by its length, big endian), so no two different lists of
//! parts give the same message. The key is derived under its own label, so a MAC key is never
//! the key it came from, nor the MAC key of another use.
use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::SymmetricKey;

/// Length in bytes of a tag.
pub const TAG_LEN: usize = 32;

/// An HMAC-SHA256 key. Zeroized on drop; `Debug` prints `***`; no `Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MacKey([u8; 32]);

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(***)")
    }
}

impl MacKey {
    /// The MAC key for one use (`label`) of `key`.
    pub fn derive(key: &SymmetricKey, label: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(None, key.expose_secret());
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(label.as_bytes(), &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self(*out)
    }

    fn mac(&self, label: &str, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for part in std::iter::once(label.as_bytes()).chain(parts.iter().copied()) {
            let len = u32::try_from(part.len()).expect("MAC message parts are small");
            mac.update(&len.to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The tag of `parts` under `label`.
    pub fn tag(&self, label: &str, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        self.mac(label, parts).finalize().into_bytes().into()
    }

    /// True when `tag` is the tag of `parts` under `label`; compared in constant time.
    pub fn verify(&self, label: &str, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.mac(label, parts).verify_slice(tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        b.iter()
            .flat_map(|x| [DIGITS[usize::from(x >> 4)], DIGITS[usize::from(x & 15)]])
            .map(char::from)
            .collect()
    }

    /// Known answers, computed independently (Python's hmac and hashlib): a changed label or
    /// encoding fails here instead of making every stored tag unreadable.
    #[test]
    fn known_answer() {
        let key = SymmetricKey::from_bytes([7; 32]);
        let k = MacKey::derive(&key, "tessera test mac");
        assert_eq!(
            hex(&k.0),
            "01161bcc435b6dc551ddb89fcaaca4ad63d855c1d9c0299707e9ac7b0cb102ec"
        );
        let tag = k.tag("tessera test record", &[b"abc", b"", &[1, 2, 3]]);
        assert_eq!(
            hex(&tag),
            "96c0092d40e39b1c75af0cf420e1cca489ff95fb53afc74179ae14b10349ca58"
        );
        assert!(k.verify("tessera test record", &[b"abc", b"", &[1, 2, 3]], &tag));
    }

    #[test]
    fn any_change_fails_verification() {
        let key = SymmetricKey::generate();
        let k = MacKey::derive(&key, "a");
        let tag = k.tag("l", &[b"ab", b"c"]);
        assert!(k.verify("l", &[b"ab", b"c"], &tag));
        // The length prefixes keep part boundaries: "ab","c" is not "a","bc".
        assert!(!k.verify("l", &[b"a", b"bc"], &tag));
        assert!(!k.verify("m", &[b"ab", b"c"], &tag));
        assert!(!MacKey::derive(&key, "b").verify("l", &[b"ab", b"c"], &tag));
        assert!(!k.verify("l", &[b"ab", b"c"], &tag[..31]));
        let mut bad = tag;
        bad[0] ^= 1;
        assert!(!k.verify("l", &[b"ab", b"c"], &bad));
        assert_eq!(format!("{k:?}"), "MacKey(***)");
    }
}
