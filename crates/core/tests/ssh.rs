//! SSH keys checked against the real OpenSSH `ssh-keygen` (package openssh-client), both ways:
//! keys Tessera exports must load in `ssh-keygen` with the same fingerprint and public key, and
//! keys `ssh-keygen` writes must import into Tessera with the same fingerprint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tessera_core::item::{ItemKind, SecretText};
use tessera_core::ssh::{self, SshKey, SshKeyType};

/// Run `ssh-keygen` with no terminal to prompt on.
fn ssh_keygen(args: &[&str]) -> Output {
    Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen (package openssh-client) must be installed for these tests")
}

fn stdout_ok(args: &[&str]) -> String {
    let out = ssh_keygen(args);
    assert!(
        out.status.success(),
        "ssh-keygen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Write a private key file with mode 0600, as ssh-keygen insists on.
fn write_private(dir: &Path, name: &str, pem: &SecretText) -> PathBuf {
    let path = dir.join(name);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    f.write_all(pem.expose_secret().as_bytes()).unwrap();
    path
}

/// The key type and base64 of a public key line, comment aside.
fn type_and_base64(line: &str) -> (String, String) {
    let mut parts = line.split_whitespace();
    (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    )
}

/// The `SHA256:...` fingerprint from `ssh-keygen -l` output (`BITS SHA256:... COMMENT (TYPE)`).
fn listed_fingerprint(out: &str) -> (u32, String) {
    let mut parts = out.split_whitespace();
    let bits = parts.next().unwrap().parse().unwrap();
    (bits, parts.next().unwrap().to_owned())
}

/// Every check on one generated key: plain and passphrase-protected exports, both read back by
/// ssh-keygen; a wrong passphrase refused. One generation per type keeps RSA costs down.
fn check_export(key_type: SshKeyType, expected_alg: &str) {
    let dir = tempfile::tempdir().unwrap();
    let key = SshKey::generate(key_type, "tessera@test").unwrap();
    assert_eq!(key.key_type(), Some(key_type));
    assert_eq!(key.comment(), "tessera@test");
    let public = key.public_key().unwrap();
    assert!(
        public.starts_with(&format!("{expected_alg} AAAA")),
        "{public}"
    );
    assert!(public.ends_with(" tessera@test"), "{public}");

    // Unencrypted.
    let plain = write_private(dir.path(), "plain", &key.to_openssh(None).unwrap());
    let plain = plain.to_str().unwrap();
    let (bits, fp) = listed_fingerprint(&stdout_ok(&["-l", "-f", plain]));
    assert_eq!(fp, key.fingerprint());
    assert_eq!(bits, key.bits());
    let derived = stdout_ok(&["-y", "-f", plain]);
    assert_eq!(type_and_base64(&derived), type_and_base64(&public));

    // Passphrase-protected.
    let pass = SecretText::from("tessera test passphrase");
    let locked_pem = key.to_openssh(Some(&pass)).unwrap();
    assert!(locked_pem
        .expose_secret()
        .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    let locked = write_private(dir.path(), "locked", &locked_pem);
    let locked = locked.to_str().unwrap();
    // The public half of an OpenSSH key file is in clear: -l needs no passphrase.
    assert_eq!(
        listed_fingerprint(&stdout_ok(&["-l", "-f", locked])).1,
        key.fingerprint()
    );
    let derived = stdout_ok(&["-y", "-P", pass.expose_secret(), "-f", locked]);
    assert_eq!(type_and_base64(&derived), type_and_base64(&public));
    let wrong = ssh_keygen(&["-y", "-P", "wrong", "-f", locked]);
    assert!(!wrong.status.success(), "a wrong passphrase must fail");
    let empty = ssh_keygen(&["-y", "-P", "", "-f", locked]);
    assert!(!empty.status.success(), "the key must really be encrypted");

    // And Tessera reads its own export back.
    let back = SshKey::import_openssh(locked_pem.expose_secret(), Some(&pass)).unwrap();
    assert_eq!(back.fingerprint(), key.fingerprint());
    assert_eq!(back.comment(), "tessera@test");
}

#[test]
fn ed25519_export_loads_in_ssh_keygen() {
    check_export(SshKeyType::Ed25519, "ssh-ed25519");
}

#[test]
fn ecdsa_p256_export_loads_in_ssh_keygen() {
    check_export(SshKeyType::EcdsaP256, "ecdsa-sha2-nistp256");
}

#[test]
fn ecdsa_p384_export_loads_in_ssh_keygen() {
    check_export(SshKeyType::EcdsaP384, "ecdsa-sha2-nistp384");
}

#[test]
fn rsa3072_export_loads_in_ssh_keygen() {
    check_export(SshKeyType::Rsa3072, "ssh-rsa");
}

#[test]
fn rsa4096_export_loads_in_ssh_keygen() {
    check_export(SshKeyType::Rsa4096, "ssh-rsa");
}

/// Generate a key with ssh-keygen, import it into Tessera and compare with what ssh-keygen says.
fn check_import(args: &[&str], passphrase: &str, expected: Option<SshKeyType>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id");
    let path = path.to_str().unwrap();
    let mut all = vec!["-q", "-C", "made@ssh-keygen", "-N", passphrase, "-f", path];
    all.extend_from_slice(args);
    stdout_ok(&all);
    let (bits, fp) = listed_fingerprint(&stdout_ok(&["-l", "-f", path]));
    let pem = fs::read_to_string(path).unwrap();
    let pass = (!passphrase.is_empty()).then(|| SecretText::from(passphrase));

    let key = SshKey::import_openssh(&pem, pass.as_ref()).unwrap();
    assert_eq!(key.fingerprint(), fp);
    assert_eq!(key.bits(), bits);
    assert_eq!(key.key_type(), expected);
    assert_eq!(key.comment(), "made@ssh-keygen");
    let pub_file = fs::read_to_string(format!("{path}.pub")).unwrap();
    assert_eq!(key.public_key().unwrap().trim(), pub_file.trim());

    if pass.is_some() {
        let e = SshKey::import_openssh(&pem, None).unwrap_err().to_string();
        assert_eq!(e, "this key is encrypted; give its passphrase");
        let e = SshKey::import_openssh(&pem, Some(&"wrong".into()))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "wrong passphrase for this key");
    }

    // Stored as an item, then exported again: ssh-keygen still agrees.
    let item = ssh::to_item("imported", &key, pass.as_ref().map(SecretText::duplicate)).unwrap();
    assert_eq!(item.kind, ItemKind::SshKey);
    assert_eq!(item.field("fingerprint").unwrap().value.expose_secret(), fp);
    assert_eq!(item.field("passphrase").is_some(), pass.is_some());
    let stored = item.field("private_key").unwrap().value.duplicate();
    let again = write_private(dir.path(), "again", &stored);
    let again = again.to_str().unwrap();
    let mut derive = vec!["-y", "-f", again];
    if let Some(p) = &pass {
        derive.extend_from_slice(&["-P", p.expose_secret()]);
    }
    assert_eq!(
        type_and_base64(&stdout_ok(&derive)),
        type_and_base64(&pub_file)
    );
}

#[test]
fn imports_ssh_keygen_ed25519() {
    check_import(&["-t", "ed25519"], "", Some(SshKeyType::Ed25519));
}

#[test]
fn imports_ssh_keygen_ed25519_with_passphrase() {
    check_import(&["-t", "ed25519"], "open sesame", Some(SshKeyType::Ed25519));
}

#[test]
fn imports_ssh_keygen_rsa() {
    check_import(&["-t", "rsa", "-b", "3072"], "", Some(SshKeyType::Rsa3072));
}

#[test]
fn imports_ssh_keygen_ecdsa_with_passphrase() {
    check_import(
        &["-t", "ecdsa", "-b", "384", "-a", "32"],
        "p384 pass",
        Some(SshKeyType::EcdsaP384),
    );
}

#[test]
fn refuses_dsa_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id_dsa");
    let path = path.to_str().unwrap();
    let out = ssh_keygen(&["-q", "-t", "dsa", "-N", "pw", "-f", path]);
    assert!(
        out.status.success(),
        "ssh-keygen could not make a DSA key: {}. OpenSSH 9.8 and later are built without DSA; \
         these tests expect Debian 12's OpenSSH 9.2 (package openssh-client, as on CI)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let pem = fs::read_to_string(path).unwrap();
    // Refused before any passphrase is asked for.
    let e = SshKey::import_openssh(&pem, None).unwrap_err().to_string();
    assert!(e.contains("DSA (ssh-dss) keys are not supported"), "{e}");
}

/// About one ECDSA key in 256 from ssh-keygen has a private scalar shorter than the field size
/// (OpenSSH mpints drop leading zeros); ssh-key 0.6 alone refuses those. These vectors have a
/// 31-byte P-256 scalar; the encrypted copy's passphrase is "tessera".
#[test]
fn imports_ecdsa_keys_with_a_short_scalar() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/ssh");
    let dir = tempfile::tempdir().unwrap();
    let pass = SecretText::from("tessera");
    for (name, pass) in [
        ("ecdsa_p256_short_scalar", None),
        ("ecdsa_p256_short_scalar_encrypted", Some(&pass)),
    ] {
        let pem = SecretText::new(fs::read_to_string(vectors.join(name)).unwrap());
        let file = write_private(dir.path(), name, &pem);
        let file = file.to_str().unwrap();
        let (_, fp) = listed_fingerprint(&stdout_ok(&["-l", "-f", file]));
        let key = SshKey::import_openssh(pem.expose_secret(), pass).unwrap();
        assert_eq!(key.fingerprint(), fp, "{name}");
        assert_eq!(key.key_type(), Some(SshKeyType::EcdsaP256));
        if pass.is_some() {
            let e = SshKey::import_openssh(pem.expose_secret(), Some(&"wrong".into()))
                .unwrap_err()
                .to_string();
            assert_eq!(e, "wrong passphrase for this key");
        } else {
            assert_eq!(key.comment(), "short");
        }
        // Exported again (scalar now zero-padded), OpenSSH still reads it.
        let again = write_private(
            dir.path(),
            &format!("{name}.again"),
            &key.to_openssh(pass).unwrap(),
        );
        let again = again.to_str().unwrap();
        let mut derive = vec!["-y", "-f", again];
        if let Some(p) = pass {
            derive.extend_from_slice(&["-P", p.expose_secret()]);
        }
        let (_, fp_again) = listed_fingerprint(&stdout_ok(&["-l", "-f", again]));
        assert_eq!(fp_again, fp);
        assert_eq!(
            type_and_base64(&stdout_ok(&derive)),
            type_and_base64(&key.public_key().unwrap())
        );
    }
}
