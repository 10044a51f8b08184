//! Reading and changing a group's items: its records and keyring, reading one item (reveals
//! and copies are recorded in the team's audit log), sharing a personal item into a group and
//! moving it back out, importing and updating shared items, when a share ends, and who can
//! decrypt an item.
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id};

use super::token::checked_token_view;
use super::{
    group_view, members_of, remote_not_found, seal_item, AccessView, GroupItems, GroupKeyring,
    GroupKeys, GroupView, MemberView, SharedItem, TeamContext,
};
use crate::error::{Error, Result};
use crate::item::{FieldKind, ItemData, ItemId, SecretText};
use crate::totp::TotpSpec;
use crate::vault::{now, Vault};

impl Vault {
    /// The keys of a group you belong to, for opening its versions later.
    pub fn group_keyring(&self, group: &str) -> Result<GroupKeyring> {
        let ctx = self.team_context()?;
        let (keys, _) = self.find_group(&ctx, group)?;
        Ok(GroupKeyring {
            team_id: ctx.team_id,
            keys,
        })
    }

    /// The current sealed record of every item of a group, as the server stores them.
    pub fn group_records(&self, group: &str) -> Result<Vec<proto::ItemRecord>> {
        let ctx = self.team_context()?;
        let (keys, _) = self.find_group(&ctx, group)?;
        self.pull_group(&ctx, &keys)
    }

    /// Every item of a group, decrypted (deleted ones left out); a record that does not open
    /// is named in [`GroupItems::damaged`] and the rest are read. From this device's replica,
    /// brought up to date first when the server is reachable.
    pub fn group_items(&self, group: &str) -> Result<GroupItems> {
        let gid = self.refreshed_group(group)?;
        Ok(self.held_items(gid))
    }

    /// One item of a group by title or id, from this device's replica (brought up to date
    /// first when the server is reachable). With `reveal`, the reveal is first recorded in the
    /// team's audit log, or queued for it while the server is out of reach (sent at the next
    /// sync), so the log tells who saw which secret.
    pub fn group_item(&self, group: &str, item: &str, reveal: bool) -> Result<SharedItem> {
        let gid = self.refreshed_group(group)?;
        let it = self.held_item(gid, item)?;
        if reveal {
            self.record_read(proto::AuditAction::Reveal, &it, gid, "all")?;
        }
        Ok(it)
    }

    /// The value to copy from one field of a shared item (`"notes"` for the notes; a TOTP field,
    /// or `"totp"`, gives its current code, never the seed). The copy is first recorded in the
    /// team's audit log with the field's kind (a fixed name such as `password`, `username`,
    /// `totp` or `custom`, never a label the user typed), or queued for it while the server is
    /// out of reach.
    pub fn group_copy(&self, group: &str, item: &str, field: &str) -> Result<SecretText> {
        let gid = self.refreshed_group(group)?;
        let it = self.held_item(gid, item)?;
        let (value, kind) = copy_value(&it.data, field)?;
        if value.is_empty() {
            return Err(Error::NotFound(format!(
                "a value in the {kind} field of \u{201c}{}\u{201d}",
                it.data.title
            )));
        }
        self.record_read(proto::AuditAction::Copy, &it, gid, kind)?;
        Ok(value)
    }

    /// A group by name or id, its replica brought up to date from the server; with the server
    /// out of reach, the group as this device holds it. While the replica is live
    /// ([`Vault::set_live`]) a group it holds is read as it is, unless the caller's membership
    /// has reached its end (which no change announces: the server decides).
    pub(in crate::vault) fn refreshed_group(&self, group: &str) -> Result<Id> {
        if self.live.get() {
            if let Ok(gid) = self.held_group(group) {
                if self.held_access_open(gid, now()) {
                    return Ok(gid);
                }
            }
        }
        let online = self.team_context().and_then(|ctx| {
            let (keys, _) = self.find_group(&ctx, group)?;
            self.refresh_group(&ctx, &keys)?;
            Ok(keys.info.group_id)
        });
        match online {
            Err(Error::Network(why)) => self.held_group(group).map_err(|_| Error::Network(why)),
            other => other,
        }
    }

