//! Machine tokens for CI: read-only access of a job to one group, with an expiry, revocable.
//!
//! A group admin creates a token ([`Vault::token_create`]): a random secret, shown once as
//! `tsr2_<token id>_<secret>`, from which [`tessera_crypto::token::MachineSecret`] derives a
//! bearer value (the server keeps its SHA-256) and an X25519 key pair (the server keeps the
//! public key). The admin's client seals the group's current key to the token's public key, with
//! associated data naming the team, the group, the epoch and the token under a label of its own
//! (a member's sealed key cannot stand in for a token's, nor the reverse), and signs the token
//! record (team, group, token id, public key, expiry) with the admin's Ed25519 key.
//!
//! Every rotation ([`Vault::group_remove`]) seals the new key to each live token as well; the
//! rotating client first checks the token record's signature against its creator's certificate
//! chain up to the pinned team root, and refuses with [`Error::Untrusted`] when it does not
//! verify: a server that swapped a token's public key for its own would otherwise be handed the
//! group key.
//!
//! The creating client also makes the token's *pin* ([`proto::TokenPin`]): the team root its
//! device pinned, the digest of the key it sealed to the token, and the group's log head and
//! newest accepted manifest then, tagged under the token's pin key, which only the token's
//! secret derives. The server stores it and cannot make one.
//!
//! A job holding the token ([`TokenClient`]) fetches the keys sealed to the token, the pin, the
//! group's log and the certificates of its signers. It checks the pin's tag, replays the log
//! against the pinned root (as members do), refuses a log shorter than the pin's or forked from
//! it, and accepts the newest key sealed to it only when it is the one the pin names or one a
//! group admin signed into the log for the token. It opens the older keys through the chain of
//! previous keys, then the group's items with the same code members use, and refuses a pull
//! that leaves out an item the group's signed manifest names, or a manifest older than the
//! pin's. It needs no vault and no password. Tokens made before pins (`tsr1_`) are still read,
//! on the server's word, with a warning ([`TokenClient::warning`]).
use serde::{Deserialize, Serialize};
use tessera_crypto::envelope::{self, Sealed};
use tessera_crypto::token::{MachineSecret, TokenRecord};
use tessera_crypto::{seal, SymmetricKey};
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id};
use zeroize::Zeroizing;

use super::log::{reaches, replay, GroupState};
use super::marks::{manifest_signed, omitted};
use super::version::{token_key_ad, token_name_ad};
use super::{
    damaged_keys, group_view, open_chain, pull_pages, verified_entry, GroupItems, GroupKeys,
    TeamContext,
};
use crate::error::{Error, Result};
use crate::item::SecretText;
use crate::remote::Remote;
use crate::vault::manifest::{check_manifest, Position};
use crate::vault::{now, Vault};

/// The prefix of the machine tokens this code makes (format 2: the token has a pin).
pub const TOKEN_PREFIX: &str = "tsr2_";
/// The prefix of machine tokens from before pins (format 1), still read with a warning.
pub const LEGACY_TOKEN_PREFIX: &str = "tsr1_";

/// The MAC label of a token's pin.
const PIN_TAG: &str = "tessera machine token pin";

/// A machine token as a job holds it: its id and its secret. Parsed from the string shown once
/// at creation; the secret is zeroized on drop and never printed (`Debug` shows the id only).
pub struct MachineToken {
    id: Id,
    secret: MachineSecret,
    /// Made with a pin (`tsr2_`): the job refuses to go on without one.
    pinned: bool,
}

impl std::fmt::Debug for MachineToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MachineToken({}, ***)", self.id)
    }
}

