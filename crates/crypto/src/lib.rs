//! `tessera-crypto`: Tessera's key hierarchy and its cryptographic envelope.
//!
//! This crate is the audit surface. It is pure: no I/O, no SQL, no async. It holds
//!
//! * [`kdf`]: Argon2id over the master password, then HKDF-SHA256 keyed with the
//!   [`AccountSecretKey`] (two-secret key derivation), giving the key-encryption and auth keys;
//!   and a passphrase-only derivation for files that must open without the account (exports);
//! * [`secret_key`]: the 128-bit Account Secret Key and its human format with a checksum;
//! * [`envelope`]: AES-256-GCM with a random 96-bit nonce and associated data that binds every
//!   ciphertext to where it belongs;
//! * [`keyset`]: a user's random keys (vault key, X25519, Ed25519), wrapped by the KEK;
//! * [`mac`]: HMAC-SHA256 under HKDF-derived keys, for metadata kept readable beside ciphertext;
//! * [`seal`]: sealing to an X25519 public key (group keys to each member);
//! * [`cert`]: member certificates, signed by an admin and chaining to the pinned team root;
//! * [`token`]: machine tokens for CI: a secret that derives a bearer value and an X25519 key,
//!   and the admin-signed token record.
//!
//! Every key type zeroizes itself on drop, prints `***` in `Debug`, and is read only through an
//! explicit `expose_secret()`.
//!
//! ```
//! use tessera_crypto::{envelope, kdf::{self, KdfParams}, keyset::Keyset, AccountSecretKey};
//!
//! let secret_key = AccountSecretKey::generate();
//! let salt = kdf::random_salt();
//! let mk = kdf::derive_master_key(b"correct horse", &secret_key, &salt, KdfParams::FLOOR)?;
//! let kek = mk.encryption_key();
//! let keyset = Keyset::generate();
//! let wrapped = keyset.wrap(&kek, b"vault 1");
//! let again = Keyset::unwrap(&kek, &wrapped, b"vault 1")?;
//! let sealed = envelope::seal(again.vault_key(), b"a secret", b"item 7 v1");
//! assert_eq!(&envelope::open(keyset.vault_key(), &sealed, b"item 7 v1")?[..], b"a secret");
//! # Ok::<(), tessera_crypto::CryptoError>(())
//! ```
#![forbid(unsafe_code)]

pub mod cert;
pub mod envelope;
mod error;
pub mod kdf;
pub mod key;
pub mod keyset;
pub mod mac;
pub mod seal;
pub mod secret_key;
pub mod statement;
pub mod token;

pub use error::CryptoError;
pub use key::SymmetricKey;
pub use secrecy::{ExposeSecret, SecretBox, SecretString};
pub use secret_key::AccountSecretKey;
pub use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Overwrite the stack below the caller's frame with zeros.
///
/// Block-cipher code keeps plaintext blocks in registers that the compiler may spill to the
/// stack; those bytes would outlive the call (and a finished thread's stack is cached, not
/// unmapped). Call this after a batch of encryptions or decryptions, from the same thread, so
/// that nothing decrypted survives there after the keys are gone.
// The array must live on the stack: that is the memory being overwritten.
#[allow(clippy::large_stack_arrays)]
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; 32 * 1024];
    Zeroize::zeroize(&mut area[..]);
    std::hint::black_box(&area);
}

/// Fill `buf` with bytes from the operating system's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    use rand_core::RngCore;
    rand_core::OsRng.fill_bytes(buf);
}
