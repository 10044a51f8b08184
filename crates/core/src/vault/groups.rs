//! Groups and sharing, client side.
//!
//! A group has a random 256-bit key per *epoch*. Each member receives the key sealed to their
//! X25519 public key ([`tessera_crypto::seal`]), with associated data naming the team, the
//! group, the epoch and the recipient, so a sealed key cannot be replayed into another group,
//! epoch or member. Each new epoch also carries the previous key sealed under the new one, so a
//! member holding the newest key reads every older item version: adding a member is one seal,
//! however many items the group holds.
//!
//! Before sealing any key to a member the client checks the member's certificate chain up to
//! the team root key it pinned when joining ([`tessera_crypto::cert`]) and that the chain names
//! exactly the keys the server presents; otherwise it refuses with [`Error::Untrusted`] saying
//! why. Removing a member starts a new epoch whose key is sealed to the members who stay;
//! every version written afterwards uses the newest key, which the removed member never
//! received.
//!
//! A shared item version is sealed like a personal one, with its own random item key, but the
//! item key is wrapped by the group key of the epoch and every associated data names the team
//! and the group. Group names are sealed under the current group key.
//!
//! Just-in-time access (asking for time-boxed membership, and approving it) is in
//! [`access_request`]; reading and changing a group's items (sharing, unsharing, reveals and
//! copies, when a share ends, who can decrypt an item) in [`share`]; machine tokens in [`token`].
use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use tessera_crypto::cert::{CertChain, CertSubject};
use tessera_crypto::envelope::{self, associated_data, Sealed};
use tessera_crypto::{seal, SymmetricKey};
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id, LogChange};
use zeroize::Zeroizing;

use super::Vault;
use crate::error::{Error, Result};
use crate::item::{Item, ItemData, ItemId};
use crate::remote::Remote;

mod access_request;
pub(crate) mod log;
mod marks;
mod replica;
mod share;
mod token;
#[cfg(test)]
#[path = "../../../../tests/vectors/support.rs"]
mod vector_support;
#[cfg(test)]
mod vectors;
mod version;

pub use access_request::AccessRequestView;
pub use log::verify_group_log;
use log::GroupState;
pub(super) use replica::Replica;
pub(super) use token::token_views;
pub use token::{CreatedToken, MachineToken, TokenClient, TokenView};
pub(super) use version::open_item;
use version::{key_ad, name_ad, prev_ad, seal_item};

/// One group as [`Vault::fetch_groups_each`] found it.
enum Fetched {
    /// Its keys opened; its view.
    Open(GroupKeys, GroupView),
    /// Refused: the server's record of it, and why.
    Refused(proto::GroupInfo, Error),
}

/// What the group code needs from the server link.
pub(crate) struct TeamContext {
    pub(crate) remote: Remote,
    pub(crate) team_id: [u8; 16],
    pub(crate) root: [u8; 32],
}

/// What certificates and group logs are checked against: the team and its pinned root key.
pub(crate) trait Anchor {
    /// The team id.
    fn team(&self) -> &[u8; 16];
    /// The pinned team root's Ed25519 public key.
    fn root(&self) -> &[u8; 32];
}

impl Anchor for TeamContext {
    fn team(&self) -> &[u8; 16] {
        &self.team_id
    }
    fn root(&self) -> &[u8; 32] {
        &self.root
    }
}

/// A group as a member sees it, its name decrypted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupView {
    /// The group id (hex).
    pub id: String,
    /// The name.
    pub name: String,
    /// The caller's role.
    pub role: GroupRole,
    /// The current key epoch.
    pub epoch: u64,
    /// When the caller's membership ends, if it does.
    pub expires_at: Option<i64>,
    /// Whether the group's membership is in a signed log this device checked (false for a
    /// group made before logs existed, until one of its admins changes it or runs
    /// `tessera group sign`).
    #[serde(default)]
    pub signed: bool,
    /// Why this device refuses the group (its log or keys do not verify), when it does: then
    /// the name is the group id, nothing of it is read or written, and every other group is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A group member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberView {
    /// The account id (hex).
    pub account_id: String,
    /// The e-mail.
    pub email: String,
    /// The role.
    pub role: GroupRole,
    /// When the membership ends, if it does.
    pub expires_at: Option<i64>,
}

/// Who can decrypt an item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessView {
    /// The item id (hex).
    pub item_id: String,
    /// The item's title.
    pub title: String,
    /// The group that holds it, if it is shared.
    pub group: Option<GroupView>,
    /// Every member who can decrypt it, with role and end of access.
    pub members: Vec<MemberView>,
    /// The group's live machine tokens, which can decrypt it too.
    #[serde(default)]
    pub tokens: Vec<TokenView>,
    /// When its share in the group ends, if it does.
    pub share_expires_at: Option<i64>,
}

