//! Signed statements: an account's Ed25519 signature over bytes it made, domain-separated by a
//! label so that a signature made for one purpose (a group log entry, a team pin) never counts
//! for another. The message signed is `associated_data(label, [bytes])`.
//!
//! The bytes are stored and sent as signed, never re-encoded, so the signer's encoding (JSON
//! for group log entries) needs no canonical form: a verifier checks the signature over the
//! bytes it was given and only then parses them.
use ed25519_dalek::{Signature, VerifyingKey};

use crate::envelope::associated_data;
use crate::keyset::Keyset;
use crate::CryptoError;

/// Label of a group membership log entry.
pub const GROUP_LOG: &str = "tessera group log v1";
/// Label of an account's pin of its team's root key.
pub const TEAM_PIN: &str = "tessera team pin v1";
/// Label of a group's manifest (the items a writer committed), signed by that writer.
pub const GROUP_MANIFEST: &str = "tessera group manifest v1";

/// Sign `bytes` for the purpose `label` with the account's signing key.
pub fn sign(signer: &Keyset, label: &str, bytes: &[u8]) -> [u8; 64] {
    signer.sign(&associated_data(label, &[bytes]))
}

/// Check that `signature` is `signer`'s signature over `bytes` for `label`.
/// [`CryptoError::Decrypt`] when it does not verify (changed bytes, another label or signer),
/// [`CryptoError::Malformed`] when the key or signature has the wrong shape.
pub fn verify(
    signer: &[u8; 32],
    label: &str,
    bytes: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let key =
        VerifyingKey::from_bytes(signer).map_err(|_| CryptoError::Malformed("signing key"))?;
    let sig: [u8; 64] = signature
        .try_into()
        .map_err(|_| CryptoError::Malformed("signature (expected 64 bytes)"))?;
    key.verify_strict(
        &associated_data(label, &[bytes]),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_statement_verifies_only_as_signed() {
        let k = Keyset::generate();
        let sig = sign(&k, GROUP_LOG, b"entry");
        verify(&k.signing_public(), GROUP_LOG, b"entry", &sig).unwrap();
        assert!(verify(&k.signing_public(), GROUP_LOG, b"entrY", &sig).is_err());
        assert!(verify(&k.signing_public(), TEAM_PIN, b"entry", &sig).is_err());
        assert!(verify(
            &Keyset::generate().signing_public(),
            GROUP_LOG,
            b"entry",
            &sig
        )
        .is_err());
        assert!(matches!(
            verify(&k.signing_public(), GROUP_LOG, b"entry", &sig[..63]),
            Err(CryptoError::Malformed(_))
        ));
    }
}