impl MachineToken {
    /// Parse `tsr2_<32 hex digits>_<43 base64url characters>` (or the `tsr1_` of tokens from
    /// before pins). The error says what is wrong and never repeats the token.
    pub fn parse(text: &str) -> Result<Self> {
        use base64::Engine as _;
        let text = text.trim();
        let malformed = |what: &str| {
            Error::Invalid(format!(
                "the machine token is {what}: a token is tsr2_ followed by 32 hex digits, _ and \
                 43 characters; copy it again from your CI secret store"
            ))
        };
        let (body, pinned) = match text.strip_prefix(TOKEN_PREFIX) {
            Some(body) => (body, true),
            None => (
                text.strip_prefix(LEGACY_TOKEN_PREFIX).ok_or_else(|| {
                    malformed("not a Tessera machine token (it does not start with tsr2_)")
                })?,
                false,
            ),
        };
        let (id, secret) = body
            .split_once('_')
            .ok_or_else(|| malformed("truncated (no secret after the id)"))?;
        let id = Id::parse(id).ok_or_else(|| malformed("damaged (its id is not 32 hex digits)"))?;
        if secret.len() != 43 {
            return Err(malformed(if secret.len() < 43 {
                "truncated (its secret is too short)"
            } else {
                "damaged (its secret is too long)"
            }));
        }
        let raw = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(secret)
                .map_err(|_| malformed("damaged (its secret is not base64url)"))?,
        );
        let mut bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| malformed("damaged (its secret is not 32 bytes)"))?;
        let secret = MachineSecret::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(Self { id, secret, pinned })
    }

    /// The token id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The token as text (`tsr2_...`, or `tsr1_...` for one from before pins), to show once.
    /// Greppable on purpose.
    pub fn expose_secret(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        let secret = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.secret.expose_secret()),
        );
        let prefix = if self.pinned {
            TOKEN_PREFIX
        } else {
            LEGACY_TOKEN_PREFIX
        };
        Zeroizing::new(format!("{prefix}{}_{}", self.id, secret.as_str()))
    }

    /// The pin's tag over `body`.
    fn pin_tag(&self, body: &[u8]) -> [u8; 32] {
        self.secret.pin_key().tag(PIN_TAG, &[body])
    }

    /// The pin the server served with `g`, its tag checked and its ids this token's.
    fn open_pin(&self, g: &proto::TokenGroup) -> Result<proto::TokenPin> {
        let refused = |why: &str| Error::TokenPin(format!("its pin {why}"));
        let tagged = g.pin.as_ref().ok_or_else(|| {
            refused("was withheld (the token was made with one; the server sent none)")
        })?;
        if !self
            .secret
            .pin_key()
            .verify(PIN_TAG, &[&tagged.body.0], &tagged.tag.0)
        {
            return Err(refused("does not verify (the server changed or forged it)"));
        }
        let pin = proto::TokenPin::decode(&tagged.body.0)
            .map_err(|why| Error::TokenPin(format!("its pin is malformed: {why}")))?;
        if pin.token_id != self.id || pin.group_id != g.group_id || pin.team_id != g.team_id {
            return Err(refused("names another token, group or team"));
        }
        Ok(pin)
    }

    /// What the server checks: `<id>.<bearer, base64url>`.
    fn credential(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        let bearer = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.secret.bearer()[..]),
        );
        Zeroizing::new(format!("{}.{}", self.id, bearer.as_str()))
    }
}

/// A token just created: the only time its secret is available.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The token id (hex).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The group id (hex).
    pub group_id: String,
    /// The group's name.
    pub group: String,
    /// When it expires (Unix time).
    pub expires_at: i64,
    /// The token (`tsr2_...`): store it in the CI secret store now; it is not shown again.
    pub token: SecretText,
}

/// A machine token as group admins see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenView {
    /// The token id (hex).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Who created it (e-mail, or account id when they left the team).
    pub created_by: String,
    /// When.
    pub created_at: i64,
    /// When it expires.
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was last used, if ever.
    pub last_used_at: Option<i64>,
    /// `live`, `expired` or `revoked`.
    pub state: String,
}

/// A CI job's read-only view of one group, through a machine token: no vault, no password.
pub struct TokenClient {
    link: Link,
    token_id: Id,
    keys: GroupKeys,
    name: String,
    expires_at: i64,
}

/// How a token's reads are checked.
enum Link {
    /// A token with a pin: against the team root its creator pinned, and no older than the
    /// manifest its creator had accepted.
    Pinned {
        ctx: TeamContext,
        manifest: Option<Position>,
    },
    /// A token from before pins: on the server's word.
    Legacy { remote: Remote, team_id: [u8; 16] },
}