    /// Record a reveal or copy of a shared item in the team's audit log; while the server is
    /// out of reach, queue it (sealed on this device) for the next sync.
    fn record_read(
        &self,
        action: proto::AuditAction,
        it: &SharedItem,
        group: Id,
        field: &str,
    ) -> Result<()> {
        let event = proto::ClientEvent {
            action,
            item_id: Id(it.id.0),
            group_id: Some(group),
            field: field.into(),
            at: now(),
        };
        let ctx = self.team_context()?;
        match Self::report_events(&ctx, vec![event.clone()]) {
            Err(Error::Network(_)) => self.queue_event(event),
            other => other,
        }
    }

    /// Share a personal item into a group: it is sealed under the group's current key, pushed to
    /// the group, and removed from your personal items (on every device at the next sync).
    pub fn share(&mut self, item: &str, group: &str) -> Result<SharedItem> {
        let id = self.resolve(item)?;
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        writer(&view, "share into it")?;
        let it = self.get(&id)?;
        let data = it.data.duplicate();
        let secret_changed_at = it.secret_changed_at;
        let gid = keys.info.group_id;
        let current = keys.current()?;
        let blob = seal_item(
            &ctx.team_id,
            &gid,
            current,
            &id,
            1,
            secret_changed_at,
            &data,
        );
        tessera_crypto::scrub_stack();
        let resp: proto::PushResponse = ctx.remote.post(
            &format!("/v1/groups/{}/sync", view.id),
            &proto::PushRequest {
                changes: vec![proto::PushChange {
                    item_id: Id(id.0),
                    base_version: 0,
                    version: 1,
                    deleted: false,
                    blob: Blob(blob),
                }],
            },
        )?;
        if let Some(proto::PushResult::Conflict { .. }) = resp.results.first() {
            return Err(Error::Invalid(format!(
                "item {id} is already in group {}",
                view.name
            )));
        }
        self.sign_group_manifest(&ctx, &keys)?;
        if self.get(&id)?.trashed_at.is_none() {
            self.trash(&id)?;
        }
        self.purge(&id)?;
        Ok(SharedItem {
            group_id: view.id,
            id,
            version: 1,
            epoch: current.0,
            updated_at: now(),
            secret_changed_at,
            data,
        })
    }

    /// Add new items straight into a group (an import; editors and admins), in batches.
    /// Returns their ids.
    pub fn group_import(&self, group: &str, items: &[ItemData]) -> Result<Vec<ItemId>> {
        for d in items {
            d.validate()?;
        }
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        let current = keys.current()?;
        let t = now();
        let mut ids = Vec::with_capacity(items.len());
        for chunk in items.chunks(proto::limits::PUSH_CHANGES) {
            let changes = chunk
                .iter()
                .map(|d| {
                    let id = ItemId::random();
                    ids.push(id);
                    let blob = seal_item(&ctx.team_id, &keys.info.group_id, current, &id, 1, t, d);
                    proto::PushChange {
                        item_id: Id(id.0),
                        base_version: 0,
                        version: 1,
                        deleted: false,
                        blob: Blob(blob),
                    }
                })
                .collect();
            tessera_crypto::scrub_stack();
            let _: proto::PushResponse = ctx.remote.post(
                &format!("/v1/groups/{}/sync", view.id),
                &proto::PushRequest { changes },
            )?;
        }
        self.sign_group_manifest(&ctx, &keys)?;
        Ok(ids)
    }

    /// Find a shared item by id or title in one group, its replica brought up to date first.
    fn find_shared(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
        item: &str,
    ) -> Result<(SharedItem, i64)> {
        self.refresh_group(ctx, keys)?;
        let it = self.held_item(keys.info.group_id, item)?;
        let changed = it.secret_changed_at;
        Ok((it, changed))
    }

