//! Machine tokens: a random 256-bit secret, shown once, from which a CI job derives everything it
//! needs to read one group.
//!
//! From the secret, HKDF-SHA256 (RFC 5869; salt `"tessera machine token v1"`) derives under two
//! distinct labels
//!
//! * the *bearer* (`info = "bearer"`), which the job presents to the server; the server stores
//!   only its SHA-256, so a stolen server table authenticates nothing;
//! * an X25519 private key (`info = "x25519"`), whose public half the server stores; the group
//!   key of each epoch is sealed to it ([`crate::seal`]), so the server never holds a key that
//!   opens the group's items;
//! * the *pin key* (`info = "pin"`, then [`MacKey::derive`] under `"tessera machine token pin
//!   v1"`), under which the creating admin's client tags what the job must trust: the team root,
//!   the key sealed to the token at creation, and the group's log and manifest positions then.
//!   The server stores the tagged pin but cannot make one.
//!
//! The admin who creates a token signs its record ([`TokenRecord`]: team, group, token id, public
//! key, expiry) with their Ed25519 account key. A client that later seals a new group key to the
//! token checks that signature against the admin's certificate chain first, so a server that
//! swaps the public key (or extends the expiry) is caught.
use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::envelope::associated_data;
use crate::keyset::Keyset;
use crate::mac::MacKey;
use crate::{CryptoError, SymmetricKey};

const SALT: &[u8] = b"tessera machine token v1";

/// A machine token's secret. Zeroized on drop; `Debug` prints `***`; no `Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MachineSecret([u8; 32]);

impl fmt::Debug for MachineSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MachineSecret(***)")
    }
}

impl MachineSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut s = [0u8; 32];
        crate::random_bytes(&mut s);
        Self(s)
    }

    /// Wrap secret bytes (zeroize the caller's copy).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw secret. Greppable on purpose.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(SALT), &self.0);
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(label, &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// The value presented to the server.
    pub fn bearer(&self) -> Zeroizing<[u8; 32]> {
        self.derive(b"bearer")
    }

    /// SHA-256 of the bearer: what the server stores and looks tokens up by.
    pub fn bearer_hash(&self) -> [u8; 32] {
        bearer_hash(&self.bearer()[..])
    }

    fn exchange(&self) -> StaticSecret {
        StaticSecret::from(*self.derive(b"x25519"))
    }

    /// The public half of the derived X25519 key: group keys are sealed to it.
    pub fn exchange_public(&self) -> [u8; 32] {
        PublicKey::from(&self.exchange()).to_bytes()
    }

    /// The MAC key of the token's pin (see the module text).
    pub fn pin_key(&self) -> MacKey {
        MacKey::derive(
            &SymmetricKey::from_slice(&self.derive(b"pin")[..]).expect("HKDF gives 32 bytes"),
            "tessera machine token pin v1",
        )
    }

    /// Open a value sealed to [`MachineSecret::exchange_public`].
    pub fn open_sealed(&self, sealed: &[u8], ad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        crate::seal::open_with(&self.exchange(), sealed, ad)
    }
}

/// SHA-256 of a bearer value as presented.
pub fn bearer_hash(bearer: &[u8]) -> [u8; 32] {
    Sha256::digest(bearer).into()
}

/// What the creating admin signs about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The team.
    pub team_id: [u8; 16],
    /// The one group the token reads.
    pub group_id: [u8; 16],
    /// The token.
    pub token_id: [u8; 16],
    /// The token's X25519 public key.
    pub exchange_public: [u8; 32],
    /// When it expires (Unix time).
    pub expires_at: i64,
}

impl TokenRecord {
    fn message(&self) -> Vec<u8> {
        associated_data(
            "tessera machine token record v1",
            &[
                &self.team_id,
                &self.group_id,
                &self.token_id,
                &self.exchange_public,
                &self.expires_at.to_be_bytes(),
            ],
        )
    }

    /// Sign the record with an account's signing key.
    pub fn sign(&self, signer: &Keyset) -> [u8; 64] {
        signer.sign(&self.message())
    }

    /// Check `signature` by `signer` (an Ed25519 public key) over this record.
    /// [`CryptoError::Decrypt`] when it does not verify (any field changed, or another signer).
    pub fn verify(&self, signer: &[u8; 32], signature: &[u8]) -> Result<(), CryptoError> {
        let key =
            VerifyingKey::from_bytes(signer).map_err(|_| CryptoError::Malformed("signing key"))?;
        let sig: [u8; 64] = signature
            .try_into()
            .map_err(|_| CryptoError::Malformed("signature (expected 64 bytes)"))?;
        key.verify_strict(&self.message(), &Signature::from_bytes(&sig))
            .map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::seal::seal_to;

    #[test]
    fn derived_values_are_distinct_and_stable() {
        let s = MachineSecret::from_bytes([9; 32]);
        let again = MachineSecret::from_bytes([9; 32]);
        assert_eq!(*s.bearer(), *again.bearer());
        assert_eq!(s.exchange_public(), again.exchange_public());
        assert_ne!(&s.bearer()[..], &s.exchange_public()[..]);
        assert_ne!(s.bearer_hash(), *s.bearer());
        let other = MachineSecret::generate();
        assert_ne!(other.exchange_public(), s.exchange_public());
        let tag = |k: &MachineSecret| k.pin_key().tag("pin", &[b"root"]);
        assert_eq!(tag(&s), tag(&again));
        assert_ne!(tag(&s), tag(&other));
        assert_eq!(format!("{s:?}"), "MachineSecret(***)");
    }

    #[test]
    fn only_the_token_opens_what_is_sealed_to_it() {
        let s = MachineSecret::generate();
        let sealed = seal_to(&s.exchange_public(), b"group key", b"ad");
        assert_eq!(&s.open_sealed(&sealed, b"ad").unwrap()[..], b"group key");
        assert!(s.open_sealed(&sealed, b"other ad").is_err());
        assert!(MachineSecret::generate()
            .open_sealed(&sealed, b"ad")
            .is_err());
    }

    #[test]
    fn a_changed_record_does_not_verify() {
        let admin = Keyset::generate();
        let r = TokenRecord {
            team_id: [1; 16],
            group_id: [2; 16],
            token_id: [3; 16],
            exchange_public: MachineSecret::generate().exchange_public(),
            expires_at: 1_900_000_000,
        };
        let sig = r.sign(&admin);
        r.verify(&admin.signing_public(), &sig).unwrap();
        let swapped = TokenRecord {
            exchange_public: [7; 32],
            ..r.clone()
        };
        assert!(swapped.verify(&admin.signing_public(), &sig).is_err());
        let later = TokenRecord {
            expires_at: r.expires_at + 1,
            ..r.clone()
        };
        assert!(later.verify(&admin.signing_public(), &sig).is_err());
        assert!(r
            .verify(&Keyset::generate().signing_public(), &sig)
            .is_err());
        assert!(r.verify(&admin.signing_public(), &sig[..63]).is_err());
    }
}
