//! Groups and sharing: `group create/list/members/add/remove/role`, `share`, `unshare`,
//! `access`, and `team certify`.
use std::process::ExitCode;

use anyhow::Result;
use tessera_core::agent::{Client, GroupItemsView, ItemView, Request};
use tessera_core::paths::VaultDir;
use tessera_core::vault::{AccessView, GroupView, MemberView};
use tessera_protocol::GroupRole;

use super::usage;
use crate::output::{date, Output};
use crate::session::unlocked_client;

/// A role on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// Manages members and items.
    Admin,
    /// Changes items.
    Editor,
    /// Reads items only.
    Viewer,
}

impl From<RoleArg> for GroupRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => GroupRole::Admin,
            RoleArg::Editor => GroupRole::Editor,
            RoleArg::Viewer => GroupRole::Viewer,
        }
    }
}

/// `tessera group ...`.
#[derive(clap::Subcommand)]
pub enum GroupCommand {
    /// Create a group (its name is encrypted); you become its admin.
    Create {
        /// The name.
        name: String,
    },
    /// The groups you belong to.
    List,
    /// A group's members, roles and expiry.
    Members {
        /// The group (name or id).
        group: String,
    },
    /// Add a member (group admins); their certificate is checked before the key is sealed.
    Add(MemberArgs),
    /// Remove a member (group admins); a new key epoch starts.
    Remove {
        /// The group (name or id).
        group: String,
        /// The member's e-mail.
        member: String,
    },
    /// Change a member's role or expiry (group admins).
    Role(MemberArgs),
    /// Sign the membership of a group made before group logs existed (group admins): a new
    /// key epoch sealed to its current members, each certificate checked. Any change to the
    /// group's members does this first on its own.
    Sign {
        /// The group (name or id).
        group: String,
    },
    /// The items of a group.
    Items {
        /// The group (name or id).
        group: String,
    },
    /// Show one item of a group (concealed values hidden unless --reveal, which is recorded
    /// in the team's audit log).
    Show {
        /// The group (name or id).
        group: String,
        /// The item (title or id).
        item: String,
        /// Show concealed values.
        #[arg(long)]
        reveal: bool,
    },
}

/// A member, a role and an optional expiry.
#[derive(clap::Args)]
pub struct MemberArgs {
    /// The group (name or id).
    group: String,
    /// The member's e-mail.
    member: String,
    /// The role.
    #[arg(long, value_enum, default_value = "viewer")]
    role: RoleArg,
    /// End of access: a duration from now (`30m`, `8h`, `7d`), a date or a Unix time.
    #[arg(long)]
    expires: Option<String>,
}

/// Parse `--expires`: `N[smhd]` from now, a date (`YYYY-MM-DD`, 00:00 UTC) or a Unix time.
pub(super) fn expires_at(s: Option<&str>) -> Result<Option<i64>> {
    let Some(s) = s.map(str::trim) else {
        return Ok(None);
    };
    let now = tessera_core::vault::now();
    if let Some(t) = crate::output::parse_date(s) {
        if t <= now {
            return usage("--expires must be in the future");
        }
        return Ok(Some(t));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let Ok(n) = num.parse::<i64>() else {
        return usage(format!(
            "--expires {s:?}: use a duration (30m, 8h, 7d), a date (2027-01-31) or a Unix time"
        ));
    };
    let t = match unit {
        "" if n > 1_000_000_000 => n,
        "s" => now + n,
        "m" => now + n * 60,
        "h" => now + n * 3600,
        "d" => now + n * 86_400,
        _ => {
            return usage(format!(
                "--expires {s:?}: use a duration (30m, 8h, 7d), a date (2027-01-31) or a Unix time"
            ))
        }
    };
    if t <= now {
        return usage("--expires must be in the future");
    }
    Ok(Some(t))
}

fn until(t: Option<i64>) -> String {
    t.map_or_else(|| "no expiry".into(), |t| format!("until {}", date(t)))
}

fn role(r: GroupRole) -> &'static str {
    r.as_str()
}

/// `group ...`.
pub fn group(c: GroupCommand, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    match c {
        GroupCommand::Create { name } => {
            let g: GroupView = client.call(&Request::GroupCreate { name })?;
            out.show(&g, |w| writeln!(w, "Created group {} ({}).", g.name, g.id))?;
        }
        GroupCommand::List => list(&mut client, out)?,
        GroupCommand::Members { group } => {
            let (g, ms): (GroupView, Vec<MemberView>) =
                client.call(&Request::GroupMembers { group })?;
            out.show(&ms, |w| {
                writeln!(w, "{} (epoch {}):", g.name, g.epoch)?;
                for m in &ms {
                    writeln!(
                        w,
                        "  {:<32} {:<7} {}",
                        m.email,
                        role(m.role),
                        until(m.expires_at)
                    )?;
                }
                Ok(())
            })?;
        }
        GroupCommand::Add(a) | GroupCommand::Role(a) => {
            let m: MemberView = client.call(&Request::GroupAdd {
                group: a.group.clone(),
                member: a.member.clone(),
                role: a.role.into(),
                expires_at: expires_at(a.expires.as_deref())?,
            })?;
            out.show(&m, |w| {
                writeln!(
                    w,
                    "{} is {} of {} ({}).",
                    m.email,
                    role(m.role),
                    a.group,
                    until(m.expires_at)
                )
            })?;
        }
        GroupCommand::Sign { group } => {
            let g: GroupView = client.call(&Request::GroupSign { group })?;
            out.show(&g, |w| {
                writeln!(
                    w,
                    "The membership of {} is signed (key epoch {}).",
                    g.name, g.epoch
                )
            })?;
        }
        GroupCommand::Items { group } => items(&mut client, &group, out)?,
        GroupCommand::Show {
            group,
            item,
            reveal,
        } => {
            let v: ItemView = client.call(&Request::GroupItem {
                group,
                item,
                reveal,
            })?;
            out.show(&v, |w| super::items::print_item(w, &v))?;
        }
        GroupCommand::Remove { group, member } => {
            let g: GroupView = client.call(&Request::GroupRemove {
                group,
                member: member.clone(),
            })?;
            out.show(&g, |w| {
                writeln!(
                    w,
                    "Removed {member} from {}; new key epoch {}. Rotate the secrets they could read.",
                    g.name, g.epoch
                )
            })?;
        }
    }
    Ok(None)
}

