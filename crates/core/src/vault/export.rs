//! Encrypted export and import of a whole personal vault, for backups and for moving to another
//! machine.
//!
//! An export is one file (format in [`file`]): a clear header with the magic `TESSERA-EXPORT`,
//! the format version and the Argon2id parameters and salt, then one AES-256-GCM envelope whose
//! key comes from an *export passphrase* alone ([`tessera_crypto::kdf::derive_passphrase_key`]):
//! it must open on a machine that has neither this vault nor its Account Secret Key, so its
//! brute-force resistance is the passphrase and Argon2id, nothing else. That is why
//! [`check_passphrase`] asks for a strong one and [`EXPORT_KDF`] costs more than unlock.
//!
//! **What is in it:** every personal item, trash included, with every version of its history
//! (each with all fields, custom fields, notes, tags, folder, favourite flag, rotation policy,
//! expiry, TOTP seeds and SSH key material), its creation time and its trash state; plus the
//! export time. **What is not:** items shared through a group (they belong to the group and come
//! back from the team server), items that did not decrypt at unlock ([`Vault::damaged`], listed
//! in [`ExportSummary::damaged`]), the keys, the team server link, the sync state, and the audit log.
//!
//! **Importing** runs in one transaction. An item whose id is new to the vault comes in with its
//! id, history and trash state. An item whose id is already there with the same current content
//! is skipped. An item whose id is there with different content (or damaged) comes in as a new
//! item with its history, its title followed by " (imported)", so nothing on either side is lost.
//! The plain JSON import ([`plain`]) follows the same rule, so importing a file twice adds
//! nothing the second time.
use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_crypto::kdf::KdfParams;
use zeroize::Zeroize;

use super::Vault;
use crate::error::{Error, Result};
use crate::item::{limits, Item, ItemId, SecretText};
use crate::search::SearchDoc;
use crate::store::VersionRow;

mod document;
mod file;
pub mod plain;

use document::{Document, Entry, Version};
pub use file::{ExportHeader, FORMAT, HEADER_LEN, MAGIC};

/// Argon2id parameters of new exports: 256 MiB, 3 passes, 4 lanes. Four times the memory of
/// unlock, because no Account Secret Key stands behind an export's passphrase.
pub const EXPORT_KDF: KdfParams = KdfParams {
    memory_kib: 256 * 1024,
    iterations: 3,
    parallelism: 4,
};

/// What a copy of an existing item gets after its title.
pub const COPY_SUFFIX: &str = " (imported)";

/// The zxcvbn score an export passphrase needs (4: more than 10^10 guesses).
pub const MIN_PASSPHRASE_SCORE: u8 = 4;

/// An encrypted export, ready to be written where the user chose.
pub struct Export {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// What it holds.
    pub summary: ExportSummary,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Export({} bytes, {:?})", self.bytes.len(), self.summary)
    }
}

/// Counts of what an export holds (the counts are inside the ciphertext, not in its header).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// Items exported, trash included.
    pub items: usize,
    /// Of those, in the trash.
    pub trashed: usize,
    /// Versions exported (every item's whole history).
    pub versions: usize,
    /// Items that did not decrypt at unlock and so are not in the export.
    pub damaged: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Items added (new ones and copies).
    pub imported: usize,
    /// Of those, copies of items whose id was already here with different content, titled
    /// "… (imported)".
    pub copies: usize,
    /// Items already here with the same id and the same content.
    pub skipped: usize,
    /// Versions written (the imported items' whole histories).
    pub versions: usize,
    /// Of the imported items, those that came back into the trash.
    pub trashed: usize,
    /// When the export was made (Unix time).
    pub exported_at: i64,
}

/// Refuse an export passphrase zxcvbn rates below [`MIN_PASSPHRASE_SCORE`].
pub fn check_passphrase(passphrase: &SecretText) -> Result<()> {
    let s = crate::generator::estimate_strength(passphrase.expose_secret(), &[]);
    if s.score >= MIN_PASSPHRASE_SCORE {
        return Ok(());
    }
    let mut why = format!(
        "this export passphrase is too weak (strength {}/4, guessed in {} at 10,000 tries a second)",
        s.score, s.crack_time_display
    );
    if let Some(w) = &s.warning {
        why.push_str(": ");
        why.push_str(w);
    }
    why.push_str(
        "; an export is protected by its passphrase alone, so use 5 or more random words \
         (`tessera generate --passphrase` makes one)",
    );
    Err(Error::Invalid(why))
}

