//! Edits to the plain columns of a locked vault file, made with SQLite directly as an attacker
//! with the file would: an item rolled back to an older (genuine) version, trashed, restored or
//! re-dated, its MAC removed or moved, its row or current version deleted. Each is named, and
//! the other items still open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{login, TestVault};
use tessera_core::item::ItemId;
use tessera_core::search::Query;
use tessera_core::{Error, Vault};

/// `target` (two versions: "pw-1" then "pw-2") and `bystander`, locked.
fn two_items() -> (TestVault, ItemId, ItemId) {
    let (tv, mut v) = TestVault::new();
    let target = v.add(login("Target", "u", "pw-1", "")).unwrap();
    v.update(&target, login("Target", "u", "pw-2", "")).unwrap();
    let bystander = v.add(login("Bystander", "u", "pw-b", "")).unwrap();
    v.lock();
    (tv, target, bystander)
}

fn password(v: &Vault, id: &ItemId) -> String {
    v.get(id)
        .unwrap()
        .data
        .field("password")
        .unwrap()
        .value
        .expose_secret()
        .to_owned()
}

/// `target` is named as changed outside Tessera (by id, by title, by id prefix), kept out of
/// lists and search, and `bystander` still opens.
fn assert_named(tv: &TestVault, target: &ItemId, bystander: &ItemId, what: &str) {
    let v = tv.unlock().unwrap();
    assert_eq!(v.damaged(), [target.to_hex()], "{what}");
    for e in [
        v.get(target).unwrap_err(),
        v.resolve("target").unwrap_err(),
        v.resolve(&target.to_hex()[..6]).unwrap_err(),
        v.history(target).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::TamperedRecord { item, title, .. }
                if *item == target.to_hex() && title.as_deref() == Some("Target")),
            "{what}: {e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("changed outside Tessera") && text.contains(what),
            "{what}: {text}"
        );
    }
    assert_eq!(v.len(), 1);
    assert!(v.items().all(|i| i.id == *bystander));
    assert!(v
        .search(&Query::new("target"))
        .hits
        .iter()
        .all(|h| h.id != *target));
    assert_eq!(password(&v, bystander), "pw-b");
    assert!(v.warnings().is_empty(), "{:?}", v.warnings());
}

#[test]
fn rolling_an_item_back_to_its_older_genuine_version_is_named() {
    let (tv, target, bystander) = two_items();
    tv.sql()
        .execute(
            "UPDATE items SET version = 1 WHERE id = ?1",
            [&target.0[..]],
        )
        .unwrap();
    assert_named(&tv, &target, &bystander, "current version");
    // Put back, it opens again as it was.
    tv.sql()
        .execute(
            "UPDATE items SET version = 2 WHERE id = ?1",
            [&target.0[..]],
        )
        .unwrap();
    let v = tv.unlock().unwrap();
    assert!(v.damaged().is_empty());
    assert_eq!(password(&v, &target), "pw-2");
}

#[test]
fn trash_and_creation_time_edits_are_named() {
    let (tv, target, bystander) = two_items();
    for (edit, undo) in [
        (
            "UPDATE items SET trashed_at = 1700000000 WHERE id = ?1",
            "UPDATE items SET trashed_at = NULL WHERE id = ?1",
        ),
        (
            "UPDATE items SET created_at = created_at - 86400 WHERE id = ?1",
            "UPDATE items SET created_at = created_at + 86400 WHERE id = ?1",
        ),
    ] {
        tv.sql().execute(edit, [&target.0[..]]).unwrap();
        assert_named(&tv, &target, &bystander, "trash state");
        tv.sql().execute(undo, [&target.0[..]]).unwrap();
        assert!(tv.unlock().unwrap().damaged().is_empty(), "{undo}");
    }
    // Taking an item out of the trash from outside is named too.
    let mut v = tv.unlock().unwrap();
    v.trash(&target).unwrap();
    v.lock();
    tv.sql()
        .execute(
            "UPDATE items SET trashed_at = NULL WHERE id = ?1",
            [&target.0[..]],
        )
        .unwrap();
    assert_named(&tv, &target, &bystander, "trash state");
}

