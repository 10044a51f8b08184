//! Writes to the vault file, inside one transaction ([`super::Store::write`]). Every write that
//! builds on a row (a new version, the trash, the `seen` floor) reads it and checks its MAC
//! first, then writes the new values with their MAC.
use std::cell::Cell;

use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use super::{
    tampered, ItemState, RowAuth, VersionRow, ITEM_STATE_CHANGED, META_ITEM_COUNT, META_KEYSET,
    META_KEYSET_SUM, SEEN_CHANGED,
};
use crate::error::{Error, Result};
use crate::item::{hex, ItemId};

/// Writes inside one transaction.
pub struct Writer<'a> {
    tx: &'a Transaction<'a>,
    outbox: bool,
    auth: Option<&'a RowAuth>,
    /// An item row was added or removed: the item count must be recorded again.
    pub(super) members_changed: Cell<bool>,
}

impl<'a> Writer<'a> {
    pub(super) fn new(tx: &'a Transaction<'a>, outbox: bool, auth: Option<&'a RowAuth>) -> Self {
        Self {
            tx,
            outbox,
            auth,
            members_changed: Cell::new(false),
        }
    }

    fn auth(&self) -> Result<&'a RowAuth> {
        self.auth.ok_or(Error::Locked)
    }

    /// Remove a `meta` value.
    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.tx.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Set a `meta` value.
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Store (or replace) one record of a group's replica.
    pub fn put_group_record(&self, group: &[u8], r: &super::GroupRecord) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO group_records (group_id, item_id, version, deleted, blob)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (group_id, item_id) DO UPDATE SET version = excluded.version,
                 deleted = excluded.deleted, blob = excluded.blob",
            )?
            .execute(params![group, r.item_id, r.version, r.deleted, r.blob])?;
        Ok(())
    }

    /// Remove one record of a group's replica.
    pub fn delete_group_record(&self, group: &[u8], item: &[u8]) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM group_records WHERE group_id = ?1 AND item_id = ?2")?
            .execute(params![group, item])?;
        Ok(())
    }

    /// Remove every record of a group's replica.
    pub fn delete_group_records(&self, group: &[u8]) -> Result<()> {
        self.tx
            .execute("DELETE FROM group_records WHERE group_id = ?1", [group])?;
        Ok(())
    }

    /// Store the wrapped keyset with its checksum.
    pub fn put_keyset(&self, wrapped: &[u8]) -> Result<()> {
        self.put_meta(META_KEYSET, wrapped)?;
        self.put_meta(META_KEYSET_SUM, &Sha256::digest(wrapped))
    }

    /// An item's row, checked against its MAC before anything is built on it.
    fn state(&self, id: &[u8]) -> Result<Option<ItemState>> {
        let auth = self.auth()?;
        let row = self
            .tx
            .query_row(
                "SELECT version, created_at, trashed_at, mac FROM items WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        ItemState {
                            version: r.get(0)?,
                            created_at: r.get(1)?,
                            trashed_at: r.get(2)?,
                        },
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                },
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((s, mac)) if auth.item_ok(id, &s, mac.as_deref()) => Ok(Some(s)),
            Some(_) => Err(tampered(id, ITEM_STATE_CHANGED)),
        }
    }

    /// Write an item's row (new or changed) with its MAC.
    fn put_state(&self, id: &[u8], s: &ItemState) -> Result<()> {
        let mac = self.auth()?.item(id, s);
        self.tx.execute(
            "INSERT INTO items (id, version, created_at, trashed_at, mac) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET version = excluded.version,
                 created_at = excluded.created_at, trashed_at = excluded.trashed_at, mac = excluded.mac",
            params![id, s.version, s.created_at, s.trashed_at, mac],
        )?;
        Ok(())
    }

    /// Change an existing item's row.
    fn update_state(&self, id: &ItemId, f: impl FnOnce(&mut ItemState)) -> Result<()> {
        let mut s = self
            .state(&id.0)?
            .ok_or_else(|| Error::NotFound(format!("no item with id {id}")))?;
        f(&mut s);
        self.put_state(&id.0, &s)
    }

    /// Queue an upload (or a deletion) for the team server, with its MAC.
    fn queue(&self, id: &[u8], version: i64, deleted: bool) -> Result<()> {
        let mac = self.auth()?.outbox(id, version, deleted);
        self.tx.execute(
            "INSERT OR IGNORE INTO outbox (item_id, version, deleted, mac) VALUES (?1, ?2, ?3, ?4)",
            params![id, version, deleted, mac],
        )?;
        Ok(())
    }

    /// Add a version and make it the item's current one, creating the item row for version 1.
    pub fn put_version(&self, row: &VersionRow) -> Result<()> {
        if row.version == 1 {
            let s = ItemState {
                version: 1,
                created_at: row.created_at,
                trashed_at: None,
            };
            self.tx.execute(
                "INSERT INTO items (id, version, created_at, mac) VALUES (?1, 1, ?2, ?3)",
                params![
                    row.item_id,
                    row.created_at,
                    self.auth()?.item(&row.item_id, &s)
                ],
            )?;
            self.members_changed.set(true);
        } else {
            match self.state(&row.item_id)? {
                Some(s) if s.version == row.version - 1 => self.put_state(
                    &row.item_id,
                    &ItemState {
                        version: row.version,
                        ..s
                    },
                )?,
                _ => {
                    return Err(Error::Database(format!(
                        "item {} changed underneath this edit; reopen the vault and try again",
                        hex(&row.item_id)
                    )))
                }
            }
        }
        self.insert_version(row, "INSERT")?;
        if self.outbox {
            self.queue(&row.item_id, row.version, false)?;
        }
        Ok(())
    }

    fn insert_version(&self, row: &VersionRow, verb: &str) -> Result<()> {
        self.tx.execute(
            &format!("{verb} INTO item_versions (item_id, version, created_at, secret_changed_at, format, item_key, content)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![row.item_id, row.version, row.created_at, row.secret_changed_at, row.format, row.item_key, row.content],
        )?;
        Ok(())
    }

    /// Store a version that came from the server: the item is created if new, and the version
    /// becomes current when it is newer than the current one. An existing row of the same
    /// version (a local edit the server did not take) is replaced.
    pub fn put_remote_version(&self, row: &VersionRow) -> Result<()> {
        let next = match self.state(&row.item_id)? {
            None => {
                self.members_changed.set(true);
                ItemState {
                    version: row.version,
                    created_at: row.created_at,
                    trashed_at: None,
                }
            }
            Some(s) => ItemState {
                version: s.version.max(row.version),
                ..s
            },
        };
        self.put_state(&row.item_id, &next)?;
        self.insert_version(row, "INSERT OR REPLACE")?;
        self.set_seen(&row.item_id, row.version)
    }

    /// Remember the highest version the server has shown for an item.
    pub fn set_seen(&self, item_id: &[u8], version: i64) -> Result<()> {
        let auth = self.auth()?;
        let old = self
            .tx
            .query_row(
                "SELECT version, mac FROM seen WHERE item_id = ?1",
                [item_id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)),
            )
            .optional()?;
        let version = match old {
            None => version,
            Some((v, mac)) if auth.seen_ok(item_id, v, mac.as_deref()) => v.max(version),
            Some(_) => return Err(tampered(item_id, SEEN_CHANGED)),
        };
        self.tx.execute(
            "INSERT INTO seen (item_id, version, mac) VALUES (?1, ?2, ?3)
             ON CONFLICT(item_id) DO UPDATE SET version = excluded.version, mac = excluded.mac",
            params![item_id, version, auth.seen(item_id, version)],
        )?;
        Ok(())
    }

    /// Delete an item the server deleted (no tombstone is queued: it came from there).
    pub fn purge_remote(&self, id: &ItemId) -> Result<()> {
        self.delete_item(id)
    }

    fn delete_item(&self, id: &ItemId) -> Result<()> {
        self.tx
            .execute("DELETE FROM items WHERE id = ?1", [&id.0[..]])?;
        self.members_changed.set(true);
        Ok(())
    }

    /// Put every current version in the outbox (first upload after linking); each item's row is
    /// checked first.
    pub fn queue_everything(&self) -> Result<()> {
        let ids: Vec<Vec<u8>> = self
            .tx
            .prepare("SELECT id FROM items")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            if let Some(s) = self.state(&id)? {
                self.queue(&id, s.version, false)?;
            }
        }
        Ok(())
    }

    /// Drop outbox entries of an item up to a version (acknowledged or superseded).
    pub fn clear_outbox(&self, item_id: &[u8], up_to: i64) -> Result<()> {
        self.tx.execute(
            "DELETE FROM outbox WHERE item_id = ?1 AND version <= ?2",
            params![item_id, up_to],
        )?;
        Ok(())
    }

    /// Delete one version row (a local edit replaced after a conflict).
    pub fn delete_version(&self, item_id: &[u8], version: i64) -> Result<()> {
        self.tx.execute(
            "DELETE FROM item_versions WHERE item_id = ?1 AND version = ?2",
            params![item_id, version],
        )?;
        Ok(())
    }

    /// Set an item's creation time (an import keeps the original one).
    pub fn set_created_at(&self, id: &ItemId, at: i64) -> Result<()> {
        self.update_state(id, |s| s.created_at = at)
    }

    /// Move to the trash (`Some(time)`) or back out of it (`None`).
    pub fn set_trashed(&self, id: &ItemId, at: Option<i64>) -> Result<()> {
        self.update_state(id, |s| s.trashed_at = at)
    }

    /// Delete an item and its whole history for good (queuing a tombstone when linked).
    pub fn purge(&self, id: &ItemId) -> Result<()> {
        if self.outbox {
            if let Some(s) = self.state(&id.0)? {
                self.queue(&id.0, s.version + 1, true)?;
            }
        }
        self.delete_item(id)
    }

    /// Give every item, outbox and `seen` row its MAC, as the file holds it now, and record the
    /// item count: the first unlock of a vault written before rows carried MACs.
    pub fn authenticate_all(&self) -> Result<()> {
        let auth = self.auth()?;
        let items: Vec<(Vec<u8>, ItemState)> = self
            .tx
            .prepare("SELECT id, version, created_at, trashed_at FROM items")?
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    ItemState {
                        version: r.get(1)?,
                        created_at: r.get(2)?,
                        trashed_at: r.get(3)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self.tx.prepare("UPDATE items SET mac = ?2 WHERE id = ?1")?;
        for (id, s) in &items {
            stmt.execute(params![id, auth.item(id, s)])?;
        }
        let outbox: Vec<(Vec<u8>, i64, bool)> = self
            .tx
            .prepare("SELECT item_id, version, deleted FROM outbox")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self
            .tx
            .prepare("UPDATE outbox SET mac = ?3 WHERE item_id = ?1 AND version = ?2")?;
        for (id, v, deleted) in &outbox {
            stmt.execute(params![id, v, auth.outbox(id, *v, *deleted)])?;
        }
        let seen: Vec<(Vec<u8>, i64)> = self
            .tx
            .prepare("SELECT item_id, version FROM seen")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self
            .tx
            .prepare("UPDATE seen SET mac = ?2 WHERE item_id = ?1")?;
        for (id, v) in &seen {
            stmt.execute(params![id, auth.seen(id, *v)])?;
        }
        self.members_changed.set(true);
        Ok(())
    }

    /// Record the number of items, MACed.
    pub(super) fn record_count(&self) -> Result<()> {
        let n: i64 = self
            .tx
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))?;
        self.put_meta(META_ITEM_COUNT, &self.auth()?.count(n as u64))
    }
}
