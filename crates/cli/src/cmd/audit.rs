//! The lead's commands: `audit` (read and verify the team's log), `offboard` (the review, as
//! text, JSON or CSV, and `--revoke`), `rotation` (items overdue under their policy).
use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use tessera_core::agent::Request;
use tessera_core::paths::VaultDir;
use tessera_core::vault::{
    AuditFilter, AuditRow, AuditVerdict, OffboardOutcome, OffboardingReport, RotationDue,
};

use super::usage;
use crate::output::{date, parse_date, Output};
use crate::session::unlocked_client;

/// `tessera audit ...`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// Only entries by this account (e-mail) or token id.
    #[arg(long)]
    actor: Option<String>,
    /// Only entries about this item (id).
    #[arg(long)]
    item: Option<String>,
    /// Only entries from this day on (YYYY-MM-DD, UTC) or Unix time.
    #[arg(long)]
    since: Option<String>,
    /// Only entries before this day (YYYY-MM-DD, UTC) or Unix time.
    #[arg(long)]
    until: Option<String>,
    #[command(subcommand)]
    verify: Option<AuditCommand>,
}

/// `tessera audit verify`.
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain: an edited, reordered or deleted entry is named.
    Verify,
}

fn time_arg(flag: &str, s: Option<&str>) -> Result<Option<i64>> {
    let Some(s) = s.map(str::trim) else {
        return Ok(None);
    };
    if let Some(t) = parse_date(s) {
        return Ok(Some(t));
    }
    match s.parse::<i64>() {
        Ok(t) if t >= 0 => Ok(Some(t)),
        _ => usage(format!(
            "--{flag} {s:?}: use a day (YYYY-MM-DD) or a Unix time"
        )),
    }
}