/// A shared item's record that does not open (damaged, or changed by the server): named and
/// left out, so one bad record never hides the rest of its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamagedRecord {
    /// The item id (hex).
    pub item: String,
    /// What is wrong with it.
    pub why: String,
}

/// A group's live items as one read found them: those that opened, and the records that did
/// not. Derefs to the items.
#[derive(Debug, Default)]
pub struct GroupItems {
    /// The items that opened.
    pub items: Vec<SharedItem>,
    /// The records that did not, named.
    pub damaged: Vec<DamagedRecord>,
}

impl std::ops::Deref for GroupItems {
    type Target = [SharedItem];
    fn deref(&self) -> &[SharedItem] {
        &self.items
    }
}

impl GroupItems {
    /// Open every live record of a group; a record that does not open is named and skipped.
    pub(super) fn open(team: &[u8; 16], keys: &GroupKeys, records: &[proto::ItemRecord]) -> Self {
        let mut out = Self::default();
        for r in records.iter().filter(|r| !r.deleted) {
            match open_item(team, keys, r) {
                Ok((it, _)) => out.items.push(it),
                Err(e) => out.damaged.push(DamagedRecord {
                    item: r.item_id.to_hex(),
                    why: e.to_string(),
                }),
            }
        }
        tessera_crypto::scrub_stack();
        out
    }

    /// The refusal of a read that found nothing: [`Error::Tampered`] naming the damaged
    /// records when some did not open (what was asked for may be among them), else `missing`.
    pub fn not_found(&self, missing: Error) -> Error {
        match self.damaged.as_slice() {
            [] => missing,
            [one] => Error::Tampered {
                item: one.item.clone(),
            },
            [first, rest @ ..] => Error::Tampered {
                item: format!("{} (and {} more of the group)", first.item, rest.len()),
            },
        }
    }
}

/// A shared item, decrypted.
#[derive(Debug)]
pub struct SharedItem {
    /// The group.
    pub group_id: String,
    /// The item.
    pub id: ItemId,
    /// Its version.
    pub version: u64,
    /// The key epoch it was sealed under.
    pub epoch: u64,
    /// Unix time of the version.
    pub updated_at: i64,
    /// Unix time the concealed values last changed.
    pub secret_changed_at: i64,
    /// The content.
    pub data: ItemData,
}

impl SharedItem {
    /// The item as the personal views show one (never in the trash: a shared item leaves its
    /// group instead).
    pub fn as_item(&self) -> Item {
        SharedItem {
            group_id: String::new(),
            data: self.data.duplicate(),
            ..*self
        }
        .into_item()
    }

    /// [`SharedItem::as_item`], consuming it.
    pub fn into_item(self) -> Item {
        Item {
            id: self.id,
            version: self.version,
            created_at: self.updated_at,
            updated_at: self.updated_at,
            secret_changed_at: self.secret_changed_at,
            trashed_at: None,
            data: self.data,
        }
    }
}

/// The keys of one group this device holds, to open the group's sealed versions (for example
/// from a local cache). A member removed from the group keeps the keys they had; every version
/// written after the removal uses a newer epoch and does not open with them.
pub struct GroupKeyring {
    team_id: [u8; 16],
    keys: GroupKeys,
}

impl std::fmt::Debug for GroupKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GroupKeyring({}, epochs {:?})",
            self.keys.info.group_id,
            self.keys.keys.keys().collect::<Vec<_>>()
        )
    }
}

impl GroupKeyring {
    /// Open one sealed version; [`Error::Tampered`] names the item when it does not
    /// authenticate or was sealed under an epoch this keyring lacks.
    pub fn open(&self, rec: &proto::ItemRecord) -> Result<SharedItem> {
        let out = open_item(&self.team_id, &self.keys, rec).map(|(i, _)| i);
        tessera_crypto::scrub_stack();
        out
    }
}

/// A group's keys by epoch, opened, and its membership as its verified log has it.
pub(super) struct GroupKeys {
    pub(super) info: proto::GroupInfo,
    keys: BTreeMap<u64, SymmetricKey>,
    /// `None` for a group whose log has not been started yet (made before logs existed).
    pub(super) state: Option<GroupState>,
    /// The team directory as it was when the keys were opened (empty for a machine token),
    /// for checking who signed the group's manifest.
    pub(super) directory: Vec<proto::DirectoryEntry>,
}

impl GroupKeys {
    fn current(&self) -> Result<(u64, &SymmetricKey)> {
        self.keys
            .get(&self.info.epoch)
            .map(|k| (self.info.epoch, k))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "you do not hold the current key of group {}; ask a group admin to add you again",
                    self.info.group_id
                ))
            })
    }
}

fn remote_not_found(e: Error, what: &str) -> Error {
    match e {
        Error::Remote { status: 404, .. } => Error::NotFound(what.to_owned()),
        e => e,
    }
}

