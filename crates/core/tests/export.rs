//! Encrypted export and import of a whole vault, through the public facade, on real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{contains, login, TestVault, PARAMS};
use tessera_core::item::{FieldKind, ItemData, ItemId, ItemKind, SecretText};
use tessera_core::ssh::{self, SshKey, SshKeyType};
use tessera_core::vault::export::{self, HEADER_LEN, MAGIC};
use tessera_core::{Error, Vault};

const PASSPHRASE: &str = "orbit lantern cobalt fjord 42";

fn pass() -> SecretText {
    SecretText::from(PASSPHRASE)
}

/// A vault holding every kind of item, custom fields, tags, folders, favourites, notes, a
/// rotation policy and an expiry, edits (history) and an item in the trash.
fn populated() -> (TestVault, Vault, Vec<ItemId>) {
    let (tv, mut v) = TestVault::new();
    let mut ids = Vec::new();
    let mut gh = login("GitHub", "alice", "canary-pw-1", "https://github.com")
        .with_field(
            "totp",
            FieldKind::Totp,
            "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
        )
        .with_field("recovery", FieldKind::Concealed, "canary-recovery");
    gh.tags = vec!["work".into(), "git".into()];
    gh.folder = Some("dev/code".into());
    gh.favourite = true;
    gh.notes = SecretText::from("canary-note\nsecond line");
    gh.rotation_days = Some(90);
    gh.expires_at = Some(1_900_000_000);
    ids.push(v.add(gh).unwrap());
    let key = SshKey::generate(SshKeyType::Ed25519, "ci@example").unwrap();
    ids.push(
        v.add(ssh::to_item("deploy key", &key, None).unwrap())
            .unwrap(),
    );
    for (kind, title, field, value) in [
        (ItemKind::ApiToken, "Stripe", "token", "canary-token"),
        (ItemKind::Totp, "AWS root", "totp", "JBSWY3DPEHPK3PXP"),
        (
            ItemKind::SecureNote,
            "Safe combination",
            "code",
            "canary-1234",
        ),
        (
            ItemKind::Certificate,
            "TLS cert",
            "private_key",
            "canary-pem",
        ),
        (ItemKind::Database, "orders db", "password", "canary-pg"),
        (
            ItemKind::EnvSet,
            "deploy env",
            "AWS_SECRET_ACCESS_KEY",
            "canary-aws",
        ),
    ] {
        let kind_of = tessera_core::agent::field_kind_for(kind, field, FieldKind::Concealed);
        ids.push(
            v.add(ItemData::new(kind, title).with_field(field, kind_of, value))
                .unwrap(),
        );
    }
    // History: two more versions of GitHub.
    for pw in ["canary-pw-2", "canary-pw-3"] {
        let mut d = v.get(&ids[0]).unwrap().data.duplicate();
        d.set_field("password", FieldKind::Concealed, SecretText::from(pw));
        v.update(&ids[0], d).unwrap();
    }
    // The trash: the database item, after an edit of its own.
    let mut d = v.get(&ids[6]).unwrap().data.duplicate();
    d.tags.push("old".into());
    v.update(&ids[6], d).unwrap();
    v.trash(&ids[6]).unwrap();
    (tv, v, ids)
}

/// Every item of `a` is in `b` with the same id, content, versions, times and trash state.
fn assert_same(a: &Vault, b: &Vault) {
    assert_eq!(a.len(), b.len());
    for x in a.items() {
        let y = b.get(&x.id).unwrap();
        assert_eq!(x.data, y.data, "{}", x.data.title);
        assert_eq!(
            (
                x.version,
                x.created_at,
                x.updated_at,
                x.secret_changed_at,
                x.trashed_at
            ),
            (
                y.version,
                y.created_at,
                y.updated_at,
                y.secret_changed_at,
                y.trashed_at
            ),
            "{}",
            x.data.title
        );
        let (hx, hy) = (a.history(&x.id).unwrap(), b.history(&x.id).unwrap());
        assert_eq!(hx.len(), hy.len());
        for (p, q) in hx.iter().zip(&hy) {
            assert_eq!((p.version, p.created_at), (q.version, q.created_at));
            assert_eq!(p.data, q.data);
        }
    }
}

#[test]
fn round_trip_keeps_every_item_its_history_and_the_trash() {
    let (_ta, a, ids) = populated();
    let exp = a.export_encrypted(&pass(), PARAMS).unwrap();
    assert_eq!(exp.summary.items, 8);
    assert_eq!(exp.summary.trashed, 1);
    assert_eq!(exp.summary.versions, 8 + 2 + 1);
    assert!(exp.summary.damaged.is_empty());
    assert!(exp.bytes.starts_with(MAGIC));
    assert_eq!(export::inspect(&exp.bytes).unwrap().kdf, PARAMS);

    let (tb, mut b) = TestVault::new();
    let r = b.import_encrypted(&exp.bytes, &pass()).unwrap();
    assert_eq!((r.imported, r.copies, r.skipped), (8, 0, 0));
    assert_eq!((r.versions, r.trashed), (11, 1));
    assert_same(&a, &b);
    assert!(b.get(&ids[0]).unwrap().data.favourite);
    // Search finds imported items at once, and everything is still there after a fresh unlock.
    let hits = b.search(&tessera_core::search::Query::new("github"));
    assert!(hits.hits.iter().any(|h| h.id == ids[0]));
    b.lock();
    let b = tb.unlock().unwrap();
    assert_same(&a, &b);
    assert_eq!(b.history(&ids[0]).unwrap().len(), 3);
    assert!(b.get(&ids[6]).unwrap().trashed_at.is_some());
}

