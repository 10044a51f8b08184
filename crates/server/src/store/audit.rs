//! What an action records in its team's audit chain: the [`Audit`] every audited [`super::Store`]
//! method takes as its last argument.
//!
//! The store appends the entries inside the action's own transaction, after its statements and
//! right before it commits (`sql::Backend::audited`), so the change and its entries are one
//! commit: a crash, a lost connection or a failed append leaves both or neither, and an action
//! the store refuses records nothing. Taking the team's chain head is the transaction's last
//! lock, held only while it commits. [`super::Store::append_audit`] stays for what changes
//! nothing else: reports of reads and of what clients did.
use tessera_protocol::{AuditEvent, Id};

/// The entries an action records, decided from what it returns (its result type `T`).
pub struct Audit<T> {
    at: i64,
    record: Record<T>,
}

type Record<T> = Box<dyn FnOnce(&T) -> Option<(Id, Vec<AuditEvent>)> + Send>;

impl<T: 'static> Audit<T> {
    /// Record `events` in `team`'s chain at `at` when the action succeeds.
    pub fn new(team: Id, at: i64, events: Vec<AuditEvent>) -> Self {
        Self::of(at, move |_| (team, events))
    }

    /// Record what `f` makes of the action's result: the team and the events (none: no entry).
    /// For actions whose entries depend on what they did (which changes of a push applied, which
    /// groups an offboarding left) or whose team the store finds (a join's, from its invitation).
    pub fn of(at: i64, f: impl FnOnce(&T) -> (Id, Vec<AuditEvent>) + Send + 'static) -> Self {
        Self {
            at,
            record: Box::new(move |out| Some(f(out))),
        }
    }

    /// Record nothing (a failed login with an unknown e-mail address; store tests).
    pub fn none() -> Self {
        Self {
            at: 0,
            record: Box::new(|_| None),
        }
    }

    /// What to append for the action's result `out`; `None` when there is nothing to record.
    pub(crate) fn entries(self, out: &T) -> Option<Entries> {
        let (team, events) = (self.record)(out)?;
        (!events.is_empty()).then_some(Entries {
            team,
            at: self.at,
            events,
        })
    }
}

impl Audit<bool> {
    /// Record `events` in `team`'s chain at `at` when the action returns true (it changed
    /// something: a revocation that found what to revoke).
    pub fn if_done(team: Id, at: i64, events: Vec<AuditEvent>) -> Self {
        Self::of(at, move |done| {
            (team, if *done { events } else { Vec::new() })
        })
    }
}

/// Entries to append to a team's chain, in order, all at one time.
pub(crate) struct Entries {
    /// The team.
    pub team: Id,
    /// Unix time of every entry.
    pub at: i64,
    /// The events, in order.
    pub events: Vec<AuditEvent>,
}

impl<T> std::fmt::Debug for Audit<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}