/// `audit [filters]` or `audit verify`.
pub fn audit(a: &AuditArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    if a.verify.is_some() {
        let v: AuditVerdict = client.call(&Request::AuditVerify)?;
        out.show(&v, |w| match &v.broken {
            None => writeln!(
                w,
                "The audit log is intact: {} entries, every link checked{}.",
                v.entries,
                v.anchor
                    .map(|s| format!(", entry {s} verified earlier still in place"))
                    .unwrap_or_default()
            ),
            Some(b) => writeln!(w, "The audit log was tampered with: {b}."),
        })?;
        return Ok(v.broken.is_some().then_some(ExitCode::from(6)));
    }
    let filter = AuditFilter {
        actor: a.actor.clone(),
        item: a.item.clone(),
        since: time_arg("since", a.since.as_deref())?,
        until: time_arg("until", a.until.as_deref())?,
    };
    let rows: Vec<AuditRow> = client.call(&Request::Audit { filter })?;
    out.show(&rows, |w| {
        if rows.is_empty() {
            writeln!(w, "No entries match.")?;
        }
        for r in &rows {
            write!(
                w,
                "{:>6}  {}  {:<28} {:<14}",
                r.seq,
                date(r.at),
                r.actor,
                r.action_name()
            )?;
            if let Some(s) = &r.subject {
                write!(w, " {s}")?;
            }
            if let Some(i) = &r.item_id {
                write!(w, " item {i}")?;
            }
            if let Some(g) = &r.group_id {
                write!(w, " group {g}")?;
            }
            if !r.detail.is_empty() {
                write!(w, " ({})", r.detail)?;
            }
            writeln!(w)?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// `tessera offboard MEMBER`.
#[derive(clap::Args)]
pub struct OffboardArgs {
    /// The member (e-mail or account id).
    member: String,
    /// The checklist as CSV (group, item, title, type, secret changed, revealed, copied).
    #[arg(long, conflicts_with = "revoke")]
    csv: bool,
    /// End everything now: sign-ins, sessions and memberships, and new key epochs in the
    /// groups you administer.
    #[arg(long)]
    revoke: bool,
}

fn print_review(w: &mut dyn Write, r: &OffboardingReport) -> std::io::Result<()> {
    writeln!(w, "Offboarding review of {}", r.email)?;
    match r.offboarded_at {
        Some(t) => writeln!(w, "  offboarded {}", date(t))?,
        None => writeln!(
            w,
            "  still active: {} live session(s); `tessera offboard {} --revoke` ends everything",
            r.live_sessions, r.email
        )?,
    }
    writeln!(w, "Memberships:")?;
    if r.windows.is_empty() {
        writeln!(w, "  none")?;
    }
    for m in &r.windows {
        writeln!(
            w,
            "  {:<24} {:<7} {} to {}",
            m.group_name.as_deref().unwrap_or(&m.group_id),
            m.role.as_str(),
            date(m.from),
            m.to.map_or_else(|| "now".to_owned(), date)
        )?;
    }
    if r.secrets.is_empty() {
        writeln!(w, "Nothing left to rotate.")?;
    } else {
        writeln!(
            w,
            "To rotate ({}): secrets they could see, unchanged since their access ended",
            r.secrets.len()
        )?;
        let mut group = "";
        for s in &r.secrets {
            if s.group_name != group {
                group = &s.group_name;
                writeln!(w, "  {group}")?;
            }
            let seen = match (s.revealed, s.copied) {
                (true, true) => "revealed, copied",
                (true, false) => "revealed",
                (false, true) => "copied",
                (false, false) => "",
            };
            writeln!(
                w,
                "    [ ] {:<32} {:<12} changed {}  {seen}",
                s.title,
                s.kind.label(),
                date(s.secret_changed_at)
            )?;
        }
    }
    for u in &r.unreadable {
        writeln!(
            w,
            "  group {}: {} item(s) you cannot open (you are not a member); ask its admins to review them",
            u.group_id, u.items
        )?;
    }
    Ok(())
}

/// `offboard MEMBER [--csv | --json] [--revoke]`.
pub fn offboard(a: &OffboardArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    if a.revoke {
        let o: OffboardOutcome = client.call(&Request::Offboard {
            member: a.member.clone(),
        })?;
        out.show(&o, |w| {
            writeln!(
                w,
                "Offboarded {}: they can no longer sign in; {} session(s) ended, {} machine token(s) they created revoked.",
                a.member, o.sessions_revoked, o.tokens_revoked
            )?;
            for g in &o.rotated {
                writeln!(w, "  {g}: removed, new key epoch")?;
            }
            for (g, why) in &o.not_rotated {
                writeln!(w, "  {g}: removed, key NOT rotated: {why}")?;
            }
            writeln!(
                w,
                "Next: rotate every secret listed by `tessera offboard {}`.",
                a.member
            )
        })?;
        return Ok(None);
    }
    let r: OffboardingReport = client.call(&Request::Offboarding {
        member: a.member.clone(),
    })?;
    if a.csv {
        crate::output::to_stdout(r.to_csv().as_bytes())?;
        return Ok(None);
    }
    out.show(&r, |w| print_review(w, &r))?;
    Ok(None)
}

/// `tessera rotation`.
#[derive(clap::Args)]
pub struct RotationArgs {
    /// What will be overdue by this day (YYYY-MM-DD, UTC) or Unix time, to plan ahead.
    #[arg(long)]
    by: Option<String>,
}

/// `rotation [--by DAY]`: items overdue under their rotation policy.
pub fn rotation(a: &RotationArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let at = time_arg("by", a.by.as_deref())?;
    let mut client = unlocked_client(dir)?;
    let due: Vec<RotationDue> = client.call(&Request::Rotation { at })?;
    out.show(&due, |w| {
        if due.is_empty() {
            return writeln!(w, "No item is overdue for rotation.");
        }
        writeln!(w, "Overdue for rotation ({}):", due.len())?;
        for d in &due {
            writeln!(
                w,
                "  {:<32} {:<20} rotated {} days ago, policy {}",
                d.title, d.owner, d.age_days, d.policy_days
            )?;
        }
        Ok(())
    })?;
    Ok(None)
}
