//! Known-answer vectors for the formats this crate owns: the two-secret KDF, the Account
//! Secret Key's human form, the wrapped keyset, sealing to a public key, member certificates
//! and machine tokens. The files under `tests/vectors/` were made by a second implementation
//! (`tests/vectors/make_vectors.py`); a changed HKDF label, associated-data layout or encoding
//! fails here instead of locking users out of what they stored. Every `fail_*` vector is
//! refused with the error it names.
#![allow(clippy::unwrap_used)]

#[path = "../../../tests/vectors/support.rs"]
mod vectors;

use ed25519_dalek::SigningKey;
use serde_json::Value;
use tessera_crypto::cert::{CertChain, CertError, CertSubject, Certificate};
use tessera_crypto::envelope::Sealed;
use tessera_crypto::kdf::{self, KdfParams};
use tessera_crypto::keyset::Keyset;
use tessera_crypto::token::{MachineSecret, TokenRecord};
use tessera_crypto::{AccountSecretKey, CryptoError, SymmetricKey};
use vectors::{arr, hex, int, load, text, to_hex};

fn params(v: &Value) -> KdfParams {
    let n = |k: &str| u32::try_from(int(&v[k])).unwrap();
    KdfParams {
        memory_kib: n("memory_kib"),
        iterations: n("iterations"),
        parallelism: n("parallelism"),
    }
}

/// The keyset of `keys/keys.json`, unwrapped with its KEK: the admin of the other vectors.
fn keyset() -> Keyset {
    let v = &load("keys/keys.json")["keyset"];
    let kek = SymmetricKey::from_bytes(arr(&v["kek"]));
    let wrapped = Sealed::from_bytes(hex(&v["wrapped"])).unwrap();
    Keyset::unwrap(&kek, &wrapped, &hex(&v["ad"])).unwrap()
}

#[test]
fn two_secret_kdf_gives_the_pinned_kek_and_auth_key() {
    let v = load("kdf/two_secret.json");
    let cases = v["two_secret"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "the floor and the default parameters");
    for c in cases {
        let name = text(&c["name"]);
        let sk = AccountSecretKey::parse(text(&c["secret_key"])).unwrap();
        assert_eq!(
            to_hex(sk.expose_secret()),
            text(&c["secret_key_hex"]),
            "{name}: the Account Secret Key's human form"
        );
        assert_eq!(&*sk.to_human(), text(&c["secret_key"]), "{name}");
        let mk = kdf::derive_master_key(
            text(&c["password"]).as_bytes(),
            &sk,
            &arr(&c["salt"]),
            params(c),
        )
        .unwrap();
        assert_eq!(
            to_hex(mk.encryption_key().expose_secret()),
            text(&c["kek"]),
            "{name}: KEK"
        );
        assert_eq!(
            to_hex(mk.auth_key().expose_secret()),
            text(&c["auth_key"]),
            "{name}: auth key"
        );
    }
    assert_eq!(params(&cases[0]), KdfParams::FLOOR);
    assert_eq!(params(&cases[1]), KdfParams::DEFAULT);
}

#[test]
fn passphrase_key_is_pinned() {
    let v = &load("kdf/two_secret.json")["passphrase"];
    let key = kdf::derive_passphrase_key(
        text(&v["passphrase"]).as_bytes(),
        &arr(&v["salt"]),
        params(v),
        text(&v["label"]).as_bytes(),
    )
    .unwrap();
    assert_eq!(to_hex(key.expose_secret()), text(&v["key"]));
}

#[test]
fn fail_weak_params_and_a_mistyped_secret_key_are_refused() {
    let v = load("kdf/two_secret.json");
    let c = &v["two_secret"][0];
    let sk = AccountSecretKey::parse(text(&c["secret_key"])).unwrap();
    let weak = kdf::derive_master_key(b"pw", &sk, &arr(&c["salt"]), params(&v["fail_weak_params"]));
    assert!(matches!(weak, Err(CryptoError::WeakKdf { .. })), "{weak:?}");
    let typo = AccountSecretKey::parse(text(&v["fail_secret_key_typo"])).unwrap_err();
    assert!(
        matches!(&typo, CryptoError::InvalidSecretKey(m) if m.contains("checksum")),
        "{typo}"
    );
    // The right key with one bit changed derives a KEK that does not open the keyset.
    let mut bits = *sk.expose_secret();
    bits[15] ^= 1;
    let kek = kdf::derive_master_key(
        text(&c["password"]).as_bytes(),
        &AccountSecretKey::from_bytes(bits),
        &arr(&c["salt"]),
        params(c),
    )
    .unwrap()
    .encryption_key();
    let k = &load("keys/keys.json")["keyset"];
    assert_eq!(
        text(&k["kek"]),
        text(&c["kek"]),
        "the keyset is wrapped by this KEK"
    );
    let wrapped = Sealed::from_bytes(hex(&k["wrapped"])).unwrap();
    assert!(matches!(
        Keyset::unwrap(&kek, &wrapped, &hex(&k["ad"])),
        Err(CryptoError::Decrypt)
    ));
}

