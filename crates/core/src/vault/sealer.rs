//! Sealing and opening what the store holds: item versions under the vault key, and each
//! item's row checked against its MAC ([`crate::store::auth`]) before its version is trusted.
use tessera_crypto::envelope::{self, associated_data, Sealed};
use tessera_crypto::SymmetricKey;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::item::{codec, hex, Item, ItemData, ItemId};
use crate::store::{CurrentRow, RowAuth, VersionRow, ITEM_STATE_CHANGED};

/// Why an item did not open at unlock; kept (with the title, when the content still opened) so
/// that reading the item names it.
#[derive(Debug, Clone)]
pub(super) struct Damage {
    title: Option<Zeroizing<String>>,
    kind: DamageKind,
}

#[derive(Debug, Clone, Copy)]
enum DamageKind {
    /// The version's ciphertext, key or bound metadata does not authenticate.
    Content,
    /// The item's row does not match its MAC (a rollback, a trash edit...).
    Record,
    /// The row points at a version the file does not hold.
    MissingVersion,
}

impl Damage {
    /// The error for reading the item `id` (hex).
    pub(super) fn error(&self, id: &str) -> Error {
        let record = |what: &str| Error::TamperedRecord {
            item: id.to_owned(),
            title: self.title.as_ref().map(|t| t.to_string()),
            what: what.into(),
        };
        match self.kind {
            DamageKind::Content => Error::Tampered {
                item: id.to_owned(),
            },
            DamageKind::Record => record(ITEM_STATE_CHANGED),
            DamageKind::MissingVersion => record("its current version is missing from the file"),
        }
    }

    /// The item's title, when its content opened.
    pub(super) fn title(&self) -> Option<&str> {
        self.title.as_deref().map(String::as_str)
    }
}

/// Seals and opens item versions: the vault id and vault key, borrowed, so the work can be
/// spread over threads.
pub(super) struct Sealer<'a> {
    pub(super) vault_id: &'a [u8; 16],
    pub(super) vault_key: &'a SymmetricKey,
}

impl Sealer<'_> {
    /// Open an item from its stored row: the row's MAC must match (so its current version,
    /// creation time and trash state are the ones Tessera wrote) and the version it points at
    /// must authenticate. A damaged item keeps its title when the content opened, to be named by.
    pub(super) fn open_item(
        &self,
        auth: &RowAuth,
        cur: &CurrentRow,
    ) -> std::result::Result<Item, Damage> {
        let damage = |kind, title: Option<&str>| Damage {
            title: title.map(|t| Zeroizing::new(t.to_owned())),
            kind,
        };
        let id =
            ItemId::from_slice(&cur.item_id).ok_or_else(|| damage(DamageKind::Content, None))?;
        let row = cur
            .row
            .as_ref()
            .ok_or_else(|| damage(DamageKind::MissingVersion, None))?;
        let data = self
            .open_version(row)
            .map_err(|_| damage(DamageKind::Content, None))?;
        if !auth.item_ok(&cur.item_id, &cur.state, cur.mac.as_deref()) {
            return Err(damage(DamageKind::Record, Some(&data.title)));
        }
        Ok(Item {
            id,
            version: row.version as u64,
            created_at: cur.state.created_at,
            updated_at: row.created_at,
            secret_changed_at: row.secret_changed_at,
            trashed_at: cur.state.trashed_at,
            data,
        })
    }

    /// Decrypt one stored version, or say which item is damaged.
    pub(super) fn open_version(&self, row: &VersionRow) -> Result<ItemData> {
        let tampered = || Error::Tampered {
            item: hex(&row.item_id),
        };
        let id = ItemId::from_slice(&row.item_id).ok_or_else(tampered)?;
        if row.format != i64::from(codec::FORMAT) || row.version < 1 {
            return Err(tampered());
        }
        let version = row.version as u64;
        let wrapped = Sealed::from_bytes(row.item_key.clone()).map_err(|_| tampered())?;
        let key_bytes = envelope::open(self.vault_key, &wrapped, &self.item_key_ad(&id, version))
            .map_err(|_| tampered())?;
        let item_key = SymmetricKey::from_slice(&key_bytes).map_err(|_| tampered())?;
        let sealed = Sealed::from_bytes(row.content.clone()).map_err(|_| tampered())?;
        let plain = envelope::open(
            &item_key,
            &sealed,
            &self.content_ad(&id, version, row.created_at, row.secret_changed_at),
        )
        .map_err(|_| tampered())?;
        codec::decode(&plain).map_err(|_| tampered())
    }

    fn item_key_ad(&self, id: &ItemId, version: u64) -> Vec<u8> {
        associated_data(
            "tessera item key",
            &[self.vault_id, &id.0, &version.to_be_bytes()],
        )
    }

    fn content_ad(
        &self,
        id: &ItemId,
        version: u64,
        created_at: i64,
        secret_changed_at: i64,
    ) -> Vec<u8> {
        associated_data(
            "tessera item",
            &[
                self.vault_id,
                &id.0,
                &version.to_be_bytes(),
                &[codec::FORMAT],
                &created_at.to_be_bytes(),
                &secret_changed_at.to_be_bytes(),
            ],
        )
    }

    /// Encrypt one version with a fresh item key.
    pub(super) fn seal_version(
        &self,
        id: &ItemId,
        version: u64,
        created_at: i64,
        secret_changed_at: i64,
        data: &ItemData,
    ) -> VersionRow {
        let item_key = SymmetricKey::generate();
        let wrapped = envelope::seal(
            self.vault_key,
            item_key.expose_secret(),
            &self.item_key_ad(id, version),
        );
        let plain = codec::encode(data);
        let content = envelope::seal(
            &item_key,
            &plain,
            &self.content_ad(id, version, created_at, secret_changed_at),
        );
        VersionRow {
            item_id: id.0.to_vec(),
            version: version as i64,
            created_at,
            secret_changed_at,
            format: i64::from(codec::FORMAT),
            item_key: wrapped.into_bytes(),
            content: content.into_bytes(),
        }
    }
}