impl Link {
    fn remote(&self) -> &Remote {
        match self {
            Link::Pinned { ctx, .. } => &ctx.remote,
            Link::Legacy { remote, .. } => remote,
        }
    }

    fn team_id(&self) -> &[u8; 16] {
        match self {
            Link::Pinned { ctx, .. } => &ctx.team_id,
            Link::Legacy { team_id, .. } => team_id,
        }
    }
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenClient({}, {})",
            self.link.remote().base(),
            self.keys.info.group_id
        )
    }
}

/// A 32-byte hash from a pin (its length checked when the pin was decoded).
fn hash32(b: &Blob) -> [u8; 32] {
    b.0.as_slice().try_into().unwrap_or([0; 32])
}

/// The newest key sealed to `token` is one it may accept: the one the pin names (the creator
/// sealed it), or one a group admin signed into the log for the token; and with a log, the
/// server's epoch is the log's and no newer key the log gives the token is withheld.
fn check_token_key(
    token: Id,
    pin: &proto::TokenPin,
    state: Option<&GroupState>,
    served_epoch: u64,
    newest: &proto::EpochKey,
) -> Result<()> {
    let group = pin.group_id.to_hex();
    if let Some(s) = state {
        let refused = |why: String| Error::GroupLog {
            group: group.clone(),
            why,
        };
        if served_epoch != s.epoch {
            return Err(refused(format!(
                "the server says the group is at key epoch {served_epoch}, its log says {}",
                s.epoch
            )));
        }
        if newest.epoch < s.epoch && s.holds_key(s.epoch, token) {
            return Err(refused(format!(
                "the server withheld the key of epoch {} that the log gives this token",
                s.epoch
            )));
        }
    }
    let pinned = newest.epoch == pin.epoch
        && proto::KeyDigest::of(token, &newest.wrapped.0).digest.0 == pin.key.0;
    let signed = state.is_some_and(|s| s.signed_key(newest.epoch, token, &newest.wrapped.0));
    if pinned || signed {
        Ok(())
    } else {
        Err(Error::TokenPin(format!(
            "the key of epoch {} sealed to the token is neither the one its creator sealed nor \
             one a group admin signed for it (the server substituted it)",
            newest.epoch
        )))
    }
}

impl TokenClient {
    /// Fetch the group's keys with `token` from the server at `server`, check them (a pinned
    /// token: against its pin and the group's signed log) and open them.
    pub fn connect(server: &str, token: &MachineToken) -> Result<Self> {
        let remote = Remote::machine(server, token.credential())?;
        let g: proto::TokenGroup = remote.get("/v1/token/group")?;
        let group = g.group_id;
        if g.token_id != token.id {
            return Err(Error::TamperedHeader(
                "the server answered for another machine token".into(),
            ));
        }
        let team_id = g.team_id.0;
        let newest = g
            .keys
            .iter()
            .filter(|k| !k.wrapped.0.is_empty())
            .max_by_key(|k| k.epoch)
            .ok_or_else(|| damaged_keys(group))?;
        let epoch = newest.epoch;
        let (link, state) = if token.pinned {
            let pin = token.open_pin(&g)?;
            let ctx = TeamContext {
                remote,
                team_id,
                root: hash32(&pin.root),
            };
            let state = replay(&ctx, group, &g.log, &g.signers)?;
            let floor = pin.log.as_ref().map(|p| (p.seq, hash32(&p.hash)));
            reaches(group, &g.log, floor, "the token's creator")?;
            check_token_key(token.id, &pin, state.as_ref(), g.epoch, newest)?;
            let manifest = pin.manifest.as_ref().map(|p| (p.seq, hash32(&p.hash)));
            (Link::Pinned { ctx, manifest }, state)
        } else {
            (Link::Legacy { remote, team_id }, None)
        };
        let raw = token
            .secret
            .open_sealed(
                &newest.wrapped.0,
                &token_key_ad(&team_id, &group, epoch, &token.id),
            )
            .map_err(|_| damaged_keys(group))?;
        let info = proto::GroupInfo {
            group_id: group,
            epoch: g.epoch,
            name: g.name,
            role: GroupRole::Viewer,
            expires_at: Some(g.expires_at),
            keys: g.keys,
        };
        let mut keys = open_chain(&team_id, info, epoch, &raw)?;
        keys.state = state;
        keys.directory = g.signers;
        let name = group_view(&team_id, &keys)?.name;
        tessera_crypto::scrub_stack();
        Ok(Self {
            link,
            token_id: token.id,
            keys,
            name,
            expires_at: g.expires_at,
        })
    }

