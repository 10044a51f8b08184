//! Known-answer vectors for the local vault file (`tests/vectors/vault/`).
//!
//! Each directory there is a vault written by one release (`vault.sqlite` and the device copy of
//! its Account Secret Key, `secret-key`), made once by [`write_vault_vector`] and never rewritten:
//! every later build must open it with everything in it. The master password is [`PASSWORD`];
//! both secrets are test-only (see `tests/vectors/vault/README.md`). Tests open a copy, never the
//! checked-in file: unlocking migrates it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use tessera_core::item::{FieldKind, ItemData, ItemId, ItemKind, SecretText};
use tessera_core::paths::VaultDir;
use tessera_core::{Error, Vault};
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;

/// The vectors' master password (test only, published in the README).
const PASSWORD: &[u8] = b"vault vector password (test only)";
/// The vectors' Account Secret Key, as bytes (test only, published in the README).
const SECRET_KEY: [u8; 16] = *b"vector-only-key!";
/// Floor KDF parameters: the cheapest a vault may use, so the tests stay fast.
const PARAMS: KdfParams = KdfParams::FLOOR;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/vault")
}

/// The items of every vector, in the order they were added: `(data of each version, trashed)`.
fn contents() -> Vec<(Vec<ItemData>, bool)> {
    let github = login("vector-pw-1");
    let mut github2 = login("vector-pw-2");
    github2.tags = vec!["work".into()];
    github2.favourite = true;
    let mut token = ItemData::new(ItemKind::ApiToken, "Deploy token").with_field(
        "token",
        FieldKind::Concealed,
        "vector-token",
    );
    token.notes = SecretText::from("rotate every quarter");
    token.rotation_days = Some(90);
    let mut db = ItemData::new(ItemKind::Database, "Orders DB")
        .with_field("host", FieldKind::Text, "db.internal")
        .with_field("port", FieldKind::Text, "5432")
        .with_field("username", FieldKind::Text, "orders")
        .with_field("password", FieldKind::Concealed, "vector-db-pw");
    db.folder = Some("prod/db".into());
    db.expires_at = Some(2_000_000_000);
    let env = ItemData::new(ItemKind::EnvSet, "CI env")
        .with_field("AWS_REGION", FieldKind::Text, "eu-west-1")
        .with_field(
            "AWS_SECRET_ACCESS_KEY",
            FieldKind::Concealed,
            "vector-aws-secret",
        );
    let totp = ItemData::new(ItemKind::Totp, "2FA seed").with_field(
        "totp",
        FieldKind::Totp,
        "JBSWY3DPEHPK3PXP",
    );
    let mut note = ItemData::new(ItemKind::SecureNote, "Old note");
    note.notes = SecretText::from("vector-note");
    vec![
        (vec![github, github2], false),
        (vec![token], false),
        (vec![db], false),
        (vec![env], false),
        (vec![totp], false),
        (vec![note], true),
    ]
}

fn login(password: &str) -> ItemData {
    ItemData::new(ItemKind::Login, "GitHub")
        .with_field("username", FieldKind::Text, "alice")
        .with_field("password", FieldKind::Concealed, password)
        .with_field("url", FieldKind::Text, "https://github.com")
}

/// Writes `tests/vectors/vault/schema<N>/` with this build's format, N its schema version.
/// Run by hand, once per new vault format: `cargo test -p tessera-core --test vectors --
/// --ignored write_vault_vector`. It refuses to overwrite a vector: those are frozen.
#[test]
#[ignore = "writes a golden file, by hand, once per vault format"]
fn write_vault_vector() {
    let dir = vectors().join(format!("schema{}", tessera_core::store::SCHEMA_VERSION));
    assert!(
        !dir.exists(),
        "{} exists; vectors are frozen",
        dir.display()
    );
    let home = VaultDir::new(&dir);
    home.write_secret_key(&AccountSecretKey::from_bytes(SECRET_KEY))
        .unwrap();
    let secret_key = home.read_secret_key().unwrap();
    let mut v = Vault::create(&home.vault_file(), PASSWORD, &secret_key, PARAMS).unwrap();
    for (versions, trashed) in contents() {
        let mut versions = versions.into_iter();
        let id = v.add(versions.next().unwrap()).unwrap();
        for data in versions {
            v.update(&id, data).unwrap();
        }
        if trashed {
            v.trash(&id).unwrap();
        }
    }
    v.lock();
    // One self-contained, compact file: the WAL folded in, free pages dropped.
    let conn = rusqlite::Connection::open(home.vault_file()).unwrap();
    conn.execute_batch("PRAGMA journal_mode = DELETE; VACUUM;")
        .unwrap();
}

