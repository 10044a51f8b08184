//! Sync: every change gets a per-team sequence number; clients pull since a cursor and push
//! with the version they edited. A stale push is answered with the current version (409
//! semantics per change) so the client can merge, never silently overwriting.
use serde::{Deserialize, Serialize};

use crate::{check_len, invalid, limits, Blob, ErrorBody, Id, Validate};

/// One stored item version as the server keeps it: sealed, opaque.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The item.
    pub item_id: Id,
    /// Its version.
    pub version: u64,
    /// The team-wide sequence number of this change.
    pub seq: u64,
    /// A tombstone: the item was deleted.
    pub deleted: bool,
    /// The sealed version (empty for a tombstone).
    pub blob: Blob,
}

/// Changes since a cursor, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullResponse {
    /// The changes.
    pub changes: Vec<ItemRecord>,
    /// Pass this as `since` next time.
    pub cursor: u64,
    /// More changes wait: pull again at once.
    pub more: bool,
    /// The collection's newest manifest, on the last page (`more` false), when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<crate::SignedManifest>,
    /// A group's items whose share has ended for the caller, on the last page: a client that
    /// holds one drops it (its record is not served again when it did not change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ended: Vec<Id>,
}

/// One change a client pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushChange {
    /// The item.
    pub item_id: Id,
    /// The version the client edited (0 for a new item).
    pub base_version: u64,
    /// The new version; must be `base_version + 1`.
    pub version: u64,
    /// A deletion (tombstone).
    #[serde(default)]
    pub deleted: bool,
    /// The sealed version (empty for a tombstone).
    pub blob: Blob,
}

/// A batch of changes, applied one by one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The changes.
    pub changes: Vec<PushChange>,
}

/// What happened to one pushed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PushResult {
    /// Stored with this sequence number (also when it had already been stored: a resend).
    Applied {
        /// The item.
        item_id: Id,
        /// The version.
        version: u64,
        /// Its sequence number.
        seq: u64,
    },
    /// The item moved on: here is its current version; merge and push again.
    Conflict {
        /// The server's current version.
        current: ItemRecord,
    },
}

/// Results, in the order of the pushed changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResponse {
    /// One per change.
    pub results: Vec<PushResult>,
}

impl Validate for PushRequest {
    fn validate(&self) -> Result<(), ErrorBody> {
        if self.changes.is_empty() || self.changes.len() > limits::PUSH_CHANGES {
            return Err(invalid(
                "changes",
                format!("changes must hold 1 to {} entries", limits::PUSH_CHANGES),
            ));
        }
        for (i, c) in self.changes.iter().enumerate() {
            let field = format!("changes[{i}]");
            if c.version != c.base_version.saturating_add(1) {
                return Err(invalid(
                    &format!("{field}.version"),
                    format!("{field}.version must be base_version + 1"),
                ));
            }
            if c.deleted {
                if !c.blob.0.is_empty() {
                    return Err(invalid(
                        &format!("{field}.blob"),
                        "a deletion carries no blob",
                    ));
                }
            } else {
                check_len(&format!("{field}.blob"), c.blob.0.len(), 1, limits::BLOB)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_pushes_name_the_field() {
        let ok = PushChange {
            item_id: Id([1; 16]),
            base_version: 0,
            version: 1,
            deleted: false,
            blob: Blob(vec![1]),
        };
        let mut skip = ok.clone();
        skip.version = 3;
        let e = PushRequest {
            changes: vec![ok.clone(), skip],
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.error.field.as_deref(), Some("changes[1].version"));
        let mut huge = ok.clone();
        huge.blob = Blob(vec![0; limits::BLOB + 1]);
        assert_eq!(
            PushRequest {
                changes: vec![huge]
            }
            .validate()
            .unwrap_err()
            .error
            .field
            .as_deref(),
            Some("changes[0].blob")
        );
        assert!(PushRequest { changes: vec![] }.validate().is_err());
    }

    #[test]
    fn unknown_fields_and_bad_ids_are_refused() {
        assert!(serde_json::from_str::<PushRequest>(r#"{"changes": [], "extra": 1}"#).is_err());
        let bad =
            r#"{"changes": [{"item_id": "xyz", "base_version": 0, "version": 1, "blob": ""}]}"#;
        assert!(serde_json::from_str::<PushRequest>(bad)
            .unwrap_err()
            .to_string()
            .contains("not an id"));
    }

    proptest! {
        #[test]
        fn push_round_trip(id in any::<[u8; 16]>(), base in 0u64..1_000_000, blob in proptest::collection::vec(any::<u8>(), 1..300)) {
            let req = PushRequest { changes: vec![PushChange { item_id: Id(id), base_version: base, version: base + 1, deleted: false, blob: Blob(blob) }] };
            let back: PushRequest = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
            prop_assert_eq!(back.changes, req.changes);
        }

        #[test]
        #[allow(clippy::let_underscore_must_use)] // the property: any answer but a panic
        fn arbitrary_json_never_panics(s in "\\PC{0,200}") {
            let _ = serde_json::from_str::<PushRequest>(&s);
            let _ = serde_json::from_str::<LoginRequestProbe>(&s);
        }
    }

    type LoginRequestProbe = crate::LoginRequest;
}