    /// The group id (hex).
    pub fn group_id(&self) -> String {
        self.keys.info.group_id.to_hex()
    }

    /// The group's name.
    pub fn group_name(&self) -> &str {
        &self.name
    }

    /// When the token expires (Unix time).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// What a job should print before it relies on this token, if anything: a token from
    /// before pins reads on the server's word.
    pub fn warning(&self) -> Option<String> {
        match self.link {
            Link::Pinned { .. } => None,
            Link::Legacy { .. } => Some(format!(
                "machine token {} was made before tokens were pinned to the team root (it starts \
                 with tsr1_): the server's keys and item lists are taken on its word; ask a \
                 group admin of {} for a new one (`tessera token create`) and revoke this one",
                self.token_id, self.name
            )),
        }
    }

    /// Every item of the group, decrypted (deleted ones left out); a record that does not
    /// open is named in [`GroupItems::damaged`] and the rest are read. With a pin and a signed
    /// log, an item the group's manifest names that the server left out is refused
    /// ([`Error::Omitted`]), as is a manifest older than the pin's ([`Error::Manifest`]).
    pub fn items(&self) -> Result<GroupItems> {
        let mut records = self.checked_pull()?;
        if records.is_err() {
            // A push may have landed between the pages and the manifest: read once more.
            records = self.checked_pull()?;
        }
        let records = records?;
        Ok(GroupItems::open(self.link.team_id(), &self.keys, &records))
    }

    /// One pull of every page; the inner result is the records, or the item the manifest names
    /// that they lack.
    fn checked_pull(&self) -> Result<Result<Vec<proto::ItemRecord>>> {
        let (records, served) = pull_pages(self.link.remote(), "/v1/token/sync")?;
        let (Link::Pinned { ctx, manifest }, Some(state)) = (&self.link, &self.keys.state) else {
            return Ok(Ok(records));
        };
        let group = self.keys.info.group_id;
        let what = format!("group {group}");
        let checked = check_manifest(group, &what, *manifest, served.as_ref(), |m| {
            manifest_signed(ctx, state, &self.keys.directory, m)
        })?;
        Ok(match checked.and_then(|(m, _)| omitted(&m, &records)) {
            Some((item, version)) => Err(Error::Omitted {
                collection: what,
                item: item.to_hex(),
                version,
            }),
            None => Ok(records),
        })
    }
}

/// The group key of `epoch` sealed to each live token of the group, each token record's
/// signature checked against its creator's certificate chain first.
pub(super) fn seal_to_tokens(
    ctx: &TeamContext,
    directory: &[proto::DirectoryEntry],
    group: Id,
    epoch: u64,
    key: &SymmetricKey,
) -> Result<Vec<proto::TokenKey>> {
    let tokens: Vec<proto::TokenInfo> = ctx.remote.get(&format!("/v1/groups/{group}/tokens"))?;
    let t = now();
    let mut out = Vec::new();
    for tok in tokens
        .iter()
        .filter(|k| k.revoked_at.is_none() && k.expires_at > t)
    {
        let exchange = verified_token_key(ctx, directory, group, tok)?;
        out.push(proto::TokenKey {
            token_id: tok.token_id,
            key: Blob(seal::seal_to(
                &exchange,
                key.expose_secret(),
                &token_key_ad(&ctx.team_id, &group, epoch, &tok.token_id),
            )),
        });
    }
    Ok(out)
}

