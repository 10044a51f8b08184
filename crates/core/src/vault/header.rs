//! The vault header: what unlock needs before any key exists. Stored in clear in `meta`, with
//! a SHA-256 checksum that catches accidental damage, and authenticated by the keyset's
//! associated data, so any deliberate edit makes unlock fail.
//!
//! ```text
//! "TSVH" | u32 format | vault id (16) | u32 m KiB | u32 t | u32 p | salt (16) | i64 created_at
//! | SHA-256 of all the above (32)                                               (big endian)
//! ```
use sha2::{Digest, Sha256};
use tessera_crypto::kdf::{KdfParams, SALT_LEN};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"TSVH";
/// The header format this build writes. The layout is the same in every format; the number says
/// what else the vault holds, and the keyset's associated data binds it, so it cannot be set
/// back without the key:
///
/// * 1: the first;
/// * 2: the plain row values carry MACs (`store::auth`) and `meta` holds the MACed item count.
///   A format 1 vault gets them at its first unlock by this build, and the header says 2 from
///   then on, so MACs stripped from the file later are missing, not merely absent.
pub const HEADER_FORMAT: u32 = 2;
const BODY_LEN: usize = 4 + 4 + 16 + 12 + SALT_LEN + 8;

/// The decoded header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The header's format number.
    pub format: u32,
    /// The vault's random id, bound into every ciphertext.
    pub vault_id: [u8; 16],
    /// Argon2id parameters.
    pub kdf: KdfParams,
    /// Argon2id salt.
    pub salt: [u8; SALT_LEN],
    /// Unix time the vault was created.
    pub created_at: i64,
}

impl Header {
    /// The bytes the checksum and the keyset's associated data cover.
    pub fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(BODY_LEN);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&self.format.to_be_bytes());
        b.extend_from_slice(&self.vault_id);
        b.extend_from_slice(&self.kdf.memory_kib.to_be_bytes());
        b.extend_from_slice(&self.kdf.iterations.to_be_bytes());
        b.extend_from_slice(&self.kdf.parallelism.to_be_bytes());
        b.extend_from_slice(&self.salt);
        b.extend_from_slice(&self.created_at.to_be_bytes());
        b
    }

    /// The stored form: body and checksum.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.body();
        let sum = Sha256::digest(&b);
        b.extend_from_slice(&sum);
        b
    }

    /// Parse the stored form, naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |m: &str| Error::TamperedHeader(m.into());
        if bytes.len() != BODY_LEN + 32 {
            return Err(bad("it has the wrong length"));
        }
        let (body, sum) = bytes.split_at(BODY_LEN);
        if Sha256::digest(body)[..] != *sum {
            return Err(bad("its checksum does not match"));
        }
        if &body[..4] != MAGIC {
            return Err(bad("it does not start with the Tessera header magic"));
        }
        let u32_at = |i: usize| u32::from_be_bytes(body[i..i + 4].try_into().expect("4 bytes"));
        let format = u32_at(4);
        if format == 0 {
            return Err(bad("its format number is 0"));
        }
        if format > HEADER_FORMAT {
            return Err(Error::NewerFormat {
                found: i64::from(format),
                supported: i64::from(HEADER_FORMAT),
            });
        }
        let mut vault_id = [0u8; 16];
        vault_id.copy_from_slice(&body[8..24]);
        let kdf = KdfParams {
            memory_kib: u32_at(24),
            iterations: u32_at(28),
            parallelism: u32_at(32),
        };
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&body[36..52]);
        let created_at = i64::from_be_bytes(body[52..60].try_into().expect("8 bytes"));
        Ok(Self {
            format,
            vault_id,
            kdf,
            salt,
            created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flipped_byte_is_caught() {
        let h = Header {
            format: HEADER_FORMAT,
            vault_id: [7; 16],
            kdf: KdfParams::DEFAULT,
            salt: [9; 16],
            created_at: 1_700_000_000,
        };
        let enc = h.encode();
        assert_eq!(Header::decode(&enc).unwrap(), h);
        for i in 0..enc.len() {
            let mut e = enc.clone();
            e[i] ^= 0x80;
            assert!(Header::decode(&e).is_err(), "byte {i}");
        }
        assert!(Header::decode(&enc[..10]).is_err());
    }
}
