//! The offboarding review and the rotation report, client side (team admins).
//!
//! The server returns the member's membership windows and the current sealed versions of every
//! item that existed in those groups before their access ended. This client opens them with its
//! own group keys and keeps each secret whose concealed values have not changed since the
//! member's access ended: those must be rotated. Rotating an item (changing its secret) takes it
//! off the list, so the list empties as the work gets done. Groups this admin does not belong
//! to cannot be opened here; they are counted so the lead knows whom to ask.
//!
//! `offboard` ends everything in one step: the server refuses the member's sign-ins, revokes
//! their sessions and removes their memberships in one transaction; then this client starts a
//! new key epoch in every group it administers, sealed to the members who stay.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use tessera_protocol as proto;
use tessera_protocol::{AuditAction, GroupRole, Id};

use super::groups::{group_view, open_item, GroupKeys, TeamContext};
use super::Vault;
use crate::error::{Error, Result};
use crate::item::ItemKind;

/// A membership of the member under review.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowView {
    /// The group (hex id).
    pub group_id: String,
    /// Its name, when this admin can read it.
    pub group_name: Option<String>,
    /// The role held.
    pub role: GroupRole,
    /// Access began.
    pub from: i64,
    /// Access ended, if it has.
    pub to: Option<i64>,
}

/// A secret the member could have seen and that has not changed since.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExposedSecret {
    /// The group (hex id).
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// The item (hex id).
    pub item_id: String,
    /// Its title.
    pub title: String,
    /// Its type.
    pub kind: ItemKind,
    /// When its secret last changed.
    pub secret_changed_at: i64,
    /// The member revealed it (client-reported).
    pub revealed: bool,
    /// The member copied it (client-reported).
    pub copied: bool,
}

/// A group whose items this admin cannot open.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnreadableGroup {
    /// The group (hex id).
    pub group_id: String,
    /// How many of its items the member could decrypt.
    pub items: usize,
}

/// The offboarding review of one member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OffboardingReport {
    /// The member's e-mail.
    pub email: String,
    /// The member's account (hex id).
    pub account_id: String,
    /// When they were offboarded, if they were.
    pub offboarded_at: Option<i64>,
    /// Their live sessions.
    pub live_sessions: u64,
    /// Their memberships.
    pub windows: Vec<WindowView>,
    /// What to rotate, by group name then title.
    pub secrets: Vec<ExposedSecret>,
    /// Groups this admin cannot open.
    pub unreadable: Vec<UnreadableGroup>,
}

/// What `offboard --revoke` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OffboardOutcome {
    /// Sessions ended.
    pub sessions_revoked: u64,
    /// Machine tokens they created, revoked.
    pub tokens_revoked: u64,
    /// Groups whose key got a new epoch (names).
    pub rotated: Vec<String>,
    /// Groups the member left whose key this admin could not rotate, and why.
    pub not_rotated: Vec<(String, String)>,
}

/// An item overdue under its rotation policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationDue {
    /// `personal` or the group's name.
    pub owner: String,
    /// The item (hex id).
    pub item_id: String,
    /// Its title.
    pub title: String,
    /// The policy, days.
    pub policy_days: u32,
    /// Days since the secret changed.
    pub age_days: i64,
}

fn overdue(policy: Option<u32>, secret_changed_at: i64, now: i64) -> Option<(u32, i64)> {
    let policy = policy?;
    let age = (now - secret_changed_at) / 86_400;
    (age >= i64::from(policy)).then_some((policy, age))
}

/// The team directory entry of a member, by e-mail or account id.
fn team_account(ctx: &TeamContext, who: &str) -> Result<proto::DirectoryEntry> {
    let who = who.trim();
    let directory: Vec<proto::DirectoryEntry> = ctx
        .remote
        .get(&format!("/v1/teams/{}/directory", Id(ctx.team_id)))?;
    directory
        .into_iter()
        .find(|e| e.email.eq_ignore_ascii_case(who) || e.account_id.to_hex() == who)
        .ok_or_else(|| Error::NotFound(format!("no account {who:?} in the team")))
}

impl Vault {
    fn admin_only(e: Error, what: &str) -> Error {
        match e {
            Error::Remote { status: 403, .. } => {
                Error::Invalid(format!("only a team admin may {what}"))
            }
            e => e,
        }
    }

