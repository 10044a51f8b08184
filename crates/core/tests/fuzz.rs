//! Fuzz targets for every parser of outside input in the core: the item codec, the encrypted
//! export's header, plain import files, the vault header, otpauth URIs, OpenSSH private keys,
//! machine tokens and the agent's request lines (over the real socket). Never a panic; what
//! parses and has an encoding encodes back to the same thing. See `tests/fuzz/support.rs` for
//! the inputs and `TESSERA_FUZZ_CASES`.
#![allow(clippy::unwrap_used)]
// A target whose property is "any answer but a panic" drops the answer.
#![allow(clippy::let_underscore_must_use)]

#[path = "../../../tests/fuzz/support.rs"]
mod fuzz;
mod support;
#[path = "../../../tests/vectors/support.rs"]
mod vectors;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use tessera_core::agent::{Agent, AgentConfig};
use tessera_core::item::codec;
use tessera_core::paths::VaultDir;
use tessera_core::ssh::SshKey;
use tessera_core::token::MachineToken;
use tessera_core::totp::TotpSpec;
use tessera_core::vault::export::{self, plain::PlainItem};
use tessera_core::vault::Header;

fn vector_file(name: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/").to_owned() + name)
        .unwrap()
}

/// An item encoding decodes, or is refused; one that decodes encodes to the same bytes.
fn item_codec(b: &[u8]) {
    if let Ok(d) = codec::decode(b) {
        assert_eq!(&codec::encode(&d)[..], b);
    }
}

fn item_seeds() -> Vec<Vec<u8>> {
    let v = vectors::load("item/codec.json");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| vectors::hex(&c["encoded"]))
        .collect()
}

fn export_file(b: &[u8]) {
    let _ = export::inspect(b);
}

/// A plain import file: JSON items; those that decode are checked as an import checks them.
fn plain_import(b: &[u8]) {
    if let Ok(items) = serde_json::from_slice::<Vec<PlainItem>>(b) {
        for i in &items {
            let _ = i.data.validate();
        }
        let again = serde_json::to_vec(&items).unwrap();
        let back: Vec<PlainItem> = serde_json::from_slice(&again).unwrap();
        assert_eq!(back.len(), items.len());
        for (a, b) in back.iter().zip(&items) {
            assert_eq!((&a.id, &a.data), (&b.id, &b.data));
        }
    }
}

fn vault_header(b: &[u8]) {
    if let Ok(h) = Header::decode(b) {
        assert_eq!(Header::decode(&h.encode()).unwrap().encode(), h.encode());
    }
}

/// The header of a real vault, made once.
fn header_seed() -> Vec<u8> {
    let (_tv, v) = support::TestVault::new();
    v.header().encode()
}

/// An otpauth URI (or a bare secret) parses, or is refused; one that parses gives the same
/// code after going through its URI.
fn otpauth(s: &str) {
    if let Ok(spec) = TotpSpec::parse(s) {
        let again = TotpSpec::parse(&spec.to_uri()).unwrap();
        assert_eq!(again.expose_secret(), spec.expose_secret());
        assert_eq!(
            (again.digits(), again.period(), again.algorithm()),
            (spec.digits(), spec.period(), spec.algorithm())
        );
        assert_eq!(again.code_at(1_800_000_000), spec.code_at(1_800_000_000));
    }
}

fn ssh_key(s: &str) {
    if let Ok(key) = SshKey::import_openssh(s, None) {
        let text = key.to_openssh(None).unwrap();
        let again = SshKey::import_openssh(text.expose_secret(), None).unwrap();
        assert_eq!(again.fingerprint(), key.fingerprint());
    }
    let _ = SshKey::check_openssh(s);
}

fn ssh_seeds() -> Vec<Vec<u8>> {
    [
        "ecdsa_p256_short_scalar",
        "ecdsa_p256_short_scalar_encrypted",
        "fail_dsa_key",
    ]
    .iter()
    .map(|n| vector_file(&format!("ssh/{n}")))
    .collect()
}