#[test]
fn the_file_shows_no_title_value_or_id_in_clear() {
    let (_ta, a, _) = populated();
    let exp = a.export_encrypted(&pass(), PARAMS).unwrap();
    for needle in [
        "GitHub",
        "alice",
        "canary-pw-1",
        "canary-pw-3",
        "canary-note",
        "canary-recovery",
        "JBSWY3DPEHPK3PXP",
        "canary-aws",
        "orders db",
        "dev/code",
        "OPENSSH PRIVATE KEY",
        PASSPHRASE,
    ] {
        assert!(
            !contains(&exp.bytes, needle.as_bytes()),
            "{needle} in clear"
        );
    }
    for id in a.items().map(|i| i.id) {
        assert!(!contains(&exp.bytes, &id.0), "an item id in clear");
    }
}

#[test]
fn a_weak_passphrase_is_refused() {
    let (_ta, a, _) = populated();
    let e = a
        .export_encrypted(&SecretText::from("hunter22"), PARAMS)
        .unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
}

#[test]
fn wrong_passphrase_and_changed_ciphertext_are_named_and_write_nothing() {
    let (_ta, a, _) = populated();
    let exp = a.export_encrypted(&pass(), PARAMS).unwrap();
    let (_tb, mut b) = TestVault::new();
    let e = b
        .import_encrypted(
            &exp.bytes,
            &SecretText::from("orbit lantern cobalt fjord 43"),
        )
        .unwrap_err();
    assert!(matches!(e, Error::WrongPassphrase), "{e}");
    assert!(e
        .to_string()
        .contains("wrong export passphrase, or the file was changed"));
    for at in [
        HEADER_LEN,
        HEADER_LEN + 12,
        exp.bytes.len() / 2,
        exp.bytes.len() - 1,
    ] {
        let mut f = exp.bytes.clone();
        f[at] ^= 0x01;
        let e = b.import_encrypted(&f, &pass()).unwrap_err();
        assert!(matches!(e, Error::WrongPassphrase), "byte {at}: {e}");
    }
    assert!(b.is_empty());
}

#[test]
fn a_damaged_header_truncation_or_newer_format_is_named_before_any_key_derivation() {
    let (_ta, a, _) = populated();
    let exp = a.export_encrypted(&pass(), PARAMS).unwrap();
    let (_tb, mut b) = TestVault::new();
    let mut import = |f: &[u8]| b.import_encrypted(f, &pass()).unwrap_err();

    // A flipped byte in the salt, the KDF parameters, the length or the checksum.
    for at in [20, 25, 40, 60, 80] {
        let mut f = exp.bytes.clone();
        f[at] ^= 0x10;
        let e = import(&f);
        assert!(matches!(e, Error::DamagedExport(_)), "byte {at}: {e}");
    }
    let mut f = exp.bytes.clone();
    f[3] = b'X';
    assert!(matches!(import(&f), Error::NotAnExport(_)));
    assert!(matches!(
        import(b"{\"not\": \"an export\"}"),
        Error::NotAnExport(_)
    ));
    assert!(matches!(import(b""), Error::NotAnExport(_)));

    for n in [
        5,
        MAGIC.len() + 2,
        HEADER_LEN - 1,
        HEADER_LEN + 3,
        exp.bytes.len() - 1,
    ] {
        let e = import(&exp.bytes[..n]);
        assert!(
            matches!(&e, Error::DamagedExport(m) if m.contains("truncated")),
            "{n}: {e}"
        );
    }
    let mut longer = exp.bytes.clone();
    longer.extend_from_slice(b"junk");
    assert!(matches!(import(&longer), Error::DamagedExport(_)));

    let mut newer = exp.bytes.clone();
    newer[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&2u32.to_be_bytes());
    let e = import(&newer);
    assert!(
        matches!(
            e,
            Error::UnsupportedExport {
                found: 2,
                supported: 1
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade Tessera"), "{e}");
    assert!(b.is_empty());
}

#[test]
fn importing_into_a_vault_that_holds_some_items_loses_nothing() {
    let (ta, mut a, ids) = populated();
    let exp = a.export_encrypted(&pass(), PARAMS).unwrap();

    // Everything already here unchanged: all skipped.
    let r = a.import_encrypted(&exp.bytes, &pass()).unwrap();
    assert_eq!((r.imported, r.copies, r.skipped), (0, 0, 8));
    assert_eq!(a.len(), 8);

    // Changed since the export: GitHub edited, Stripe purged, one new item.
    let mut d = a.get(&ids[0]).unwrap().data.duplicate();
    d.set_field(
        "password",
        FieldKind::Concealed,
        SecretText::from("canary-pw-4"),
    );
    a.update(&ids[0], d).unwrap();
    a.trash(&ids[2]).unwrap();
    a.purge(&ids[2]).unwrap();
    let new = a
        .add(login("New", "bob", "x", "https://new.example"))
        .unwrap();

    let r = a.import_encrypted(&exp.bytes, &pass()).unwrap();
    assert_eq!((r.imported, r.copies, r.skipped), (2, 1, 6), "{r:?}");
    assert_eq!(a.len(), 10);
    // The local GitHub is untouched, at version 4.
    let gh = a.get(&ids[0]).unwrap();
    assert_eq!(gh.version, 4);
    assert_eq!(gh.data.title, "GitHub");
    // The exported GitHub came in as a copy with its history, titled "(imported)".
    let copy_id = a.resolve("GitHub (imported)").unwrap();
    assert_ne!(copy_id, ids[0]);
    let copy = a.get(&copy_id).unwrap();
    assert_eq!(copy.version, 3);
    assert_eq!(
        copy.data.field("password").unwrap().value.expose_secret(),
        "canary-pw-3"
    );
    assert_eq!(a.history(&copy_id).unwrap()[0].data.title, "GitHub");
    // The purged item is back, with its id.
    assert_eq!(a.get(&ids[2]).unwrap().data.title, "Stripe");
    assert!(a.get(&new).is_ok());

    // And it all survives a lock.
    a.lock();
    let a = ta.unlock().unwrap();
    assert_eq!(a.len(), 10);
    assert_eq!(a.get(&copy_id).unwrap().version, 3);
}

#[test]
fn write_file_is_private_atomic_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.tessera");
    export::write_file(&path, b"first", false).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let e = export::write_file(&path, b"second", false).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"first");
    export::write_file(&path, b"second", true).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
}

const VECTOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/vectors/export/v1.tessera"
);