    /// The offboarding review of a member (team admins).
    pub fn offboarding(&self, who: &str) -> Result<OffboardingReport> {
        let ctx = self.team_context()?;
        let target = team_account(&ctx, who)?;
        let resp: proto::OffboardingResponse = ctx
            .remote
            .get(&format!(
                "/v1/teams/{}/accounts/{}/offboarding",
                Id(ctx.team_id),
                target.account_id
            ))
            .map_err(|e| Self::admin_only(e, "run an offboarding review"))?;
        let mine: HashMap<Id, GroupKeys> = self
            .fetch_groups(&ctx)?
            .into_iter()
            .map(|g| (g.info.group_id, g))
            .collect();
        let mut names = HashMap::new();
        for (id, g) in &mine {
            names.insert(*id, group_view(&ctx.team_id, g)?.name);
        }
        let ends: HashMap<Id, i64> = resp
            .windows
            .iter()
            .map(|w| (w.group_id, w.to.unwrap_or(i64::MAX)))
            .collect();
        let mut seen: HashMap<Id, (bool, bool)> = HashMap::new();
        for e in &resp.events {
            if let Some(item) = e.item_id {
                let s = seen.entry(item).or_default();
                s.0 |= e.action == AuditAction::Reveal;
                s.1 |= e.action == AuditAction::Copy;
            }
        }
        let mut secrets = Vec::new();
        let mut unreadable: BTreeMap<Id, usize> = BTreeMap::new();
        for r in &resp.records {
            let Some(keys) = mine.get(&r.group_id) else {
                *unreadable.entry(r.group_id).or_default() += 1;
                continue;
            };
            let (item, secret_changed_at) = open_item(&ctx.team_id, keys, &r.record)?;
            // Changed in the second access ended or later: rotated.
            let end = ends.get(&r.group_id).copied().unwrap_or(i64::MAX);
            if secret_changed_at >= end {
                continue;
            }
            let (revealed, copied) = seen.get(&r.record.item_id).copied().unwrap_or_default();
            secrets.push(ExposedSecret {
                group_id: r.group_id.to_hex(),
                group_name: names[&r.group_id].clone(),
                item_id: item.id.to_hex(),
                title: item.data.title.clone(),
                kind: item.data.kind,
                secret_changed_at,
                revealed,
                copied,
            });
        }
        tessera_crypto::scrub_stack();
        secrets.sort_by(|a, b| (&a.group_name, &a.title).cmp(&(&b.group_name, &b.title)));
        Ok(OffboardingReport {
            email: resp.email,
            account_id: resp.account_id.to_hex(),
            offboarded_at: resp.offboarded_at,
            live_sessions: resp.live_sessions,
            windows: resp
                .windows
                .iter()
                .map(|w| WindowView {
                    group_id: w.group_id.to_hex(),
                    group_name: names.get(&w.group_id).cloned(),
                    role: w.role,
                    from: w.from,
                    to: w.to,
                })
                .collect(),
            secrets,
            unreadable: unreadable
                .into_iter()
                .map(|(g, items)| UnreadableGroup {
                    group_id: g.to_hex(),
                    items,
                })
                .collect(),
        })
    }

    /// Offboard a member (team admins): the server ends their sign-ins, sessions and
    /// memberships in one transaction, then every group they left that this admin administers
    /// gets a new key epoch.
    pub fn offboard(&self, who: &str) -> Result<OffboardOutcome> {
        let ctx = self.team_context()?;
        let target = team_account(&ctx, who)?;
        if target.account_id.0 == self.header.vault_id {
            return Err(Error::Invalid(
                "you cannot offboard yourself; ask another team admin".into(),
            ));
        }
        let res: proto::OffboardResponse = ctx
            .remote
            .post(
                &format!(
                    "/v1/teams/{}/accounts/{}/offboard",
                    Id(ctx.team_id),
                    target.account_id
                ),
                &serde_json::json!({}),
            )
            .map_err(|e| Self::admin_only(e, "offboard a member"))?;
        let left: HashSet<Id> = res.groups.iter().copied().collect();
        let mut rotated = Vec::new();
        let mut not_rotated = Vec::new();
        let mut mine = HashSet::new();
        for keys in self.fetch_groups(&ctx)? {
            let gid = keys.info.group_id;
            if !left.contains(&gid) {
                continue;
            }
            mine.insert(gid);
            let view = group_view(&ctx.team_id, &keys)?;
            if view.role != GroupRole::Admin {
                not_rotated.push((view.name, "you are not an admin of this group".into()));
                continue;
            }
            // The log still lists them (the server ended their membership on its own): the
            // rotation removes them there too.
            let gone = keys
                .state
                .as_ref()
                .is_some_and(|s| s.members.contains_key(&target.account_id))
                .then_some(target.account_id);
            let name = view.name.clone();
            match self.rotate_key(&ctx, &keys, view, gone) {
                Ok(_) => rotated.push(name),
                Err(e) => not_rotated.push((name, e.to_string())),
            }
        }
        tessera_crypto::scrub_stack();
        for g in left.difference(&mine) {
            not_rotated.push((
                g.to_hex(),
                "you are not a member of this group; ask one of its admins to rotate its key"
                    .into(),
            ));
        }
        Ok(OffboardOutcome {
            sessions_revoked: res.sessions_revoked,
            tokens_revoked: res.tokens_revoked,
            rotated,
            not_rotated,
        })
    }

