//! A small reader for the OpenSSH private key container ([PROTOCOL.key]), used for one repair.
//!
//! OpenSSH stores the ECDSA private scalar as an mpint, which drops leading zero bytes, so about
//! one P-256 or P-384 key in 256 written by `ssh-keygen` has a 31- (or 47-) byte scalar. ssh-key
//! 0.6 expects the full field size and rejects those keys as "length invalid" (ssh-key 0.7, not
//! yet stable, reads them). [`pad_ecdsa_scalar`] rewrites such a key, decrypting it first when it
//! is encrypted, as an unencrypted container whose scalar is left-padded with zeros; ssh-key then
//! reads it, and OpenSSH accepts the padded form too (it trims leading zeros of mpints).
//!
//! [PROTOCOL.key]: https://cvsweb.openbsd.org/src/usr.bin/ssh/PROTOCOL.key?annotate=HEAD
use ssh_key::{Cipher, Kdf};
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"openssh-key-v1\0";

/// The unencrypted binary container of `pem` with its ECDSA scalar padded to full size, or
/// `None` when `pem` is not an ECDSA key with a short scalar, is damaged, uses an AEAD cipher,
/// or `passphrase` does not decrypt it. Bcrypt rounds above [`super::MAX_KDF_ROUNDS`] are refused.
pub(super) fn pad_ecdsa_scalar(pem: &str, passphrase: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let bin = pem_body(pem)?;
    let mut r = Reader(&bin);
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let cipher_name = r.string()?;
    let kdf_name = r.string()?;
    let kdf_options = r.string()?;
    if r.u32()? != 1 {
        return None;
    }
    let public = r.string()?;
    let section = r.string()?;
    if !r.0.is_empty() {
        return None; // an AEAD tag follows: not handled here
    }
    let plain = match (cipher_name, kdf_name) {
        (b"none", b"none") => Zeroizing::new(section.to_vec()),
        (_, b"bcrypt") => {
            let cipher = Cipher::new(std::str::from_utf8(cipher_name).ok()?).ok()?;
            if matches!(
                cipher,
                Cipher::Aes128Gcm | Cipher::Aes256Gcm | Cipher::ChaCha20Poly1305 | Cipher::None
            ) {
                return None;
            }
            let mut o = Reader(kdf_options);
            let salt = o.string()?.to_vec();
            let rounds = o.u32()?;
            if passphrase.is_empty() || rounds > super::MAX_KDF_ROUNDS {
                return None;
            }
            let kdf = Kdf::Bcrypt { salt, rounds };
            let (key, iv) = kdf.derive_key_and_iv(cipher, passphrase).ok()?;
            let mut buf = Zeroizing::new(section.to_vec());
            cipher.decrypt(&key, &iv, &mut buf, None).ok()?;
            buf
        }
        _ => return None,
    };

    let mut p = Reader(&plain);
    let check1 = p.take(4)?;
    let check2 = p.take(4)?;
    if check1 != check2 {
        return None; // wrong passphrase
    }
    let alg = p.string()?;
    let size = match alg {
        b"ecdsa-sha2-nistp256" => 32,
        b"ecdsa-sha2-nistp384" => 48,
        b"ecdsa-sha2-nistp521" => 66,
        _ => return None,
    };
    let curve = p.string()?;
    let point = p.string()?;
    let scalar = p.string()?;
    let comment = p.string()?;
    if scalar.len() >= size || scalar.first() == Some(&0) {
        return None; // not the short-scalar case
    }

    let mut priv_section = Zeroizing::new(Vec::with_capacity(plain.len() + size));
    priv_section.extend_from_slice(check1);
    priv_section.extend_from_slice(check2);
    put_string(&mut priv_section, alg);
    put_string(&mut priv_section, curve);
    put_string(&mut priv_section, point);
    put_len(&mut priv_section, size);
    let padded_len = priv_section.len() + size - scalar.len();
    priv_section.resize(padded_len, 0);
    priv_section.extend_from_slice(scalar);
    put_string(&mut priv_section, comment);
    let mut pad = 1u8;
    while priv_section.len() % 8 != 0 {
        priv_section.push(pad);
        pad += 1;
    }

    let mut out = Zeroizing::new(Vec::with_capacity(priv_section.len() + public.len() + 64));
    out.extend_from_slice(MAGIC);
    put_string(&mut out, b"none");
    put_string(&mut out, b"none");
    put_string(&mut out, b"");
    out.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut out, public);
    put_string(&mut out, &priv_section);
    Some(out)
}

/// Big-endian SSH wire reader; every method returns `None` on short input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("key sections are far below 4 GiB");
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// The base64-decoded body between the PEM armour lines (whitespace ignored).
fn pem_body(pem: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut lines = pem.lines().map(str::trim);
    if lines.next()? != super::OPENSSH_BEGIN {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(pem.len() * 3 / 4));
    let mut acc = 0u32;
    let mut bits = 0u32;
    for line in lines {
        if line.starts_with("-----END") {
            return Some(out);
        }
        for c in line.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => continue,
                _ => return None,
            };
            acc = (acc << 6) | u32::from(v);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes() {
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\naGVsbG8g\nd29ybGQ=\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(pem_body(pem).unwrap().as_slice(), b"hello world");
        assert!(pem_body("-----BEGIN OPENSSH PRIVATE KEY-----\naGVs*\n-----END").is_none());
    }
}
