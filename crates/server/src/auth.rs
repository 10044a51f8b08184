//! Secrets the server checks: bearer and invitation tokens (stored as SHA-256), auth keys
//! (Argon2id, computed off the executor), TOTP codes (RFC 6238) and recovery codes.
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_protocol::{Blob, KdfInfo};
use totp_rs::TOTP;
use zeroize::Zeroizing;

/// Seconds a TOTP code lasts.
pub const TOTP_STEP: u64 = 30;
/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 8;

/// A fresh random token (32 bytes, base64url) and the SHA-256 the store keeps.
pub fn new_token() -> (String, [u8; 32]) {
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref());
    let hash = token_hash(&token);
    (token, hash)
}

/// SHA-256 of a token as presented.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Argon2id for auth keys. The auth key is already the output of the client's slow KDF, so the
/// server's hash only has to make a stolen table useless: OWASP's minimum (19 MiB, t=2, p=1).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash an auth key with a fresh salt (a PHC string). Runs on the blocking pool.
pub async fn hash_auth_key(key: Zeroizing<Vec<u8>>) -> Option<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(&key, &salt)
            .ok()
            .map(|h| h.to_string())
    })
    .await
    .ok()
    .flatten()
}

/// Check an auth key against a stored hash (constant-time comparison inside argon2). With no
/// hash (unknown account) the same work is done against a dummy, so timing does not tell.
/// Runs on the blocking pool.
pub async fn verify_auth_key(key: Zeroizing<Vec<u8>>, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let phc = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        argon2().verify_password(&key, &parsed).is_ok() && known
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of an unguessable key, for unknown accounts.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K3cJrZeIsDKprcKQkLt1YQtvCSxm7YQRtaxfzzVZ7Vk";

/// Stable fake KDF parameters for an e-mail address with no account: the salt is
/// HMAC-SHA256(server secret, e-mail), the parameters the client default.
pub fn fake_kdf(secret: &[u8; 32], email: &str) -> KdfInfo {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"tessera prelogin v1\0");
    mac.update(email.as_bytes());
    let out = mac.finalize().into_bytes();
    KdfInfo {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
        salt: Blob(out[..16].to_vec()),
    }
}

/// A new TOTP secret (160 bits, as RFC 4226 recommends).
pub fn new_totp_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8]) -> Option<TOTP> {
    TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, TOTP_STEP, secret.to_vec()).ok()
}

/// The base32 form of a secret and an `otpauth://` URI for authenticator apps.
pub fn totp_uri(secret: &[u8], email: &str) -> Option<(String, String)> {
    let b32 = totp(secret)?.get_secret_base32();
    let label: String = email
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"@.-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let uri = format!(
        "otpauth://totp/Tessera:{label}?secret={b32}&issuer=Tessera&algorithm=SHA1&digits=6&period={TOTP_STEP}"
    );
    Some((b32, uri))
}

/// The time step of `code` if it is valid at `now` (the current step or one either side).
pub fn totp_step(secret: &[u8], code: &str, now: u64) -> Option<i64> {
    let t = totp(secret)?;
    let step = now / TOTP_STEP;
    let mut found = None;
    for s in [step.saturating_sub(1), step, step + 1] {
        let expected = t.generate(s * TOTP_STEP);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(s as i64);
        }
    }
    found
}

/// Whether a submitted code looks like a TOTP code (digits) rather than a recovery code.
pub fn is_totp_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Fresh recovery codes (`xxxx-xxxx-xxxx-xxxx`, 80 bits each) and their hashes.
pub fn new_recovery_codes() -> (Vec<String>, Vec<[u8; 32]>) {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut raw = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let chars: Vec<char> = raw
            .iter()
            .map(|b| ALPHABET[usize::from(b % 32)] as char)
            .collect();
        let code = chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-");
        codes.push(code);
    }
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// The stored hash of a recovery code (case and dashes ignored).
pub fn recovery_hash(code: &str) -> [u8; 32] {
    let norm: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut h = Sha256::new();
    h.update(b"tessera recovery v1\0");
    h.update(norm.as_bytes());
    h.finalize().into()
}

/// `SHA256:` and the base64 of SHA-256 of the team root public key.
pub fn fingerprint(root_public: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(root_public))
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn auth_key_round_trip_and_dummy() {
        let key = Zeroizing::new(vec![7u8; 32]);
        let h = hash_auth_key(key.clone()).await.unwrap();
        assert!(verify_auth_key(key.clone(), Some(h.clone())).await);
        assert!(!verify_auth_key(Zeroizing::new(vec![8u8; 32]), Some(h)).await);
        assert!(!verify_auth_key(key, None).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn totp_matches_rfc6238_window() {
        let secret = b"12345678901234567890".to_vec();
        let t = totp(&secret).unwrap();
        let code = t.generate(59);
        assert_eq!(code, "287082");
        assert_eq!(totp_step(&secret, &code, 59), Some(1));
        assert_eq!(totp_step(&secret, &code, 59 + 30), Some(1));
        assert_eq!(totp_step(&secret, &code, 59 + 300), None);
    }

    #[test]
    fn recovery_codes_normalise() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(recovery_hash(&codes[0].to_uppercase()), hashes[0]);
        assert_eq!(fake_kdf(&[1; 32], "a@b.c"), fake_kdf(&[1; 32], "a@b.c"));
        assert_ne!(fake_kdf(&[1; 32], "a@b.c"), fake_kdf(&[2; 32], "a@b.c"));
    }
}
