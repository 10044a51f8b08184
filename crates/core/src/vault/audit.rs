//! The team's audit log, client side: read it with filters (team admins), verify its hash
//! chain, and report what happened on this device (reveals of shared items).
//!
//! Verification fetches the whole chain page by page and recomputes every link
//! ([`tessera_protocol::ChainVerifier`]). The newest verified entry is kept in the vault as an
//! anchor; the next verification also checks the anchor is still there unchanged, so a server
//! that rewrites the chain and recomputes every hash is caught too.

use serde::{Deserialize, Serialize};
use tessera_protocol as proto;
use tessera_protocol::{Actor, AuditAction, AuditEntry, ChainVerifier, Id};

use super::groups::{token_views, TeamContext};
use super::Vault;
use crate::error::{Error, Result};

const META_ANCHOR: &str = "audit_anchor";
/// `meta` key of the reveals and copies queued while the server was out of reach.
const META_QUEUE: &str = "audit_queue";
const QUEUE_LABEL: &str = "tessera queued audit events";
/// At most this many queued events: past it, reads that must be recorded wait for the server.
const MAX_QUEUED: usize = 10_000;

/// What to show of the log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only entries by this account (e-mail) or token id.
    pub actor: Option<String>,
    /// Only entries about this item (id).
    pub item: Option<String>,
    /// Only entries at or after this Unix time.
    pub since: Option<i64>,
    /// Only entries before this Unix time.
    pub until: Option<i64>,
}

/// One entry with accounts named by e-mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRow {
    /// Position in the chain.
    pub seq: u64,
    /// Unix time.
    pub at: i64,
    /// Who: an e-mail address, `token:<id>` or `anonymous`.
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// The item, if any (hex id).
    pub item_id: Option<String>,
    /// The group, if any (hex id).
    pub group_id: Option<String>,
    /// The account concerned, if any (e-mail).
    pub subject: Option<String>,
    /// Detail.
    pub detail: String,
}

impl AuditRow {
    /// The action's name.
    pub fn action_name(&self) -> &'static str {
        self.action.as_str()
    }
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditVerdict {
    /// Entries checked.
    pub entries: u64,
    /// The first break, described (None: the chain is intact).
    pub broken: Option<String>,
    /// The sequence number of the anchor checked, from an earlier verification on this device.
    pub anchor: Option<u64>,
}

/// A person in the team directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamMember {
    /// The account (hex id).
    pub account_id: String,
    /// Their e-mail address.
    pub email: String,
    /// `admin` or `member` of the team.
    pub team_role: String,
}

fn directory(ctx: &TeamContext) -> Result<Vec<proto::DirectoryEntry>> {
    ctx.remote
        .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))
}

fn account_name(directory: &[proto::DirectoryEntry], id: Id) -> String {
    directory
        .iter()
        .find(|e| e.account_id == id)
        .map_or_else(|| format!("account:{id}"), |e| e.email.clone())
}

impl Vault {
    /// Everyone in the team, by e-mail address (for picking whom to review or add).
    pub fn team_members(&self) -> Result<Vec<TeamMember>> {
        let mut people: Vec<TeamMember> = directory(&self.team_context()?)?
            .into_iter()
            .map(|e| TeamMember {
                account_id: e.account_id.to_string(),
                email: e.email,
                team_role: e.team_role,
            })
            .collect();
        people.sort_by_cached_key(|p| p.email.to_lowercase());
        Ok(people)
    }

    /// Entries of the team's log matching `filter`, oldest first (team admins).
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>> {
        let ctx = self.team_context()?;
        let directory = directory(&ctx)?;
        let mut q = Vec::new();
        if let Some(a) = filter.actor.as_deref().map(str::trim) {
            let id = match Id::parse(a) {
                Some(id) => id,
                None => directory
                    .iter()
                    .find(|e| e.email.eq_ignore_ascii_case(a))
                    .map(|e| e.account_id)
                    .ok_or_else(|| {
                        Error::NotFound(format!("no account {a:?} in the team directory"))
                    })?,
            };
            q.push(format!("&actor={id}"));
        }
        if let Some(i) = filter.item.as_deref().map(str::trim) {
            let id = Id::parse(i).ok_or_else(|| {
                Error::Invalid(format!("{i:?} is not an item id (32 hex digits)"))
            })?;
            q.push(format!("&item={id}"));
        }
        if let Some(t) = filter.since {
            q.push(format!("&since={t}"));
        }
        if let Some(t) = filter.until {
            q.push(format!("&until={t}"));
        }
        let mut entries = Vec::new();
        Self::audit_pages(&ctx, &q.concat(), |e| {
            entries.push(e);
            Ok(())
        })?;
        let tokens = if entries.iter().any(|e| matches!(e.actor, Actor::Token(_))) {
            self.token_names(&ctx)?
        } else {
            std::collections::HashMap::new()
        };
        let rows = entries
            .into_iter()
            .map(|e| AuditRow {
                seq: e.seq,
                at: e.at,
                actor: match e.actor {
                    Actor::Anonymous => "anonymous".into(),
                    Actor::Account(id) => account_name(&directory, id),
                    Actor::Token(id) => tokens
                        .get(&id.to_hex())
                        .map_or_else(|| format!("token:{id}"), |n| format!("token:{n}")),
                },
                action: e.action,
                item_id: e.item_id.map(|i| i.to_hex()),
                group_id: e.group_id.map(|i| i.to_hex()),
                subject: e.subject.map(|s| account_name(&directory, s)),
                detail: e.detail,
            })
            .collect();
        Ok(rows)
    }

