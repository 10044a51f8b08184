//! Two-secret key derivation (as 1Password does):
//!
//! ```text
//! A  = Argon2id(master password, salt; m, t, p)                    RFC 9106, version 0x13
//! MK = HKDF-Extract(salt = Account Secret Key, IKM = A)             RFC 5869, SHA-256
//! KEK      = HKDF-Expand(MK, "tessera enc",  32)   wraps the keyset
//! auth key = HKDF-Expand(MK, "tessera auth", 32)   proves the password to the team server
//! ```
//!
//! The parameters live in the vault header, which is authenticated: the keyset's associated
//! data covers it. Parameters below [`KdfParams::FLOOR`] are refused before any work is done, so
//! editing the file cannot weaken the derivation; parameters above [`KdfParams::CEILING`] are
//! refused so an edited file cannot make unlock allocate without bound.
//!
//! [`derive_passphrase_key`] is the one-secret variant for encrypted exports, which must open on
//! a machine that has no Account Secret Key.
use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{AccountSecretKey, CryptoError, SymmetricKey};

/// Length of the Argon2 salt in bytes.
pub const SALT_LEN: usize = 16;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// The default for new vaults: 64 MiB, 3 passes, 4 lanes.
    pub const DEFAULT: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
    };
    /// The weakest parameters any Tessera client accepts (OWASP's Argon2id minimum, 19 MiB, t=2).
    pub const FLOOR: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// The strongest parameters a client agrees to run (4 GiB, 64 passes, 64 lanes).
    pub const CEILING: Self = Self {
        memory_kib: 4 * 1024 * 1024,
        iterations: 64,
        parallelism: 64,
    };

    /// Refuse parameters below the floor or above the ceiling.
    pub fn check(&self) -> Result<(), CryptoError> {
        let f = Self::FLOOR;
        if self.memory_kib < f.memory_kib
            || self.iterations < f.iterations
            || self.parallelism < f.parallelism
        {
            return Err(CryptoError::WeakKdf {
                found: self.to_string(),
                floor: f.to_string(),
            });
        }
        let c = Self::CEILING;
        if self.memory_kib > c.memory_kib
            || self.iterations > c.iterations
            || self.parallelism > c.parallelism
        {
            return Err(CryptoError::InvalidKdf(format!(
                "{self} exceeds the maximum {c}"
            )));
        }
        if self.memory_kib < 8 * self.parallelism {
            return Err(CryptoError::InvalidKdf(format!(
                "{self}: memory must be at least 8 KiB per lane"
            )));
        }
        Ok(())
    }

    /// True when `self` costs less than `target` in memory or passes: time to upgrade.
    pub fn weaker_than(&self, target: &Self) -> bool {
        self.memory_kib < target.memory_kib || self.iterations < target.iterations
    }
}

impl fmt::Display for KdfParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Argon2id(m={} KiB, t={}, p={})",
            self.memory_kib, self.iterations, self.parallelism
        )
    }
}

/// A fresh random salt.
pub fn random_salt() -> [u8; SALT_LEN] {
    let mut s = [0u8; SALT_LEN];
    crate::random_bytes(&mut s);
    s
}

/// The master key. Never stored; it only derives the KEK and the auth key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    fn expand(&self, info: &[u8]) -> SymmetricKey {
        let hk =
            Hkdf::<Sha256>::from_prk(&self.0).expect("a 32-byte PRK is a valid HKDF-SHA256 PRK");
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(info, &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SymmetricKey::from_bytes(*out)
    }

    /// The key-encryption key, which wraps the keyset.
    pub fn encryption_key(&self) -> SymmetricKey {
        self.expand(b"tessera enc")
    }

    /// The auth key, which logs in to the team server (the server stores only a hash of it).
    pub fn auth_key(&self) -> SymmetricKey {
        self.expand(b"tessera auth")
    }
}

