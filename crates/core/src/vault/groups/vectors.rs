//! `tests/vectors/group/shared.json` (made by `tests/vectors/make_vectors.py`): the associated
//! data of every group key, name and shared item, byte for byte, and one shared item version
//! sealed by another implementation that must open to its item. A changed label or layout fails
//! here instead of making every shared item in every team "damaged".
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::Value;
use tessera_crypto::SymmetricKey;
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id};

use super::vector_support::{arr, hex, int, load, text, to_hex};
use super::version::{
    content_ad, item_key_ad, key_ad, name_ad, open_item, prev_ad, token_key_ad, token_name_ad,
};
use super::GroupKeys;
use crate::error::Error;
use crate::item::{ItemData, ItemId};

struct Fixed {
    team: [u8; 16],
    group: Id,
    epoch: u64,
    version: u64,
    v: Value,
}

fn fixed() -> Fixed {
    let v = load("group/shared.json");
    Fixed {
        team: arr(&v["team_id"]),
        group: Id(arr(&v["group_id"])),
        epoch: u64::try_from(int(&v["epoch"])).unwrap(),
        version: u64::try_from(int(&v["version"])).unwrap(),
        v,
    }
}

#[test]
fn every_group_associated_data_layout_is_pinned() {
    let f = fixed();
    let (t, g, e, v) = (&f.team, &f.group, f.epoch, &f.v);
    let account: [u8; 16] = arr(&v["account_id"]);
    let token = Id(arr(&v["token_id"]));
    let item = ItemId(arr(&v["item_id"]));
    let created_at = int(&v["created_at"]);
    let changed_at = int(&v["secret_changed_at"]);
    for (name, ad) in [
        ("key_ad", key_ad(t, g, e, &account)),
        ("token_key_ad", token_key_ad(t, g, e, &token)),
        ("token_name_ad", token_name_ad(t, g, e, &token)),
        ("prev_ad", prev_ad(t, g, e)),
        ("name_ad", name_ad(t, g, e)),
        ("item_key_ad", item_key_ad(t, g, &item, f.version, e)),
        (
            "content_ad",
            content_ad(t, g, &item, f.version, created_at, changed_at),
        ),
    ] {
        assert_eq!(to_hex(&ad), text(&v[name]), "{name}");
    }
}

fn keys(f: &Fixed) -> GroupKeys {
    GroupKeys {
        info: proto::GroupInfo {
            group_id: f.group,
            epoch: f.epoch,
            name: Blob(Vec::new()),
            role: GroupRole::Viewer,
            expires_at: None,
            keys: Vec::new(),
        },
        keys: BTreeMap::from([(f.epoch, SymmetricKey::from_bytes(arr(&f.v["group_key"])))]),
        state: None,
        directory: Vec::new(),
    }
}

fn record(f: &Fixed, blob: Vec<u8>) -> proto::ItemRecord {
    proto::ItemRecord {
        item_id: Id(arr(&f.v["item_id"])),
        version: f.version,
        seq: 1,
        deleted: false,
        blob: Blob(blob),
    }
}

#[test]
fn the_shared_item_version_opens_to_its_item() {
    let f = fixed();
    let (item, changed_at) = open_item(&f.team, &keys(&f), &record(&f, hex(&f.v["blob"]))).unwrap();
    let want: ItemData = serde_json::from_value(f.v["item"].clone()).unwrap();
    assert_eq!(item.data, want);
    assert_eq!(
        (item.epoch, item.version, item.updated_at, changed_at),
        (
            f.epoch,
            f.version,
            int(&f.v["created_at"]),
            int(&f.v["secret_changed_at"])
        )
    );
    assert_eq!(item.group_id, f.group.to_hex());
}

#[test]
fn fail_a_changed_shared_item_version_is_named_tampered() {
    let f = fixed();
    let blob = hex(&f.v["blob"]);
    // The epoch, the times, the key length, the wrapped key and the content, one byte each.
    for at in [7, 15, 23, 27, 40, blob.len() - 1] {
        let mut b = blob.clone();
        b[at] ^= 0x01;
        let e = open_item(&f.team, &keys(&f), &record(&f, b)).unwrap_err();
        assert!(
            matches!(&e, Error::Tampered { item } if *item == text(&f.v["item_id"])),
            "byte {at}: {e}"
        );
    }
    let mut other_team = f.team;
    other_team[0] ^= 0x01;
    assert!(matches!(
        open_item(&other_team, &keys(&f), &record(&f, blob)),
        Err(Error::Tampered { .. })
    ));
}