/// `group list`: the groups with role, epoch and end; a warning for each whose membership is
/// not signed yet.
fn list(client: &mut Client, out: &Output) -> Result<()> {
    let gs: Vec<GroupView> = client.call(&Request::GroupList)?;
    for g in &gs {
        if let Some(why) = &g.refused {
            eprintln!("warning: group {} is refused and left unread: {why}", g.id);
        }
    }
    for g in gs.iter().filter(|g| !g.signed && g.refused.is_none()) {
        eprintln!(
            "warning: the membership of {} is not signed yet: who belongs to it is the \
             server's word alone. A group admin signs it with `tessera group sign {}` (or by \
             their next change to its members).",
            g.name, g.id
        );
    }
    out.show(&gs, |w| {
        if gs.is_empty() {
            writeln!(w, "You belong to no group.")?;
        }
        for g in &gs {
            writeln!(
                w,
                "{:<24} {:<7} epoch {:<3} {}  {}",
                g.name,
                role(g.role),
                g.epoch,
                until(g.expires_at),
                g.id
            )?;
        }
        Ok(())
    })
}

/// `group items GROUP`.
fn items(client: &mut Client, group: &str, out: &Output) -> Result<()> {
    let view: GroupItemsView = client.call(&Request::GroupItems {
        group: group.to_owned(),
    })?;
    for d in &view.damaged {
        eprintln!("warning: item {} is left out: {}", d.item, d.why);
    }
    let items = &view.items;
    out.show(items, |w| {
        if items.is_empty() {
            writeln!(w, "{group} holds no items.")?;
        }
        for i in items {
            writeln!(
                w,
                "{:<32} {:<12} {}  {}",
                i.title,
                i.kind.label(),
                i.subtitle,
                i.id
            )?;
        }
        Ok(())
    })
}

/// Arguments of `share`.
#[derive(clap::Args)]
pub struct ShareArgs {
    /// The personal item (title or id).
    item: String,
    /// The group (name or id).
    group: String,
    /// End of the share: a duration from now (`8h`, `7d`), a day or a Unix time; afterwards
    /// the group's viewers and editors no longer get the item (its admins still do).
    #[arg(long)]
    expires: Option<String>,
}

/// Arguments of `unshare`.
#[derive(clap::Args)]
pub struct UnshareArgs {
    /// The shared item (title or id).
    item: String,
    /// The group (name or id).
    group: String,
}

/// `share ITEM GROUP`: move a personal item into a group.
pub fn share(a: &ShareArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let end = expires_at(a.expires.as_deref())?;
    let v: serde_json::Value = client.call(&Request::Share {
        item: a.item.clone(),
        group: a.group.clone(),
        expires_at: end,
    })?;
    out.show(&v, |w| {
        writeln!(
            w,
            "Shared {} into {} ({}; it left your personal items).",
            v["title"].as_str().unwrap_or(&a.item),
            a.group,
            until(end)
        )
    })?;
    Ok(None)
}

/// `unshare ITEM GROUP`: move a shared item back into your personal items.
pub fn unshare(a: &UnshareArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let id: String = client.call(&Request::Unshare {
        item: a.item.clone(),
        group: a.group.clone(),
    })?;
    out.show(&serde_json::json!({ "item_id": id }), |w| {
        writeln!(
            w,
            "Moved {} out of {} into your personal items ({id}).",
            a.item, a.group
        )
    })?;
    Ok(None)
}

/// `access ITEM`: who can decrypt an item, through which group and role, until when.
pub fn access(item: &str, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let a: AccessView = client.call(&Request::Access {
        item: item.to_owned(),
    })?;
    out.show(&a, |w| {
        match &a.group {
            Some(g) => writeln!(
                w,
                "{} is shared in {} (key epoch {}):",
                a.title, g.name, g.epoch
            )?,
            None => writeln!(w, "{} is a personal item:", a.title)?,
        }
        for m in &a.members {
            let via = a.group.as_ref().map_or("personal", |g| g.name.as_str());
            writeln!(
                w,
                "  {:<32} {:<7} via {:<20} {}",
                m.email,
                role(m.role),
                via,
                until(m.expires_at)
            )?;
        }
        for t in &a.tokens {
            let name = if t.name.is_empty() { &t.id } else { &t.name };
            let what = if t.state == "live" {
                format!("made by {}", t.created_by)
            } else {
                t.state.clone()
            };
            writeln!(
                w,
                "  {:<32} {:<7} {what}, {}",
                format!("token {name}"),
                "ci",
                until(Some(t.expires_at))
            )?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// `team certify EMAIL`: certify a member's keys (team admins).
pub fn certify(email: &str, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let fingerprint: String = client.call(&Request::Certify {
        email: email.to_owned(),
    })?;
    out.show(
        &serde_json::json!({ "email": email, "key_fingerprint": fingerprint }),
        |w| {
            writeln!(w, "Certified {email}'s keys: {fingerprint}")?;
            writeln!(
                w,
                "Ask them to confirm this fingerprint over a channel you trust."
            )
        },
    )?;
    Ok(None)
}
