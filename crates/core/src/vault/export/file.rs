//! The export file: a clear header, then one AES-256-GCM envelope under a passphrase key.
//!
//! ```text
//! "TESSERA-EXPORT" (14) | u32 format (=1) | u8 KDF (1 = Argon2id) | u32 m KiB | u32 t | u32 p
//! | salt (16) | u64 length of the sealed part | SHA-256 of all the above (32)      = 87 bytes
//! sealed part: nonce (12) | ciphertext | tag (16)                               (big endian)
//! ```
//!
//! The header holds only what opening needs before any key exists; item counts, the export time
//! and everything else live inside the ciphertext. The whole header (checksum included) is the
//! envelope's associated data, so a deliberate edit fails to authenticate; the checksum and the
//! stored length catch accidental damage (a flipped header byte, a truncated copy) *before* the
//! key derivation, and name it, where AES-GCM alone could only say "wrong passphrase, or the
//! file was changed".
use sha2::{Digest, Sha256};
use tessera_crypto::envelope::{self, associated_data, Sealed, OVERHEAD};
use tessera_crypto::kdf::{self, KdfParams, SALT_LEN};
use tessera_crypto::CryptoError;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::item::SecretText;

/// The first bytes of every export file.
pub const MAGIC: &[u8; 14] = b"TESSERA-EXPORT";
/// The file format this build writes and reads.
pub const FORMAT: u32 = 1;
/// KDF identifier: Argon2id v0x13 then HKDF-SHA256 (`kdf::derive_passphrase_key`).
const KDF_ARGON2ID: u8 = 1;
/// HKDF label of the export key.
const KEY_LABEL: &[u8] = b"tessera export v1";
const BODY_LEN: usize = MAGIC.len() + 4 + 1 + 12 + SALT_LEN + 8;
/// Length of the clear header of format 1, checksum included.
pub const HEADER_LEN: usize = BODY_LEN + 32;

/// What the clear header of an export says. Nothing in it was typed by a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportHeader {
    /// The file format.
    pub format: u32,
    /// The Argon2id parameters of the passphrase key.
    pub kdf: KdfParams,
    /// The Argon2id salt.
    pub salt: [u8; SALT_LEN],
    /// Length of the sealed part (nonce, ciphertext, tag).
    pub sealed_len: u64,
}

impl ExportHeader {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&self.format.to_be_bytes());
        b.push(KDF_ARGON2ID);
        b.extend_from_slice(&self.kdf.memory_kib.to_be_bytes());
        b.extend_from_slice(&self.kdf.iterations.to_be_bytes());
        b.extend_from_slice(&self.kdf.parallelism.to_be_bytes());
        b.extend_from_slice(&self.salt);
        b.extend_from_slice(&self.sealed_len.to_be_bytes());
        let sum = Sha256::digest(&b);
        b.extend_from_slice(&sum);
        b
    }
}

/// Read and check the clear header of `file`, and that the file has exactly the length the
/// header announces. Needs no passphrase; every failure is named.
pub fn parse(file: &[u8]) -> Result<(ExportHeader, &[u8], &[u8])> {
    let damaged = |m: String| Error::DamagedExport(m);
    if file.is_empty() {
        return Err(Error::NotAnExport("the file is empty".into()));
    }
    if file.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(file) {
            damaged(truncated_header(file.len()))
        } else {
            not_magic()
        });
    }
    if &file[..MAGIC.len()] != MAGIC {
        return Err(not_magic());
    }
    if file.len() < MAGIC.len() + 4 {
        return Err(damaged(truncated_header(file.len())));
    }
    let u32_at = |i: usize| u32::from_be_bytes(file[i..i + 4].try_into().expect("4 bytes"));
    let format = u32_at(MAGIC.len());
    if format != FORMAT {
        return Err(Error::UnsupportedExport {
            found: i64::from(format),
            supported: FORMAT,
        });
    }
    if file.len() < HEADER_LEN {
        return Err(damaged(truncated_header(file.len())));
    }
    let (header, sealed) = file.split_at(HEADER_LEN);
    let (body, sum) = header.split_at(BODY_LEN);
    if Sha256::digest(body)[..] != *sum {
        return Err(damaged(format!(
            "its header checksum does not match (a byte in the first {HEADER_LEN} was changed)"
        )));
    }
    let mut at = MAGIC.len() + 4;
    let kdf_id = header[at];
    at += 1;
    if kdf_id != KDF_ARGON2ID {
        return Err(damaged(format!("unknown key derivation function {kdf_id}")));
    }
    let kdf = KdfParams {
        memory_kib: u32_at(at),
        iterations: u32_at(at + 4),
        parallelism: u32_at(at + 8),
    };
    at += 12;
    kdf.check().map_err(|e| match e {
        CryptoError::WeakKdf { found, floor } => damaged(format!(
            "it asks for key derivation {found}, below the minimum {floor}"
        )),
        other => damaged(other.to_string()),
    })?;
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&header[at..at + SALT_LEN]);
    at += SALT_LEN;
    let sealed_len = u64::from_be_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    if sealed_len < OVERHEAD as u64 {
        return Err(damaged(format!(
            "its header announces {sealed_len} encrypted bytes, fewer than the {OVERHEAD} any sealed value has"
        )));
    }
    let have = sealed.len() as u64;
    if have < sealed_len {
        return Err(damaged(format!(
            "it is truncated: {} of {} bytes",
            file.len() as u64,
            HEADER_LEN as u64 + sealed_len
        )));
    }
    if have > sealed_len {
        return Err(damaged(format!(
            "{} unexpected bytes follow its end",
            have - sealed_len
        )));
    }
    Ok((
        ExportHeader {
            format,
            kdf,
            salt,
            sealed_len,
        },
        header,
        sealed,
    ))
}

