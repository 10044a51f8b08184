//! Generators, TOTP and SSH keys through the CLI, checked by independent means.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::Env;

#[test]
fn generate_passwords_and_passphrases() {
    let env = Env::empty();
    let p = env.json(&["generate", "--length", "32", "--no-symbols"]);
    let s = p["secret"].as_str().unwrap();
    assert_eq!(s.len(), 32);
    assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(p["entropy_bits"].as_f64().unwrap() > 180.0);
    let pp = env.json(&["generate", "--passphrase", "--words", "5"]);
    assert_eq!(pp["secret"].as_str().unwrap().split('-').count(), 5);
    assert!((pp["entropy_bits"].as_f64().unwrap() - 5.0 * 7776f64.log2()).abs() < 0.01);
    env.fails(&["generate", "--length", "2"], 7);
}

#[test]
fn a_passphrase_without_a_separator_suggests_an_option_that_exists() {
    let env = Env::empty();
    let err = env.fails(&["generate", "--passphrase", "--separator", ""], 7);
    assert!(err.contains("capitalise the words"), "{err}");
    // The hint is something the command can do: capitalised words need no separator.
    let pp = env.json(&[
        "generate",
        "--passphrase",
        "--separator",
        "",
        "--capitalize",
        "--digit",
        "--words",
        "4",
    ]);
    let secret = pp["secret"].as_str().unwrap();
    let capitals = secret.chars().filter(char::is_ascii_uppercase).count();
    assert_eq!(capitals, 4, "{secret}");
    assert!(secret.chars().any(|c| c.is_ascii_digit()), "{secret}");
    // No separator between the 4 words (a few list words hold a hyphen of their own).
    let punctuation = secret
        .chars()
        .filter(|c| !c.is_ascii_alphanumeric())
        .count();
    assert!(punctuation < 3, "{secret}");
    // --capitalize means nothing for a password.
    env.fails(&["generate", "--capitalize"], 2);
}

#[test]
fn totp_codes_match_an_independent_computation() {
    let env = Env::unlocked();
    // RFC 6238's SHA-1 seed "12345678901234567890", base32.
    let uri = "otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";
    env.ok_with_input(
        &["add", "totp", "Example 2FA", "--totp"],
        &format!("{uri}\n"),
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = env.json(&["totp", "Example 2FA"]);
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = out["code"].as_str().unwrap();
    let expected: Vec<String> = (before / 30..=after / 30)
        .map(|step| hotp_sha1(b"12345678901234567890", step))
        .collect();
    assert!(
        expected.iter().any(|e| e == code),
        "{code} not in {expected:?}"
    );
    let e = env.fails(&["add", "totp", "broken", "--totp"], 7);
    assert!(e.contains("TOTP secret"), "{e}");
}

/// RFC 4226 HOTP with SHA-1, written out here so the check does not reuse the code under test.
fn hotp_sha1(key: &[u8], counter: u64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[off]) & 0x7f) << 24
        | u32::from(h[off + 1]) << 16
        | u32::from(h[off + 2]) << 8
        | u32::from(h[off + 3]);
    format!("{:06}", bin % 1_000_000)
}

#[test]
fn ssh_keys_generated_by_the_cli_are_read_by_openssh() {
    let env = Env::unlocked();
    let made = env.json(&[
        "ssh-keygen",
        "deploy key",
        "--type",
        "ed25519",
        "--comment",
        "ci@example",
    ]);
    let fp = made["fingerprint"].as_str().unwrap();
    let file = env.tmp.path().join("id_ed25519");
    env.ok(&["ssh-export", "deploy key", "-o", file.to_str().unwrap()]);
    let l = Command::new("ssh-keygen")
        .args(["-l", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8(l.stdout).unwrap().contains(fp));
    let y = Command::new("ssh-keygen")
        .args(["-y", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let public = env.ok(&["ssh-export", "deploy key", "--public"]);
    assert_eq!(
        String::from_utf8(y.stdout)
            .unwrap()
            .split_whitespace()
            .nth(1),
        public.split_whitespace().nth(1)
    );
    let e = env.fails(
        &["ssh-export", "deploy key", "-o", file.to_str().unwrap()],
        7,
    );
    assert!(e.contains("exists already"), "{e}");
}