    /// The names of the machine tokens of every group this account administers, by token id
    /// (names are sealed under the group key; the server cannot name them).
    fn token_names(&self, ctx: &TeamContext) -> Result<std::collections::HashMap<String, String>> {
        let mut names = std::collections::HashMap::new();
        for keys in self.fetch_groups(ctx)? {
            if keys.info.role == tessera_protocol::GroupRole::Admin {
                for t in token_views(ctx, &keys)? {
                    names.insert(t.id, t.name);
                }
            }
        }
        Ok(names)
    }

    /// Fetch every entry after the query `q` (`&name=value...`), page by page.
    fn audit_pages(
        ctx: &TeamContext,
        q: &str,
        mut each: impl FnMut(AuditEntry) -> Result<()>,
    ) -> Result<()> {
        let mut after = 0;
        loop {
            let page: proto::AuditPage = ctx
                .remote
                .get(&format!("/v1/audit?after={after}{q}"))
                .map_err(|e| match e {
                    Error::Remote { status: 403, .. } => {
                        Error::Invalid("only a team admin may read the audit log".into())
                    }
                    e => e,
                })?;
            let last = page.entries.last().map(|e| e.seq);
            for e in page.entries {
                each(e)?;
            }
            match last {
                Some(l) if page.more => after = l,
                _ => return Ok(()),
            }
        }
    }

    /// Verify the whole chain; remember its head as this device's anchor when it is intact.
    pub fn audit_verify(&mut self) -> Result<AuditVerdict> {
        let ctx = self.team_context()?;
        let anchor = self.store.meta(META_ANCHOR)?.and_then(|raw| {
            let seq = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
            let hash: [u8; 32] = raw.get(8..40)?.try_into().ok()?;
            Some((seq, hash))
        });
        let mut v = ChainVerifier::new(Id(ctx.team_id), anchor);
        let mut entries = 0u64;
        let mut broken = None;
        Self::audit_pages(&ctx, "", |e| {
            if broken.is_none() {
                entries += 1;
                if let Err(b) = v.push(&e) {
                    broken = Some(b.to_string());
                }
            }
            Ok(())
        })?;
        let anchor_seq = anchor.map(|(s, _)| s);
        if let Some(b) = broken {
            return Ok(AuditVerdict {
                entries,
                broken: Some(b),
                anchor: anchor_seq,
            });
        }
        match v.finish() {
            Ok((seq, hash)) => {
                let mut raw = seq.to_be_bytes().to_vec();
                raw.extend_from_slice(&hash);
                self.store.write(|w| w.put_meta(META_ANCHOR, &raw))?;
                Ok(AuditVerdict {
                    entries,
                    broken: None,
                    anchor: anchor_seq,
                })
            }
            Err(b) => Ok(AuditVerdict {
                entries,
                broken: Some(b.to_string()),
                anchor: anchor_seq,
            }),
        }
    }

    /// Queue a reveal or copy made while the server was out of reach, sealed under the vault
    /// key, for [`Vault::send_queued_events`] at the next sync.
    pub(super) fn queue_event(&self, event: proto::ClientEvent) -> Result<()> {
        let mut queued = self.queued_events()?;
        if queued.len() >= MAX_QUEUED {
            return Err(Error::Invalid(format!(
                "{MAX_QUEUED} reveals and copies are waiting to reach the team's audit log; \
                 reconnect to the team server and run `tessera sync` first"
            )));
        }
        queued.push(event);
        self.put_queued(&queued)
    }

    fn queued_events(&self) -> Result<Vec<proto::ClientEvent>> {
        let Some(plain) =
            self.sealed_meta(META_QUEUE, QUEUE_LABEL, "", "the queued audit events")?
        else {
            return Ok(Vec::new());
        };
        serde_json::from_slice(&plain).map_err(|_| {
            Error::TamperedHeader("the audit events queued on this device are damaged".into())
        })
    }

    fn put_queued(&self, events: &[proto::ClientEvent]) -> Result<()> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(events).map_err(|e| Error::Invalid(e.to_string()))?,
        );
        self.put_sealed_meta(META_QUEUE, QUEUE_LABEL, "", &plain)
    }

    /// Send the reveals and copies queued while offline, oldest first; each batch leaves the
    /// queue once the server has taken it. Returns how many were sent.
    pub(super) fn send_queued_events(&self, ctx: &TeamContext) -> Result<usize> {
        let mut queued = self.queued_events()?;
        let total = queued.len();
        while !queued.is_empty() {
            let n = queued.len().min(proto::audit_limits::EVENTS);
            Self::report_events(ctx, queued[..n].to_vec())?;
            queued.drain(..n);
            self.put_queued(&queued)?;
        }
        Ok(total)
    }

    /// Report events that happened on this device (reveal, copy) to the team's log.
    pub(super) fn report_events(ctx: &TeamContext, events: Vec<proto::ClientEvent>) -> Result<()> {
        let _: serde_json::Value = ctx
            .remote
            .post("/v1/audit/events", &proto::ClientEvents { events })?;
        Ok(())
    }
}
