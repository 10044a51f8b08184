//! Linking a vault to a team server, and syncing it.
//!
//! The account's id *is* the vault id and its keyset the vault's keyset, so every sealed item
//! version is valid on every device of the account as it is: the server stores the sealed rows
//! (item key, content, timestamps) without being able to open them, and a new device rebuilds
//! the same vault from the header and wrapped keyset the server keeps for it.
//!
//! Sync is offline-first: every local write lands in the outbox in the same transaction; `sync`
//! pulls changes since the cursor, then pushes the outbox. A push based on an old version comes
//! back as a conflict with the server's version: fields edited on one side only merge; when both
//! sides changed the same field, the server's version stays and the local one is kept as a
//! conflict copy, so no edit is ever dropped. A version older than one already seen is refused
//! (rollback), and a sealed version that does not authenticate names its item.
use serde::{Deserialize, Serialize};
use tessera_crypto::envelope::{self, associated_data, Sealed};
use tessera_crypto::{kdf, AccountSecretKey};
use tessera_protocol as proto;
use tessera_protocol::{Blob, Id};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{now, Header, Vault, META_HEADER};
use crate::error::{Error, Result};
use crate::item::{ItemData, ItemId, SecretText};
use crate::remote::Remote;
use crate::store::{Store, VersionRow};

const META_LINK: &str = "link";

/// What the vault remembers about its team server; sealed with the vault key at rest.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct Link {
    server: String,
    team_id: String,
    email: String,
    device_name: String,
    session_token: String,
    session_id: String,
    root_public: Vec<u8>,
    #[zeroize(skip)]
    cursor: u64,
    /// The server holds this account's signed pin of `root_public` (sent once per device:
    /// accounts made before pins existed get theirs from the first device that syncs).
    #[zeroize(skip)]
    #[serde(default)]
    root_pin_sent: bool,
}

/// The public part of the link, for status displays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkInfo {
    /// The server URL.
    pub server: String,
    /// The team id.
    pub team_id: String,
    /// The account e-mail.
    pub email: String,
    /// This device's name.
    pub device_name: String,
    /// SHA-256 fingerprint of the pinned team root key.
    pub root_fingerprint: String,
    /// Changes waiting to be pushed.
    pub pending: usize,
}

/// Who is signing in, from where: the account e-mail, this device's name, and the two secrets.
#[derive(Debug)]
pub struct Credentials<'a> {
    /// The account e-mail.
    pub email: &'a str,
    /// A name for this device.
    pub device: &'a str,
    /// The master password.
    pub password: &'a [u8],
    /// The Account Secret Key.
    pub secret_key: &'a AccountSecretKey,
}

/// What a sync did.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct SyncReport {
    /// Versions received from the server.
    pub pulled: usize,
    /// Local changes the server accepted.
    pub pushed: usize,
    /// Items edited on both sides whose edits were merged field by field.
    pub merged: Vec<String>,
    /// Items whose local edit collided with the server's and was kept as a copy.
    pub kept_both: Vec<String>,
    /// Records of shared items that changed in this device's replica of the groups.
    #[serde(default)]
    pub shared: usize,
    /// Groups this device refuses (their log or keys do not verify), each with why; their
    /// copy here stays as it was.
    #[serde(default)]
    pub refused_groups: Vec<String>,
    /// Reveals and copies made offline that reached the team's audit log.
    #[serde(default)]
    pub events_sent: usize,
}

/// SHA-256 fingerprint of a team root key, as `SHA256:<base64>`.
pub fn root_fingerprint(root_public: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(root_public))
    )
}

/// Encode a stored version for the server: `format | created_at | secret_changed_at |
/// u32 len item_key | item_key | content` (big endian). Everything in it is sealed or metadata
/// the sealing binds.
fn encode_row(row: &VersionRow) -> Vec<u8> {
    let mut b = Vec::with_capacity(21 + row.item_key.len() + row.content.len());
    b.push(u8::try_from(row.format).unwrap_or(0));
    b.extend_from_slice(&row.created_at.to_be_bytes());
    b.extend_from_slice(&row.secret_changed_at.to_be_bytes());
    b.extend_from_slice(&u32::try_from(row.item_key.len()).unwrap_or(0).to_be_bytes());
    b.extend_from_slice(&row.item_key);
    b.extend_from_slice(&row.content);
    b
}

