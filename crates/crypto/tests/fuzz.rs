//! Fuzz targets for what this crate parses from outside: certificate chains (the server sends
//! them), Account Secret Keys (typed from the Emergency Kit), and sealed values and wrapped
//! keysets (stored bytes, or sent by the server). Never a panic; a chain that decodes encodes back
//! to the same bytes; a key that parses prints in a form that parses to the same key. See
//! `tests/fuzz/support.rs` for the inputs and `TESSERA_FUZZ_CASES`.
#![allow(clippy::unwrap_used)]
// A target whose property is "any answer but a panic" drops the answer.
#![allow(clippy::let_underscore_must_use)]

#[path = "../../../tests/fuzz/support.rs"]
mod fuzz;
#[path = "../../../tests/vectors/support.rs"]
mod vectors;

use proptest::prelude::*;
use tessera_crypto::cert::CertChain;
use tessera_crypto::envelope::Sealed;
use tessera_crypto::keyset::Keyset;
use tessera_crypto::token::MachineSecret;
use tessera_crypto::{AccountSecretKey, CryptoError, SymmetricKey};
use vectors::{arr, hex, load, text};

fn cert_chain(b: &[u8]) {
    if let Ok(c) = CertChain::decode(b) {
        assert_eq!(c.encode(), b);
        let v = load("cert/chain.json");
        let _ = c.verify(&arr(&v["root_public"]), &arr(&v["team_id"]));
    }
}

fn chain_seeds() -> Vec<Vec<u8>> {
    let v = load("cert/chain.json");
    [
        "chain",
        "fail_edited_email",
        "fail_issuer_not_admin",
        "fail_issuer_dropped",
    ]
    .iter()
    .map(|k| hex(&v[*k]))
    .collect()
}

fn secret_key(s: &str) {
    if let Ok(k) = AccountSecretKey::parse(s) {
        let again = AccountSecretKey::parse(&k.to_human()).unwrap();
        assert_eq!(again.expose_secret(), k.expose_secret());
    }
}

/// Stored or received ciphertext: a wrapped keyset, a value sealed to the keyset, a value sealed
/// to a machine token. Each opens only as what the vectors hold, or is refused.
fn sealed(b: &[u8]) {
    let v = load("keys/keys.json");
    let kek = SymmetricKey::from_bytes(arr(&v["keyset"]["kek"]));
    let ad = hex(&v["keyset"]["ad"]);
    let wrapped = hex(&v["keyset"]["wrapped"]);
    match Sealed::from_bytes(b.to_vec()) {
        Ok(s) => {
            if Keyset::unwrap(&kek, &s, &ad).is_ok() {
                assert_eq!(b, wrapped, "only the wrapped keyset opens as one");
            }
        }
        Err(e) => assert!(matches!(e, CryptoError::Malformed(_)), "{e}"),
    }
    let ks = {
        let w = Sealed::from_bytes(wrapped).unwrap();
        Keyset::unwrap(&kek, &w, &ad).unwrap()
    };
    if let Ok(p) = ks.open_sealed(b, &hex(&v["sealed"]["ad"])) {
        assert_eq!(hex(&v["sealed"]["plaintext"]), &p[..]);
    }
    let t = load("token/machine_token.json");
    let token = MachineSecret::from_bytes(arr(&t["secret"]));
    let _ = token.open_sealed(b, &hex(&t["sealed_group_key"]["ad"]));
}

fn sealed_seeds() -> Vec<Vec<u8>> {
    let v = load("keys/keys.json");
    let t = load("token/machine_token.json");
    vec![
        hex(&v["keyset"]["wrapped"]),
        hex(&v["sealed"]["sealed"]),
        hex(&t["sealed_group_key"]["sealed"]),
    ]
}

fn key_seeds() -> Vec<Vec<u8>> {
    let v = load("kdf/two_secret.json");
    v["two_secret"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| text(&c["secret_key"]).as_bytes().to_vec())
        .collect()
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn certificate_chains(b in fuzz::input("cert_chain", chain_seeds())) {
        cert_chain(&b);
    }

    #[test]
    fn account_secret_keys(s in fuzz::text("secret_key", key_seeds())) {
        secret_key(&s);
    }

    #[test]
    fn sealed_values(b in fuzz::input("sealed", sealed_seeds())) {
        sealed(&b);
    }
}

/// Every seed (and every input that once crashed a target) runs through its target.
#[test]
fn the_seeds_run_clean() {
    for b in chain_seeds().into_iter().chain(fuzz::corpus("cert_chain")) {
        cert_chain(&b);
    }
    for b in key_seeds().into_iter().chain(fuzz::corpus("secret_key")) {
        secret_key(&String::from_utf8_lossy(&b));
    }
    for b in sealed_seeds().into_iter().chain(fuzz::corpus("sealed")) {
        sealed(&b);
    }
}
