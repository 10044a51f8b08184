//! The encrypted vault through its public facade, on real SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sha2::Digest;
use support::{contains, login, raw_files, TestVault, PARAMS, PASSWORD};
use tessera_core::item::{FieldKind, ItemData, ItemKind};
use tessera_core::{Error, Vault};
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;

#[test]
fn items_survive_lock_and_unlock_with_history_and_trash() {
    let (tv, mut v) = TestVault::new();
    let gh = v
        .add(login("GitHub", "alice", "pw-1", "https://github.com"))
        .unwrap();
    let db = v
        .add(ItemData::new(ItemKind::Database, "orders db").with_field(
            "password",
            FieldKind::Concealed,
            "pg",
        ))
        .unwrap();
    let mut edited = login("GitHub", "alice", "pw-2", "https://github.com");
    edited.tags = vec!["work".into()];
    assert_eq!(v.update(&gh, edited).unwrap(), 2);
    v.trash(&db).unwrap();
    v.lock();

    let mut v = tv.unlock().unwrap();
    assert_eq!(v.len(), 2);
    let item = v.get(&gh).unwrap();
    assert_eq!(item.version, 2);
    assert_eq!(
        item.data.field("password").unwrap().value.expose_secret(),
        "pw-2"
    );
    assert_eq!(item.data.tags, vec!["work".to_string()]);
    assert!(v.get(&db).unwrap().trashed_at.is_some());

    let history = v.history(&gh).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[0]
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "pw-1"
    );
    assert_eq!(v.restore_version(&gh, 1).unwrap(), 3);
    assert_eq!(
        v.get(&gh)
            .unwrap()
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "pw-1"
    );
    assert_eq!(
        v.history(&gh).unwrap().len(),
        3,
        "restoring keeps every version"
    );

    v.untrash(&db).unwrap();
    assert!(v.get(&db).unwrap().trashed_at.is_none());
    assert!(v.purge(&db).is_err(), "purge only empties the trash");
    v.trash(&db).unwrap();
    v.purge(&db).unwrap();
    v.lock();
    let v = tv.unlock().unwrap();
    assert_eq!(v.len(), 1);
    assert!(matches!(v.get(&db), Err(Error::NotFound(_))));
}

#[test]
fn resolve_by_title_prefix_and_ambiguity() {
    let (_tv, mut v) = TestVault::new();
    let a = v.add(login("Prod DB", "u", "p", "")).unwrap();
    v.add(login("Staging", "u", "p", "")).unwrap();
    v.add(login("Staging", "u2", "p", "")).unwrap();
    assert_eq!(v.resolve("prod db").unwrap(), a);
    assert_eq!(v.resolve(&a.to_hex()[..8]).unwrap(), a);
    assert!(matches!(
        v.resolve("Staging"),
        Err(Error::Ambiguous { count: 2, .. })
    ));
    assert!(matches!(v.resolve("nothing"), Err(Error::NotFound(_))));
}

#[test]
fn rotation_clock_moves_only_when_a_secret_changes() {
    let (_tv, mut v) = TestVault::new();
    let id = v.add(login("AWS", "root", "s1", "")).unwrap();
    let first = v.get(&id).unwrap().secret_changed_at;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut d = login("AWS root", "root", "s1", "");
    d.rotation_days = Some(90);
    v.update(&id, d).unwrap();
    assert_eq!(
        v.get(&id).unwrap().secret_changed_at,
        first,
        "title edit is not a rotation"
    );
    v.update(&id, login("AWS root", "root", "s2", "")).unwrap();
    assert!(v.get(&id).unwrap().secret_changed_at > first);
}

#[test]
fn invalid_items_are_refused_with_a_reason_and_nothing_is_written() {
    let (tv, mut v) = TestVault::new();
    v.add(login("ok", "u", "p", "")).unwrap();
    let bad = vec![
        login("fine", "u", "p", ""),
        ItemData::new(ItemKind::Login, ""),
    ];
    let err = v.add_many(bad).unwrap_err().to_string();
    assert!(err.contains("item 2") && err.contains("title"), "{err}");
    v.lock();
    assert_eq!(
        tv.unlock().unwrap().len(),
        1,
        "a failed import writes nothing"
    );
}

