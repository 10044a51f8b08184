//! SSH keys: generate, import and export OpenSSH private keys, and store them as items.
//!
//! Keys are written in the OpenSSH private key format (`-----BEGIN OPENSSH PRIVATE KEY-----`,
//! [PROTOCOL.key]), the one `ssh-keygen` writes since OpenSSH 7.8. A passphrase, when given,
//! protects the exported key the way `ssh-keygen` does: bcrypt-pbkdf (16 rounds, 16-byte salt)
//! derives an aes256-ctr key. Fingerprints are SHA-256 in the form `ssh-keygen -l` prints
//! (`SHA256:` and unpadded base64).
//!
//! An [`SshKey`] always holds the decrypted key; its private half is zeroized on drop and never
//! shown by `Debug`.
//!
//! ```
//! use tessera_core::ssh::{self, SshKey, SshKeyType};
//!
//! let key = SshKey::generate(SshKeyType::Ed25519, "me@laptop")?;
//! assert!(key.fingerprint().starts_with("SHA256:"));
//! assert!(key.public_key()?.starts_with("ssh-ed25519 AAAA"));
//! let item = ssh::to_item("Laptop key", &key, None)?;
//! assert_eq!(item.field("fingerprint").map(|f| f.value.expose_secret()), Some(&*key.fingerprint()));
//! # Ok::<(), tessera_core::Error>(())
//! ```
//!
//! [PROTOCOL.key]: https://cvsweb.openbsd.org/src/usr.bin/ssh/PROTOCOL.key?annotate=HEAD
use std::fmt;
use std::str::FromStr;

use rand_core::OsRng;
use ssh_key::private::{KeypairData, RsaKeypair};
use ssh_key::{Algorithm, Cipher, EcdsaCurve, HashAlg, Kdf, LineEnding, PrivateKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::item::{FieldKind, ItemData, ItemKind, SecretText};

mod container;
mod prime;

/// The PEM header of an OpenSSH private key.
const OPENSSH_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";

/// Most bcrypt-pbkdf rounds accepted on import. `ssh-keygen` uses 16 by default and guides
/// suggest up to 100; the cap stops a crafted file from making an import run for hours.
pub const MAX_KDF_ROUNDS: u32 = 1000;

/// Longest private key text accepted on import (an RSA 16384 key is about 12 KB).
const MAX_PEM_LEN: usize = 64 * 1024;

const NEEDS_PASSPHRASE: &str = "this key is encrypted; give its passphrase";

/// The key's base64 rewrapped at the 70 columns `ssh-key` insists on. OpenSSH itself reads any
/// width, CRLF line ends and stray blanks, so keys wrapped at 64 or 76 columns by other tools,
/// or pasted from a mail, are real keys too. Text outside the BEGIN and END lines is kept as it
/// is (the parser then names what is wrong).
fn rewrap(text: &str) -> Zeroizing<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let (Some(begin), Some(end)) = (lines.first(), lines.last()) else {
        return Zeroizing::new(text.to_owned());
    };
    if lines.len() < 3 || !end.starts_with("-----END ") {
        return Zeroizing::new(text.to_owned());
    }
    let body: Zeroizing<String> = Zeroizing::new(
        lines[1..lines.len() - 1]
            .iter()
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect(),
    );
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 64));
    out.push_str(begin);
    out.push('\n');
    for chunk in body.as_bytes().chunks(70) {
        // Base64 is ASCII; anything else is passed on lossily for the parser to reject.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(end);
    out.push('\n');
    out
}

/// A key type Tessera can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SshKeyType {
    /// Ed25519 (`ssh-ed25519`), the recommended default.
    Ed25519,
    /// ECDSA on NIST P-256 (`ecdsa-sha2-nistp256`).
    EcdsaP256,
    /// ECDSA on NIST P-384 (`ecdsa-sha2-nistp384`).
    EcdsaP384,
    /// RSA with a 3072-bit modulus (`ssh-rsa`, signing with rsa-sha2-256/512).
    Rsa3072,
    /// RSA with a 4096-bit modulus. Generation takes a few seconds.
    Rsa4096,
}

impl SshKeyType {
    /// Every type, in the order offered to users.
    pub const ALL: [SshKeyType; 5] = [
        SshKeyType::Ed25519,
        SshKeyType::EcdsaP256,
        SshKeyType::EcdsaP384,
        SshKeyType::Rsa3072,
        SshKeyType::Rsa4096,
    ];

