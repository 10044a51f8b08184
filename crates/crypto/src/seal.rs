//! Sealing to a public key: ephemeral X25519 + HKDF-SHA256 + AES-256-GCM (the shape of HPKE's
//! base mode, RFC 9180, with one fixed suite).
//!
//! `seal_to(recipient, plaintext, ad)` makes a fresh X25519 key pair, computes the shared secret
//! with the recipient's public key, derives an AES-256 key with HKDF-SHA256 (salt: the ephemeral
//! public key followed by the recipient's public key, info: `"tessera seal v1"`) and encrypts with
//! the [`crate::envelope`]. Wire layout: `ephemeral public (32) || nonce (12) || ciphertext ||
//! tag (16)`. The associated data is the caller's: Tessera binds the team, the group, the epoch
//! and the recipient, so a wrapped key cannot be moved to another group, epoch or member.
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::envelope::{self, Sealed};
use crate::{CryptoError, SymmetricKey};

/// Bytes a sealed value adds to its plaintext.
pub const OVERHEAD: usize = 32 + envelope::OVERHEAD;

const INFO: &[u8] = b"tessera seal v1";

fn derive(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> SymmetricKey {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(INFO, &mut okm[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    SymmetricKey::from_bytes(*okm)
}

/// Encrypt `plaintext` so that only the holder of `recipient`'s private key opens it.
pub fn seal_to(recipient: &[u8; 32], plaintext: &[u8], ad: &[u8]) -> Vec<u8> {
    let mut seed = Zeroizing::new([0u8; 32]);
    crate::random_bytes(&mut seed[..]);
    let ephemeral = StaticSecret::from(*seed);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let shared = Zeroizing::new(
        ephemeral
            .diffie_hellman(&PublicKey::from(*recipient))
            .to_bytes(),
    );
    let key = derive(&shared, &ephemeral_public, recipient);
    let sealed = envelope::seal(&key, plaintext, ad);
    let mut out = Vec::with_capacity(32 + sealed.as_bytes().len());
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(sealed.as_bytes());
    out
}

/// Open a value sealed to `secret`'s public key. [`CryptoError::Decrypt`] for the wrong key,
/// the wrong associated data or any changed byte.
pub(crate) fn open_with(
    secret: &StaticSecret,
    sealed: &[u8],
    ad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < OVERHEAD {
        return Err(CryptoError::Malformed(
            "sealed key (shorter than its overhead)",
        ));
    }
    let (eph, rest) = sealed.split_at(32);
    let eph: [u8; 32] = eph.try_into().expect("split at 32");
    let shared = Zeroizing::new(secret.diffie_hellman(&PublicKey::from(eph)).to_bytes());
    // An all-zero shared secret means a low-order point: refuse rather than derive from it.
    if shared.iter().all(|b| *b == 0) {
        return Err(CryptoError::Decrypt);
    }
    let recipient = PublicKey::from(secret).to_bytes();
    let key = derive(&shared, &eph, &recipient);
    envelope::open(&key, &Sealed::from_bytes(rest.to_vec())?, ad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyset::Keyset;

    #[test]
    fn only_the_recipient_with_the_same_ad_opens() {
        let bob = Keyset::generate();
        let eve = Keyset::generate();
        let sealed = seal_to(&bob.exchange_public(), b"group key", b"team g1 e1 bob");
        assert_eq!(sealed.len(), b"group key".len() + OVERHEAD);
        assert_eq!(
            &bob.open_sealed(&sealed, b"team g1 e1 bob").unwrap()[..],
            b"group key"
        );
        assert!(eve.open_sealed(&sealed, b"team g1 e1 bob").is_err());
        assert!(bob.open_sealed(&sealed, b"team g1 e2 bob").is_err());
        for i in 0..sealed.len() {
            let mut s = sealed.clone();
            s[i] ^= 1;
            assert!(bob.open_sealed(&s, b"team g1 e1 bob").is_err(), "byte {i}");
        }
        assert!(bob.open_sealed(&sealed[..OVERHEAD - 1], b"").is_err());
    }

    #[test]
    fn a_low_order_ephemeral_key_is_refused() {
        let bob = Keyset::generate();
        let mut sealed = seal_to(&bob.exchange_public(), b"k", b"ad");
        sealed[..32].fill(0);
        assert!(matches!(
            bob.open_sealed(&sealed, b"ad"),
            Err(CryptoError::Decrypt)
        ));
    }
}