/// A private copy of one vector, as a vault directory.
fn copy(name: &str) -> (tempfile::TempDir, VaultDir) {
    let tmp = tempfile::tempdir().unwrap();
    let home = VaultDir::new(tmp.path().join("home"));
    std::fs::create_dir(home.dir()).unwrap();
    for file in ["vault.sqlite", "secret-key"] {
        std::fs::copy(vectors().join(name).join(file), home.dir().join(file)).unwrap();
    }
    (tmp, home)
}

fn unlock(home: &VaultDir) -> tessera_core::Result<Vault> {
    Vault::unlock(
        &home.vault_file(),
        PASSWORD,
        &home.read_secret_key().unwrap(),
        PARAMS,
    )
}

fn sql(home: &VaultDir) -> rusqlite::Connection {
    rusqlite::Connection::open(home.vault_file()).unwrap()
}

/// What a vector holds, as stored: each item's id and its times.
struct Stored {
    id: &'static str,
    created_at: i64,
    updated_at: i64,
    trashed_at: Option<i64>,
}

/// What the schema 2 vector holds (header format 1: no MACs yet).
const SCHEMA2: &[Stored] = &[
    Stored {
        id: "ce93339792001e68a65d4aed2db48428",
        created_at: 1_796_220_682,
        updated_at: 1_796_220_682,
        trashed_at: None,
    },
    Stored {
        id: "40fc8ae4ebbbe44b2bead706d81952e5",
        created_at: 1_796_220_683,
        updated_at: 1_796_220_683,
        trashed_at: None,
    },
    Stored {
        id: "a56d0eb3d23ca5c891644340ef418cbd",
        created_at: 1_796_220_683,
        updated_at: 1_796_220_683,
        trashed_at: None,
    },
    Stored {
        id: "56254daf6039e58edf50f3c6fc205da0",
        created_at: 1_796_220_683,
        updated_at: 1_796_220_683,
        trashed_at: None,
    },
    Stored {
        id: "03e5462a546dad6b8778b90507f12282",
        created_at: 1_796_220_683,
        updated_at: 1_796_220_683,
        trashed_at: None,
    },
    Stored {
        id: "6ddd9a6c1ae05b7bd23b3e8a90af5815",
        created_at: 1_796_220_683,
        updated_at: 1_796_220_683,
        trashed_at: Some(1_796_220_683),
    },
];

/// What the schema 4 vector holds (header format 2: its rows carry MACs).
const SCHEMA4: &[Stored] = &[
    Stored {
        id: "ef37c5d4bef080f2709012f19a7dba62",
        created_at: 1_796_222_956,
        updated_at: 1_796_222_956,
        trashed_at: None,
    },
    Stored {
        id: "c526ce85ae64c2b23201e93bce43bfbc",
        created_at: 1_796_222_956,
        updated_at: 1_796_222_956,
        trashed_at: None,
    },
    Stored {
        id: "5d2ae94f01f3668c73bf5d2aa7c5cb14",
        created_at: 1_796_222_956,
        updated_at: 1_796_222_956,
        trashed_at: None,
    },
    Stored {
        id: "93c085fadb4e686e21ec5093dcf08b78",
        created_at: 1_796_222_956,
        updated_at: 1_796_222_956,
        trashed_at: None,
    },
    Stored {
        id: "ed3287d72b092e84a1119a2f551cea79",
        created_at: 1_796_222_956,
        updated_at: 1_796_222_956,
        trashed_at: None,
    },
    Stored {
        id: "2a422d10c2cdb5c356a4d40e087044aa",
        created_at: 1_796_222_956,
        updated_at: 1_796_222_956,
        trashed_at: Some(1_796_222_956),
    },
];