pub(super) fn group_view(team: &[u8; 16], g: &GroupKeys) -> Result<GroupView> {
    let (epoch, key) = g.current()?;
    let id = g.info.group_id;
    let sealed = Sealed::from_bytes(g.info.name.0.clone())
        .map_err(|_| Error::Tampered { item: id.to_hex() })?;
    let name = envelope::open(key, &sealed, &name_ad(team, &id, epoch))
        .ok()
        .and_then(|n| String::from_utf8(n.to_vec()).ok())
        .ok_or_else(|| Error::Tampered { item: id.to_hex() })?;
    Ok(GroupView {
        id: id.to_hex(),
        name,
        role: g.info.role,
        epoch,
        expires_at: g.info.expires_at,
        signed: g.state.is_some(),
        refused: None,
    })
}

/// The team directory entry for `email`, its certificate checked up to the pinned root:
/// returns the verified X25519 public key.
fn verified_member(
    ctx: &TeamContext,
    directory: &[proto::DirectoryEntry],
    who: &str,
) -> Result<(Id, [u8; 32])> {
    let (e, s) = verified_entry(ctx, directory, who)?;
    Ok((e.account_id, s.exchange_public))
}

/// The team directory entry for `who` (e-mail or account id) and its certified subject, the
/// certificate chain checked up to the pinned root and against the keys the server presents.
fn verified_entry<'a>(
    ctx: &impl Anchor,
    directory: &'a [proto::DirectoryEntry],
    who: &str,
) -> Result<(&'a proto::DirectoryEntry, CertSubject)> {
    let e = directory
        .iter()
        .find(|e| e.email.eq_ignore_ascii_case(who.trim()) || e.account_id.to_hex() == who)
        .ok_or_else(|| Error::NotFound(format!("no account {who:?} in your team")))?;
    let untrusted = |why: String| Error::Untrusted {
        who: e.email.clone(),
        why,
    };
    let chain = CertChain::decode(&e.certificate.0)
        .map_err(|c| untrusted(format!("their certificate is refused: {c}")))?;
    let s = chain
        .verify_for(
            ctx.root(),
            ctx.team(),
            &e.account_id.0,
            &e.exchange_public.0,
            &e.signing_public.0,
        )
        .map_err(|c| untrusted(format!("their certificate is refused: {c}")))?;
    if !s.email.eq_ignore_ascii_case(&e.email) {
        return Err(untrusted(
            "their certificate was issued to another e-mail address".into(),
        ));
    }
    Ok((e, s.clone()))
}

fn put_certificate(ctx: &TeamContext, account: Id, chain: &CertChain) -> Result<()> {
    let _: serde_json::Value = ctx.remote.put(
        &format!(
            "/v1/teams/{}/accounts/{account}/certificate",
            Id(ctx.team_id)
        ),
        &proto::CertificateRequest {
            certificate: Blob(chain.encode()),
        },
    )?;
    Ok(())
}

pub(super) fn fetch_members(ctx: &TeamContext, group: &str) -> Result<Vec<MemberView>> {
    let members: Vec<proto::GroupMember> =
        ctx.remote.get(&format!("/v1/groups/{group}/members"))?;
    Ok(members
        .into_iter()
        .map(|m| MemberView {
            account_id: m.account_id.to_hex(),
            email: m.email,
            role: m.role,
            expires_at: m.expires_at,
        })
        .collect())
}

/// Every page of a group pull at `path` (a member's or a machine token's): the current record
/// of each item, and the manifest the last page carried.
fn pull_pages(
    remote: &Remote,
    path: &str,
) -> Result<(Vec<proto::ItemRecord>, Option<proto::SignedManifest>)> {
    let p = pull_since(remote, path, 0)?;
    Ok((p.records.into_values().collect(), p.manifest))
}

/// What the pages of a group pull from a cursor served, unchecked.
struct Served {
    /// The newest record of each item changed since the cursor.
    records: BTreeMap<Id, proto::ItemRecord>,
    cursor: u64,
    manifest: Option<proto::SignedManifest>,
    ended: Vec<Id>,
}

/// Every page of a group pull at `path` from `cursor`.
fn pull_since(remote: &Remote, path: &str, mut cursor: u64) -> Result<Served> {
    let mut records: BTreeMap<Id, proto::ItemRecord> = BTreeMap::new();
    loop {
        let page: proto::PullResponse = remote.get(&format!("{path}?since={cursor}"))?;
        for rec in page.changes {
            records.insert(rec.item_id, rec);
        }
        cursor = page.cursor;
        if !page.more {
            return Ok(Served {
                records,
                cursor,
                manifest: page.manifest,
                ended: page.ended,
            });
        }
    }
}

fn damaged_keys(group: Id) -> Error {
    Error::TamperedHeader(format!("the keys of group {group} do not open"))
}

