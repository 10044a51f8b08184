//! Server-sent events on `GET /v1/events`: the server tells a connected client that its items
//! changed, so it pulls at once instead of polling. Events carry no item data, only the newest
//! sequence number; the client pulls `since` its cursor as usual.
use serde::{Deserialize, Serialize};

/// The event name of a [`ChangeEvent`]: `event: change`.
pub const EVENT_CHANGE: &str = "change";
/// The event name sent when the server may have dropped change events for a slow stream:
/// `event: resync` (empty data). The client pulls since its cursor.
pub const EVENT_RESYNC: &str = "resync";

/// The data of an `event: change`: the account's items changed up to this sequence number.
///
/// ```
/// let e: tessera_protocol::ChangeEvent = serde_json::from_str(r#"{"seq": 7}"#).unwrap();
/// assert_eq!(e.seq, 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// The sequence number of the newest change; a pull since a cursor below it has news.
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn change_event_round_trip(seq in any::<u64>()) {
            let json = serde_json::to_string(&ChangeEvent { seq }).unwrap();
            prop_assert_eq!(&json, &format!("{{\"seq\":{seq}}}"));
            prop_assert_eq!(serde_json::from_str::<ChangeEvent>(&json).unwrap(), ChangeEvent { seq });
        }
    }
}