#[test]
fn a_removed_or_borrowed_mac_is_named() {
    let (tv, target, bystander) = two_items();
    let mac_of = |id: &ItemId| -> Vec<u8> {
        tv.sql()
            .query_row("SELECT mac FROM items WHERE id = ?1", [&id.0[..]], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let original = mac_of(&target);
    tv.sql()
        .execute("UPDATE items SET mac = NULL WHERE id = ?1", [&target.0[..]])
        .unwrap();
    assert_named(&tv, &target, &bystander, "MAC");
    tv.sql()
        .execute(
            "UPDATE items SET mac = ?1 WHERE id = ?2",
            rusqlite::params![mac_of(&bystander), &target.0[..]],
        )
        .unwrap();
    assert_named(&tv, &target, &bystander, "MAC");
    tv.sql()
        .execute(
            "UPDATE items SET mac = ?1 WHERE id = ?2",
            rusqlite::params![original, &target.0[..]],
        )
        .unwrap();
    assert!(tv.unlock().unwrap().damaged().is_empty());
}

#[test]
fn a_deleted_current_version_is_named() {
    let (tv, target, bystander) = two_items();
    tv.sql()
        .execute(
            "DELETE FROM item_versions WHERE item_id = ?1 AND version = 2",
            [&target.0[..]],
        )
        .unwrap();
    let v = tv.unlock().unwrap();
    assert_eq!(v.damaged(), [target.to_hex()]);
    let e = v.get(&target).unwrap_err();
    assert!(
        matches!(&e, Error::TamperedRecord { item, .. } if *item == target.to_hex())
            && e.to_string().contains("current version is missing"),
        "{e}"
    );
    assert_eq!(password(&v, &bystander), "pw-b");
}

#[test]
fn a_deleted_item_row_is_reported_until_the_set_of_items_changes() {
    let (tv, target, bystander) = two_items();
    tv.sql()
        .execute("DELETE FROM items WHERE id = ?1", [&target.0[..]])
        .unwrap();
    let mut v = tv.unlock().unwrap();
    assert_eq!(
        v.warnings(),
        [
            "the vault file recorded 2 items but holds 1: one was removed outside Tessera; \
          restore the vault file from a backup"
        ]
    );
    assert_eq!(password(&v, &bystander), "pw-b");
    // An edit does not touch the count, so the warning stays...
    v.update(&bystander, login("Bystander", "u", "pw-b2", ""))
        .unwrap();
    v.lock();
    assert_eq!(tv.unlock().unwrap().warnings().len(), 1);
    // ...until Tessera itself adds or removes an item, which records the count again.
    let mut v = tv.unlock().unwrap();
    v.add(login("New", "u", "p", "")).unwrap();
    v.lock();
    assert!(tv.unlock().unwrap().warnings().is_empty());

    // The count itself: removed, forged, or inflated by a row put back.
    let count: Vec<u8> = tv
        .sql()
        .query_row("SELECT value FROM meta WHERE key = 'item_count'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut forged = count.clone();
    forged[7] ^= 1;
    tv.sql()
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'item_count'",
            [&forged],
        )
        .unwrap();
    let w = tv.unlock().unwrap().warnings().join("");
    assert!(w.contains("missing or does not match its MAC"), "{w}");
    tv.sql()
        .execute("DELETE FROM meta WHERE key = 'item_count'", [])
        .unwrap();
    let w = tv.unlock().unwrap().warnings().join("");
    assert!(w.contains("missing or does not match its MAC"), "{w}");
}

/// Rows changed while the vault is open are caught when a write reads them: nothing is built
/// on a changed row.
#[test]
fn writes_refuse_to_build_on_a_row_changed_underneath() {
    let (tv, target, bystander) = two_items();
    let mut v = tv.unlock().unwrap();
    tv.sql()
        .execute(
            "UPDATE items SET trashed_at = 5 WHERE id = ?1",
            [&target.0[..]],
        )
        .unwrap();
    for e in [
        v.update(&target, login("Target", "u", "pw-3", ""))
            .unwrap_err(),
        v.trash(&target).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::TamperedRecord { item, .. } if *item == target.to_hex()),
            "{e}"
        );
    }
    v.update(&bystander, login("Bystander", "u", "pw-b2", ""))
        .unwrap();
    v.lock();
    let v = tv.unlock().unwrap();
    assert_eq!(v.damaged(), [target.to_hex()]);
    assert_eq!(password(&v, &bystander), "pw-b2");
}