    /// The canonical name (`ed25519`, `ecdsa-p256`, `ecdsa-p384`, `rsa3072`, `rsa4096`).
    pub fn as_str(self) -> &'static str {
        match self {
            SshKeyType::Ed25519 => "ed25519",
            SshKeyType::EcdsaP256 => "ecdsa-p256",
            SshKeyType::EcdsaP384 => "ecdsa-p384",
            SshKeyType::Rsa3072 => "rsa3072",
            SshKeyType::Rsa4096 => "rsa4096",
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            SshKeyType::Ed25519 => Algorithm::Ed25519,
            SshKeyType::EcdsaP256 => Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
            SshKeyType::EcdsaP384 => Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            },
            SshKeyType::Rsa3072 | SshKeyType::Rsa4096 => Algorithm::Rsa { hash: None },
        }
    }
}

impl fmt::Display for SshKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SshKeyType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = match s.trim().to_ascii_lowercase().as_str() {
            "ed25519" => SshKeyType::Ed25519,
            "ecdsa-p256" | "p256" => SshKeyType::EcdsaP256,
            "ecdsa-p384" | "p384" => SshKeyType::EcdsaP384,
            "rsa3072" | "rsa-3072" => SshKeyType::Rsa3072,
            "rsa4096" | "rsa-4096" => SshKeyType::Rsa4096,
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown SSH key type {s:?}; use one of: ed25519, ecdsa-p256 (p256), \
                     ecdsa-p384 (p384), rsa3072 (rsa-3072), rsa4096"
                )))
            }
        };
        Ok(t)
    }
}

/// A decrypted SSH key pair with its comment.
///
/// Built by [`SshKey::generate`] or [`SshKey::import_openssh`]. The private key is zeroized on
/// drop; `Debug` shows only the algorithm and fingerprint.
pub struct SshKey {
    /// Always unencrypted (`is_encrypted() == false`); encryption happens on export.
    key: PrivateKey,
}

impl SshKey {
    /// Generate a new key pair of a type, with a comment (often `user@host`; may be empty).
    pub fn generate(key_type: SshKeyType, comment: &str) -> Result<Self> {
        let failed = |e: ssh_key::Error| {
            Error::Invalid(format!("generating the {key_type} SSH key failed: {e}"))
        };
        let mut key = match key_type {
            SshKeyType::Rsa3072 | SshKeyType::Rsa4096 => {
                let bits = if key_type == SshKeyType::Rsa3072 {
                    3072
                } else {
                    4096
                };
                // Primes searched for on every core (prime.rs), not `RsaKeypair::random`.
                let rsa = prime::rsa_key(bits).map_err(|e| {
                    Error::Invalid(format!("generating the {key_type} SSH key failed: {e}"))
                })?;
                let pair = RsaKeypair::try_from(&rsa).map_err(failed)?;
                PrivateKey::new(KeypairData::from(pair), comment).map_err(failed)?
            }
            _ => PrivateKey::random(&mut OsRng, key_type.algorithm()).map_err(failed)?,
        };
        key.set_comment(comment);
        Ok(Self { key })
    }

