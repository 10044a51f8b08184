//! The AEAD envelope: AES-256-GCM, a random 96-bit nonce per encryption, associated data that
//! binds the ciphertext to its context (vault or team, item id, version, format version).
//!
//! Wire layout of a [`Sealed`] value: `nonce (12) || ciphertext || tag (16)`.
//! Random nonces are safe here: every item version has its own key, and the long-lived keys
//! (vault key, group keys) wrap at most a few million item keys, far below the 2^32 messages
//! NIST SP 800-38D allows per key with random nonces.
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use zeroize::Zeroizing;

use crate::{CryptoError, SymmetricKey};

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Authentication tag length in bytes.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Data at rest: a nonce, a ciphertext and a tag. Opens with a key into plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// Accept stored bytes; only the length can be checked before opening.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CryptoError> {
        if bytes.len() < OVERHEAD {
            return Err(CryptoError::Malformed(
                "sealed value (shorter than nonce and tag)",
            ));
        }
        Ok(Self(bytes))
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The stored form, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

/// Associated data from a context label and parts, each length-prefixed so that no two
/// different lists of parts encode alike.
pub fn associated_data(label: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut ad =
        Vec::with_capacity(label.len() + 4 + parts.iter().map(|p| p.len() + 4).sum::<usize>());
    for part in std::iter::once(label.as_bytes()).chain(parts.iter().copied()) {
        let len = u32::try_from(part.len()).expect("associated data parts are small");
        ad.extend_from_slice(&len.to_be_bytes());
        ad.extend_from_slice(part);
    }
    ad
}

/// Encrypt `plaintext` under `key`, binding `ad`. The plaintext is copied once, into the
/// buffer that becomes the ciphertext, so no plaintext copy is left behind.
pub fn seal(key: &SymmetricKey, plaintext: &[u8], ad: &[u8]) -> Sealed {
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    let mut nonce = [0u8; NONCE_LEN];
    crate::random_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let cipher = Aes256Gcm::new(key.expose_secret().into());
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), ad, &mut out[NONCE_LEN..])
        .expect("AES-GCM encrypts any message under 64 GiB");
    out.extend_from_slice(&tag);
    Sealed(out)
}

/// Decrypt and authenticate. The plaintext comes back in a buffer that zeroizes on drop.
pub fn open(
    key: &SymmetricKey,
    sealed: &Sealed,
    ad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let bytes = &sealed.0;
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut buf = Zeroizing::new(ct.to_vec());
    let cipher = Aes256Gcm::new(key.expose_secret().into());
    cipher
        .decrypt_in_place_detached(Nonce::from_slice(nonce), ad, &mut buf, Tag::from_slice(tag))
        .map_err(|_| CryptoError::Decrypt)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wrong_key_ad_or_flipped_byte_fail() {
        let key = SymmetricKey::generate();
        let sealed = seal(&key, b"hunter2", b"ad");
        assert!(open(&SymmetricKey::generate(), &sealed, b"ad").is_err());
        assert!(open(&key, &sealed, b"other").is_err());
        for i in 0..sealed.as_bytes().len() {
            let mut b = sealed.as_bytes().to_vec();
            b[i] ^= 0x01;
            let s = Sealed::from_bytes(b).unwrap();
            assert!(
                matches!(open(&key, &s, b"ad"), Err(CryptoError::Decrypt)),
                "byte {i}"
            );
        }
    }

    #[test]
    fn short_input_is_malformed_not_a_panic() {
        assert!(Sealed::from_bytes(vec![0; OVERHEAD - 1]).is_err());
        let key = SymmetricKey::generate();
        let empty = Sealed::from_bytes(vec![0; OVERHEAD]).unwrap();
        assert!(open(&key, &empty, b"").is_err());
    }

    #[test]
    fn associated_data_is_unambiguous() {
        assert_ne!(
            associated_data("x", &[b"ab", b"c"]),
            associated_data("x", &[b"a", b"bc"])
        );
    }

    proptest! {
        #[test]
        fn round_trip(pt in proptest::collection::vec(any::<u8>(), 0..2048), ad in proptest::collection::vec(any::<u8>(), 0..64)) {
            let key = SymmetricKey::generate();
            let sealed = seal(&key, &pt, &ad);
            prop_assert_eq!(sealed.as_bytes().len(), pt.len() + OVERHEAD);
            prop_assert_eq!(&open(&key, &sealed, &ad).unwrap()[..], &pt[..]);
        }
    }
}
