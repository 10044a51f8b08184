//! Output for people (aligned text) or scripts (`--json`).
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

/// Where results go, and in which form.
pub struct Output {
    /// JSON instead of text.
    pub json: bool,
}

impl Output {
    /// Print `value` as JSON when `--json`, else print the text `human` renders.
    pub fn show<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let stdout = std::io::stdout();
        let mut w = stdout.lock();
        let written = if self.json {
            serde_json::to_writer_pretty(&mut w, value)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(w))
        } else {
            human(&mut w)
        };
        written.and_then(|()| w.flush()).map_err(stdout_error)
    }

    /// A one-line confirmation (text mode), or `{"ok": true, ...value}` in JSON.
    pub fn done<T: Serialize>(&self, value: &T, message: &str) -> Result<()> {
        self.show(value, |w| writeln!(w, "{message}"))
    }
}

impl Output {
    /// Report an error on standard error: `tessera: MESSAGE`, or under `--json`
    /// `{"error": {"code": CODE, "message": MESSAGE}}`.
    pub fn error(&self, code: &str, message: &str) {
        if self.json {
            json_error(code, message);
        } else {
            // Nothing is left to tell the user when standard error itself is gone.
            drop(writeln!(std::io::stderr().lock(), "tessera: {message}"));
        }
    }
}

/// One line `{"error": {"code": CODE, "message": MESSAGE}}` on standard error.
pub fn json_error(code: &str, message: &str) {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    drop(writeln!(std::io::stderr().lock(), "{body}"));
}

/// Write `bytes` to standard output and flush it.
pub fn to_stdout(bytes: &[u8]) -> Result<()> {
    let mut w = std::io::stdout().lock();
    w.write_all(bytes)
        .and_then(|()| w.flush())
        .map_err(stdout_error)
}

/// Standard output was closed by its reader (`tessera list | head -1`): the command then ends
/// quietly with success, as a Unix filter does when its reader has what it wanted.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Only a write to standard output becomes [`StdoutClosed`]: a broken pipe to the agent or the
/// server is still an error.
fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(e).context("writing to standard output")
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM` UTC.
pub fn date(t: i64) -> String {
    tessera_core::vault::utc_minute(t)
}

/// `YYYY-MM-DD` to a Unix time at 00:00 UTC.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (tessera_core::vault::civil_from_days(days) == (y, m as u32, d as u32)).then_some(days * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(date(0), "1970-01-01 00:00");
        assert_eq!(parse_date("2026-11-23"), Some(1_795_392_000));
        assert_eq!(date(1_795_392_000), "2026-11-23 00:00");
        assert_eq!(
            parse_date("2024-02-29").map(date).as_deref(),
            Some("2024-02-29 00:00")
        );
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("tomorrow"), None);
    }
}