    /// Import an OpenSSH private key (the text of a file such as `~/.ssh/id_ed25519`).
    ///
    /// When the key is encrypted, `passphrase` decrypts it; an empty passphrase counts as none.
    /// A passphrase given for an unencrypted key is ignored. Supported algorithms: Ed25519,
    /// ECDSA (P-256, P-384, P-521) and RSA; DSA and security-key (`sk-*`) keys are refused.
    /// ECDSA keys whose private scalar OpenSSH wrote shorter than the field size (about one in
    /// 256) are repaired on the way in; see the `container` module.
    pub fn import_openssh(text: &str, passphrase: Option<&SecretText>) -> Result<Self> {
        let text = text.trim();
        if !text.starts_with(OPENSSH_BEGIN) {
            return Err(Error::Invalid(not_openssh_message(text)));
        }
        if text.len() > MAX_PEM_LEN {
            return Err(Error::Invalid(format!(
                "the private key text is longer than {MAX_PEM_LEN} bytes; it is not a single \
                 OpenSSH private key"
            )));
        }
        let text = rewrap(text);
        let text = text.as_str();
        let key = match PrivateKey::from_openssh(text) {
            Ok(key) => key,
            Err(e) => {
                return container::pad_ecdsa_scalar(text, b"")
                    .and_then(|bin| PrivateKey::from_bytes(&bin).ok())
                    .map(|key| Self { key })
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "the OpenSSH private key is damaged or truncated ({e}); copy the \
                             whole file, from -----BEGIN to -----END"
                        ))
                    })
            }
        };
        check_algorithm(&key.algorithm())?;
        if !key.is_encrypted() {
            return Ok(Self { key });
        }
        let Some(passphrase) = passphrase.filter(|p| !p.is_empty()) else {
            return Err(Error::Invalid(NEEDS_PASSPHRASE.into()));
        };
        check_encryption(&key)?;
        let passphrase = passphrase.expose_secret().as_bytes();
        let key = match key.decrypt(passphrase) {
            Ok(key) => key,
            Err(_) if key.algorithm().is_ecdsa() => container::pad_ecdsa_scalar(text, passphrase)
                .and_then(|bin| PrivateKey::from_bytes(&bin).ok())
                .ok_or_else(|| Error::Invalid("wrong passphrase for this key".into()))?,
            Err(_) => return Err(Error::Invalid("wrong passphrase for this key".into())),
        };
        Ok(Self { key })
    }

    /// Whether `text`, an OpenSSH private key, is encrypted with a passphrase.
    pub fn is_encrypted_openssh(text: &str) -> Result<bool> {
        match Self::import_openssh(text, None) {
            Err(Error::Invalid(m)) if m == NEEDS_PASSPHRASE => Ok(true),
            other => other.map(|_| false),
        }
    }

    /// Check that `text` is one OpenSSH private key of a supported algorithm, encrypted or not,
    /// without decrypting it: what an SSH key item may store.
    pub fn check_openssh(text: &str) -> Result<()> {
        Self::is_encrypted_openssh(text).map(drop)
    }

    /// The private key in OpenSSH format (LF line endings), encrypted with `passphrase` when
    /// one is given (bcrypt-pbkdf + aes256-ctr, as `ssh-keygen -N` does). An empty passphrase
    /// counts as none.
    pub fn to_openssh(&self, passphrase: Option<&SecretText>) -> Result<SecretText> {
        let failed = |e: ssh_key::Error| {
            Error::Invalid(format!("exporting the SSH private key failed: {e}"))
        };
        let mut pem = match passphrase.filter(|p| !p.is_empty()) {
            Some(p) => self
                .key
                .encrypt(&mut OsRng, p.expose_secret().as_bytes())
                .map_err(failed)?
                .to_openssh(LineEnding::LF),
            None => self.key.to_openssh(LineEnding::LF),
        }
        .map_err(failed)?;
        // Move the string out: `pem` (now empty) and the returned value both zeroize on drop.
        Ok(SecretText::new(std::mem::take(&mut *pem)))
    }

    /// The public key line, as in `id_ed25519.pub` and `authorized_keys`:
    /// `ssh-ed25519 AAAA... comment` (no comment part when the comment is empty).
    pub fn public_key(&self) -> Result<String> {
        self.key
            .public_key()
            .to_openssh()
            .map_err(|e| Error::Invalid(format!("encoding the SSH public key failed: {e}")))
    }

    /// The SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// The comment (often `user@host`).
    pub fn comment(&self) -> &str {
        self.key.comment()
    }

    /// Replace the comment.
    pub fn set_comment(&mut self, comment: &str) {
        self.key.set_comment(comment);
    }

    /// The SSH algorithm name (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ...).
    pub fn algorithm(&self) -> String {
        self.key.algorithm().as_str().to_owned()
    }

    /// The key's size in bits as `ssh-keygen -l` shows it (256 for Ed25519 and P-256, the
    /// modulus size for RSA).
    pub fn bits(&self) -> u32 {
        match self.key.algorithm() {
            Algorithm::Ecdsa { curve } => match curve {
                EcdsaCurve::NistP256 => 256,
                EcdsaCurve::NistP384 => 384,
                EcdsaCurve::NistP521 => 521,
            },
            Algorithm::Rsa { .. } => self
                .key
                .public_key()
                .key_data()
                .rsa()
                .and_then(|rsa| rsa.n.as_positive_bytes())
                .and_then(|n| {
                    let first = n.iter().position(|b| *b != 0)?;
                    let len = u32::try_from(n.len() - first).ok()?;
                    Some(len * 8 - n[first].leading_zeros())
                })
                .unwrap_or(0),
            _ => 256,
        }
    }

    /// The [`SshKeyType`] this key is, when it is one Tessera generates (an imported RSA 2048
    /// or P-521 key is `None`).
    pub fn key_type(&self) -> Option<SshKeyType> {
        match self.key.algorithm() {
            Algorithm::Ed25519 => Some(SshKeyType::Ed25519),
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            } => Some(SshKeyType::EcdsaP256),
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            } => Some(SshKeyType::EcdsaP384),
            Algorithm::Rsa { .. } => match self.bits() {
                3072 => Some(SshKeyType::Rsa3072),
                4096 => Some(SshKeyType::Rsa4096),
                _ => None,
            },
            _ => None,
        }
    }
}