#[test]
fn the_wrapped_keyset_opens_to_the_pinned_keys() {
    let v = &load("keys/keys.json")["keyset"];
    let ks = keyset();
    assert_eq!(
        to_hex(ks.vault_key().expose_secret()),
        text(&v["vault_key"])
    );
    assert_eq!(to_hex(&ks.exchange_public()), text(&v["exchange_public"]));
    assert_eq!(to_hex(&ks.signing_public()), text(&v["signing_public"]));
}

#[test]
fn fail_a_changed_or_unknown_keyset_is_refused() {
    let v = &load("keys/keys.json")["keyset"];
    let kek = SymmetricKey::from_bytes(arr(&v["kek"]));
    let ad = hex(&v["ad"]);
    let mut flipped = hex(&v["wrapped"]);
    flipped[20] ^= 0x01;
    let flipped = Sealed::from_bytes(flipped).unwrap();
    assert!(matches!(
        Keyset::unwrap(&kek, &flipped, &ad),
        Err(CryptoError::Decrypt)
    ));
    let v2 = Sealed::from_bytes(hex(&v["fail_version_2"])).unwrap();
    assert!(matches!(
        Keyset::unwrap(&kek, &v2, &ad),
        Err(CryptoError::Malformed(m)) if m.contains("keyset")
    ));
}

#[test]
fn a_key_sealed_to_the_keyset_opens_to_the_pinned_key() {
    let v = &load("keys/keys.json")["sealed"];
    let opened = keyset()
        .open_sealed(&hex(&v["sealed"]), &hex(&v["ad"]))
        .unwrap();
    assert_eq!(to_hex(&opened), text(&v["plaintext"]));
}

#[test]
fn fail_a_changed_sealed_key_is_refused() {
    let v = &load("keys/keys.json")["sealed"];
    let ks = keyset();
    let sealed = hex(&v["sealed"]);
    let ad = hex(&v["ad"]);
    for at in [0, 31, 32, 44, sealed.len() - 1] {
        let mut s = sealed.clone();
        s[at] ^= 0x01;
        assert!(
            matches!(ks.open_sealed(&s, &ad), Err(CryptoError::Decrypt)),
            "byte {at}"
        );
    }
    let mut other_ad = ad.clone();
    *other_ad.last_mut().unwrap() ^= 0x01;
    assert!(matches!(
        ks.open_sealed(&sealed, &other_ad),
        Err(CryptoError::Decrypt)
    ));
    assert!(matches!(
        ks.open_sealed(&hex(&v["fail_low_order_ephemeral"]), &ad),
        Err(CryptoError::Decrypt)
    ));
    assert!(matches!(
        ks.open_sealed(&sealed[..tessera_crypto::seal::OVERHEAD - 1], &ad),
        Err(CryptoError::Malformed(_))
    ));
}

fn subject(v: &Value) -> CertSubject {
    CertSubject {
        team_id: arr(&v["team_id"]),
        account_id: arr(&v["account_id"]),
        email: text(&v["email"]).to_owned(),
        exchange_public: arr(&v["exchange_public"]),
        signing_public: arr(&v["signing_public"]),
        admin: v["admin"].as_bool().unwrap(),
    }
}