    /// Items overdue under their rotation policy at `at` (now, or a later day to plan ahead):
    /// this account's own and those of every group it belongs to, longest overdue first.
    pub fn rotation_report(&self, at: i64) -> Result<Vec<RotationDue>> {
        let mut due: Vec<RotationDue> = self
            .items()
            .filter(|i| i.trashed_at.is_none())
            .filter_map(|i| {
                let (policy_days, age_days) =
                    overdue(i.data.rotation_days, i.secret_changed_at, at)?;
                Some(RotationDue {
                    owner: "personal".into(),
                    item_id: i.id.to_hex(),
                    title: i.data.title.clone(),
                    policy_days,
                    age_days,
                })
            })
            .collect();
        if self.link_info()?.is_some() {
            let ctx = self.team_context()?;
            for keys in self.fetch_groups(&ctx)? {
                let view = group_view(&ctx.team_id, &keys)?;
                for rec in self.pull_group(&ctx, &keys)? {
                    if rec.deleted {
                        continue;
                    }
                    let (item, changed) = open_item(&ctx.team_id, &keys, &rec)?;
                    if let Some((policy_days, age_days)) =
                        overdue(item.data.rotation_days, changed, at)
                    {
                        due.push(RotationDue {
                            owner: view.name.clone(),
                            item_id: item.id.to_hex(),
                            title: item.data.title.clone(),
                            policy_days,
                            age_days,
                        });
                    }
                }
            }
            tessera_crypto::scrub_stack();
        }
        due.sort_by(|a, b| b.age_days.cmp(&a.age_days).then(a.title.cmp(&b.title)));
        Ok(due)
    }
}

impl OffboardingReport {
    /// The rotation checklist as CSV (group, item id, title, type, secret changed in UTC,
    /// revealed, copied), one line per secret after a header line. Cells that need it are
    /// quoted, and a cell starting with `=`, `+`, `-` or `@` is prefixed with `'` so a
    /// spreadsheet shows it instead of running it as a formula (OWASP, "CSV injection").
    pub fn to_csv(&self) -> String {
        let mut out = String::from("group,item_id,title,type,secret_changed,revealed,copied\n");
        for s in &self.secrets {
            #[allow(clippy::let_underscore_must_use)] // writing to a String cannot fail
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                csv_cell(&s.group_name),
                csv_cell(&s.item_id),
                csv_cell(&s.title),
                s.kind.label(),
                super::utc_minute(s.secret_changed_at),
                s.revealed,
                s.copied
            );
        }
        out
    }
}

/// One CSV cell: formula characters defused, then quoted when it holds a separator or quote.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-x,y"), "\"'-x,y\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    }

    #[test]
    fn report_as_csv() {
        let r = OffboardingReport {
            email: "b@example.com".into(),
            account_id: "a".into(),
            offboarded_at: None,
            live_sessions: 0,
            windows: vec![],
            secrets: vec![ExposedSecret {
                group_id: "g".into(),
                group_name: "=ops".into(),
                item_id: "00ff".into(),
                title: "db, prod".into(),
                kind: ItemKind::Login,
                secret_changed_at: 86_400 + 3_660,
                revealed: true,
                copied: false,
            }],
            unreadable: vec![],
        };
        assert_eq!(
            r.to_csv(),
            "group,item_id,title,type,secret_changed,revealed,copied\n\
             '=ops,00ff,\"db, prod\",Login,1970-01-02 01:01,true,false\n"
        );
    }
}