fn machine_token(s: &str) {
    if let Ok(t) = MachineToken::parse(s) {
        assert_eq!(
            MachineToken::parse(&t.expose_secret()).unwrap().id(),
            t.id()
        );
    }
}

/// A locked agent with no vault (so no request reaches a vault, a file or the network), served
/// on a socket in a directory kept for the whole test binary.
fn agent_socket() -> &'static std::path::Path {
    static SOCKET: OnceLock<(tempfile::TempDir, std::path::PathBuf)> = OnceLock::new();
    &SOCKET
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let agent = Agent::start(
                AgentConfig {
                    dir: VaultDir::new(dir.path().join("vault")),
                    idle_timeout: Duration::from_secs(3600),
                    kdf_target: support::PARAMS,
                    exit_on_lock: false,
                    unlock_grace: Duration::MAX,
                    auto_sync: false,
                },
                None,
            );
            let socket = dir.path().join("agent.sock");
            let listener = UnixListener::bind(&socket).unwrap();
            let path = socket.clone();
            std::thread::spawn(move || agent.serve(&listener, path));
            (dir, socket)
        })
        .1
}

/// One request line gets one reply line, a JSON object; the agent keeps serving.
fn agent_line(line: &[u8]) {
    let line: Vec<u8> = line.iter().copied().filter(|b| *b != b'\n').collect();
    let mut stream = UnixStream::connect(agent_socket()).unwrap();
    stream.write_all(&line).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).unwrap();
    let v: serde_json::Value = serde_json::from_str(&reply)
        .unwrap_or_else(|e| panic!("the agent's reply {reply:?} is not JSON: {e}"));
    assert!(v.is_object(), "{reply}");
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn item_codec_decode(b in fuzz::input("item_codec", item_seeds())) {
        item_codec(&b);
    }

    #[test]
    fn export_reader(b in fuzz::input("export_file", vec![vector_file("export/v1.tessera")])) {
        export_file(&b);
    }

    #[test]
    fn plain_import_files(b in fuzz::input("plain_import", Vec::new())) {
        plain_import(&b);
    }

    #[test]
    fn vault_headers(b in fuzz::input("vault_header", vec![header_seed()])) {
        vault_header(&b);
    }

    #[test]
    fn otpauth_uris(s in fuzz::text("otpauth", Vec::new())) {
        otpauth(&s);
    }

    #[test]
    fn openssh_private_keys(s in fuzz::text("ssh_private_key", ssh_seeds())) {
        ssh_key(&s);
    }

    #[test]
    fn machine_tokens(s in fuzz::text("machine_token", Vec::new())) {
        machine_token(&s);
    }

    #[test]
    fn agent_request_lines(b in fuzz::input("agent_request", Vec::new())) {
        agent_line(&b);
    }
}

/// Every corpus file (and every input that once crashed a target) runs through its target.
#[test]
fn the_corpus_runs_clean() {
    for b in item_seeds() {
        assert!(codec::decode(&b).is_ok());
    }
    let all = |t: &str| {
        let c = fuzz::corpus(t);
        assert!(!c.is_empty(), "the corpus of {t} is empty");
        c
    };
    for b in fuzz::corpus("item_codec") {
        item_codec(&b);
    }
    for b in fuzz::corpus("export_file") {
        export_file(&b);
    }
    for b in all("plain_import") {
        plain_import(&b);
    }
    for b in all("otpauth") {
        otpauth(&String::from_utf8_lossy(&b));
    }
    for b in all("machine_token") {
        machine_token(&String::from_utf8_lossy(&b));
    }
    for b in all("agent_request") {
        agent_line(&b);
    }
    for b in ssh_seeds() {
        ssh_key(&String::from_utf8_lossy(&b));
    }
    assert!(Header::decode(&header_seed()).is_ok());
}
