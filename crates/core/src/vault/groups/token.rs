//! Machine tokens for CI: read-only access of a job to one group, with an expiry, revocable.
//!
//! A group admin creates a token ([`Vault::token_create`]): a random secret, shown once as
//! `tsr1_<token id>_<secret>`, from which [`tessera_crypto::token::MachineSecret`] derives a
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
//! A job holding the token ([`TokenClient`]) fetches the keys sealed to the token, opens the
//! newest with its derived X25519 key and the older ones through the chain of previous keys, and
//! opens the group's items with the same code members use. It needs no vault and no password.
use serde::{Deserialize, Serialize};
use tessera_crypto::envelope::{self, Sealed};
use tessera_crypto::token::{MachineSecret, TokenRecord};
use tessera_crypto::{seal, SymmetricKey};
use tessera_protocol as proto;
use tessera_protocol::{Blob, GroupRole, Id};
use zeroize::Zeroizing;

use super::version::{token_key_ad, token_name_ad};
use super::{
    damaged_keys, group_view, open_chain, verified_entry, GroupItems, GroupKeys, TeamContext,
};
use crate::error::{Error, Result};
use crate::item::SecretText;
use crate::remote::Remote;
use crate::vault::{now, Vault};

/// The prefix of every machine token (format version 1).
pub const TOKEN_PREFIX: &str = "tsr1_";

/// A machine token as a job holds it: its id and its secret. Parsed from the string shown once
/// at creation; the secret is zeroized on drop and never printed (`Debug` shows the id only).
pub struct MachineToken {
    id: Id,
    secret: MachineSecret,
}

impl std::fmt::Debug for MachineToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MachineToken({}, ***)", self.id)
    }
}

impl MachineToken {
    /// Parse `tsr1_<32 hex digits>_<43 base64url characters>`. The error says what is wrong and
    /// never repeats the token.
    pub fn parse(text: &str) -> Result<Self> {
        use base64::Engine as _;
        let text = text.trim();
        let malformed = |what: &str| {
            Error::Invalid(format!(
                "the machine token is {what}: a token is tsr1_ followed by 32 hex digits, _ and \
                 43 characters; copy it again from your CI secret store"
            ))
        };
        let body = text.strip_prefix(TOKEN_PREFIX).ok_or_else(|| {
            malformed("not a Tessera machine token (it does not start with tsr1_)")
        })?;
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
        Ok(Self { id, secret })
    }

    /// The token id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The token as text (`tsr1_...`), to show once. Greppable on purpose.
    pub fn expose_secret(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        let secret = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.secret.expose_secret()),
        );
        Zeroizing::new(format!("{TOKEN_PREFIX}{}_{}", self.id, secret.as_str()))
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
    /// The token (`tsr1_...`): store it in the CI secret store now; it is not shown again.
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
    remote: Remote,
    team_id: [u8; 16],
    keys: GroupKeys,
    name: String,
    expires_at: i64,
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenClient({}, {})",
            self.remote.base(),
            self.keys.info.group_id
        )
    }
}

impl TokenClient {
    /// Fetch the group's keys with `token` from the server at `server` and open them.
    pub fn connect(server: &str, token: &MachineToken) -> Result<Self> {
        let remote = Remote::machine(server, token.credential())?;
        let g: proto::TokenGroup = remote.get("/v1/token/group")?;
        let group = g.group_id;
        if g.token_id != token.id {
            return Err(Error::TamperedHeader(
                "the server answered for another machine token".into(),
            ));
        }
        let newest = g
            .keys
            .iter()
            .filter(|k| !k.wrapped.0.is_empty())
            .max_by_key(|k| k.epoch)
            .ok_or_else(|| damaged_keys(group))?;
        let epoch = newest.epoch;
        let raw = token
            .secret
            .open_sealed(
                &newest.wrapped.0,
                &token_key_ad(&g.team_id.0, &group, epoch, &token.id),
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
        let keys = open_chain(&g.team_id.0, info, epoch, &raw)?;
        let name = group_view(&g.team_id.0, &keys)?.name;
        tessera_crypto::scrub_stack();
        Ok(Self {
            remote,
            team_id: g.team_id.0,
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

    /// Every item of the group, decrypted (deleted ones left out); a record that does not
    /// open is named in [`GroupItems::damaged`] and the rest are read.
    pub fn items(&self) -> Result<GroupItems> {
        let mut latest = std::collections::BTreeMap::new();
        let mut cursor = 0;
        loop {
            let page: proto::PullResponse =
                self.remote.get(&format!("/v1/token/sync?since={cursor}"))?;
            for rec in page.changes {
                latest.insert(rec.item_id, rec);
            }
            cursor = page.cursor;
            if !page.more {
                break;
            }
        }
        let records: Vec<proto::ItemRecord> = latest.into_values().collect();
        Ok(GroupItems::open(&self.team_id, &self.keys, &records))
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
    let directory: Vec<proto::DirectoryEntry> = ctx
        .remote
        .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))?;
    let t = now();
    tokens
        .iter()
        .map(|tok| {
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
                state: token_state(tok, t).into(),
            })
        })
        .collect()
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
        };
        let exchange_public = token.secret.exchange_public();
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
            key: Blob(seal::seal_to(
                &exchange_public,
                key.expose_secret(),
                &token_key_ad(&ctx.team_id, &gid, epoch, &token.id),
            )),
            signature: Blob(record.sign(&self.keyset).to_vec()),
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
        };
        let text = t.expose_secret();
        assert!(text.starts_with("tsr1_abab"));
        assert_eq!(text.len(), 5 + 32 + 1 + 43);
        let back = MachineToken::parse(&format!("  {}\n", text.as_str())).unwrap();
        assert_eq!(back.id(), t.id());
        assert_eq!(back.secret.expose_secret(), t.secret.expose_secret());
        assert_eq!(format!("{back:?}"), format!("MachineToken({}, ***)", t.id));
        let secret_part = &text[38..];
        for (bad, why) in [
            (String::new(), "does not start with tsr1_"),
            (
                text.replacen("tsr1_", "tsr2_", 1),
                "does not start with tsr1_",
            ),
            (text[..37].to_owned(), "no secret"),
            (text[..60].to_owned(), "too short"),
            (format!("{}x", text.as_str()), "too long"),
            (text.replacen("abab", "zzzz", 1), "id is not"),
            (
                format!("tsr1_{}_{}", "ab".repeat(16), "*".repeat(43)),
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
    /// AD; each `fail_tokens` string is refused with the reason it names.
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
        for case in v["fail_tokens"].as_array().unwrap() {
            let e = MachineToken::parse(text(&case[0])).unwrap_err().to_string();
            assert!(e.contains(text(&case[1])), "{}: {e}", case[0]);
        }
    }
}