#[test]
fn wrong_password_or_secret_key_is_refused_and_leaves_the_file_untouched() {
    let (tv, mut v) = TestVault::new();
    v.add(login("x", "u", "p", "")).unwrap();
    v.lock();
    let before = raw_files(&tv.path);
    let e = Vault::unlock(&tv.path, b"wrong password", &tv.secret_key, PARAMS).unwrap_err();
    assert!(matches!(e, Error::WrongPassword), "{e}");
    assert_eq!(e.to_string(), "wrong master password or Account Secret Key");
    let e = Vault::unlock(
        &tv.path,
        PASSWORD,
        &AccountSecretKey::generate(),
        KdfParams::DEFAULT,
    )
    .unwrap_err();
    assert!(matches!(e, Error::WrongPassword), "{e}");
    assert_eq!(
        raw_files(&tv.path),
        before,
        "a failed unlock must not write (not even a KDF upgrade)"
    );
    assert_eq!(tv.unlock().unwrap().len(), 1);
}

#[test]
fn kdf_parameters_upgrade_on_unlock_and_password_change_rewraps() {
    let (tv, mut v) = TestVault::new();
    let id = v.add(login("x", "u", "p", "")).unwrap();
    v.lock();
    let stronger = KdfParams {
        memory_kib: 24 * 1024,
        iterations: 3,
        parallelism: 1,
    };
    let v = Vault::unlock(&tv.path, PASSWORD, &tv.secret_key, stronger).unwrap();
    assert_eq!(v.header().kdf, stronger);
    v.lock();
    // Unlocking with a weaker target never downgrades.
    let mut v = tv.unlock().unwrap();
    assert_eq!(v.header().kdf, stronger);
    assert!(matches!(
        v.change_password(b"not it", b"new password", &tv.secret_key, PARAMS),
        Err(Error::WrongPassword)
    ));
    v.change_password(PASSWORD, b"new password", &tv.secret_key, PARAMS)
        .unwrap();
    v.lock();
    assert!(matches!(tv.unlock(), Err(Error::WrongPassword)));
    let v = Vault::unlock(&tv.path, b"new password", &tv.secret_key, PARAMS).unwrap();
    assert_eq!(v.get(&id).unwrap().data.title, "x");
}