/// Read the clear header of an export without a passphrase: is this an export, of a format
/// this build reads, whole? Every failure is named ([`Error::NotAnExport`],
/// [`Error::UnsupportedExport`], [`Error::DamagedExport`]).
pub fn inspect(file: &[u8]) -> Result<ExportHeader> {
    file::parse(file).map(|(h, _, _)| h)
}

/// Write export bytes to `path`, mode 0600, through a temporary file in the same directory that
/// is synced and then moved into place, so a crash never leaves half a file under `path`. An
/// existing `path` is replaced only when `overwrite`; otherwise the move refuses atomically.
pub fn write_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |e| Error::Io {
            context: what,
            source: e,
        }
    };
    let exists = || {
        Error::Invalid(format!(
            "{} already exists; refusing to overwrite it",
            path.display()
        ))
    };
    if !overwrite && path.exists() {
        return Err(exists());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file name", path.display())))?;
    let mut suffix = [0u8; 6];
    tessera_crypto::random_bytes(&mut suffix);
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        crate::item::hex(&suffix)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("creating a temporary file for"))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(io("writing"))?;
        if overwrite {
            std::fs::rename(&tmp, path).map_err(io("replacing"))?;
        } else {
            // A hard link never replaces an existing file: a racing writer is refused too.
            std::fs::hard_link(&tmp, path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => exists(),
                _ => io("creating")(e),
            })?;
        }
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing the directory of"))
    })();
    #[allow(clippy::let_underscore_must_use)] // renamed away, or cleanup after the error reported
    let _ = std::fs::remove_file(&tmp);
    result
}