impl fmt::Debug for SshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshKey")
            .field("algorithm", &self.key.algorithm().as_str())
            .field("fingerprint", &self.fingerprint())
            .field("private_key", &"***")
            .finish()
    }
}

/// An [`ItemData`] of kind [`ItemKind::SshKey`] holding `key`: `private_key` (OpenSSH format,
/// encrypted with `passphrase` when one is given and not empty), `public_key`, `fingerprint`,
/// and `passphrase` when one protects the stored private key.
pub fn to_item(
    title: impl Into<String>,
    key: &SshKey,
    passphrase: Option<SecretText>,
) -> Result<ItemData> {
    let passphrase = passphrase.filter(|p| !p.is_empty());
    let private_key = key.to_openssh(passphrase.as_ref())?;
    let mut item = ItemData::new(ItemKind::SshKey, title)
        .with_field("private_key", FieldKind::Concealed, private_key)
        .with_field("public_key", FieldKind::Text, key.public_key()?)
        .with_field("fingerprint", FieldKind::Text, key.fingerprint());
    if let Some(p) = passphrase {
        item.set_field("passphrase", FieldKind::Concealed, p);
    }
    item.validate()?;
    Ok(item)
}

/// The error for text that does not start with the OpenSSH header, with a hint when the text is
/// recognisably something else.
fn not_openssh_message(text: &str) -> String {
    let base = format!("not an OpenSSH private key (expected {OPENSSH_BEGIN})");
    let hint = if text.starts_with("-----BEGIN") && text.contains("PRIVATE KEY-----") {
        "; this looks like a PEM (PKCS#1 or PKCS#8) key: convert a copy of the file with \
         `ssh-keygen -p -f FILE`, which rewrites it in OpenSSH format"
    } else if text.starts_with("PuTTY-User-Key-File") {
        "; this is a PuTTY key: export it with PuTTYgen (Conversions > Export OpenSSH key)"
    } else if text.starts_with("ssh-") || text.starts_with("ecdsa-") || text.starts_with("sk-") {
        "; this is a public key (the .pub file): give the private key file instead"
    } else {
        ""
    };
    format!("{base}{hint}")
}

/// Refuse algorithms Tessera does not store, naming them.
fn check_algorithm(algorithm: &Algorithm) -> Result<()> {
    match algorithm {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { .. } => Ok(()),
        Algorithm::Dsa => Err(Error::Invalid(
            "DSA (ssh-dss) keys are not supported: OpenSSH disabled them in version 7.0; \
             generate an Ed25519 key instead"
                .into(),
        )),
        other => Err(Error::Invalid(format!(
            "{} keys are not supported; import an Ed25519, ECDSA or RSA key",
            other.as_str()
        ))),
    }
}

