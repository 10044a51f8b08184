//! `export` (an encrypted file of the whole personal vault) and both sides of `import`: an
//! encrypted export, or a plain JSON array of items.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use tessera_core::agent::{ExportView, Request};
use tessera_core::item::{ItemData, ItemId};
use tessera_core::paths::VaultDir;
use tessera_core::vault::export::plain::{PlainImportReport, PlainItem};
use tessera_core::vault::export::{self, ImportReport};
use tessera_protocol::Blob;

use super::usage;
use crate::output::{date, Output};
use crate::prompt::PassphraseSource;
use crate::session::unlocked_client;

/// Arguments of `export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// The file to write (mode 0600). Refused if it exists, unless --force.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    passphrase: PassphraseSource,
}

/// Export every personal item, history and trash included, into one encrypted file.
pub fn export(a: &ExportArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    tessera_core::hardening::mark_non_dumpable()?;
    if !a.force && a.out.exists() {
        return usage(format!(
            "{} already exists; pass --force to replace it",
            a.out.display()
        ));
    }
    let mut client = unlocked_client(dir)?;
    let passphrase = a.passphrase.read("Export passphrase", true)?;
    let reply: ExportView = client
        .call(&Request::Export { passphrase })
        .context("exporting the vault")?;
    export::write_file(&a.out, &reply.file.0, a.force)?;
    let s = &reply.summary;
    let json = serde_json::json!({
        "file": a.out.display().to_string(),
        "bytes": reply.file.0.len(),
        "items": s.items,
        "trashed": s.trashed,
        "versions": s.versions,
        "damaged": s.damaged,
    });
    out.show(&json, |w| {
        writeln!(
            w,
            "Exported {} ({} in the trash, {} in all) to {}.",
            count(s.items, "item"),
            s.trashed,
            count(s.versions, "version"),
            a.out.display()
        )?;
        writeln!(
            w,
            "Items shared through groups are not included. Anyone with this file and its passphrase can read every item in it."
        )?;
        if !s.damaged.is_empty() {
            writeln!(
                w,
                "WARNING: {} damaged item(s) could not be decrypted and are not in the export: {}",
                s.damaged.len(),
                s.damaged.join(", ")
            )?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// True when `bytes` should be read as an encrypted export rather than a JSON array: anything
/// that does not start (after white space) with `[` or `{`.
pub fn is_encrypted(bytes: &[u8]) -> bool {
    !matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'[' | b'{')
    )
}

/// Import an encrypted export.
pub fn import(
    path: &Path,
    bytes: Vec<u8>,
    passphrase: &PassphraseSource,
    dir: &VaultDir,
    out: &Output,
) -> Result<Option<ExitCode>> {
    tessera_core::hardening::mark_non_dumpable()?;
    // The clear header first: a file that is not an export, or is damaged, is named before any
    // passphrase is asked for.
    export::inspect(&bytes).with_context(|| format!("reading {}", path.display()))?;
    let mut client = unlocked_client(dir)?;
    let passphrase = passphrase.read("Passphrase of the export", false)?;
    let r: ImportReport = client
        .call(&Request::ImportEncrypted {
            file: Blob(bytes),
            passphrase,
        })
        .with_context(|| format!("importing {}", path.display()))?;
    out.show(&r, |w| {
        writeln!(
            w,
            "Imported {} ({}, {} into the trash) from an export made {} UTC.",
            count(r.imported, "item"),
            count(r.versions, "version"),
            r.trashed,
            date(r.exported_at)
        )?;
        if r.copies > 0 {
            writeln!(
                w,
                "{} already here with other content came in as a copy titled \"… (imported)\"; both are kept.",
                count(r.copies, "item")
            )?;
        }
        writeln!(
            w,
            "Skipped {} already here unchanged.",
            count(r.skipped, "item")
        )
    })?;
    Ok(None)
}

/// The id of one item of a plain import, read in a pass of its own so the content is parsed
/// once, straight into zeroizing values.
#[derive(serde::Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<ItemId>,
}

/// Import a JSON array of items; what is already here (by id, or by content for items without
/// one) is skipped, so a second import of the same file adds nothing.
pub fn import_plain(
    path: &Path,
    bytes: &[u8],
    dir: &VaultDir,
    out: &Output,
) -> Result<Option<ExitCode>> {
    let not_items = |e: serde_json::Error| {
        super::UsageError(format!(
            "{}: not a JSON array of items: {e}",
            path.display()
        ))
    };
    let contents: Vec<ItemData> = serde_json::from_slice(bytes).map_err(not_items)?;
    let ids: Vec<IdOnly> = serde_json::from_slice(bytes).map_err(not_items)?;
    if contents.is_empty() {
        return usage(format!("{} holds no items", path.display()));
    }
    let items: Vec<PlainItem> = ids
        .into_iter()
        .zip(contents)
        .map(|(i, data)| PlainItem { id: i.id, data })
        .collect();
    let mut client = unlocked_client(dir)?;
    let r: PlainImportReport = client
        .call(&Request::ImportPlain { items })
        .with_context(|| format!("importing {}", path.display()))?;
    out.show(&r, |w| {
        writeln!(w, "Imported {}.", count(r.imported, "item"))?;
        if r.copies > 0 {
            writeln!(
                w,
                "{} already here with other content came in as a copy titled \"… (imported)\"; both are kept.",
                count(r.copies, "item")
            )?;
        }
        if r.skipped > 0 {
            writeln!(
                w,
                "Skipped {} already here unchanged.",
                count(r.skipped, "item")
            )?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// `1 item`, `2 items`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