/// Every vector: its directory, what it holds, and the header format it was written with.
const VECTORS: &[(&str, &[Stored], u32)] = &[("schema2", SCHEMA2, 1), ("schema4", SCHEMA4, 2)];

/// Every item, field, version, history entry and trash state of a vector is what was written.
fn check_contents(v: &Vault, stored: &[Stored]) {
    let want = contents();
    assert!(v.damaged().is_empty(), "{:?}", v.damaged());
    assert_eq!(v.len(), want.len());
    assert_eq!(stored.len(), want.len());
    for ((versions, trashed), s) in want.iter().zip(stored) {
        let id: ItemId = s.id.parse().unwrap();
        let item = v.get(&id).unwrap();
        let title = &versions[0].title;
        assert!(
            item.data == *versions.last().unwrap(),
            "{title}: the current version's content"
        );
        assert_eq!(item.version, versions.len() as u64, "{title}");
        assert_eq!(
            (item.created_at, item.updated_at, item.trashed_at),
            (s.created_at, s.updated_at, s.trashed_at),
            "{title}: times"
        );
        assert_eq!(item.trashed_at.is_some(), *trashed, "{title}");
        assert_eq!(v.resolve(title).unwrap(), id);
        let history = v.history(&id).unwrap();
        assert_eq!(history.len(), versions.len(), "{title}");
        for (n, (h, data)) in history.iter().zip(versions).enumerate() {
            assert_eq!(h.version, n as u64 + 1, "{title}");
            assert!(h.data == *data, "{title} version {}", h.version);
        }
    }
    // The same facts spelled out for one item, so a reader sees what "content" covers.
    let gh = v.get(&v.resolve("GitHub").unwrap()).unwrap();
    assert_eq!(
        gh.data.field("password").unwrap().value.expose_secret(),
        "vector-pw-2"
    );
    assert!(gh.data.favourite);
    assert_eq!(gh.data.tags, ["work"]);
    assert_eq!(
        v.history(&gh.id).unwrap()[0]
            .data
            .field("password")
            .unwrap()
            .value
            .expose_secret(),
        "vector-pw-1"
    );
}

/// The stored header format of a vault file (its header's bytes 4..8).
fn stored_header_format(home: &VaultDir) -> u32 {
    let header: Vec<u8> = sql(home)
        .query_row("SELECT value FROM meta WHERE key = 'header'", [], |r| {
            r.get(0)
        })
        .unwrap();
    u32::from_be_bytes(header[4..8].try_into().unwrap())
}