fn truncated_header(len: usize) -> String {
    format!("it is truncated inside its header ({len} of {HEADER_LEN} bytes)")
}

fn not_magic() -> Error {
    Error::NotAnExport(format!(
        "it does not start with {:?}",
        String::from_utf8_lossy(MAGIC)
    ))
}

fn export_ad(header: &[u8]) -> Vec<u8> {
    associated_data("tessera export", &[header])
}

fn export_key(
    passphrase: &SecretText,
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<tessera_crypto::SymmetricKey> {
    Ok(kdf::derive_passphrase_key(
        passphrase.expose_secret().as_bytes(),
        salt,
        params,
        KEY_LABEL,
    )?)
}

/// Encrypt a document under a key derived from `passphrase` with `params` and a fresh salt.
pub fn seal(document: &[u8], passphrase: &SecretText, params: KdfParams) -> Result<Vec<u8>> {
    let header = ExportHeader {
        format: FORMAT,
        kdf: params,
        salt: kdf::random_salt(),
        sealed_len: (document.len() + OVERHEAD) as u64,
    };
    let key = export_key(passphrase, &header.salt, params)?;
    let header = header.encode();
    let sealed = envelope::seal(&key, document, &export_ad(&header));
    tessera_crypto::scrub_stack();
    let mut out = header;
    out.extend_from_slice(sealed.as_bytes());
    Ok(out)
}

/// Check the header, derive the key (the full Argon2id, wrong passphrase or not) and decrypt.
pub fn open(file: &[u8], passphrase: &SecretText) -> Result<Zeroizing<Vec<u8>>> {
    let (h, header, sealed) = parse(file)?;
    let sealed = Sealed::from_bytes(sealed.to_vec())
        .map_err(|_| Error::DamagedExport("the encrypted part is too short".into()))?;
    let key = export_key(passphrase, &h.salt, h.kdf)?;
    let plain = envelope::open(&key, &sealed, &export_ad(header)).map_err(|e| match e {
        CryptoError::Decrypt => Error::WrongPassphrase,
        other => Error::Crypto(other),
    });
    tessera_crypto::scrub_stack();
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> SecretText {
        SecretText::from(s)
    }

    #[test]
    fn round_trip_and_named_failures() {
        let file = seal(b"the document", &pw("a passphrase"), KdfParams::FLOOR).unwrap();
        assert_eq!(file.len(), HEADER_LEN + 12 + OVERHEAD);
        assert!(file.starts_with(MAGIC));
        assert_eq!(
            &open(&file, &pw("a passphrase")).unwrap()[..],
            b"the document"
        );
        assert!(matches!(
            open(&file, &pw("another")),
            Err(Error::WrongPassphrase)
        ));
        for n in 0..file.len() {
            let e = parse(&file[..n]).unwrap_err();
            assert!(
                matches!(e, Error::DamagedExport(_) | Error::NotAnExport(_)),
                "{n}: {e}"
            );
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(matches!(parse(&longer), Err(Error::DamagedExport(_))));
    }

    #[test]
    fn every_header_byte_is_checked_before_any_key_derivation() {
        let file = seal(b"doc", &pw("p"), KdfParams::FLOOR).unwrap();
        for i in 0..HEADER_LEN {
            let mut f = file.clone();
            f[i] ^= 0x04;
            let e = parse(&f).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::NotAnExport(_)
                        | Error::DamagedExport(_)
                        | Error::UnsupportedExport { .. }
                ),
                "byte {i}: {e}"
            );
        }
    }
}