    /// Write a new version of a shared item (editors and admins), sealed under the group's
    /// newest key. Returns the new version.
    pub fn group_update(&self, group: &str, item: &str, data: &ItemData) -> Result<u64> {
        data.validate()?;
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        writer(&view, "change its items")?;
        let (old, old_changed) = self.find_shared(&ctx, &keys, item)?;
        let version = old.version + 1;
        let changed = if old.data.secrets_equal(data) {
            old_changed
        } else {
            now()
        };
        let blob = seal_item(
            &ctx.team_id,
            &keys.info.group_id,
            keys.current()?,
            &old.id,
            version,
            changed,
            data,
        );
        tessera_crypto::scrub_stack();
        let resp: proto::PushResponse = ctx.remote.post(
            &format!("/v1/groups/{}/sync", view.id),
            &proto::PushRequest {
                changes: vec![proto::PushChange {
                    item_id: Id(old.id.0),
                    base_version: old.version,
                    version,
                    deleted: false,
                    blob: Blob(blob),
                }],
            },
        )?;
        match resp.results.first() {
            Some(proto::PushResult::Applied { version, .. }) => {
                self.sign_group_manifest(&ctx, &keys)?;
                Ok(*version)
            }
            _ => Err(Error::Invalid(format!(
                "item {} changed on the server meanwhile; try again",
                old.id
            ))),
        }
    }

    /// Move a shared item out of a group back into your personal items (a new personal item;
    /// the group's copy is deleted). Returns the new personal item's id.
    pub fn unshare(&mut self, item: &str, group: &str) -> Result<ItemId> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        writer(&view, "move items out of it")?;
        let (shared, _) = self.find_shared(&ctx, &keys, item)?;
        self.push_tombstone(&ctx, &keys, &view, &shared)?;
        self.add(shared.data)
    }

    /// Delete a shared item from its group, for every member (editors and admins; a viewer is
    /// refused before anything is sent). Returns its id.
    pub fn group_delete(&self, group: &str, item: &str) -> Result<ItemId> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        writer(&view, "delete items from it")?;
        let (shared, _) = self.find_shared(&ctx, &keys, item)?;
        self.push_tombstone(&ctx, &keys, &view, &shared)?;
        Ok(shared.id)
    }

    /// Push the deletion of a shared item and sign the group's manifest again.
    fn push_tombstone(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
        view: &GroupView,
        shared: &SharedItem,
    ) -> Result<()> {
        let resp: proto::PushResponse = ctx.remote.post(
            &format!("/v1/groups/{}/sync", view.id),
            &proto::PushRequest {
                changes: vec![proto::PushChange {
                    item_id: Id(shared.id.0),
                    base_version: shared.version,
                    version: shared.version + 1,
                    deleted: true,
                    blob: Blob::default(),
                }],
            },
        )?;
        if !matches!(
            resp.results.first(),
            Some(proto::PushResult::Applied { .. })
        ) {
            return Err(Error::Invalid(format!(
                "item {} changed on the server meanwhile; try again",
                shared.id
            )));
        }
        self.sign_group_manifest(ctx, keys)
    }

    /// Who can decrypt an item: for a personal item, only you; for a shared one, every live
    /// member of its group with role and expiry, as the group's verified log has them (not as
    /// the server lists them), and the group's live machine tokens, each checked against its
    /// creator's certificate.
    pub fn access(&self, item: &str) -> Result<AccessView> {
        if let Ok(id) = self.resolve(item) {
            let it = self.get(&id)?;
            let me = self.link_info()?.map_or_else(|| "you".into(), |l| l.email);
            return Ok(AccessView {
                item_id: id.to_hex(),
                title: it.data.title.clone(),
                group: None,
                members: vec![MemberView {
                    account_id: ItemId(self.account_id()).to_hex(),
                    email: me,
                    role: GroupRole::Admin,
                    expires_at: None,
                }],
                tokens: Vec::new(),
                share_expires_at: None,
            });
        }
        let ctx = self.team_context()?;
        // Find the shared item among your groups (by id or title), each brought up to date.
        let q = item.trim().to_lowercase();
        let groups = self.fetch_groups(&ctx)?;
        let mut found = Vec::new();
        for g in &groups {
            self.refresh_group(&ctx, g)?;
            for it in self.held_items(g.info.group_id).items {
                if it.id.to_hex() == q || it.data.title.to_lowercase() == q {
                    found.push((it.id, it.data.title.clone(), g));
                }
            }
        }
        let (id, title, g) = match found.len() {
            0 => return Err(Error::NotFound(format!("no item {item:?}"))),
            1 => found.pop().expect("one"),
            count => {
                return Err(Error::Ambiguous {
                    query: item.to_owned(),
                    count,
                })
            }
        };
        let a: proto::AccessResponse = ctx
            .remote
            .get(&format!("/v1/items/{}/access", Id(id.0)))
            .map_err(|e| remote_not_found(e, item))?;
        if a.group_id != g.info.group_id {
            return Err(Error::Untrusted {
                who: "the server".into(),
                why: format!(
                    "it says item {} is in group {}, but this device found it in group {}",
                    id.to_hex(),
                    a.group_id,
                    g.info.group_id
                ),
            });
        }
        let directory = Vault::directory(&ctx)?;
        Ok(AccessView {
            item_id: id.to_hex(),
            title,
            group: Some(group_view(&ctx.team_id, g)?),
            members: members_of(&ctx, g)?,
            tokens: a
                .tokens
                .iter()
                .map(|t| checked_token_view(&ctx, g, &directory, t))
                .collect(),
            share_expires_at: a.share_expires_at,
        })
    }

    /// Set or clear when a shared item's share ends (editors and admins of its group). After
    /// the end the group's viewers and editors no longer get it; its admins still do.
    pub fn set_share_expiry(&self, item: &str, group: &str, expires_at: Option<i64>) -> Result<()> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        let (it, _) = self.find_shared(&ctx, &keys, item)?;
        let _: serde_json::Value = ctx.remote.put(
            &format!("/v1/groups/{}/items/{}/share", view.id, it.id.to_hex()),
            &proto::ShareExpiryRequest { expires_at },
        )?;
        Ok(())
    }
}