#[test]
fn every_vector_opens_with_everything_in_it_then_again_after_its_upgrade() {
    for (name, stored, format) in VECTORS {
        let (_tmp, home) = copy(name);
        assert_eq!(stored_header_format(&home), *format, "{name}");
        let v = unlock(&home).unwrap();
        assert_eq!(v.header().kdf, PARAMS, "{name}");
        assert!(v.warnings().is_empty(), "{name}: {:?}", v.warnings());
        check_contents(&v, stored);
        v.lock();
        // Opened once, it is in this build's format (an older one upgraded in place)...
        assert_eq!(stored_header_format(&home), 2, "{name}");
        let macs: i64 = sql(&home)
            .query_row("SELECT count(mac) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(macs as usize, stored.len(), "{name}: every row has its MAC");
        // ...and opens again the same.
        let v = unlock(&home).unwrap();
        assert!(v.warnings().is_empty(), "{name}: {:?}", v.warnings());
        check_contents(&v, stored);
    }
}

/// Flip one byte of the sealed content of item `id` (an item with one version).
fn flip(home: &VaultDir, id: &ItemId, at: usize) {
    let conn = sql(home);
    let mut content: Vec<u8> = conn
        .query_row(
            "SELECT content FROM item_versions WHERE item_id = ?1",
            [&id.0[..]],
            |r| r.get(0),
        )
        .unwrap();
    content[at] ^= 0x01;
    conn.execute(
        "UPDATE item_versions SET content = ?1 WHERE item_id = ?2",
        rusqlite::params![content, &id.0[..]],
    )
    .unwrap();
}

#[test]
fn fail_a_flipped_byte_in_an_item_names_that_item() {
    for (name, stored, _) in VECTORS {
        let (_tmp, home) = copy(name);
        let victim = &stored[2];
        let id: ItemId = victim.id.parse().unwrap();
        flip(&home, &id, 20);
        let v = unlock(&home).unwrap();
        assert_eq!(v.damaged(), [victim.id.to_owned()], "{name}");
        let e = v.get(&id).unwrap_err();
        assert!(
            matches!(&e, Error::Tampered { item } if item == victim.id),
            "{name}: {e}"
        );
        assert_eq!(
            v.len(),
            stored.len() - 1,
            "{name}: the other items still open"
        );
        let gh = v.get(&stored[0].id.parse().unwrap()).unwrap();
        assert_eq!(gh.data.title, "GitHub", "{name}");
    }
}

#[test]
fn fail_an_item_rolled_back_to_its_first_version_is_named() {
    for (name, stored, _) in VECTORS {
        let (_tmp, home) = copy(name);
        // An old vault is upgraded first: before that, its rows had nothing to check against.
        unlock(&home).unwrap().lock();
        let gh: ItemId = stored[0].id.parse().unwrap();
        sql(&home)
            .execute("UPDATE items SET version = 1 WHERE id = ?1", [&gh.0[..]])
            .unwrap();
        let v = unlock(&home).unwrap();
        assert_eq!(v.damaged(), [stored[0].id.to_owned()], "{name}");
        for e in [v.get(&gh).unwrap_err(), v.resolve("GitHub").unwrap_err()] {
            assert!(
                matches!(&e, Error::TamperedRecord { item, title, .. }
                    if item == stored[0].id && title.as_deref() == Some("GitHub")),
                "{name}: {e}"
            );
        }
        assert_eq!(v.len(), stored.len() - 1, "{name}");
    }
}

/// MACs stripped and the header set back to format 1 (checksum recomputed), so that the next
/// unlock would take the file's values as they are: the keyset's associated data covers the
/// format, so unlock fails instead.
#[test]
fn fail_an_upgraded_vault_cannot_be_set_back_to_format_1() {
    let (_tmp, home) = copy("schema4");
    let conn = sql(&home);
    let header: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'header'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut body = header[..60].to_vec();
    body[4..8].copy_from_slice(&1u32.to_be_bytes());
    let sum = <sha2::Sha256 as sha2::Digest>::digest(&body);
    body.extend_from_slice(&sum);
    conn.execute_batch("UPDATE items SET mac = NULL; DELETE FROM meta WHERE key = 'item_count';")
        .unwrap();
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'header'", [&body])
        .unwrap();
    drop(conn);
    let e = unlock(&home).unwrap_err();
    assert!(matches!(e, Error::WrongPassword), "{e}");
    assert_eq!(stored_header_format(&home), 1, "nothing was adopted");
}

#[test]
fn fail_a_flipped_byte_in_the_keyset_is_a_damaged_keyset_not_a_wrong_password() {
    for (name, _, _) in VECTORS {
        let (_tmp, home) = copy(name);
        // A schema 2 file has no checksum of its keyset yet: the first open computes it.
        unlock(&home).unwrap().lock();
        let conn = sql(&home);
        let mut keyset: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'keyset'", [], |r| {
                r.get(0)
            })
            .unwrap();
        keyset[40] ^= 0x01;
        conn.execute("UPDATE meta SET value = ?1 WHERE key = 'keyset'", [&keyset])
            .unwrap();
        drop(conn);
        let e = unlock(&home).unwrap_err();
        assert!(matches!(e, Error::DamagedKeyset { .. }), "{name}: {e}");
        assert!(e.to_string().contains("wrapped keyset"), "{name}: {e}");
    }
}

#[test]
fn fail_a_wrong_password_is_a_wrong_password() {
    for (name, _, _) in VECTORS {
        let (_tmp, home) = copy(name);
        let e = Vault::unlock(
            &home.vault_file(),
            b"not the vector password",
            &home.read_secret_key().unwrap(),
            PARAMS,
        )
        .unwrap_err();
        assert!(matches!(e, Error::WrongPassword), "{name}: {e}");
    }
}