fn decode_row(rec: &proto::ItemRecord) -> Result<VersionRow> {
    let bad = || Error::Tampered {
        item: rec.item_id.to_hex(),
    };
    let b = &rec.blob.0;
    if b.len() < 21 {
        return Err(bad());
    }
    let i64_at = |i: usize| i64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let key_len = u32::from_be_bytes(b[17..21].try_into().expect("4 bytes")) as usize;
    let key_end = 21usize
        .checked_add(key_len)
        .filter(|e| *e <= b.len())
        .ok_or_else(bad)?;
    Ok(VersionRow {
        item_id: rec.item_id.0.to_vec(),
        version: i64::try_from(rec.version).map_err(|_| bad())?,
        created_at: i64_at(1),
        secret_changed_at: i64_at(9),
        format: i64::from(b[0]),
        item_key: b[21..key_end].to_vec(),
        content: b[key_end..].to_vec(),
    })
}

impl Vault {
    fn link_ad(&self) -> Vec<u8> {
        associated_data("tessera link", &[&self.header.vault_id])
    }

    fn read_link(&self) -> Result<Option<Link>> {
        let Some(raw) = self.store.meta(META_LINK)? else {
            return Ok(None);
        };
        let sealed = Sealed::from_bytes(raw)
            .map_err(|_| Error::TamperedHeader("the server link is truncated".into()))?;
        let plain = envelope::open(self.keyset.vault_key(), &sealed, &self.link_ad())
            .map_err(|_| Error::TamperedHeader("the server link does not authenticate".into()))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| Error::TamperedHeader("the server link is damaged".into()))
    }

    fn write_link(&mut self, link: &Link) -> Result<()> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(link).map_err(|e| Error::Invalid(e.to_string()))?,
        );
        let sealed = envelope::seal(self.keyset.vault_key(), &plain, &self.link_ad());
        self.store
            .write(|w| w.put_meta(META_LINK, sealed.as_bytes()))
    }

    fn remote(&self) -> Result<(Remote, Link)> {
        let link = self.read_link()?.ok_or_else(|| {
            Error::Invalid("this vault is not linked to a team server; run `tessera team create`, `team join` or `login`".into())
        })?;
        let remote = Remote::new(&link.server, Some(link.session_token.clone()))?;
        Ok((remote, link))
    }

    /// The team id of the server link, if the vault is linked.
    pub(super) fn team_id(&self) -> Result<Option<[u8; 16]>> {
        let Some(link) = self.read_link()? else {
            return Ok(None);
        };
        Id::parse(&link.team_id)
            .map(|id| Some(id.0))
            .ok_or_else(|| Error::TamperedHeader("the server link is damaged".into()))
    }

    /// The server connection, team id and pinned root key, for the group code.
    pub(super) fn team_context(&self) -> Result<super::groups::TeamContext> {
        let (remote, link) = self.remote()?;
        let damaged = || Error::TamperedHeader("the server link is damaged".into());
        let team_id = Id::parse(&link.team_id).ok_or_else(damaged)?.0;
        let root: [u8; 32] = link
            .root_public
            .as_slice()
            .try_into()
            .map_err(|_| damaged())?;
        Ok(super::groups::TeamContext {
            remote,
            team_id,
            root,
        })
    }

    /// Turn the outbox on when a link exists (called at unlock).
    pub(super) fn enable_outbox_if_linked(&mut self) -> Result<()> {
        let linked = self.store.meta(META_LINK)?.is_some();
        self.store.set_outbox(linked);
        Ok(())
    }

    /// The server link, if any.
    pub fn link_info(&self) -> Result<Option<LinkInfo>> {
        Ok(self.read_link()?.map(|l| LinkInfo {
            server: l.server.clone(),
            team_id: l.team_id.clone(),
            email: l.email.clone(),
            device_name: l.device_name.clone(),
            root_fingerprint: root_fingerprint(&l.root_public),
            pending: self.store.outbox().map_or(0, |o| o.len()),
        }))
    }

    /// This vault as a new account for the server: its keys, KDF parameters and auth key.
    fn new_account(&self, c: &Credentials<'_>) -> Result<proto::NewAccount> {
        let h = &self.header;
        let mk = kdf::derive_master_key(c.password, c.secret_key, &h.salt, h.kdf)?;
        let auth = mk.auth_key();
        // The password must be this vault's: the keyset must unwrap with it.
        let kek = mk.encryption_key();
        let (_, sealed) = super::read_header(&self.store)?;
        tessera_crypto::keyset::Keyset::unwrap(&kek, &sealed, &super::keyset_ad(h))
            .map_err(|_| Error::WrongPassword)?;
        Ok(proto::NewAccount {
            account_id: Id(h.vault_id),
            email: c.email.trim().to_owned(),
            device_name: c.device.trim().to_owned(),
            auth_key: Blob(auth.expose_secret().to_vec()),
            kdf: proto::KdfInfo {
                memory_kib: h.kdf.memory_kib,
                iterations: h.kdf.iterations,
                parallelism: h.kdf.parallelism,
                salt: Blob(h.salt.to_vec()),
            },
            keys: proto::AccountKeys {
                exchange_public: Blob(self.keyset.exchange_public().to_vec()),
                signing_public: Blob(self.keyset.signing_public().to_vec()),
                header: Blob(h.encode()),
                wrapped_keyset: Blob(sealed.into_bytes()),
            },
        })
    }

    fn adopt_login(
        &mut self,
        server: &str,
        c: &Credentials<'_>,
        resp: &proto::LoginResponse,
    ) -> Result<()> {
        let link = Link {
            server: server.trim_end_matches('/').to_owned(),
            team_id: resp.team_id.to_hex(),
            email: c.email.trim().to_owned(),
            device_name: c.device.trim().to_owned(),
            session_token: resp.session.token.clone(),
            session_id: resp.session.session_id.to_hex(),
            root_public: resp.root_public.0.clone(),
            cursor: 0,
            root_pin_sent: false,
        };
        self.write_link(&link)?;
        self.store.set_outbox(true);
        // A closure, not the method path: the writer's lifetime must stay generic.
        #[allow(clippy::redundant_closure_for_method_calls)]
        self.store.write(|w| w.queue_everything())
    }

    /// Create a team on `server` with this vault's owner as its first admin. The client
    /// generates the team root signing key; its private half is kept sealed in this vault.
    pub fn create_team(&mut self, server: &str, c: &Credentials<'_>) -> Result<LinkInfo> {
        self.refuse_if_linked()?;
        let root = ed25519_dalek::SigningKey::from_bytes(&random32());
        let request = proto::CreateTeamRequest {
            root_public: Blob(root.verifying_key().to_bytes().to_vec()),
            admin: self.new_account(c)?,
        };
        let root_ad = associated_data("tessera team root", &[&self.header.vault_id]);
        let sealed_root = envelope::seal(self.keyset.vault_key(), root.as_bytes(), &root_ad);
        let resp: proto::LoginResponse = Remote::new(server, None)?.post("/v1/teams", &request)?;
        self.store
            .write(|w| w.put_meta("team_root", sealed_root.as_bytes()))?;
        self.adopt_login(server, c, &resp)?;
        self.send_root_pin()?;
        self.link_info()?
            .ok_or_else(|| Error::Database("the link was not saved".into()))
    }

    /// Join a team with an invitation; `expected_fingerprint` (from the invitation) is pinned:
    /// a server presenting another root key is refused.
    pub fn join_team(
        &mut self,
        server: &str,
        invite_token: &str,
        expected_fingerprint: &str,
        c: &Credentials<'_>,
    ) -> Result<LinkInfo> {
        self.refuse_if_linked()?;
        let request = proto::JoinRequest {
            invite_token: invite_token.trim().to_owned(),
            account: self.new_account(c)?,
        };
        let resp: proto::LoginResponse = Remote::new(server, None)?.post("/v1/join", &request)?;
        let got = root_fingerprint(&resp.root_public.0);
        if !same_fingerprint(&got, expected_fingerprint) {
            return Err(Error::Invalid(format!(
                "the server presented team root key {got}, not the {expected_fingerprint} of the invitation; not joining (the server may be impersonated)"
            )));
        }
        self.adopt_login(server, c, &resp)?;
        self.send_root_pin()?;
        self.link_info()?
            .ok_or_else(|| Error::Database("the link was not saved".into()))
    }

    /// Sign this account's pin of the linked team root and hand it to the server, once.
    pub(super) fn send_root_pin(&mut self) -> Result<()> {
        let (remote, mut link) = self.remote()?;
        if link.root_pin_sent {
            return Ok(());
        }
        let statement = proto::RootPin::statement(Id(self.header.vault_id), &link.root_public);
        let pin = proto::RootPin {
            root_public: Blob(link.root_public.clone()),
            signature: Blob(
                tessera_crypto::statement::sign(
                    &self.keyset,
                    tessera_crypto::statement::TEAM_PIN,
                    &statement,
                )
                .to_vec(),
            ),
        };
        let () = remote.put("/v1/account/root-pin", &pin)?;
        link.root_pin_sent = true;
        self.write_link(&link)
    }

    fn refuse_if_linked(&self) -> Result<()> {
        if let Some(l) = self.read_link()? {
            return Err(Error::Invalid(format!(
                "this vault is already linked to {} as {}; `tessera logout` first",
                l.server, l.email
            )));
        }
        Ok(())
    }

    /// Open the server's change stream for this account, if the vault is linked.
    pub fn change_events(&self) -> Result<Option<crate::remote::ChangeEvents>> {
        if self.store.meta(META_LINK)?.is_none() {
            return Ok(None);
        }
        let (remote, _) = self.remote()?;
        remote.events().map(Some)
    }

    /// Invite someone to the team (admins only).
    pub fn invite(&self, email: &str) -> Result<proto::InviteResponse> {
        let (remote, link) = self.remote()?;
        remote.post(
            &format!("/v1/teams/{}/invites", link.team_id),
            &proto::InviteRequest {
                email: email.trim().to_owned(),
            },
        )
    }

    /// The account's signed-in devices.
    pub fn devices(&self) -> Result<Vec<proto::DeviceInfo>> {
        let (remote, _) = self.remote()?;
        remote.get("/v1/sessions")
    }

    /// Sign a device out (its session is revoked at once).
    pub fn revoke_device(&self, session_id: &str) -> Result<()> {
        let (remote, _) = self.remote()?;
        let id = Id::parse(session_id.trim())
            .ok_or_else(|| Error::Invalid(format!("{session_id:?} is not a session id")))?;
        remote.call_empty("DELETE", &format!("/v1/sessions/{id}"))
    }

    /// Start TOTP enrolment.
    pub fn mfa_enrol(&self) -> Result<proto::MfaEnrolResponse> {
        let (remote, _) = self.remote()?;
        remote.post("/v1/mfa/enrol", &serde_json::json!({}))
    }

    /// Confirm enrolment with a first code; returns the recovery codes.
    pub fn mfa_confirm(&self, code: &str) -> Result<proto::MfaConfirmResponse> {
        let (remote, _) = self.remote()?;
        remote.post(
            "/v1/mfa/confirm",
            &proto::MfaCodeRequest {
                code: code.trim().to_owned(),
            },
        )
    }

    /// Turn the second factor off (needs a current code).
    pub fn mfa_disable(&self, code: &str) -> Result<()> {
        let (remote, _) = self.remote()?;
        let _: serde_json::Value = remote.post(
            "/v1/mfa/disable",
            &proto::MfaCodeRequest {
                code: code.trim().to_owned(),
            },
        )?;
        Ok(())
    }

    /// Sign this device out and unlink the vault (local items stay).
    pub fn logout(&mut self) -> Result<()> {
        let (remote, _) = self.remote()?;
        match remote.call_empty("POST", "/v1/logout") {
            Ok(()) | Err(Error::Remote { status: 401, .. }) => {}
            Err(e) => return Err(e),
        }
        self.store.write(|w| w.delete_meta(META_LINK))?;
        self.store.set_outbox(false);
        Ok(())
    }

    /// Pull the server's changes, then push the outbox; merge conflicts.
    pub fn sync(&mut self) -> Result<SyncReport> {
        self.send_root_pin()?;
        let (remote, mut link) = self.remote()?;
        let mut report = SyncReport::default();
        let mut changed = Vec::new();
        let served = self.pull_all(&remote, &mut link, &mut report, &mut changed)?;
        self.push_outbox(&remote, &mut report, &mut changed)?;
        // The manifest names every version its writer committed; one not received yet may be a
        // change that landed during this sync: pull once more before calling it withheld.
        if !self.personal_manifest(&remote, served.as_ref(), false)? {
            let served = self.pull_all(&remote, &mut link, &mut report, &mut changed)?;
            self.personal_manifest(&remote, served.as_ref(), true)?;
        }
        self.refresh(&changed)?;
        self.pull_groups(&mut report)?;
        Ok(report)
    }

    /// Pull every change since the link's cursor; the manifest the last page carried.
    fn pull_all(
        &mut self,
        remote: &Remote,
        link: &mut Link,
        report: &mut SyncReport,
        changed: &mut Vec<ItemId>,
    ) -> Result<Option<proto::SignedManifest>> {
        loop {
            let page: proto::PullResponse =
                remote.get(&format!("/v1/sync?since={}", link.cursor))?;
            report.pulled += self.apply_pulled(&page.changes, changed)?;
            link.cursor = page.cursor;
            if !page.more {
                self.write_link(link)?;
                return Ok(page.manifest);
            }
        }
    }

    /// Push the outbox; conflicts merge or are kept as copies.
    fn push_outbox(
        &mut self,
        remote: &Remote,
        report: &mut SyncReport,
        changed: &mut Vec<ItemId>,
    ) -> Result<()> {
        for _round in 0..5 {
            let outbox = self.store.outbox()?;
            if outbox.is_empty() {
                break;
            }
            let mut changes = Vec::with_capacity(outbox.len());
            for e in &outbox {
                let id = Id(e
                    .item_id
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::Database("bad id in the outbox".into()))?);
                let blob = if e.deleted {
                    Blob::default()
                } else {
                    match self.store.version(&e.item_id, e.version)? {
                        Some(row) => Blob(encode_row(&row)),
                        // Superseded locally (a conflict rewrote it): drop the entry.
                        None => {
                            self.store
                                .write(|w| w.clear_outbox(&e.item_id, e.version))?;
                            continue;
                        }
                    }
                };
                changes.push(proto::PushChange {
                    item_id: id,
                    base_version: (e.version as u64).saturating_sub(1),
                    version: e.version as u64,
                    deleted: e.deleted,
                    blob,
                });
            }
            if changes.is_empty() {
                break;
            }
            let mut all_applied = true;
            for chunk in changes.chunks(proto::limits::PUSH_CHANGES) {
                let resp: proto::PushResponse = remote.post(
                    "/v1/sync",
                    &proto::PushRequest {
                        changes: chunk.to_vec(),
                    },
                )?;
                // Acknowledgements are recorded in one transaction; conflicts after it.
                let mut conflicts = Vec::new();
                let mut acked = Vec::new();
                for result in resp.results {
                    match result {
                        proto::PushResult::Applied {
                            item_id, version, ..
                        } => acked.push((item_id, version as i64)),
                        proto::PushResult::Conflict { current } => conflicts.push(current),
                    }
                }
                report.pushed += acked.len();
                self.store.write(|w| {
                    for (id, v) in &acked {
                        w.clear_outbox(&id.0, *v)?;
                        w.set_seen(&id.0, *v)?;
                    }
                    Ok(())
                })?;
                all_applied &= conflicts.is_empty();
                for current in &conflicts {
                    self.resolve_conflict(current, report, changed)?;
                }
            }
            if all_applied {
                break;
            }
        }
        Ok(())
    }

    /// Re-read changed items from the store into memory and the search index.
    fn refresh(&mut self, ids: &[ItemId]) -> Result<()> {
        for id in ids {
            let opened = match self.store.current_row(&id.0)? {
                Some(cur) => Some(self.sealer().open_item(self.store.auth()?, &cur)),
                None => None,
            };
            match opened {
                Some(Ok(item)) => {
                    self.items.insert(*id, item);
                    self.damaged.remove(&id.to_hex());
                    self.reindex(id);
                }
                Some(Err(damage)) => {
                    self.items.remove(id);
                    self.index.borrow_mut().remove(*id);
                    self.damaged.insert(id.to_hex(), damage);
                }
                None => {
                    self.items.remove(id);
                    self.index.borrow_mut().remove(*id);
                }
            }
        }
        tessera_crypto::scrub_stack();
        Ok(())
    }

    /// Apply pulled records; returns how many changed something here.
    fn apply_pulled(
        &mut self,
        records: &[proto::ItemRecord],
        changed: &mut Vec<ItemId>,
    ) -> Result<usize> {
        let (seen, local) = self.store.sync_states()?;
        let pending: std::collections::HashSet<Vec<u8>> = self
            .store
            .outbox()?
            .into_iter()
            .map(|e| e.item_id)
            .collect();
        // Decide and authenticate everything first; then write the page in one transaction.
        let mut rows = Vec::new();
        let mut purges = Vec::new();
        let mut seen_only = Vec::new();
        let sealer = self.sealer();
        for rec in records {
            let key = rec.item_id.0.to_vec();
            let version = rec.version as i64;
            if let Some(s) = seen.get(&key)? {
                if version < s {
                    return Err(Error::Rollback {
                        item: rec.item_id.to_hex(),
                        offered: rec.version,
                        seen: s as u64,
                    });
                }
            }
            let is_pending = pending.contains(&key);
            let here = local.get(&key).copied();
            if rec.deleted {
                if here.is_some() && !is_pending {
                    purges.push(ItemId(rec.item_id.0));
                }
                seen_only.push((key, version));
                continue;
            }
            let row = decode_row(rec)?;
            // Authenticate before storing: a swapped or altered version names its item.
            sealer.open_version(&row)?;
            if is_pending {
                // A local edit waits: the push will come back as a conflict and merge.
                continue;
            }
            if here.is_some_and(|l| l >= version) {
                seen_only.push((key, version));
            } else {
                rows.push(row);
            }
        }
        tessera_crypto::scrub_stack();
        let applied = rows.len() + purges.len();
        changed.extend(purges.iter().copied());
        changed.extend(rows.iter().filter_map(|r| ItemId::from_slice(&r.item_id)));
        self.store.write(|w| {
            for row in &rows {
                w.put_remote_version(row)?;
            }
            for id in &purges {
                w.purge_remote(id)?;
            }
            for (id, v) in &seen_only {
                w.set_seen(id, *v)?;
            }
            Ok(())
        })?;
        Ok(applied)
    }

    /// The server holds a newer version than the one a local edit was based on.
    fn resolve_conflict(
        &mut self,
        current: &proto::ItemRecord,
        report: &mut SyncReport,
        changed: &mut Vec<ItemId>,
    ) -> Result<()> {
        let id = ItemId(current.item_id.0);
        changed.push(id);
        let outbox = self.store.outbox()?;
        let mine: Vec<i64> = outbox
            .iter()
            .filter(|e| e.item_id == id.0)
            .map(|e| e.version)
            .collect();
        let base_version = mine.iter().min().map_or(0, |v| v - 1);
        let local_version = mine.iter().max().copied().unwrap_or(0);
        let sealer = self.sealer();
        let local_row = self.store.version(&id.0, local_version)?;
        let local = local_row
            .as_ref()
            .map(|r| sealer.open_version(r))
            .transpose()?;
        let base = self
            .store
            .version(&id.0, base_version)?
            .map(|r| sealer.open_version(&r))
            .transpose()?;
        if current.deleted {
            // Deleted on the server, edited here: keep the local edit as a new item.
            self.store.write(|w| {
                for v in &mine {
                    w.clear_outbox(&id.0, *v)?;
                }
                w.set_seen(&id.0, current.version as i64)?;
                w.purge_remote(&id)
            })?;
            if let Some(data) = local {
                report.kept_both.push(data.title.clone());
                self.add(data)?;
            }
            return Ok(());
        }
        let server_row = decode_row(current)?;
        let server = sealer.open_version(&server_row)?;
        let merged = match (&local, &base) {
            (Some(l), Some(b)) => merge(b, l, &server),
            (Some(l), None) => {
                if l == &server {
                    Some(server.duplicate())
                } else {
                    None
                }
            }
            (None, _) => Some(server.duplicate()),
        };
        let t = now();
        let next = current.version + 1;
        // Replace the local, unacknowledged versions by the server's, then add the outcome.
        self.store.write(|w| {
            for v in &mine {
                w.clear_outbox(&id.0, *v)?;
                w.delete_version(&id.0, *v)?;
            }
            w.put_remote_version(&server_row)
        })?;
        match merged {
            Some(m) if m != server => {
                let secret_changed_at = if m.secrets_equal(&server) {
                    server_row.secret_changed_at
                } else {
                    t
                };
                let row = self
                    .sealer()
                    .seal_version(&id, next, t, secret_changed_at, &m);
                self.store.write(|w| w.put_version(&row))?;
                report.merged.push(m.title.clone());
            }
            Some(_) => {}
            None => {
                let mut copy = local.expect("a collision has a local side");
                copy.title = format!("{} (conflict copy)", copy.title);
                report.kept_both.push(copy.title.clone());
                let copy_id = ItemId::random();
                changed.push(copy_id);
                let row = self.sealer().seal_version(&copy_id, 1, t, t, &copy);
                self.store.write(|w| w.put_version(&row))?;
            }
        }
        Ok(())
    }

    /// Sign in on a new device: fetch the account from the server, build this device's vault
    /// at `path` from it, then pull everything. `code` is a TOTP or recovery code for accounts
    /// with a second factor.
    ///
    /// The team root the server presents is trusted only when the account's own signed pin
    /// (made by a device that joined or created the team) names it, or it has the fingerprint
    /// `expected_root` the user gave; otherwise nothing is signed in ([`Error::TeamRoot`]).
    pub fn login_new_device(
        path: &std::path::Path,
        server: &str,
        c: &Credentials<'_>,
        code: Option<&SecretText>,
        expected_root: Option<&str>,
    ) -> Result<Vault> {
        let anon = Remote::new(server, None)?;
        let pre: proto::PreloginResponse = anon.post(
            "/v1/prelogin",
            &proto::PreloginRequest {
                email: c.email.trim().to_owned(),
            },
        )?;
        let params = kdf::KdfParams {
            memory_kib: pre.kdf.memory_kib,
            iterations: pre.kdf.iterations,
            parallelism: pre.kdf.parallelism,
        };
        // Never accept parameters below this client's floor, whatever the server says.
        params.check()?;
        let salt: [u8; kdf::SALT_LEN] = pre
            .kdf
            .salt
            .0
            .as_slice()
            .try_into()
            .map_err(|_| Error::Network("the server sent a malformed salt".into()))?;
        let auth = kdf::derive_master_key(c.password, c.secret_key, &salt, params)?.auth_key();
        let request = proto::LoginRequest {
            email: c.email.trim().to_owned(),
            auth_key: Blob(auth.expose_secret().to_vec()),
            totp: code.map(|t| t.expose_secret().to_owned()),
            device_name: c.device.trim().to_owned(),
        };
        let resp: proto::LoginResponse = anon.post("/v1/login", &request)?;
        let header = Header::decode(&resp.keys.header.0)?;
        if header.vault_id != resp.account_id.0 {
            return Err(Error::TamperedHeader(
                "the server's copy of the vault header belongs to another account".into(),
            ));
        }
        let mut store = Store::create(path)?;
        store.write(|w| {
            w.put_meta(META_HEADER, &resp.keys.header.0)?;
            w.put_keyset(&resp.keys.wrapped_keyset.0)
        })?;
        let mut vault = Vault::open(store, c.password, c.secret_key, header.kdf, true)?;
        vault.check_root(&resp, expected_root)?;
        vault.adopt_login(server, c, &resp)?;
        vault.sync()?;
        Ok(vault)
    }

    /// Whether the team root in a login answer is this account's: its fingerprint is the one
    /// the user gave, and the account's signed pin (checked with the signing key of the keyset
    /// the password just opened, which the server cannot make) names it.
    fn check_root(&self, resp: &proto::LoginResponse, expected: Option<&str>) -> Result<()> {
        let presented = root_fingerprint(&resp.root_public.0);
        if let Some(fp) = expected {
            if !same_fingerprint(&presented, fp) {
                return Err(Error::TeamRoot(format!(
                    "its fingerprint is {presented}, not the {} you gave; not signing in (the server may be impersonated)",
                    fp.trim()
                )));
            }
        }
        let Some(pin) = &resp.root_pin else {
            if expected.is_some() {
                return Ok(());
            }
            return Err(Error::TeamRoot(format!(
                "the server holds no pin of the team root signed by this account, so {presented} cannot be checked; sign in with `--fingerprint` and the team root fingerprint, which `tessera status` shows on any device already signed in to this team"
            )));
        };
        let statement = proto::RootPin::statement(resp.account_id, &pin.root_public.0);
        tessera_crypto::statement::verify(
            &self.keyset.signing_public(),
            tessera_crypto::statement::TEAM_PIN,
            &statement,
            &pin.signature.0,
        )
        .map_err(|_| {
            Error::TeamRoot(format!(
                "the pin of {} the server sent does not carry this account's signature; not signing in (the server may be impersonated)",
                root_fingerprint(&pin.root_public.0)
            ))
        })?;
        if pin.root_public.0 != resp.root_public.0 {
            return Err(Error::TeamRoot(format!(
                "the server presented {presented}, but this account pinned {}; not signing in (the server may be impersonated)",
                root_fingerprint(&pin.root_public.0)
            )));
        }
        Ok(())
    }
}

