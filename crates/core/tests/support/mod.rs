//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tessera_core::item::{FieldKind, ItemData, ItemKind};
use tessera_core::Vault;
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;

/// Test vaults use the floor parameters: real Argon2id, just the cheapest we accept.
pub const PARAMS: KdfParams = KdfParams::FLOOR;
pub const PASSWORD: &[u8] = b"correct horse battery staple";

pub struct TestVault {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub secret_key: AccountSecretKey,
}

impl TestVault {
    pub fn new() -> (Self, Vault) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.sqlite");
        let secret_key = AccountSecretKey::generate();
        let vault = Vault::create(&path, PASSWORD, &secret_key, PARAMS).unwrap();
        (
            Self {
                dir,
                path,
                secret_key,
            },
            vault,
        )
    }

    pub fn unlock(&self) -> tessera_core::Result<Vault> {
        Vault::unlock(&self.path, PASSWORD, &self.secret_key, PARAMS)
    }

    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).unwrap()
    }
}

pub fn login(title: &str, user: &str, password: &str, url: &str) -> ItemData {
    ItemData::new(ItemKind::Login, title)
        .with_field("username", FieldKind::Text, user)
        .with_field("password", FieldKind::Concealed, password)
        .with_field("url", FieldKind::Text, url)
}

/// Every byte of the vault file and its WAL and shared-memory files.
pub fn raw_files(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            all.extend(b);
        }
    }
    all
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