/// Every epoch key of a group from the newest one the caller opened (`raw`, of `epoch`), each
/// previous key opened with the next through the chain of `prev` records.
fn open_chain(
    team: &[u8; 16],
    info: proto::GroupInfo,
    mut epoch: u64,
    raw: &[u8],
) -> Result<GroupKeys> {
    let group = info.group_id;
    let damaged = || damaged_keys(group);
    let mut keys = BTreeMap::new();
    keys.insert(epoch, SymmetricKey::from_slice(raw).map_err(|_| damaged())?);
    while epoch > 1 {
        let rec = info
            .keys
            .iter()
            .find(|k| k.epoch == epoch)
            .ok_or_else(damaged)?;
        let prev = Sealed::from_bytes(rec.prev.0.clone()).map_err(|_| damaged())?;
        let raw = envelope::open(&keys[&epoch], &prev, &prev_ad(team, &group, epoch))
            .map_err(|_| damaged())?;
        epoch -= 1;
        keys.insert(
            epoch,
            SymmetricKey::from_slice(&raw).map_err(|_| damaged())?,
        );
    }
    Ok(GroupKeys {
        info,
        keys,
        state: None,
        directory: Vec::new(),
    })
}

impl Vault {
    fn account_id(&self) -> [u8; 16] {
        self.header.vault_id
    }

    /// Open every epoch key of a group this account can reach: the newest key sealed to it,
    /// then each previous key through the chain of `prev` records. With a log (`state`), the
    /// server's epoch must be the log's, this account a live member, and the key sealed to it
    /// one a group admin signed for it; the role and end shown are the log's.
    fn open_group_keys(
        &self,
        team: &[u8; 16],
        mut info: proto::GroupInfo,
        state: Option<GroupState>,
    ) -> Result<GroupKeys> {
        let me = self.account_id();
        let group = info.group_id;
        let newest = info
            .keys
            .iter()
            .filter(|k| !k.wrapped.0.is_empty())
            .max_by_key(|k| k.epoch)
            .ok_or_else(|| damaged_keys(group))?;
        let epoch = newest.epoch;
        if let Some(s) = &state {
            let refused = |why: String| Error::GroupLog {
                group: group.to_hex(),
                why,
            };
            if info.epoch != s.epoch {
                return Err(refused(format!(
                    "the server says the group is at key epoch {}, its log says {}",
                    info.epoch, s.epoch
                )));
            }
            let m = s.live_member(Id(me)).ok_or_else(|| {
                refused("the server lists you as a member; the log does not".into())
            })?;
            if !s.signed_key(epoch, Id(me), &newest.wrapped.0) {
                return Err(refused(format!(
                    "the key of epoch {epoch} sealed to you was not signed by a group admin \
                     (the server substituted it)"
                )));
            }
            info.role = m.role;
            info.expires_at = m.expires_at;
        }
        let raw = self
            .keyset
            .open_sealed(&newest.wrapped.0, &key_ad(team, &group, epoch, &me))
            .map_err(|_| damaged_keys(group))?;
        let mut keys = open_chain(team, info, epoch, &raw)?;
        keys.state = state;
        Ok(keys)
    }