/// Whether two `SHA256:` fingerprints are the same, with or without base64 padding (some tools
/// print it and others do not).
fn same_fingerprint(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('=') == b.trim().trim_end_matches('=')
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    tessera_crypto::random_bytes(&mut b);
    b
}

/// Three-way merge of one item: `None` when both sides changed the same thing differently.
fn merge(base: &ItemData, local: &ItemData, server: &ItemData) -> Option<ItemData> {
    fn pick<'a, T: PartialEq + ?Sized>(b: &'a T, l: &'a T, s: &'a T) -> Option<&'a T> {
        if l == b || l == s {
            Some(s)
        } else if s == b {
            Some(l)
        } else {
            None
        }
    }
    if pick(&base.kind, &local.kind, &server.kind)? != &server.kind {
        return None;
    }
    let mut out = server.duplicate();
    out.title
        .clone_from(pick(&base.title, &local.title, &server.title)?);
    out.notes = pick(&base.notes, &local.notes, &server.notes)?.duplicate();
    out.tags
        .clone_from(pick(&base.tags, &local.tags, &server.tags)?);
    out.folder
        .clone_from(pick(&base.folder, &local.folder, &server.folder)?);
    out.favourite = *pick(&base.favourite, &local.favourite, &server.favourite)?;
    out.rotation_days = *pick(
        &base.rotation_days,
        &local.rotation_days,
        &server.rotation_days,
    )?;
    out.expires_at = *pick(&base.expires_at, &local.expires_at, &server.expires_at)?;
    let mut names: Vec<String> = server.fields.iter().map(|f| f.name.clone()).collect();
    names.extend(
        local
            .fields
            .iter()
            .filter(|f| server.field(&f.name).is_none())
            .map(|f| f.name.clone()),
    );
    out.fields.clear();
    for name in names {
        let value = |d: &ItemData| {
            d.field(&name)
                .map(|f| (f.kind, f.value.expose_secret().to_owned()))
        };
        let chosen = pick(&value(base), &value(local), &value(server))?.clone();
        if let Some((kind, v)) = chosen {
            out.fields.push(crate::item::Field::new(name, kind, v));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{FieldKind, ItemKind};

    fn login(title: &str, user: &str, pw: &str) -> ItemData {
        ItemData::new(ItemKind::Login, title)
            .with_field("username", FieldKind::Text, user)
            .with_field("password", FieldKind::Concealed, pw)
    }

    #[test]
    fn edits_to_different_fields_merge() {
        let base = login("GitHub", "alice", "p1");
        let local = login("GitHub", "alice", "p2");
        let server = login("GitHub (work)", "alice", "p1");
        let m = merge(&base, &local, &server).unwrap();
        assert_eq!(m.title, "GitHub (work)");
        assert_eq!(m.field("password").unwrap().value.expose_secret(), "p2");
    }

    #[test]
    fn edits_to_the_same_field_collide() {
        let base = login("GitHub", "alice", "p1");
        assert!(merge(
            &base,
            &login("GitHub", "alice", "p2"),
            &login("GitHub", "alice", "p3")
        )
        .is_none());
        // The same change on both sides is no conflict.
        assert!(merge(
            &base,
            &login("GitHub", "alice", "p2"),
            &login("GitHub", "alice", "p2")
        )
        .is_some());
    }

    #[test]
    fn a_field_removed_on_one_side_stays_removed() {
        let base = login("x", "alice", "p1");
        let mut local = login("x", "alice", "p1");
        local.fields.retain(|f| f.name != "username");
        let server = login("x", "alice", "p1").with_field("url", FieldKind::Text, "https://x");
        let m = merge(&base, &local, &server).unwrap();
        assert!(m.field("username").is_none());
        assert!(m.field("url").is_some());
    }

    #[test]
    fn row_blobs_round_trip_and_truncation_is_tampering() {
        let row = VersionRow {
            item_id: vec![3; 16],
            version: 4,
            created_at: 10,
            secret_changed_at: 9,
            format: 1,
            item_key: vec![1; 60],
            content: vec![2; 99],
        };
        let rec = proto::ItemRecord {
            item_id: Id([3; 16]),
            version: 4,
            seq: 1,
            deleted: false,
            blob: Blob(encode_row(&row)),
        };
        let back = decode_row(&rec).unwrap();
        assert_eq!(
            (
                back.created_at,
                back.secret_changed_at,
                back.item_key.len(),
                back.content.len()
            ),
            (10, 9, 60, 99)
        );
        let mut cut = rec.clone();
        cut.blob.0.truncate(15);
        assert!(matches!(decode_row(&cut), Err(Error::Tampered { .. })));
    }
}