impl Vault {
    /// Export every personal item (trash, history and all) into one file encrypted under
    /// `passphrase` with Argon2id `params` (use [`EXPORT_KDF`]). Refuses a weak passphrase
    /// ([`check_passphrase`]). A version that does not decrypt stops the export, naming its item.
    pub fn export_encrypted(&self, passphrase: &SecretText, params: KdfParams) -> Result<Export> {
        check_passphrase(passphrase)?;
        params.check()?;
        let mut current: Vec<&Item> = self.items.values().collect();
        current.sort_by_key(|i| (i.created_at, i.id));
        let sealer = self.sealer();
        let mut items = Vec::with_capacity(current.len());
        for item in current {
            let versions = self
                .store
                .versions(&item.id)?
                .iter()
                .map(|row| {
                    Ok(Version {
                        number: row.version as u64,
                        created_at: row.created_at,
                        secret_changed_at: row.secret_changed_at,
                        data: sealer.open_version(row)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            items.push(Entry {
                id: item.id,
                created_at: item.created_at,
                trashed_at: item.trashed_at,
                versions,
            });
        }
        tessera_crypto::scrub_stack();
        let doc = Document {
            exported_at: super::now(),
            items,
        };
        let summary = ExportSummary {
            items: doc.items.len(),
            trashed: doc.items.iter().filter(|e| e.trashed_at.is_some()).count(),
            versions: doc.items.iter().map(|e| e.versions.len()).sum(),
            damaged: self.damaged(),
        };
        let plain = document::encode(&doc);
        drop(doc);
        let bytes = file::seal(&plain, passphrase, params)?;
        Ok(Export { bytes, summary })
    }

    /// Import an export made by [`Vault::export_encrypted`], in one transaction (see the module
    /// documentation for which items are added, copied or skipped).
    ///
    /// A wrong passphrase and a changed ciphertext are both [`Error::WrongPassphrase`] (AES-GCM
    /// cannot tell them apart); a damaged or truncated header or file is
    /// [`Error::DamagedExport`], another file [`Error::NotAnExport`], a newer format
    /// [`Error::UnsupportedExport`]. Nothing is written unless everything is.
    pub fn import_encrypted(
        &mut self,
        file: &[u8],
        passphrase: &SecretText,
    ) -> Result<ImportReport> {
        let plain = file::open(file, passphrase)?;
        let doc = document::decode(&plain)?;
        drop(plain);
        self.import_document(doc).map(|(report, _)| report)
    }

    /// Add what `doc` holds by the rule in the module documentation; also returns the ids of
    /// the items added, in order. The plain JSON import ([`plain`]) comes through here too.
    fn import_document(&mut self, doc: Document) -> Result<(ImportReport, Vec<ItemId>)> {
        let mut report = ImportReport {
            exported_at: doc.exported_at,
            ..ImportReport::default()
        };
        let mut incoming = Vec::with_capacity(doc.items.len());
        for mut entry in doc.items {
            for v in &entry.versions {
                v.data.validate().map_err(|e| {
                    Error::Invalid(format!(
                        "item {} version {} in the export: {e}",
                        entry.id, v.number
                    ))
                })?;
            }
            let taken = match self.items.get(&entry.id) {
                Some(local) if local.data == entry.current().data => {
                    report.skipped += 1;
                    continue;
                }
                Some(_) => true,
                None => self.damaged.contains_key(&entry.id.to_hex()),
            };
            if taken {
                entry.id = ItemId::random();
                let current = entry
                    .versions
                    .last_mut()
                    .expect("decoded entries have versions");
                let title = copy_title(&current.data.title);
                // The old title's allocation is wiped, not just freed.
                current.data.title.zeroize();
                current.data.title = title;
                report.copies += 1;
            }
            incoming.push(entry);
        }
        // Versions are renumbered 1..n in order (they already are, unless the source vault
        // lost one in a sync conflict), so the store's and the server's version chains hold.
        let sealer = self.sealer();
        let rows: Vec<Vec<VersionRow>> = incoming
            .iter()
            .map(|e| {
                e.versions
                    .iter()
                    .zip(1u64..)
                    .map(|(v, n)| {
                        sealer.seal_version(&e.id, n, v.created_at, v.secret_changed_at, &v.data)
                    })
                    .collect()
            })
            .collect();
        tessera_crypto::scrub_stack();
        self.store.write(|w| {
            for (e, rows) in incoming.iter().zip(&rows) {
                rows.iter().try_for_each(|r| w.put_version(r))?;
                w.set_created_at(&e.id, e.created_at)?;
                if let Some(t) = e.trashed_at {
                    w.set_trashed(&e.id, Some(t))?;
                }
            }
            Ok(())
        })?;
        let mut ids = Vec::with_capacity(incoming.len());
        for mut e in incoming {
            ids.push(e.id);
            let n = e.versions.len() as u64;
            let last = e.versions.pop().expect("decoded entries have versions");
            report.imported += 1;
            report.versions += n as usize;
            report.trashed += usize::from(e.trashed_at.is_some());
            let item = Item {
                id: e.id,
                version: n,
                created_at: e.created_at,
                updated_at: last.created_at,
                secret_changed_at: last.secret_changed_at,
                trashed_at: e.trashed_at,
                data: last.data,
            };
            self.index.borrow_mut().upsert(&SearchDoc::from_item(&item));
            self.items.insert(item.id, item);
        }
        Ok((report, ids))
    }
}

/// `title (imported)`, the title shortened (at a character boundary) to keep within the limit.
fn copy_title(title: &str) -> String {
    let room = limits::TITLE - COPY_SUFFIX.len();
    let mut end = title.len().min(room);
    while !title.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{COPY_SUFFIX}", &title[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_titles_stay_within_the_limit() {
        assert_eq!(copy_title("GitHub"), "GitHub (imported)");
        let long = "é".repeat(limits::TITLE);
        let t = copy_title(&long);
        assert!(t.len() <= limits::TITLE && t.ends_with(COPY_SUFFIX));
    }

    #[test]
    fn weak_passphrases_are_refused_with_a_reason() {
        let e = check_passphrase(&SecretText::from("password123"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("too weak") && e.contains("passphrase alone"),
            "{e}"
        );
        check_passphrase(&SecretText::from("orbit lantern cobalt fjord 42")).unwrap();
    }
}
