//! Process hardening for anything that holds keys: no core dumps, no ptrace by other
//! processes of the same user (Linux ties ptrace access to the "dumpable" flag).
use crate::error::{Error, Result};

/// Refuse core dumps (`RLIMIT_CORE` 0) and mark the process non-dumpable (`PR_SET_DUMPABLE` 0).
/// For long-lived key holders (the agent). The core-size limit is inherited by child
/// processes, so a process that starts user commands uses [`mark_non_dumpable`] instead.
pub fn harden_process() -> Result<()> {
    use rustix::process::{setrlimit, Resource, Rlimit};
    setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(|e| Error::Io {
        context: "disabling core dumps".into(),
        source: e.into(),
    })?;
    mark_non_dumpable()
}

/// Mark the process non-dumpable: no core dump, no ptrace or `/proc/PID/mem` access by other
/// processes of the user. The flag resets when the process executes another program, so
/// children are unaffected.
pub fn mark_non_dumpable() -> Result<()> {
    #[cfg(target_os = "linux")]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| Error::Io {
            context: "marking the process non-dumpable".into(),
            source: e.into(),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_core_dumps_after_hardening() {
        super::harden_process().unwrap();
        let lim = rustix::process::getrlimit(rustix::process::Resource::Core);
        assert_eq!(lim.current, Some(0));
        assert_eq!(lim.maximum, Some(0));
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}