/// The token's X25519 public key, once its record's signature verifies against its creator's
/// certified signing key.
fn verified_token_key(
    ctx: &TeamContext,
    directory: &[proto::DirectoryEntry],
    group: Id,
    tok: &proto::TokenInfo,
) -> Result<[u8; 32]> {
    let who = format!("machine token {}", tok.token_id);
    let untrusted = |why: String| Error::Untrusted {
        who: who.clone(),
        why,
    };
    let (creator, subject) = verified_entry(ctx, directory, &tok.created_by.to_hex())
        .map_err(|e| untrusted(format!("its creator's keys cannot be verified ({e})")))?;
    let exchange_public: [u8; 32] = tok
        .exchange_public
        .0
        .as_slice()
        .try_into()
        .map_err(|_| untrusted("its public key is malformed".into()))?;
    let record = TokenRecord {
        team_id: ctx.team_id,
        group_id: group.0,
        token_id: tok.token_id.0,
        exchange_public,
        expires_at: tok.expires_at,
    };
    record
        .verify(&subject.signing_public, &tok.signature.0)
        .map_err(|_| {
            untrusted(format!(
                "its record (public key, group or expiry) is not the one {} signed: the server \
                 may have substituted its key; revoke it and create a new one",
                creator.email
            ))
        })?;
    Ok(exchange_public)
}

pub(in crate::vault) fn token_views(ctx: &TeamContext, keys: &GroupKeys) -> Result<Vec<TokenView>> {
    let gid = keys.info.group_id;
    let tokens: Vec<proto::TokenInfo> = ctx.remote.get(&format!("/v1/groups/{gid}/tokens"))?;
    let directory = Vault::directory(ctx)?;
    tokens
        .iter()
        .map(|tok| token_view(ctx, keys, &directory, tok))
        .collect()
}

/// One token of a group, its name decrypted ([`Error::Tampered`] when it does not open).
fn token_view(
    ctx: &TeamContext,
    keys: &GroupKeys,
    directory: &[proto::DirectoryEntry],
    tok: &proto::TokenInfo,
) -> Result<TokenView> {
    let gid = keys.info.group_id;
    let bad = || Error::Tampered {
        item: tok.token_id.to_hex(),
    };
    let key = keys.keys.get(&tok.name_epoch).ok_or_else(bad)?;
    let sealed = Sealed::from_bytes(tok.name.0.clone()).map_err(|_| bad())?;
    let name = envelope::open(
        key,
        &sealed,
        &token_name_ad(&ctx.team_id, &gid, tok.name_epoch, &tok.token_id),
    )
    .ok()
    .and_then(|n| String::from_utf8(n.to_vec()).ok())
    .ok_or_else(bad)?;
    let created_by = directory
        .iter()
        .find(|e| e.account_id == tok.created_by)
        .map_or_else(|| tok.created_by.to_hex(), |e| e.email.clone());
    Ok(TokenView {
        id: tok.token_id.to_hex(),
        name,
        created_by,
        created_at: tok.created_at,
        expires_at: tok.expires_at,
        revoked_at: tok.revoked_at,
        last_used_at: tok.last_used_at,
        state: token_state(tok, now()).into(),
    })
}

/// A token the server says can read a group's items, checked: its name must open under the
/// group's key and its record must carry its creator's certified signature. One that fails is
/// still listed (it may hold a key), its state saying why it is not trusted.
pub(in crate::vault) fn checked_token_view(
    ctx: &TeamContext,
    keys: &GroupKeys,
    directory: &[proto::DirectoryEntry],
    tok: &proto::TokenInfo,
) -> TokenView {
    let checked = verified_token_key(ctx, directory, keys.info.group_id, tok)
        .and_then(|_| token_view(ctx, keys, directory, tok));
    checked.unwrap_or_else(|e| TokenView {
        id: tok.token_id.to_hex(),
        name: String::new(),
        created_by: tok.created_by.to_hex(),
        created_at: tok.created_at,
        expires_at: tok.expires_at,
        revoked_at: tok.revoked_at,
        last_used_at: tok.last_used_at,
        state: format!("untrusted: {e}"),
    })
}

fn token_state(t: &proto::TokenInfo, now: i64) -> &'static str {
    if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at <= now {
        "expired"
    } else {
        "live"
    }
}

