//! Change notifications between the store and the event streams of connected clients.
//!
//! Each server node has one [`ChangeHub`], a `tokio::sync::broadcast` channel. The store feeds
//! it after a push commits: SQLite (one node) publishes directly; PostgreSQL sends
//! `NOTIFY tessera_changes` inside the push's transaction (so only a commit notifies) and every
//! node publishes what its `LISTEN` connection receives, so a change pushed through one node
//! reaches the clients connected to any node. Nodes keep no state of their own.
use tessera_protocol::Id;
use tokio::sync::broadcast;

/// How many changes a node buffers for a slow stream before that stream is told to resync.
pub const CAPACITY: usize = 1024;

/// The PostgreSQL notification channel.
pub const PG_CHANNEL: &str = "tessera_changes";

/// A collection changed: an account's personal items, or a group's items, members or shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The account or group that changed.
    pub collection: Id,
    /// The sequence number of the newest applied change (0 for a change to a group's members
    /// or shares, which has none).
    pub seq: u64,
}

impl Change {
    /// The notification payload: `<account id hex>:<seq>`.
    pub fn to_payload(&self) -> String {
        format!("{}:{}", self.collection, self.seq)
    }

    /// Parse a notification payload; `None` when it is not `<32 hex digits>:<integer>`.
    pub fn from_payload(s: &str) -> Option<Self> {
        let (account, seq) = s.split_once(':')?;
        Some(Self {
            collection: Id::parse(account)?,
            seq: seq.parse().ok()?,
        })
    }
}

/// A node's fan-out of changes to its event streams.
#[derive(Debug, Clone)]
pub struct ChangeHub {
    tx: broadcast::Sender<Change>,
}

impl Default for ChangeHub {
    fn default() -> Self {
        Self::new()
    }
}

impl ChangeHub {
    /// A hub buffering [`CAPACITY`] changes per subscriber.
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }

    /// Tell every subscriber (none is fine).
    pub fn publish(&self, change: Change) {
        #[allow(clippy::let_underscore_must_use)] // fails only when nobody subscribes
        let _ = self.tx.send(change);
    }

    /// A receiver of every change published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn payload_round_trip_and_refusals() {
        let c = Change {
            collection: Id([0xab; 16]),
            seq: 42,
        };
        assert_eq!(c.to_payload(), format!("{}:42", "ab".repeat(16)));
        assert_eq!(Change::from_payload(&c.to_payload()), Some(c));
        for bad in [
            "",
            "abc",
            "ab:1",
            &format!("{}:x", "ab".repeat(16)),
            &"ab".repeat(16),
        ] {
            assert_eq!(Change::from_payload(bad), None, "{bad}");
        }
    }
}
