use thiserror::Error;

/// What can go wrong in this crate. Decryption failures say nothing about *why* they failed
/// (no oracle); callers add *which* item or key it was.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed: the key is wrong, or the ciphertext, nonce or associated data was
    /// changed.
    #[error("decryption failed: wrong key, or the data was modified")]
    Decrypt,
    /// Key-derivation parameters below the floor this client accepts.
    #[error(
        "key derivation parameters {found} are below the minimum {floor}; refusing to use them"
    )]
    WeakKdf {
        /// The parameters that were offered.
        found: String,
        /// The floor.
        floor: String,
    },
    /// Key-derivation parameters that are not usable (out of range).
    #[error("invalid key derivation parameters: {0}")]
    InvalidKdf(String),
    /// An Account Secret Key that does not parse or whose checksum does not match.
    #[error("invalid Account Secret Key: {0}")]
    InvalidSecretKey(String),
    /// Bytes that should hold key material have the wrong shape.
    #[error("malformed {0}")]
    Malformed(&'static str),
}
