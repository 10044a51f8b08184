//! Just-in-time access: `request-access`, `requests`, `approve`, `deny`.
use std::process::ExitCode;

use anyhow::Result;
use tessera_core::agent::Request;
use tessera_core::paths::VaultDir;
use tessera_core::vault::AccessRequestView;
use tessera_protocol::{AccessRequestStatus, GroupRole};

use super::usage;
use crate::output::{date, Output};
use crate::session::unlocked_client;

/// A role one may ask for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RequestRole {
    /// Reads items only.
    Viewer,
    /// Changes items.
    Editor,
}

impl From<RequestRole> for GroupRole {
    fn from(r: RequestRole) -> Self {
        match r {
            RequestRole::Viewer => GroupRole::Viewer,
            RequestRole::Editor => GroupRole::Editor,
        }
    }
}

/// Arguments of `request-access`.
#[derive(clap::Args)]
pub struct RequestArgs {
    /// The group's id (a member sees it in `tessera group list`), or its name when you are a
    /// member asking for another role.
    group: String,
    /// How long: `90s`, `30m`, `8h`, `7d` (at most 30 days).
    #[arg(long = "for", value_name = "DURATION")]
    duration: String,
    /// The role.
    #[arg(long, value_enum, default_value = "viewer")]
    role: RequestRole,
    /// Why; sealed to the group's admins, the server cannot read it.
    #[arg(long)]
    reason: Option<String>,
}

/// Arguments of `approve`.
#[derive(clap::Args)]
pub struct ApproveArgs {
    /// The request (its id or first characters, from `tessera requests`).
    request: String,
    /// Grant another duration than asked: `30m`, `8h`, `7d`.
    #[arg(long = "for", value_name = "DURATION")]
    duration: Option<String>,
    /// Grant another role than asked.
    #[arg(long, value_enum)]
    role: Option<RequestRole>,
}

/// `N[smhd]` to seconds.
fn seconds(s: &str) -> Result<i64> {
    let s = s.trim();
    let bad = || {
        usage(format!(
            "--for {s:?}: use a duration like 90s, 30m, 8h or 7d"
        ))
    };
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let Ok(n) = num.parse::<i64>() else {
        return bad();
    };
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return bad(),
    };
    match n.checked_mul(mult) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => bad(),
    }
}

/// Seconds as `1d 2h`, `8h`, `30m`, `90s`.
fn span(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

fn group_of(r: &AccessRequestView) -> String {
    r.group_name
        .clone()
        .unwrap_or_else(|| format!("group {}", r.group_id))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn status(r: &AccessRequestView) -> String {
    match r.status {
        AccessRequestStatus::Pending => format!("pending until {}", date(r.expires_at)),
        AccessRequestStatus::Approved => format!(
            "approved: {} until {}",
            r.granted_role.unwrap_or(r.role).as_str(),
            r.granted_until.map_or_else(|| "?".into(), date)
        ),
        AccessRequestStatus::Denied => "denied".into(),
        AccessRequestStatus::Expired => "expired undecided; ask again".into(),
    }
}

/// `request-access GROUP --for DURATION`.
pub fn request(a: &RequestArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let duration_secs = seconds(&a.duration)?;
    let mut client = unlocked_client(dir)?;
    let r: AccessRequestView = client.call(&Request::RequestAccess {
        group: a.group.clone(),
        role: a.role.into(),
        duration_secs,
        reason: a.reason.clone(),
    })?;
    out.show(&r, |w| {
        writeln!(
            w,
            "Asked for {} access to {} for {} (request {}).",
            r.role.as_str(),
            group_of(&r),
            span(r.duration_secs),
            short(&r.id)
        )?;
        if r.reason.is_some() {
            writeln!(w, "Your reason was sealed to the group's admins.")?;
        }
        writeln!(
            w,
            "A group admin can approve it with `tessera approve {}` until {}.",
            short(&r.id),
            date(r.expires_at)
        )
    })?;
    Ok(None)
}

/// `requests`: pending requests of groups you administer, and your own.
pub fn list(dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let rs: Vec<AccessRequestView> = client.call(&Request::AccessRequests)?;
    out.show(&rs, |w| {
        let (mine, theirs): (Vec<_>, Vec<_>) = rs.iter().partition(|r| r.mine);
        if rs.is_empty() {
            writeln!(w, "No access requests.")?;
        }
        if !theirs.is_empty() {
            writeln!(w, "Waiting for you (groups you administer):")?;
        }
        for r in &theirs {
            writeln!(
                w,
                "  {}  {} asks for {} access to {} for {} (asked {})",
                short(&r.id),
                r.requester,
                r.role.as_str(),
                group_of(r),
                span(r.duration_secs),
                date(r.created_at)
            )?;
            if let Some(reason) = &r.reason {
                writeln!(w, "            reason: {reason}")?;
            }
        }
        if !mine.is_empty() {
            writeln!(w, "Your requests:")?;
        }
        for r in &mine {
            writeln!(
                w,
                "  {}  {} of {} for {}: {}",
                short(&r.id),
                r.role.as_str(),
                group_of(r),
                span(r.duration_secs),
                status(r)
            )?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// `approve REQUEST`.
pub fn approve(a: &ApproveArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let duration_secs = a.duration.as_deref().map(seconds).transpose()?;
    let mut client = unlocked_client(dir)?;
    let r: AccessRequestView = client.call(&Request::ApproveAccess {
        request: a.request.clone(),
        role: a.role.map(Into::into),
        duration_secs,
    })?;
    out.show(&r, |w| {
        writeln!(
            w,
            "Approved: {} is {} of {} until {}.",
            r.requester,
            r.granted_role.unwrap_or(r.role).as_str(),
            group_of(&r),
            r.granted_until.map_or_else(|| "?".into(), date)
        )
    })?;
    Ok(None)
}

/// `deny REQUEST`.
pub fn deny(request: &str, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let r: AccessRequestView = client.call(&Request::DenyAccess {
        request: request.to_owned(),
    })?;
    out.show(&r, |w| {
        writeln!(
            w,
            "Denied {}'s request for {} access to {}.",
            r.requester,
            r.role.as_str(),
            group_of(&r)
        )
    })?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(seconds("90s").unwrap(), 90);
        assert_eq!(seconds("8h").unwrap(), 8 * 3600);
        assert_eq!(seconds(" 7d ").unwrap(), 7 * 86_400);
        for bad in ["", "h", "5", "5y", "0m", "-5m", "99999999999999999999d"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(span(3600), "1h");
        assert_eq!(span(90_061), "1d 1h 1m 1s");
    }
}