/// Refuse a viewer of `view` before anything is sent: only editors and admins `what`.
fn writer(view: &GroupView, what: &str) -> Result<()> {
    if view.role.can_write() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "you are a viewer of {}; only editors and admins can {what}",
        view.name
    )))
}

/// The value to copy from `field` of `data` and the fixed name of its kind for the audit log:
/// the template's field name (`password`, `username`...), `totp`, `notes`, else `custom`.
fn copy_value(data: &ItemData, field: &str) -> Result<(SecretText, &'static str)> {
    if field == "notes" && data.field("notes").is_none() {
        return Ok((data.notes.duplicate(), "notes"));
    }
    let found = data.field(field).or_else(|| {
        (field == "totp")
            .then(|| data.fields.iter().find(|f| f.kind == FieldKind::Totp))
            .flatten()
    });
    let Some(f) = found else {
        return Err(Error::NotFound(format!(
            "a field {field} in \u{201c}{}\u{201d}",
            data.title
        )));
    };
    if f.kind == FieldKind::Totp {
        let code = TotpSpec::parse(f.value.expose_secret())?.now().0;
        return Ok((SecretText::new(code), "totp"));
    }
    let kind = data
        .kind
        .template()
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&f.name))
        .map_or("custom", |(n, _)| *n);
    Ok((f.value.duplicate(), kind))
}

#[cfg(test)]
mod copy_tests {
    use super::*;
    use crate::item::{Field, ItemKind};

    #[test]
    fn copy_names_the_field_kind_never_the_label() {
        let mut data = ItemData::new(ItemKind::Login, "db");
        data.fields
            .push(Field::new("Password", FieldKind::Concealed, "pw"));
        data.fields
            .push(Field::new("my secret pin", FieldKind::Concealed, "1234"));
        data.fields
            .push(Field::new("otp", FieldKind::Totp, "JBSWY3DPEHPK3PXP"));
        data.notes = SecretText::new("n".into());
        let (v, k) = copy_value(&data, "Password").unwrap();
        assert_eq!((v.expose_secret(), k), ("pw", "password"));
        let (v, k) = copy_value(&data, "my secret pin").unwrap();
        assert_eq!((v.expose_secret(), k), ("1234", "custom"));
        let (v, k) = copy_value(&data, "totp").unwrap();
        assert_eq!((v.expose_secret().len(), k), (6, "totp"));
        assert_eq!(copy_value(&data, "notes").unwrap().1, "notes");
        assert!(matches!(copy_value(&data, "nope"), Err(Error::NotFound(_))));
    }
}
