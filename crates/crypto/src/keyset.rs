//! A user's keyset: a symmetric vault key (personal items), an X25519 key pair (receiving group
//! keys) and an Ed25519 key pair (signing). Random, wrapped by the key-encryption key; changing
//! the master password re-wraps the keyset and nothing else.
use std::fmt;

use ed25519_dalek::SigningKey;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::envelope::{self, Sealed};
use crate::{CryptoError, SymmetricKey};

const KEYSET_VERSION: u8 = 1;
const ENCODED_LEN: usize = 1 + 32 * 3;

/// The unwrapped keyset. Every part zeroizes on drop.
pub struct Keyset {
    vault_key: SymmetricKey,
    exchange: StaticSecret,
    signing: SigningKey,
}

impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keyset(***)")
    }
}

impl Keyset {
    /// Fresh random keys.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        crate::random_bytes(&mut seed[..]);
        let exchange = StaticSecret::from(*seed);
        crate::random_bytes(&mut seed[..]);
        let signing = SigningKey::from_bytes(&seed);
        Self {
            vault_key: SymmetricKey::generate(),
            exchange,
            signing,
        }
    }

    /// The key that wraps personal item keys.
    pub fn vault_key(&self) -> &SymmetricKey {
        &self.vault_key
    }

    /// The public half of the key-exchange pair, published so group keys can be sealed to it.
    pub fn exchange_public(&self) -> [u8; 32] {
        PublicKey::from(&self.exchange).to_bytes()
    }

    /// The public half of the signing pair.
    pub fn signing_public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// Open a value sealed to this keyset's X25519 public key ([`crate::seal::seal_to`]).
    pub fn open_sealed(&self, sealed: &[u8], ad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        crate::seal::open_with(&self.exchange, sealed, ad)
    }

    /// Certify a member's keys with this account's signing key (admins do this).
    pub fn certify(&self, subject: crate::cert::CertSubject) -> crate::cert::Certificate {
        crate::cert::Certificate::issue(&self.signing, subject)
    }

    /// Sign `message` (domain-separated by the caller) with the account's Ed25519 key.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.signing.sign(message).to_bytes()
    }

    /// Encrypt the keyset under the KEK, bound to `ad` (the vault header).
    pub fn wrap(&self, kek: &SymmetricKey, ad: &[u8]) -> Sealed {
        let mut buf = Zeroizing::new([0u8; ENCODED_LEN]);
        buf[0] = KEYSET_VERSION;
        buf[1..33].copy_from_slice(self.vault_key.expose_secret());
        buf[33..65].copy_from_slice(self.exchange.as_bytes());
        buf[65..97].copy_from_slice(self.signing.as_bytes());
        envelope::seal(kek, &buf[..], ad)
    }

    /// Decrypt a wrapped keyset. Fails with [`CryptoError::Decrypt`] for a wrong KEK (wrong
    /// password or secret key) or any change to the wrapped bytes or the associated data.
    pub fn unwrap(kek: &SymmetricKey, sealed: &Sealed, ad: &[u8]) -> Result<Self, CryptoError> {
        let buf = envelope::open(kek, sealed, ad)?;
        if buf.len() != ENCODED_LEN || buf[0] != KEYSET_VERSION {
            return Err(CryptoError::Malformed("keyset (unknown version or length)"));
        }
        let mut part = Zeroizing::new([0u8; 32]);
        part.copy_from_slice(&buf[1..33]);
        let vault_key = SymmetricKey::from_bytes(*part);
        part.copy_from_slice(&buf[33..65]);
        let exchange = StaticSecret::from(*part);
        part.copy_from_slice(&buf[65..97]);
        let signing = SigningKey::from_bytes(&part);
        Ok(Self {
            vault_key,
            exchange,
            signing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_keeps_every_key() {
        let ks = Keyset::generate();
        let kek = SymmetricKey::generate();
        let w = ks.wrap(&kek, b"hdr");
        let back = Keyset::unwrap(&kek, &w, b"hdr").unwrap();
        assert_eq!(
            back.vault_key().expose_secret(),
            ks.vault_key().expose_secret()
        );
        assert_eq!(back.exchange_public(), ks.exchange_public());
        assert_eq!(back.signing_public(), ks.signing_public());
        assert!(Keyset::unwrap(&kek, &w, b"other header").is_err());
        assert!(Keyset::unwrap(&SymmetricKey::generate(), &w, b"hdr").is_err());
        assert_eq!(format!("{back:?}"), "Keyset(***)");
    }
}