/// Derive the master key. Always runs the full Argon2id: a wrong password costs exactly as
/// long as a right one.
pub fn derive_master_key(
    password: &[u8],
    secret_key: &AccountSecretKey,
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<MasterKey, CryptoError> {
    params.check()?;
    let mut a = Zeroizing::new([0u8; 32]);
    argon2id(password, salt, &[], &[], params, &mut a[..])?;
    let (prk, _) = Hkdf::<Sha256>::extract(Some(secret_key.expose_secret()), &a[..]);
    let mut mk = [0u8; 32];
    mk.copy_from_slice(&prk);
    Ok(MasterKey(mk))
}

/// HKDF-Extract salt that separates passphrase-only keys from every other Tessera key.
const PASSPHRASE_KEY_SALT: &[u8] = b"tessera passphrase key v1";

/// Derive a key from a passphrase alone (no Account Secret Key), for files that must open on a
/// machine without the account, such as an encrypted vault export:
///
/// ```text
/// A   = Argon2id(passphrase, salt; m, t, p)                             RFC 9106, version 0x13
/// key = HKDF-Expand(HKDF-Extract(salt = "tessera passphrase key v1", IKM = A), label, 32)
/// ```
///
/// `label` names the purpose (for example `b"tessera export"`), so one passphrase and salt never
/// give the same key for two purposes. The parameters are checked against
/// [`KdfParams::FLOOR`] and [`KdfParams::CEILING`] before any work is done. All brute-force
/// resistance comes from the passphrase and these parameters.
pub fn derive_passphrase_key(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
    label: &[u8],
) -> Result<SymmetricKey, CryptoError> {
    params.check()?;
    let mut a = Zeroizing::new([0u8; 32]);
    argon2id(passphrase, salt, &[], &[], params, &mut a[..])?;
    let hk = Hkdf::<Sha256>::new(Some(PASSPHRASE_KEY_SALT), &a[..]);
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand(label, &mut out[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Ok(SymmetricKey::from_bytes(*out))
}

/// Raw Argon2id (version 0x13) with optional secret and associated data, as RFC 9106 defines it.
pub(crate) fn argon2id(
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    data: &[u8],
    params: KdfParams,
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(params.memory_kib)
        .t_cost(params.iterations)
        .p_cost(params.parallelism)
        .output_len(out.len());
    if !data.is_empty() {
        builder.data(
            argon2::AssociatedData::new(data)
                .map_err(|e| CryptoError::InvalidKdf(e.to_string()))?,
        );
    }
    let p: Params = builder
        .build()
        .map_err(|e| CryptoError::InvalidKdf(e.to_string()))?;
    let argon = if secret.is_empty() {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
    } else {
        Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, p)
            .map_err(|e| CryptoError::InvalidKdf(e.to_string()))?
    };
    argon
        .hash_password_into(password, salt, out)
        .map_err(|e| CryptoError::InvalidKdf(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 9106 section 5.3: the Argon2id test vector, read from the shared vector file.
    #[test]
    fn rfc9106_argon2id_vector() {
        let v: serde_like::Vector =
            serde_like::parse(include_str!("../../../tests/vectors/rfc9106_argon2id.txt"));
        let params = KdfParams {
            memory_kib: v.m,
            iterations: v.t,
            parallelism: v.p,
        };
        let mut out = vec![0u8; v.tag.len() / 2];
        argon2id(
            &hex(&v.password),
            &hex(&v.salt),
            &hex(&v.secret),
            &hex(&v.ad),
            params,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, hex(&v.tag));
    }

    /// A tiny `key: value` reader so the vector file stays readable by any language.
    mod serde_like {
        pub struct Vector {
            pub password: String,
            pub salt: String,
            pub secret: String,
            pub ad: String,
            pub m: u32,
            pub t: u32,
            pub p: u32,
            pub tag: String,
        }
        pub fn parse(text: &str) -> Vector {
            let get = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(':')))
                    .map_or_else(|| panic!("vector file lacks {k}"), |v| v.trim().to_string())
            };
            Vector {
                password: get("password"),
                salt: get("salt"),
                secret: get("secret"),
                ad: get("ad"),
                m: get("m").parse().unwrap(),
                t: get("t").parse().unwrap(),
                p: get("p").parse().unwrap(),
                tag: get("tag"),
            }
        }
    }

    #[test]
    fn floor_and_ceiling_are_enforced() {
        let weak = KdfParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        assert!(matches!(weak.check(), Err(CryptoError::WeakKdf { .. })));
        let huge = KdfParams {
            memory_kib: u32::MAX,
            iterations: 3,
            parallelism: 4,
        };
        assert!(matches!(huge.check(), Err(CryptoError::InvalidKdf(_))));
        assert!(KdfParams::DEFAULT.check().is_ok());
        let sk = AccountSecretKey::generate();
        assert!(derive_master_key(b"pw", &sk, &random_salt(), weak).is_err());
    }

    #[test]
    fn passphrase_keys_depend_on_every_input() {
        let salt = random_salt();
        let p = KdfParams::FLOOR;
        let k = |pw: &[u8], salt: &[u8; SALT_LEN], label: &[u8]| {
            *derive_passphrase_key(pw, salt, p, label)
                .unwrap()
                .expose_secret()
        };
        let a = k(b"pw", &salt, b"tessera export");
        assert_eq!(a, k(b"pw", &salt, b"tessera export"));
        assert_ne!(a, k(b"pw2", &salt, b"tessera export"));
        assert_ne!(a, k(b"pw", &random_salt(), b"tessera export"));
        assert_ne!(a, k(b"pw", &salt, b"tessera other"));
        let weak = KdfParams {
            memory_kib: 1024,
            ..p
        };
        assert!(matches!(
            derive_passphrase_key(b"pw", &salt, weak, b"x"),
            Err(CryptoError::WeakKdf { .. })
        ));
    }

    #[test]
    fn both_secrets_matter() {
        let salt = random_salt();
        let sk1 = AccountSecretKey::generate();
        let sk2 = AccountSecretKey::generate();
        let p = KdfParams::FLOOR;
        let a = derive_master_key(b"pw", &sk1, &salt, p)
            .unwrap()
            .encryption_key();
        let b = derive_master_key(b"pw", &sk1, &salt, p)
            .unwrap()
            .encryption_key();
        let c = derive_master_key(b"pw", &sk2, &salt, p)
            .unwrap()
            .encryption_key();
        let d = derive_master_key(b"pw2", &sk1, &salt, p)
            .unwrap()
            .encryption_key();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), c.expose_secret());
        assert_ne!(a.expose_secret(), d.expose_secret());
        let mk = derive_master_key(b"pw", &sk1, &salt, p).unwrap();
        assert_ne!(
            mk.encryption_key().expose_secret(),
            mk.auth_key().expose_secret()
        );
    }
}