impl Vault {
    /// Create a machine token for a group (group admins): read-only, expiring at `expires_at`.
    /// The returned token is the only copy of its secret.
    pub fn token_create(&self, group: &str, name: &str, expires_at: i64) -> Result<CreatedToken> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Error::Invalid(
                "a machine token's name is 1 to 200 characters".into(),
            ));
        }
        if expires_at <= now() {
            return Err(Error::Invalid("the expiry must be in the future".into()));
        }
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        if view.role != GroupRole::Admin {
            return Err(Error::Invalid(format!(
                "only admins of {} can create machine tokens for it",
                view.name
            )));
        }
        let directory: Vec<proto::DirectoryEntry> = ctx
            .remote
            .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))?;
        if self.own_chain(&ctx, &directory).is_none() {
            if self.team_root_key()?.is_none() {
                return Err(Error::Invalid(
                    "your keys are not certified yet, so other admins could not check the token; \
                     ask a team admin to run `tessera team certify` for you"
                        .into(),
                ));
            }
            self.ensure_self_certified(&ctx, &directory)?;
        }
        let gid = keys.info.group_id;
        let (epoch, key) = keys.current()?;
        let token = MachineToken {
            id: Id(rand::random()),
            secret: MachineSecret::generate(),
            pinned: true,
        };
        let exchange_public = token.secret.exchange_public();
        let sealed = seal::seal_to(
            &exchange_public,
            key.expose_secret(),
            &token_key_ad(&ctx.team_id, &gid, epoch, &token.id),
        );
        let position = |(seq, hash): (u64, [u8; 32])| proto::PinPosition {
            seq,
            hash: Blob(hash.to_vec()),
        };
        let pin = proto::TokenPin {
            v: proto::TOKEN_PIN_VERSION,
            team_id: Id(ctx.team_id),
            group_id: gid,
            token_id: token.id,
            root: Blob(ctx.root.to_vec()),
            epoch,
            key: proto::KeyDigest::of(token.id, &sealed).digest,
            log: keys.state.as_ref().map(|s| position(s.head)),
            manifest: self.seen_manifest(gid)?.map(position),
        }
        .encode();
        let record = TokenRecord {
            team_id: ctx.team_id,
            group_id: gid.0,
            token_id: token.id.0,
            exchange_public,
            expires_at,
        };
        let req = proto::CreateTokenRequest {
            token_id: token.id,
            name: Blob(
                envelope::seal(
                    key,
                    name.as_bytes(),
                    &token_name_ad(&ctx.team_id, &gid, epoch, &token.id),
                )
                .into_bytes(),
            ),
            exchange_public: Blob(exchange_public.to_vec()),
            bearer_hash: Blob(token.secret.bearer_hash().to_vec()),
            expires_at,
            epoch,
            key: Blob(sealed),
            signature: Blob(record.sign(&self.keyset).to_vec()),
            pin: Some(proto::TaggedTokenPin {
                tag: Blob(token.pin_tag(&pin).to_vec()),
                body: Blob(pin),
            }),
        };
        let _: serde_json::Value = ctx.remote.post(&format!("/v1/groups/{gid}/tokens"), &req)?;
        Ok(CreatedToken {
            id: token.id.to_hex(),
            name: name.to_owned(),
            group_id: gid.to_hex(),
            group: view.name,
            expires_at,
            token: SecretText::new(std::mem::take(&mut *token.expose_secret())),
        })
    }

    /// A group's machine tokens (group admins), names decrypted, oldest first.
    pub fn tokens(&self, group: &str) -> Result<Vec<TokenView>> {
        let ctx = self.team_context()?;
        let (keys, _) = self.find_group(&ctx, group)?;
        token_views(&ctx, &keys)
    }

    /// Revoke a machine token (group admins), by id, id prefix or name among the group's
    /// unrevoked tokens. The server refuses the token's next request.
    pub fn token_revoke(&self, group: &str, token: &str) -> Result<TokenView> {
        let ctx = self.team_context()?;
        let (keys, view) = self.find_group(&ctx, group)?;
        let q = token.trim().to_lowercase();
        if q.is_empty() {
            return Err(Error::Invalid("say which token: its id or name".into()));
        }
        let mut found: Vec<TokenView> = token_views(&ctx, &keys)?
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .filter(|t| t.id.starts_with(&q) || t.name.to_lowercase() == q)
            .collect();
        let t = match found.len() {
            0 => {
                return Err(Error::NotFound(format!(
                    "no unrevoked machine token {token:?} in {} (`tessera token list {}`)",
                    view.name, view.name
                )))
            }
            1 => found.pop().expect("one"),
            count => {
                return Err(Error::Ambiguous {
                    query: token.to_owned(),
                    count,
                })
            }
        };
        ctx.remote
            .call_empty("DELETE", &format!("/v1/groups/{}/tokens/{}", view.id, t.id))?;
        Ok(TokenView {
            revoked_at: Some(now()),
            state: "revoked".into(),
            ..t
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_round_trip_and_malformed_ones_say_why() {
        let t = MachineToken {
            id: Id([0xab; 16]),
            secret: MachineSecret::generate(),
            pinned: true,
        };
        let text = t.expose_secret();
        assert!(text.starts_with("tsr2_abab"));
        assert_eq!(text.len(), 5 + 32 + 1 + 43);
        let back = MachineToken::parse(&format!("  {}\n", text.as_str())).unwrap();
        assert_eq!(back.id(), t.id());
        assert_eq!(back.secret.expose_secret(), t.secret.expose_secret());
        assert_eq!(format!("{back:?}"), format!("MachineToken({}, ***)", t.id));
        let secret_part = &text[38..];
        for (bad, why) in [
            (String::new(), "does not start with tsr2_"),
            (
                text.replacen("tsr2_", "tsr3_", 1),
                "does not start with tsr2_",
            ),
            (text[..37].to_owned(), "no secret"),
            (text[..60].to_owned(), "too short"),
            (format!("{}x", text.as_str()), "too long"),
            (text.replacen("abab", "zzzz", 1), "id is not"),
            (
                format!("tsr2_{}_{}", "ab".repeat(16), "*".repeat(43)),
                "not base64url",
            ),
        ] {
            let e = MachineToken::parse(&bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
            assert!(!e.contains(secret_part), "the error repeats the secret");
        }
    }

    /// `tests/vectors/token/machine_token.json`: the token string gives the pinned id, secret
    /// and credential, and its derived key opens the group key sealed to it under the token key
    /// AD; the `tsr2_` form tags the pin as the vector says; each `fail_tokens` string is
    /// refused with the reason it names.
    #[test]
    fn the_token_vector_parses_to_the_pinned_secret_and_credential() {
        use super::super::vector_support::{arr, hex, int, load, text, to_hex};
        let v = load("token/machine_token.json");
        let t = MachineToken::parse(text(&v["token"])).unwrap();
        assert_eq!(t.id().to_hex(), text(&v["token_id"]));
        assert_eq!(to_hex(t.secret.expose_secret()), text(&v["secret"]));
        assert_eq!(t.credential().as_str(), text(&v["credential"]));
        assert_eq!(t.expose_secret().as_str(), text(&v["token"]));
        let g = &v["sealed_group_key"];
        let r = &v["record"];
        let ad = token_key_ad(
            &arr(&r["team_id"]),
            &Id(arr(&r["group_id"])),
            u64::try_from(int(&g["epoch"])).unwrap(),
            &t.id(),
        );
        assert_eq!(to_hex(&ad), text(&g["ad"]));
        let key = t.secret.open_sealed(&hex(&g["sealed"]), &ad).unwrap();
        assert_eq!(to_hex(&key), text(&g["plaintext"]));
        // Format 2: the same secret; the pin's body decodes and encodes to the same bytes, and
        // its tag is the one the pin key gives.
        let p = &v["pin"];
        let pinned = MachineToken::parse(text(&p["token"])).unwrap();
        assert!(pinned.pinned && !t.pinned);
        assert_eq!(pinned.secret.expose_secret(), t.secret.expose_secret());
        assert_eq!(pinned.expose_secret().as_str(), text(&p["token"]));
        let body = hex(&p["body"]);
        assert_eq!(proto::TokenPin::decode(&body).unwrap().encode(), body);
        assert_eq!(to_hex(&pinned.pin_tag(&body)), text(&p["tag"]));
        for case in v["fail_tokens"].as_array().unwrap() {
            let e = MachineToken::parse(text(&case[0])).unwrap_err().to_string();
            assert!(e.contains(text(&case[1])), "{}: {e}", case[0]);
        }
    }
}