/// Flip one byte at a time in every stored part of one item: that item is named as damaged,
/// the others still open.
#[test]
fn a_flipped_byte_names_the_item_and_spares_the_others() {
    let (tv, mut v) = TestVault::new();
    let victim = v.add(login("victim", "u", "secret", "")).unwrap();
    let other = v.add(login("other", "u", "secret", "")).unwrap();
    v.lock();
    let conn = tv.sql();
    let (key, content): (Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT item_key, content FROM item_versions WHERE item_id = ?1",
            [&victim.0[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let positions = |len: usize| vec![0, 5, 11, 12, len / 2, len - 17, len - 1];
    let mut cases: Vec<(&str, usize)> = positions(content.len())
        .into_iter()
        .map(|p| ("content", p))
        .collect();
    cases.extend(positions(key.len()).into_iter().map(|p| ("item_key", p)));
    for (column, pos) in cases {
        let original = if column == "content" { &content } else { &key };
        let mut flipped = original.clone();
        flipped[pos] ^= 0x04;
        let set = |b: &Vec<u8>| {
            tv.sql()
                .execute(
                    &format!("UPDATE item_versions SET {column} = ?1 WHERE item_id = ?2"),
                    rusqlite::params![b, &victim.0[..]],
                )
                .unwrap();
        };
        set(&flipped);
        let v = tv.unlock().unwrap();
        assert_eq!(v.damaged(), [victim.to_hex()], "{column} byte {pos}");
        let err = v.get(&victim).unwrap_err();
        assert!(err.to_string().contains(&victim.to_hex()), "{err}");
        assert_eq!(
            v.get(&other)
                .unwrap()
                .data
                .field("password")
                .unwrap()
                .value
                .expose_secret(),
            "secret"
        );
        v.lock();
        set(original);
    }
    // Metadata bound into the associated data: version and timestamps.
    for sql in [
        "UPDATE item_versions SET secret_changed_at = secret_changed_at - 86400 WHERE item_id = ?1",
        "UPDATE item_versions SET created_at = created_at + 1 WHERE item_id = ?1",
    ] {
        tv.sql().execute(sql, [&victim.0[..]]).unwrap();
        let v = tv.unlock().unwrap();
        assert_eq!(v.damaged(), [victim.to_hex()], "{sql}");
    }
}

#[test]
fn swapped_ciphertexts_are_detected() {
    let (tv, mut v) = TestVault::new();
    let a = v.add(login("a", "u", "pa", "")).unwrap();
    let b = v.add(login("b", "u", "pb", "")).unwrap();
    v.lock();
    // Swap the two items' sealed blobs.
    let c = tv.sql();
    let get = |id: &[u8]| -> (Vec<u8>, Vec<u8>) {
        c.query_row(
            "SELECT item_key, content FROM item_versions WHERE item_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (ka, ca) = get(&a.0);
    let (kb, cb) = get(&b.0);
    let put = |id: &[u8], k: &Vec<u8>, ct: &Vec<u8>| {
        c.execute(
            "UPDATE item_versions SET item_key = ?1, content = ?2 WHERE item_id = ?3",
            rusqlite::params![k, ct, id],
        )
        .unwrap();
    };
    put(&a.0, &kb, &cb);
    put(&b.0, &ka, &ca);
    drop(c);
    let v = tv.unlock().unwrap();
    let mut expect = vec![a.to_hex(), b.to_hex()];
    expect.sort();
    assert_eq!(v.damaged(), expect);
}

#[test]
fn a_damaged_header_or_weakened_kdf_is_named() {
    let (tv, v) = TestVault::new();
    v.lock();
    let header: Vec<u8> = tv
        .sql()
        .query_row("SELECT value FROM meta WHERE key = 'header'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let set = |h: &Vec<u8>| {
        tv.sql()
            .execute("UPDATE meta SET value = ?1 WHERE key = 'header'", [h])
            .unwrap();
    };
    // Accidental damage: the checksum catches it.
    let mut h = header.clone();
    h[30] ^= 1;
    set(&h);
    let e = tv.unlock().unwrap_err();
    assert!(
        matches!(e, Error::TamperedHeader(_)) && e.to_string().contains("checksum"),
        "{e}"
    );
    // A deliberate weakening with a recomputed checksum: refused before any key derivation.
    let mut h = header[..60].to_vec();
    h[24..28].copy_from_slice(&1024u32.to_be_bytes());
    let sum = sha2::Sha256::digest(&h);
    h.extend_from_slice(&sum);
    set(&h);
    let e = tv.unlock().unwrap_err();
    assert!(e.to_string().contains("below the minimum"), "{e}");
    // A stronger-looking but altered header: the keyset's associated data no longer matches.
    let mut h = header[..60].to_vec();
    h[24..28].copy_from_slice(&(20 * 1024u32).to_be_bytes());
    let sum = sha2::Sha256::digest(&h);
    h.extend_from_slice(&sum);
    set(&h);
    assert!(matches!(tv.unlock(), Err(Error::WrongPassword)));
    set(&header);
    tv.unlock().unwrap();
}

/// One flipped byte anywhere in the stored wrapped keyset is a damaged keyset, named before any
/// key derivation, never "wrong password"; so are a damaged or missing checksum. An edit that
/// also rewrites the (unkeyed) checksum still fails AES-GCM, which cannot tell it from a wrong
/// password.
#[test]
fn a_damaged_keyset_is_named_apart_from_a_wrong_password() {
    let (tv, v) = TestVault::new();
    v.lock();
    let get = |key: &str| -> Vec<u8> {
        tv.sql()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    };
    let set = |key: &str, value: &[u8]| {
        tv.sql()
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = ?2",
                rusqlite::params![value, key],
            )
            .unwrap();
    };
    let damaged = |why: &str| {
        let e = tv.unlock().unwrap_err();
        assert!(
            matches!(&e, Error::DamagedKeyset { why: w, .. } if w.contains(why)),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("wrapped keyset") && text.contains(&tv.path.display().to_string()),
            "{text}"
        );
        // A wrong password on a damaged keyset changes nothing: the password was never tried.
        let e = Vault::unlock(&tv.path, b"wrong", &tv.secret_key, PARAMS).unwrap_err();
        assert!(matches!(e, Error::DamagedKeyset { .. }), "{e}");
    };
    let keyset = get("keyset");
    let sum = get("keyset_sha256");
    assert_eq!(sum, sha2::Sha256::digest(&keyset)[..]);
    for pos in [
        0,
        11,
        12,
        keyset.len() / 2,
        keyset.len() - 17,
        keyset.len() - 1,
    ] {
        let mut k = keyset.clone();
        k[pos] ^= 0x01;
        set("keyset", &k);
        damaged("checksum does not match");
    }
    set("keyset", &keyset[..20]);
    damaged("checksum does not match");
    set("keyset", &keyset);
    let mut s = sum.clone();
    s[3] ^= 0x80;
    set("keyset_sha256", &s);
    damaged("checksum does not match");
    tv.sql()
        .execute("DELETE FROM meta WHERE key = 'keyset_sha256'", [])
        .unwrap();
    damaged("checksum is missing");
    tv.sql()
        .execute(
            "INSERT INTO meta (key, value) VALUES ('keyset_sha256', ?1)",
            [&sum],
        )
        .unwrap();

    // A deliberate edit with the checksum recomputed: authentication still fails.
    let mut k = keyset.clone();
    k[30] ^= 0x01;
    set("keyset", &k);
    set("keyset_sha256", &sha2::Sha256::digest(&k));
    assert!(matches!(tv.unlock(), Err(Error::WrongPassword)));
    set("keyset", &keyset);
    set("keyset_sha256", &sum);
    tv.unlock().unwrap();
}

#[test]
fn non_vault_truncated_and_newer_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sk = AccountSecretKey::generate();
    let open = |p: &std::path::Path| {
        Vault::unlock(p, PASSWORD, &sk, PARAMS)
            .unwrap_err()
            .to_string()
    };

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just some text, not a database at all, long enough to have a header..........................................").unwrap();
    assert!(
        open(&text).contains("not an SQLite database"),
        "{}",
        open(&text)
    );
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    assert!(open(&empty).contains("empty"));
    assert!(open(&dir.path().join("missing")).contains("tessera init"));

    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    assert!(
        open(&other).contains("another application"),
        "{}",
        open(&other)
    );

    let (tv, mut v) = TestVault::new();
    for i in 0..50 {
        v.add(login(&format!("item {i}"), "u", "p", "")).unwrap();
    }
    v.lock();
    // Fold the WAL into the main file, then cut the file in half.
    tv.sql()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let bytes = std::fs::read(&tv.path).unwrap();
    let cut = dir.path().join("cut.sqlite");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = open(&cut);
    assert!(
        msg.contains("not a Tessera vault")
            && (msg.contains("damaged") || msg.contains("truncated")),
        "{msg}"
    );
    let tiny = dir.path().join("tiny.sqlite");
    std::fs::write(&tiny, &bytes[..40]).unwrap();
    assert!(open(&tiny).contains("truncated"));

    tv.sql().execute_batch("PRAGMA user_version = 99;").unwrap();
    let e = tv.unlock().unwrap_err();
    assert!(matches!(e, Error::NewerFormat { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("upgrade Tessera"));
}

#[test]
fn nothing_a_user_typed_is_in_the_raw_files() {
    let (tv, mut v) = TestVault::new();
    let typed = [
        "Zanzibar-Title",
        "zanzibar-user@example.org",
        "https://zanzibar.example",
        "Zanzibar-Pass-9",
        "zanzibar-tag",
        "Zanzibar-Folder",
        "zanzibar-note",
    ];
    let mut d = login(typed[0], typed[1], typed[3], typed[2]);
    d.tags = vec![typed[4].into()];
    d.folder = Some(typed[5].into());
    d.notes = typed[6].into();
    let id = v.add(d).unwrap();
    v.update(&id, login(typed[0], typed[1], "Zanzibar-Pass-10", typed[2]))
        .unwrap();
    let mut env = ItemData::new(ItemKind::EnvSet, "zanzibar env");
    env.fields.push(tessera_core::item::Field::new(
        "ZANZIBAR_KEY",
        FieldKind::Concealed,
        "zanzibar-value",
    ));
    v.add(env).unwrap();
    let raw = raw_files(&tv.path);
    assert!(raw.len() > 4096);
    for needle in typed.iter().chain(&[
        "Zanzibar-Pass-10",
        "ZANZIBAR_KEY",
        "zanzibar-value",
        "zanzibar env",
    ]) {
        assert!(
            !contains(&raw, needle.as_bytes()),
            "{needle:?} found in clear in the vault files"
        );
        assert!(
            !contains(&raw.to_ascii_lowercase(), b"zanzibar"),
            "a fragment found in clear"
        );
    }
}
