//! Known-answer vectors for the item codec, the plaintext of every item version at rest and in
//! every shared item (`tests/vectors/item/codec.json`, made by `tests/vectors/make_vectors.py`).
//! One item of each kind, so reordering `ItemKind::ALL` or a field kind's code fails here
//! instead of turning every stored item into another kind. Each `fail_*` encoding is refused.
#![allow(clippy::unwrap_used)]

#[path = "../../../tests/vectors/support.rs"]
mod vectors;

use tessera_core::item::codec;
use tessera_core::item::{ItemData, ItemKind};
use vectors::{hex, load, to_hex};

#[test]
fn each_checked_in_encoding_decodes_to_its_item_and_back() {
    let v = load("item/codec.json");
    let cases = v["items"].as_array().unwrap();
    let kinds: Vec<ItemKind> = cases
        .iter()
        .map(|c| {
            let want: ItemData = serde_json::from_value(c["item"].clone()).unwrap();
            let bytes = hex(&c["encoded"]);
            let got = codec::decode(&bytes).unwrap();
            assert_eq!(got, want, "{}", want.title);
            assert_eq!(
                to_hex(&codec::encode(&want)),
                to_hex(&bytes),
                "{}",
                want.title
            );
            want.kind
        })
        .collect();
    assert_eq!(kinds, ItemKind::ALL, "one item of each kind, in code order");
}

#[test]
fn fail_each_damaged_encoding_is_refused() {
    let v = load("item/codec.json");
    let fails: Vec<_> = v
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("fail_"))
        .collect();
    assert_eq!(fails.len(), 8);
    for (name, bytes) in fails {
        assert!(codec::decode(&hex(bytes)).is_err(), "{name} decoded");
    }
}
