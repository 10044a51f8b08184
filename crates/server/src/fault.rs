//! Fault points for crash tests: places where the process aborts (`std::process::abort`: no
//! unwinding, no destructor, no commit) when a test asks for it, so the test can check what a
//! restart finds.
//!
//! They exist only in debug builds (`cfg(debug_assertions)`, the profile `cargo test` builds the
//! server binary with) and fire only when the environment variable `TESSERA_FAULT` names one. A
//! release build contains none, whatever its environment: the code below compiles to nothing. A
//! debug-only environment switch rather than a cargo feature, because `cargo test -p
//! tessera-server` then runs the crash tests with no extra flag, and no feature unification or
//! `--all-features` build can put a fault point into a binary that ships.

use tessera_protocol::AuditEvent;

/// The variable that names the fault point to fire.
#[cfg(debug_assertions)]
const VAR: &str = "TESSERA_FAULT";

/// Right before the transaction that commits audit entries commits, with the events it holds:
/// aborts when `TESSERA_FAULT` is `abort-before-audit-commit:<action>` and one of `events` is
/// that action (`AuditAction::as_str`).
#[cfg_attr(not(debug_assertions), allow(unused_variables))]
pub(crate) fn before_audit_commit(events: &[AuditEvent]) {
    #[cfg(debug_assertions)]
    {
        let Ok(fault) = std::env::var(VAR) else {
            return;
        };
        let Some(action) = fault.strip_prefix("abort-before-audit-commit:") else {
            return;
        };
        if events.iter().any(|e| e.action.as_str() == action) {
            tracing::warn!(action, "{VAR}: aborting before the audit entries commit");
            std::process::abort();
        }
    }
}