/// The vector's content: a login with two versions (the second a favourite) and a note in
/// the trash.
fn vector_vault() -> (TestVault, Vault) {
    let (tv, mut v) = TestVault::new();
    let gh = v
        .add(login(
            "GitHub",
            "alice",
            "vector-pw-1",
            "https://github.com",
        ))
        .unwrap();
    let mut d = v.get(&gh).unwrap().data.duplicate();
    d.set_field(
        "password",
        FieldKind::Concealed,
        SecretText::from("vector-pw-2"),
    );
    d.favourite = true;
    v.update(&gh, d).unwrap();
    let note = v
        .add(ItemData::new(ItemKind::SecureNote, "Old note").with_field(
            "code",
            FieldKind::Concealed,
            "vector-code",
        ))
        .unwrap();
    v.trash(&note).unwrap();
    (tv, v)
}

/// Writes `tests/vectors/export/v1.tessera` (floor KDF parameters, passphrase [`PASSPHRASE`]).
/// Run by hand only when the vector has to be made again: `--ignored write_export_vector`.
#[test]
#[ignore = "writes the golden file"]
fn write_export_vector() {
    let (_tv, v) = vector_vault();
    let exp = v.export_encrypted(&pass(), PARAMS).unwrap();
    std::fs::create_dir_all(std::path::Path::new(VECTOR).parent().unwrap()).unwrap();
    std::fs::write(VECTOR, &exp.bytes).unwrap();
}

/// A file written by the first version of the format still opens, with everything in it.
#[test]
fn the_format_1_vector_still_opens() {
    let bytes = std::fs::read(VECTOR).unwrap();
    let h = export::inspect(&bytes).unwrap();
    assert_eq!((h.format, h.kdf), (1, PARAMS));
    let (_tv, mut v) = TestVault::new();
    let r = v.import_encrypted(&bytes, &pass()).unwrap();
    assert_eq!((r.imported, r.versions, r.trashed), (2, 3, 1));
    let gh = v.get(&v.resolve("GitHub").unwrap()).unwrap();
    assert_eq!(gh.version, 2);
    assert!(gh.data.favourite);
    assert_eq!(
        gh.data.field("password").unwrap().value.expose_secret(),
        "vector-pw-2"
    );
    let history = v.history(&gh.id).unwrap();
    assert_eq!(
        history[0]
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "vector-pw-1"
    );
    let note = v.get(&v.resolve("Old note").unwrap()).unwrap();
    assert!(note.trashed_at.is_some());
    assert_eq!(
        note.data.field("code").unwrap().value.expose_secret(),
        "vector-code"
    );
    let mut changed = bytes.clone();
    changed[HEADER_LEN + 20] ^= 0x01;
    assert!(matches!(
        v.import_encrypted(&changed, &pass()),
        Err(Error::WrongPassphrase)
    ));
}