    /// The team directory (every account's keys and certificate, as the server presents them).
    pub(super) fn directory(ctx: &TeamContext) -> Result<Vec<proto::DirectoryEntry>> {
        ctx.remote
            .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))
    }

    /// Every group of the caller with its keys opened, or refused: a group whose log or keys
    /// do not verify comes back as its server record and why, so it never hides the others.
    /// Anything else that goes wrong (the server unreachable) fails the whole call.
    fn fetch_groups_each(&self, ctx: &TeamContext) -> Result<Vec<Fetched>> {
        let infos: Vec<proto::GroupInfo> = ctx.remote.get("/v1/groups")?;
        let directory = if infos.is_empty() {
            Vec::new()
        } else {
            Self::directory(ctx)?
        };
        let mut out = Vec::with_capacity(infos.len());
        for i in infos {
            let opened = self
                .group_state(ctx, i.group_id, &directory)
                .and_then(|state| self.open_group_keys(&ctx.team_id, i.clone(), state))
                .and_then(|mut keys| {
                    keys.directory.clone_from(&directory);
                    Ok((group_view(&ctx.team_id, &keys)?, keys))
                });
            out.push(match opened {
                Ok((view, keys)) => Fetched::Open(keys, view),
                Err(e) if e.is_tampering() => Fetched::Refused(i, e),
                Err(e) => return Err(e),
            });
        }
        tessera_crypto::scrub_stack();
        Ok(out)
    }

    /// Every group of the caller, keys opened; any group refused fails the call (for reviews
    /// that must see every group).
    pub(super) fn fetch_groups(&self, ctx: &TeamContext) -> Result<Vec<GroupKeys>> {
        self.fetch_groups_each(ctx)?
            .into_iter()
            .map(|f| match f {
                Fetched::Open(keys, _) => Ok(keys),
                Fetched::Refused(_, e) => Err(e),
            })
            .collect()
    }

    /// A group by name or id among the caller's groups. A refused group is found by its id;
    /// when nothing else matches and groups were refused, the refusal is the answer (the
    /// name asked for may be theirs, which this device cannot read).
    fn find_group(&self, ctx: &TeamContext, query: &str) -> Result<(GroupKeys, GroupView)> {
        let q = query.trim();
        let mut found = Vec::new();
        let mut refused = Vec::new();
        for f in self.fetch_groups_each(ctx)? {
            match f {
                Fetched::Open(g, v) => {
                    if v.id == q.to_ascii_lowercase() || v.name.eq_ignore_ascii_case(q) {
                        found.push((g, v));
                    }
                }
                Fetched::Refused(info, e) => {
                    if info.group_id.to_hex() == q.to_ascii_lowercase() {
                        return Err(e);
                    }
                    refused.push(e);
                }
            }
        }
        match found.len() {
            0 if refused.len() == 1 => Err(refused.pop().expect("one")),
            0 if !refused.is_empty() => Err(Error::NotFound(format!(
                "no group {q:?} among those this device can read; {} of your groups are refused (`tessera group list` names them)",
                refused.len()
            ))),
            0 => {
                // A group id you lost access to: let the server say why (expired, removed).
                if let Some(id) = Id::parse(&q.to_ascii_lowercase()) {
                    fetch_members(ctx, &id.to_hex())?;
                }
                Err(Error::NotFound(format!(
                    "no group {q:?} among yours (`tessera group list`)"
                )))
            }
            1 => Ok(found.pop().expect("one")),
            count => Err(Error::Ambiguous {
                query: q.to_owned(),
                count,
            }),
        }
    }

    fn team_root_key(&self) -> Result<Option<SigningKey>> {
        let Some(raw) = self.store.meta("team_root")? else {
            return Ok(None);
        };
        let ad = associated_data("tessera team root", &[&self.header.vault_id]);
        let sealed = Sealed::from_bytes(raw)
            .map_err(|_| Error::TamperedHeader("the team root key is truncated".into()))?;
        let plain = envelope::open(self.keyset.vault_key(), &sealed, &ad)
            .map_err(|_| Error::TamperedHeader("the team root key does not open".into()))?;
        let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
            plain[..]
                .try_into()
                .map_err(|_| Error::TamperedHeader("the team root key is damaged".into()))?,
        );
        Ok(Some(SigningKey::from_bytes(&bytes)))
    }

    /// This account's own certificate chain from the directory, when it verifies.
    fn own_chain(
        &self,
        ctx: &TeamContext,
        directory: &[proto::DirectoryEntry],
    ) -> Option<CertChain> {
        let me = Id(self.account_id());
        let e = directory.iter().find(|e| e.account_id == me)?;
        let chain = CertChain::decode(&e.certificate.0).ok()?;
        chain
            .verify_for(
                &ctx.root,
                &ctx.team_id,
                &me.0,
                &self.keyset.exchange_public(),
                &self.keyset.signing_public(),
            )
            .ok()?;
        Some(chain)
    }

    /// The team creator (who holds the root key) certifies their own keys as an admin, once.
    fn ensure_self_certified(
        &self,
        ctx: &TeamContext,
        directory: &[proto::DirectoryEntry],
    ) -> Result<()> {
        if self.own_chain(ctx, directory).is_some() {
            return Ok(());
        }
        let Some(root) = self.team_root_key()? else {
            return Ok(());
        };
        let me = Id(self.account_id());
        let email = directory
            .iter()
            .find(|e| e.account_id == me)
            .map(|e| e.email.clone())
            .ok_or_else(|| Error::NotFound("your account is not in the team directory".into()))?;
        let chain = CertChain {
            leaf: tessera_crypto::cert::Certificate::issue(
                &root,
                CertSubject {
                    team_id: ctx.team_id,
                    account_id: me.0,
                    email,
                    exchange_public: self.keyset.exchange_public(),
                    signing_public: self.keyset.signing_public(),
                    admin: true,
                },
            ),
            issuer: None,
        };
        put_certificate(ctx, me, &chain)
    }

    /// Certify a team member's keys as the server presents them now (team admins). Compare the
    /// fingerprint with the member over another channel first. Returns the certified SHA-256
    /// fingerprint of their keys.
    pub fn certify(&self, email: &str) -> Result<String> {
        let ctx = self.team_context()?;
        let directory: Vec<proto::DirectoryEntry> = ctx
            .remote
            .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))?;
        self.ensure_self_certified(&ctx, &directory)?;
        let directory: Vec<proto::DirectoryEntry> = ctx
            .remote
            .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))?;
        let e = directory
            .iter()
            .find(|e| e.email.eq_ignore_ascii_case(email.trim()))
            .ok_or_else(|| Error::NotFound(format!("no account {email:?} in your team")))?;
        let key32 = |b: &Blob| -> Result<[u8; 32]> {
            b.0.as_slice()
                .try_into()
                .map_err(|_| Error::Invalid(format!("{}'s public keys are malformed", e.email)))
        };
        let subject = CertSubject {
            team_id: ctx.team_id,
            account_id: e.account_id.0,
            email: e.email.clone(),
            exchange_public: key32(&e.exchange_public)?,
            signing_public: key32(&e.signing_public)?,
            admin: e.team_role == "admin",
        };
        let fingerprint = super::sync::root_fingerprint(
            &[subject.exchange_public, subject.signing_public].concat(),
        );
        let chain = if let Some(root) = self.team_root_key()? {
            CertChain {
                leaf: tessera_crypto::cert::Certificate::issue(&root, subject),
                issuer: None,
            }
        } else {
            let mine = self.own_chain(&ctx, &directory).ok_or_else(|| {
                Error::Invalid(
                    "your own keys are not certified by the team root; only the team creator can certify admins"
                        .into(),
                )
            })?;
            if !mine.leaf.subject.admin {
                return Err(Error::Invalid(
                    "only a team admin can certify members".into(),
                ));
            }
            CertChain {
                leaf: self.keyset.certify(CertSubject {
                    admin: false,
                    ..subject
                }),
                issuer: Some(mine.leaf),
            }
        };
        put_certificate(&ctx, e.account_id, &chain)?;
        Ok(fingerprint)
    }

    /// Create a group; you become its admin.
    pub fn group_create(&self, name: &str) -> Result<GroupView> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Error::Invalid("a group name is 1 to 200 characters".into()));
        }
        let ctx = self.team_context()?;
        let directory: Vec<proto::DirectoryEntry> = ctx
            .remote
            .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))?;
        self.ensure_self_certified(&ctx, &directory)?;
        let group = Id(rand::random());
        let key = SymmetricKey::generate();
        let me = Id(self.account_id());
        let sealed = seal::seal_to(
            &self.keyset.exchange_public(),
            key.expose_secret(),
            &key_ad(&ctx.team_id, &group, 1, &me.0),
        );
        let log = self.sign_log_entry(
            &ctx,
            group,
            None,
            LogChange::Genesis {
                members: vec![proto::LogMember {
                    account_id: me,
                    role: GroupRole::Admin,
                    expires_at: None,
                }],
                epoch: 1,
                keys: vec![proto::KeyDigest::of(me, &sealed)],
                tokens: Vec::new(),
            },
        );
        let req = proto::CreateGroupRequest {
            group_id: group,
            name: Blob(
                envelope::seal(&key, name.as_bytes(), &name_ad(&ctx.team_id, &group, 1))
                    .into_bytes(),
            ),
            key: Blob(sealed),
            log,
        };
        let _: serde_json::Value = ctx.remote.post("/v1/groups", &req)?;
        Ok(GroupView {
            id: group.to_hex(),
            name: name.to_owned(),
            role: GroupRole::Admin,
            epoch: 1,
            expires_at: None,
            signed: true,
            refused: None,
        })
    }

    /// Bring the replica of every group up to date (at sync): each group the server lists is
    /// verified and pulled from its cursor; a refused one is named in the report and its copy
    /// here kept; a group held here that the server no longer lists (you were removed, or
    /// your membership ended) is dropped. Reveals and copies queued offline are sent first.
    pub(super) fn pull_groups(&self, report: &mut super::SyncReport) -> Result<()> {
        let ctx = self.team_context()?;
        report.events_sent = self.send_queued_events(&ctx)?;
        let mut listed = std::collections::BTreeSet::new();
        for f in self.fetch_groups_each(&ctx)? {
            match f {
                Fetched::Open(keys, _) => {
                    listed.insert(keys.info.group_id);
                    match self.refresh_group(&ctx, &keys) {
                        Ok((_, n)) => report.shared += n,
                        Err(e) if e.is_tampering() => report
                            .refused_groups
                            .push(format!("{}: {e}", keys.info.group_id)),
                        Err(e) => return Err(e),
                    }
                }
                Fetched::Refused(info, e) => {
                    listed.insert(info.group_id);
                    report
                        .refused_groups
                        .push(format!("{}: {e}", info.group_id));
                }
            }
        }
        for g in self.held_groups() {
            let id = Id::parse(&g.id).expect("held group ids are valid");
            if !listed.contains(&id) {
                self.drop_held(id)?;
            }
        }
        Ok(())
    }

    /// Your groups, names decrypted; a group this device refuses is listed by id with why.
    /// With the server out of reach, the groups this device holds.
    pub fn groups(&self) -> Result<Vec<GroupView>> {
        match self.groups_online() {
            Err(Error::Network(_)) if !self.held_groups().is_empty() => Ok(self.held_groups()),
            other => other,
        }
    }

    fn groups_online(&self) -> Result<Vec<GroupView>> {
        let ctx = self.team_context()?;
        let mut out: Vec<GroupView> = self
            .fetch_groups_each(&ctx)?
            .into_iter()
            .map(|f| match f {
                Fetched::Open(_, view) => view,
                Fetched::Refused(info, e) => GroupView {
                    id: info.group_id.to_hex(),
                    name: info.group_id.to_hex(),
                    role: info.role,
                    epoch: info.epoch,
                    expires_at: info.expires_at,
                    signed: false,
                    refused: Some(e.to_string()),
                },
            })
            .collect();
        // Readable groups by name, then the refused ones.
        out.sort_by(|a, b| (a.refused.is_some(), &a.name).cmp(&(b.refused.is_some(), &b.name)));
        Ok(out)
    }

    /// A group's live members: as its verified log has them (the server's list for a group
    /// whose log has not started yet).
    pub fn group_members(&self, group: &str) -> Result<(GroupView, Vec<MemberView>)> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        let members = members_of(&ctx, &keys)?;
        Ok((view, members))
    }

    /// Start the signed log of a group made before logs existed (group admins): a new epoch
    /// sealed to its current members, each certificate checked, and an entry naming them
    /// signed by you. A group that has a log is left as it is.
    pub fn group_sign(&self, group: &str) -> Result<GroupView> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        if keys.state.is_some() {
            return Ok(view);
        }
        self.rotate_key(&ctx, &keys, view, None)
    }

    /// A group by name or id whose log has started: one without a log is signed first
    /// ([`Vault::group_sign`]), which a change to its membership needs.
    fn find_signed_group(&self, ctx: &TeamContext, group: &str) -> Result<(GroupKeys, GroupView)> {
        let (keys, view) = self.find_group(ctx, group)?;
        if keys.state.is_some() {
            return Ok((keys, view));
        }
        let id = view.id.clone();
        self.rotate_key(ctx, &keys, view, None)?;
        self.find_group(ctx, &id)
    }

    /// Add a member (or change one's role and expiry): their certificate is checked up to the
    /// pinned team root before the group key is sealed to them, and the change is signed into
    /// the group's log.
    pub fn group_add(
        &self,
        group: &str,
        who: &str,
        role: GroupRole,
        expires_at: Option<i64>,
    ) -> Result<MemberView> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_signed_group(&ctx, group)?;
        let directory = Self::directory(&ctx)?;
        let (account, exchange) = verified_member(&ctx, &directory, who)?;
        let log = self.member_entry(&ctx, &keys, account, exchange, role, expires_at)?;
        let _: serde_json::Value = ctx.remote.put(
            &format!("/v1/groups/{}/members/{account}", view.id),
            &proto::SetMemberRequest {
                role,
                expires_at,
                epoch: log.epoch,
                key: log.key,
                log: log.entry,
            },
        )?;
        let email = directory
            .iter()
            .find(|e| e.account_id == account)
            .map(|e| e.email.clone())
            .unwrap_or_default();
        Ok(MemberView {
            account_id: account.to_hex(),
            email,
            role,
            expires_at,
        })
    }

    /// The signed log entry that adds `account` (or changes its role or end), with the current
    /// epoch's key sealed to them when the log does not show them holding it.
    pub(super) fn member_entry(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
        account: Id,
        exchange: [u8; 32],
        role: GroupRole,
        expires_at: Option<i64>,
    ) -> Result<MemberEntry> {
        let state = keys.state.as_ref().ok_or_else(|| {
            Error::Invalid("the group's log has not started (`tessera group sign`)".into())
        })?;
        let (epoch, key) = keys.current()?;
        let gid = keys.info.group_id;
        let holds = state.live_member(account).is_some() && state.holds_key(epoch, account);
        let sealed = (!holds).then(|| {
            seal::seal_to(
                &exchange,
                key.expose_secret(),
                &key_ad(&ctx.team_id, &gid, epoch, &account.0),
            )
        });
        let entry = self.sign_log_entry(
            ctx,
            gid,
            Some(state),
            LogChange::SetMember {
                member: proto::LogMember {
                    account_id: account,
                    role,
                    expires_at,
                },
                epoch,
                key: sealed
                    .as_ref()
                    .map(|k| proto::KeyDigest::of(account, k).digest),
            },
        );
        Ok(MemberEntry {
            epoch,
            key: sealed.map(Blob),
            entry,
        })
    }

    /// Remove a member: a new epoch starts, its key sealed to every member who stays (each
    /// certificate checked), signed into the log. Versions written from now on are unreadable
    /// to the removed member.
    pub fn group_remove(&self, group: &str, who: &str) -> Result<GroupView> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        let members = members_of(&ctx, &keys)?;
        let gone = members
            .iter()
            .find(|m| m.email.eq_ignore_ascii_case(who.trim()) || m.account_id == who.trim())
            .ok_or_else(|| Error::NotFound(format!("{who:?} is not a member of {}", view.name)))?;
        let gone = Id::parse(&gone.account_id).expect("member ids are valid");
        self.rotate_key(&ctx, &keys, view, Some(gone))
    }

    /// Start a new epoch of a group whose key is sealed to every live member the log names but
    /// `gone` (who is removed with it, if given), each checked against their certificate first,
    /// and sign it into the log. A group without a log starts one here: the entry names the
    /// members the server lists, each certificate checked, as the signing admin vouches.
    pub(super) fn rotate_key(
        &self,
        ctx: &TeamContext,
        keys: &GroupKeys,
        view: GroupView,
        gone: Option<Id>,
    ) -> Result<GroupView> {
        let directory = Self::directory(ctx)?;
        let gid = keys.info.group_id;
        let (old_epoch, old_key) = keys.current()?;
        let epoch = old_epoch + 1;
        let key = SymmetricKey::generate();
        let me = Id(self.account_id());
        let members = live_members(ctx, keys, &view.id)?;
        let mut sealed = Vec::new();
        let mut stay = Vec::new();
        for (account, m) in members.into_iter().filter(|(id, _)| Some(*id) != gone) {
            let exchange = if account == me {
                self.keyset.exchange_public()
            } else {
                verified_member(ctx, &directory, &account.to_hex())?.1
            };
            sealed.push(proto::MemberKey {
                account_id: account,
                key: Blob(seal::seal_to(
                    &exchange,
                    key.expose_secret(),
                    &key_ad(&ctx.team_id, &gid, epoch, &account.0),
                )),
            });
            stay.push(proto::LogMember {
                account_id: account,
                role: m.role,
                expires_at: m.expires_at,
            });
        }
        let token_keys = token::seal_to_tokens(ctx, &directory, gid, epoch, &key)?;
        let digests = sealed
            .iter()
            .map(|k| proto::KeyDigest::of(k.account_id, &k.key.0))
            .collect();
        let tokens = token_keys
            .iter()
            .map(|k| proto::KeyDigest::of(k.token_id, &k.key.0))
            .collect();
        let change = match keys.state {
            Some(_) => LogChange::Rotate {
                epoch,
                removed: gone.into_iter().collect(),
                keys: digests,
                tokens,
            },
            None => LogChange::Genesis {
                members: stay,
                epoch,
                keys: digests,
                tokens,
            },
        };
        let log = self.sign_log_entry(ctx, gid, keys.state.as_ref(), change);
        let req = proto::RotateRequest {
            remove: gone.into_iter().collect(),
            epoch,
            name: Blob(
                envelope::seal(
                    &key,
                    view.name.as_bytes(),
                    &name_ad(&ctx.team_id, &gid, epoch),
                )
                .into_bytes(),
            ),
            prev: Blob(
                envelope::seal(
                    &key,
                    old_key.expose_secret(),
                    &prev_ad(&ctx.team_id, &gid, epoch),
                )
                .into_bytes(),
            ),
            keys: sealed,
            token_keys,
            log,
        };
        let _: serde_json::Value = ctx
            .remote
            .post(&format!("/v1/groups/{}/rotate", view.id), &req)?;
        if gone.is_some() {
            self.sign_group_manifest(ctx, keys)?;
        }
        Ok(GroupView {
            epoch,
            signed: true,
            ..view
        })
    }
}