/// Refuse encryption settings we cannot or will not undo, before running the KDF.
fn check_encryption(key: &PrivateKey) -> Result<()> {
    if key.cipher() == Cipher::TDesCbc {
        return Err(Error::Invalid(
            "this key is encrypted with 3des-cbc, which Tessera does not read; re-encrypt it \
             with `ssh-keygen -p -f FILE` first"
                .into(),
        ));
    }
    match key.kdf() {
        Kdf::Bcrypt { rounds, .. } if *rounds > MAX_KDF_ROUNDS => Err(Error::Invalid(format!(
            "this key's passphrase uses {rounds} bcrypt rounds, more than the {MAX_KDF_ROUNDS} \
             Tessera accepts; lower them with `ssh-keygen -p -a 100 -f FILE`"
        ))),
        Kdf::Bcrypt { .. } => Ok(()),
        Kdf::None => Err(Error::Invalid(
            "this key says it is encrypted but names no key derivation function; the file is \
             damaged"
                .into(),
        )),
        _ => Err(Error::Invalid(
            "this key's passphrase uses a key derivation function Tessera does not know; \
             re-encrypt it with `ssh-keygen -p -f FILE` first"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(r: Result<SshKey>) -> String {
        r.expect_err("must fail").to_string()
    }

    #[test]
    fn key_types_parse_from_names_and_aliases() {
        for t in SshKeyType::ALL {
            assert_eq!(t.as_str().parse::<SshKeyType>().unwrap(), t);
        }
        for (s, t) in [
            ("p256", SshKeyType::EcdsaP256),
            ("P384", SshKeyType::EcdsaP384),
            ("rsa-3072", SshKeyType::Rsa3072),
            (" ED25519 ", SshKeyType::Ed25519),
        ] {
            assert_eq!(s.parse::<SshKeyType>().unwrap(), t);
        }
        let e = "dsa".parse::<SshKeyType>().unwrap_err().to_string();
        assert!(e.contains("\"dsa\"") && e.contains("ed25519") && e.contains("rsa4096"));
    }

    #[test]
    fn export_import_round_trip_with_and_without_passphrase() {
        let key = SshKey::generate(SshKeyType::Ed25519, "me@host").unwrap();
        assert_eq!(key.key_type(), Some(SshKeyType::Ed25519));
        assert_eq!(key.bits(), 256);
        let plain = key.to_openssh(None).unwrap();
        let back = SshKey::import_openssh(plain.expose_secret(), None).unwrap();
        assert_eq!(back.fingerprint(), key.fingerprint());
        assert_eq!(back.comment(), "me@host");

        let pass = SecretText::from("correct horse");
        let locked = key.to_openssh(Some(&pass)).unwrap();
        assert_ne!(locked.expose_secret(), plain.expose_secret());
        let back = SshKey::import_openssh(locked.expose_secret(), Some(&pass)).unwrap();
        assert_eq!(back.public_key().unwrap(), key.public_key().unwrap());

        assert_eq!(
            msg(SshKey::import_openssh(locked.expose_secret(), None)),
            "this key is encrypted; give its passphrase"
        );
        assert_eq!(
            msg(SshKey::import_openssh(
                locked.expose_secret(),
                Some(&SecretText::from(""))
            )),
            "this key is encrypted; give its passphrase"
        );
        assert_eq!(
            msg(SshKey::import_openssh(
                locked.expose_secret(),
                Some(&SecretText::from("wrong"))
            )),
            "wrong passphrase for this key"
        );
    }

    #[test]
    fn debug_hides_the_private_key() {
        let key = SshKey::generate(SshKeyType::EcdsaP256, "c").unwrap();
        let d = format!("{key:?}");
        assert!(d.contains("SHA256:") && d.contains("***"));
        let pem = key.to_openssh(None).unwrap();
        let body: String = pem.expose_secret().lines().nth(2).unwrap().into();
        assert!(!d.contains(&body));
    }

    #[test]
    fn item_has_the_ssh_key_template_fields() {
        let key = SshKey::generate(SshKeyType::Ed25519, "").unwrap();
        let item = to_item("k", &key, None).unwrap();
        assert_eq!(item.kind, ItemKind::SshKey);
        assert!(item.field("passphrase").is_none());
        for (name, kind) in &ItemKind::SshKey.template()[..3] {
            assert_eq!(item.field(name).unwrap().kind, *kind);
        }
        let item = to_item("k", &key, Some("pw".into())).unwrap();
        assert_eq!(
            item.field("passphrase").unwrap().value.expose_secret(),
            "pw"
        );
        let pem = item.field("private_key").unwrap().value.expose_secret();
        let back = SshKey::import_openssh(pem, Some(&"pw".into())).unwrap();
        assert_eq!(back.fingerprint(), key.fingerprint());
    }

    #[test]
    fn not_openssh_inputs_are_named() {
        let want = "not an OpenSSH private key (expected -----BEGIN OPENSSH PRIVATE KEY-----)";
        assert_eq!(msg(SshKey::import_openssh("", None)), want);
        assert!(msg(SshKey::import_openssh(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
            None
        ))
        .contains("PKCS#1"));
        assert!(msg(SshKey::import_openssh("ssh-ed25519 AAAAC3Nza x", None)).contains("public key"));
        assert!(msg(SshKey::import_openssh(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            None
        ))
        .contains("damaged"));
    }

    /// An OpenSSH DSA key (1024-bit, no passphrase), as `ssh-keygen -t dsa` wrote it.
    const DSA_KEY: &str = include_str!("../../../tests/vectors/ssh/fail_dsa_key");

    /// A P-256 key from `ssh-keygen` whose private scalar is 31 bytes (see `container`).
    const SHORT_SCALAR: &str = include_str!("../../../tests/vectors/ssh/ecdsa_p256_short_scalar");
    /// The same key encrypted with the passphrase "tessera".
    const SHORT_SCALAR_ENCRYPTED: &str =
        include_str!("../../../tests/vectors/ssh/ecdsa_p256_short_scalar_encrypted");

    #[test]
    fn short_ecdsa_scalars_are_repaired() {
        let plain = SshKey::import_openssh(SHORT_SCALAR, None).unwrap();
        let enc = SshKey::import_openssh(SHORT_SCALAR_ENCRYPTED, Some(&"tessera".into())).unwrap();
        assert_eq!(plain.fingerprint(), enc.fingerprint());
        assert_eq!(
            msg(SshKey::import_openssh(SHORT_SCALAR_ENCRYPTED, None)),
            "this key is encrypted; give its passphrase"
        );
    }

    #[test]
    fn any_wrap_width_crlf_and_trailing_blanks_read_as_openssh_reads_them() {
        let key = SshKey::generate(SshKeyType::EcdsaP256, "w").unwrap();
        let pem = key.to_openssh(None).unwrap();
        let lines: Vec<&str> = pem.expose_secret().lines().collect();
        let body = lines[1..lines.len() - 1].concat();
        for (width, end, blank) in [
            (64, "\n", ""),
            (76, "\r\n", ""),
            (1000, "\n", " \t"),
            (17, "\r\n", " "),
        ] {
            let mut text = format!("{}{blank}{end}", lines[0]);
            for chunk in body.as_bytes().chunks(width) {
                text.push_str(std::str::from_utf8(chunk).unwrap());
                text.push_str(blank);
                text.push_str(end);
            }
            text.push_str(lines[lines.len() - 1]);
            text.push_str(end);
            let back = SshKey::import_openssh(&text, None).unwrap();
            assert_eq!(back.fingerprint(), key.fingerprint(), "width {width}");
            SshKey::check_openssh(&text).unwrap();
        }
        // Base64 that is not a key is still refused, however it is wrapped.
        let broken = format!("{}\r\nAAAA \r\n{}\r\n", lines[0], lines[lines.len() - 1]);
        assert!(msg(SshKey::import_openssh(&broken, None)).contains("damaged"));
    }

    #[test]
    fn dsa_is_refused_by_name() {
        let e = msg(SshKey::import_openssh(DSA_KEY, None));
        assert!(e.contains("DSA"), "{e}");
    }

    proptest! {
        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn random_text_never_panics(s in "\\PC{0,300}") {
            let _ = SshKey::import_openssh(&s, None);
            let _ = SshKey::import_openssh(&format!("{OPENSSH_BEGIN}\n{s}"), Some(&"x".into()));
        }

        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn random_base64_body_never_panics(body in "[A-Za-z0-9+/=\n]{0,600}") {
            let pem = format!("{OPENSSH_BEGIN}\n{body}\n-----END OPENSSH PRIVATE KEY-----\n");
            let _ = SshKey::import_openssh(&pem, Some(&"x".into()));
        }

        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = SshKey::import_openssh(&text, None);
        }
    }

    /// `pem` with the base64 character at `pos` (within the body) replaced by `c`.
    fn corrupt(pem: &str, pos: prop::sample::Index, c: &str) -> String {
        let start = OPENSSH_BEGIN.len() + 1;
        let end = pem.trim_end().len() - "-----END OPENSSH PRIVATE KEY-----".len();
        let mut at = start + pos.index(end - start);
        if pem.as_bytes()[at] == b'\n' {
            at -= 1;
        }
        let mut bad = pem.to_owned();
        bad.replace_range(at..=at, c);
        bad
    }

    proptest! {
        /// Corrupt one base64 character of a real key: an error or a key, never a panic.
        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn corrupted_plain_key_never_panics(pos in any::<prop::sample::Index>(), c in "[A-Za-z0-9+/=]") {
            let _ = SshKey::import_openssh(&corrupt(SHORT_SCALAR, pos, &c), None);
        }
    }

    proptest! {
        // Each case runs bcrypt-pbkdf (16 rounds) up to twice; keep the count small.
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The same for an encrypted key, which reaches the KDF, the cipher and the repair.
        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn corrupted_encrypted_key_never_panics(pos in any::<prop::sample::Index>(), c in "[A-Za-z0-9+/=]") {
            let bad = corrupt(SHORT_SCALAR_ENCRYPTED, pos, &c);
            let _ = SshKey::import_openssh(&bad, Some(&"tessera".into()));
        }
    }
}