#[test]
fn the_certificate_chain_verifies_and_its_bytes_are_pinned() {
    let v = load("cert/chain.json");
    let root = SigningKey::from_bytes(&arr(&v["root_seed"]));
    assert_eq!(
        to_hex(&root.verifying_key().to_bytes()),
        text(&v["root_public"])
    );
    let admin = subject(&v["admin"]["subject"]);
    let member = subject(&v["member"]["subject"]);
    let ks = keyset();
    assert_eq!(
        admin.signing_public,
        ks.signing_public(),
        "the admin is the keyset"
    );
    // Ed25519 is deterministic: issuing again gives the checked-in bytes exactly.
    let admin_cert = Certificate::issue(&root, admin.clone());
    assert_eq!(
        to_hex(&admin_cert.encode()),
        text(&v["admin"]["certificate"])
    );
    let leaf = ks.certify(member.clone());
    assert_eq!(to_hex(&leaf.encode()), text(&v["member"]["certificate"]));
    let chain = CertChain::decode(&hex(&v["chain"])).unwrap();
    assert_eq!(chain.leaf, leaf);
    assert_eq!(chain.issuer.as_ref(), Some(&admin_cert));
    assert_eq!(to_hex(&chain.encode()), text(&v["chain"]));
    let root_public = arr(&v["root_public"]);
    let team = arr(&v["team_id"]);
    assert_eq!(chain.verify(&root_public, &team), Ok(&member));
    assert_eq!(
        chain.verify_for(
            &root_public,
            &team,
            &member.account_id,
            &member.exchange_public,
            &member.signing_public
        ),
        Ok(&member)
    );
}

#[test]
fn fail_each_broken_chain_is_refused_with_its_reason() {
    let v = load("cert/chain.json");
    let root = arr(&v["root_public"]);
    let team = arr(&v["team_id"]);
    let verify = |name: &str| {
        CertChain::decode(&hex(&v[name])).and_then(|c| c.verify(&root, &team).cloned())
    };
    assert_eq!(
        verify("fail_edited_email"),
        Err(CertError::BadSignature("admin's"))
    );
    assert_eq!(
        verify("fail_issuer_not_admin"),
        Err(CertError::IssuerNotAdmin)
    );
    assert_eq!(
        verify("fail_admin_flag_2"),
        Err(CertError::Malformed("admin flag"))
    );
    assert_eq!(
        verify("fail_issuer_dropped"),
        Err(CertError::NotChainedToRoot)
    );
    let chain = CertChain::decode(&hex(&v["chain"])).unwrap();
    assert_eq!(
        chain.verify(&root, &arr(&v["fail_wrong_team"])),
        Err(CertError::WrongTeam)
    );
    let mut root_sig = hex(&v["chain"]);
    *root_sig.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        CertChain::decode(&root_sig).unwrap().verify(&root, &team),
        Err(CertError::BadSignature("root's"))
    );
}

fn record(v: &Value, exchange_public: [u8; 32]) -> TokenRecord {
    TokenRecord {
        team_id: arr(&v["team_id"]),
        group_id: arr(&v["group_id"]),
        token_id: arr(&v["token_id"]),
        exchange_public,
        expires_at: int(&v["expires_at"]),
    }
}

#[test]
fn a_machine_secret_derives_the_pinned_bearer_and_key() {
    let v = load("token/machine_token.json");
    let s = MachineSecret::from_bytes(arr(&v["secret"]));
    assert_eq!(to_hex(&s.bearer()[..]), text(&v["bearer"]));
    assert_eq!(to_hex(&s.bearer_hash()), text(&v["bearer_hash"]));
    assert_eq!(to_hex(&s.exchange_public()), text(&v["exchange_public"]));
    let g = &v["sealed_group_key"];
    let key = s.open_sealed(&hex(&g["sealed"]), &hex(&g["ad"])).unwrap();
    assert_eq!(to_hex(&key), text(&g["plaintext"]));
}

#[test]
fn the_token_record_signature_is_pinned() {
    let v = load("token/machine_token.json");
    let r = record(&v["record"], arr(&v["exchange_public"]));
    let ks = keyset();
    let sig = hex(&v["record"]["signature"]);
    assert_eq!(to_hex(&r.sign(&ks)), to_hex(&sig));
    r.verify(&ks.signing_public(), &sig).unwrap();
}

#[test]
fn fail_a_changed_token_record_or_sealed_key_is_refused() {
    let v = load("token/machine_token.json");
    let ks = keyset();
    let sig = hex(&v["record"]["signature"]);
    let later = TokenRecord {
        expires_at: int(&v["record"]["expires_at"]) + 1,
        ..record(&v["record"], arr(&v["exchange_public"]))
    };
    assert!(matches!(
        later.verify(&ks.signing_public(), &sig),
        Err(CryptoError::Decrypt)
    ));
    // The group key sealed to the token does not open as one sealed to a member (its AD).
    let s = MachineSecret::from_bytes(arr(&v["secret"]));
    let member_ad = hex(&load("keys/keys.json")["sealed"]["ad"]);
    assert!(matches!(
        s.open_sealed(&hex(&v["sealed_group_key"]["sealed"]), &member_ad),
        Err(CryptoError::Decrypt)
    ));
}
