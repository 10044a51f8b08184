//! Reading the JSON vector files under `tests/vectors/`: each crate's vector tests include this
//! file with `#[path = "../../../tests/vectors/support.rs"] mod vectors;`.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::Value;

/// The JSON file `name` (relative to `tests/vectors/`).
pub fn load(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/").to_owned() + name;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// A string member.
pub fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {v}"))
}

/// An integer member.
pub fn int(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("expected an integer, found {v}"))
}

/// A hex string member, decoded.
pub fn hex(v: &Value) -> Vec<u8> {
    let s = text(v);
    assert!(s.len() % 2 == 0, "odd-length hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A hex string member of exactly `N` bytes.
pub fn arr<const N: usize>(v: &Value) -> [u8; N] {
    hex(v)
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("expected {N} bytes, found {}", b.len()))
}

/// Bytes as lowercase hex, for readable assertion failures.
pub fn to_hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    b.iter()
        .flat_map(|x| [DIGITS[usize::from(x >> 4)], DIGITS[usize::from(x & 15)]])
        .map(char::from)
        .collect()
}
