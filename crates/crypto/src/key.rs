//! The symmetric key type every layer of the hierarchy uses.
use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length in bytes of every symmetric key (AES-256).
pub const KEY_LEN: usize = 32;

/// A 256-bit symmetric key. Zeroized on drop; `Debug` prints `***`; no `Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SymmetricKey([u8; KEY_LEN]);

impl SymmetricKey {
    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut k = [0u8; KEY_LEN];
        crate::random_bytes(&mut k);
        Self(k)
    }

    /// Wrap raw key bytes. The caller's array is copied; zeroize it if it came from a secret.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Build a key from a slice of exactly [`KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, crate::CryptoError> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| crate::CryptoError::Malformed("symmetric key (expected 32 bytes)"))?;
        Ok(Self(arr))
    }

    /// The raw key bytes. Greppable on purpose.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey(***)")
    }
}