/// A signed membership change ready to send: the epoch, the key sealed to the member (when
/// they need it) and the log entry.
pub(super) struct MemberEntry {
    pub(super) epoch: u64,
    pub(super) key: Option<Blob>,
    pub(super) entry: proto::SignedLogEntry,
}

/// A group's live members: from its verified log with e-mails from the directory, or the
/// server's list for a group whose log has not started.
/// A group's live members with role and end: as its log has them, or the server's list for a
/// group whose log has not started.
fn live_members(
    ctx: &TeamContext,
    keys: &GroupKeys,
    group: &str,
) -> Result<Vec<(Id, log::LogMember)>> {
    Ok(match &keys.state {
        Some(s) => s.live_members().collect(),
        None => fetch_members(ctx, group)?
            .into_iter()
            .filter_map(|m| {
                let id = Id::parse(&m.account_id)?;
                let member = log::LogMember {
                    role: m.role,
                    expires_at: m.expires_at,
                };
                Some((id, member))
            })
            .collect(),
    })
}

pub(super) fn members_of(ctx: &TeamContext, keys: &GroupKeys) -> Result<Vec<MemberView>> {
    let Some(state) = &keys.state else {
        return fetch_members(ctx, &keys.info.group_id.to_hex());
    };
    let directory = Vault::directory(ctx)?;
    let mut members: Vec<MemberView> = state
        .live_members()
        .map(|(id, m)| MemberView {
            account_id: id.to_hex(),
            email: directory
                .iter()
                .find(|e| e.account_id == id)
                .map_or_else(|| id.to_hex(), |e| e.email.clone()),
            role: m.role,
            expires_at: m.expires_at,
        })
        .collect();
    members.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(members)
}
