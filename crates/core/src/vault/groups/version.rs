//! How shared versions, group names and group keys are sealed: the associated data of each, and
//! the layout of a shared item version.
use std::collections::BTreeMap;

use tessera_crypto::envelope::{self, associated_data, Sealed};
use tessera_crypto::SymmetricKey;
use tessera_protocol as proto;
use tessera_protocol::Id;

use super::{GroupKeys, SharedItem};
use crate::error::{Error, Result};
use crate::item::codec;
use crate::item::{ItemData, ItemId};
use crate::vault::now;

pub(super) fn key_ad(team: &[u8; 16], group: &Id, epoch: u64, recipient: &[u8; 16]) -> Vec<u8> {
    associated_data(
        "tessera group key",
        &[team, &group.0, &epoch.to_be_bytes(), recipient],
    )
}

/// A group key sealed to a machine token: a label of its own (not [`key_ad`]'s), so a key sealed
/// to a member cannot be presented as one sealed to a token, or the reverse.
pub(crate) fn token_key_ad(team: &[u8; 16], group: &Id, epoch: u64, token: &Id) -> Vec<u8> {
    associated_data(
        "tessera machine token key",
        &[team, &group.0, &epoch.to_be_bytes(), &token.0],
    )
}

/// A machine token's name, sealed under the group key of `epoch`.
pub(crate) fn token_name_ad(team: &[u8; 16], group: &Id, epoch: u64, token: &Id) -> Vec<u8> {
    associated_data(
        "tessera machine token name",
        &[team, &group.0, &epoch.to_be_bytes(), &token.0],
    )
}

pub(crate) fn prev_ad(team: &[u8; 16], group: &Id, epoch: u64) -> Vec<u8> {
    associated_data(
        "tessera group previous key",
        &[team, &group.0, &epoch.to_be_bytes()],
    )
}

pub(crate) fn name_ad(team: &[u8; 16], group: &Id, epoch: u64) -> Vec<u8> {
    associated_data(
        "tessera group name",
        &[team, &group.0, &epoch.to_be_bytes()],
    )
}

pub(super) fn item_key_ad(
    team: &[u8; 16],
    group: &Id,
    item: &ItemId,
    version: u64,
    epoch: u64,
) -> Vec<u8> {
    associated_data(
        "tessera group item key",
        &[
            team,
            &group.0,
            &item.0,
            &version.to_be_bytes(),
            &epoch.to_be_bytes(),
        ],
    )
}

pub(super) fn content_ad(
    team: &[u8; 16],
    group: &Id,
    item: &ItemId,
    version: u64,
    created_at: i64,
    secret_changed_at: i64,
) -> Vec<u8> {
    associated_data(
        "tessera group item",
        &[
            team,
            &group.0,
            &item.0,
            &version.to_be_bytes(),
            &[codec::FORMAT],
            &created_at.to_be_bytes(),
            &secret_changed_at.to_be_bytes(),
        ],
    )
}

/// Seal one version of a shared item: `epoch (8) | created_at (8) | secret_changed_at (8) |
/// key length (4) | wrapped item key | content`.
pub(super) fn seal_item(
    team: &[u8; 16],
    group: &Id,
    (epoch, group_key): (u64, &SymmetricKey),
    item: &ItemId,
    version: u64,
    secret_changed_at: i64,
    data: &ItemData,
) -> Vec<u8> {
    let t = now();
    let item_key = SymmetricKey::generate();
    let wrapped = envelope::seal(
        group_key,
        item_key.expose_secret(),
        &item_key_ad(team, group, item, version, epoch),
    );
    let plain = codec::encode(data);
    let content = envelope::seal(
        &item_key,
        &plain,
        &content_ad(team, group, item, version, t, secret_changed_at),
    );
    let mut b = Vec::with_capacity(28 + wrapped.as_bytes().len() + content.as_bytes().len());
    b.extend_from_slice(&epoch.to_be_bytes());
    b.extend_from_slice(&t.to_be_bytes());
    b.extend_from_slice(&secret_changed_at.to_be_bytes());
    b.extend_from_slice(
        &u32::try_from(wrapped.as_bytes().len())
            .expect("a wrapped key is small")
            .to_be_bytes(),
    );
    b.extend_from_slice(wrapped.as_bytes());
    b.extend_from_slice(content.as_bytes());
    b
}

/// Open one version of a shared item; [`Error::Tampered`] names it when it does not
/// authenticate, or when it was sealed under an epoch whose key this member does not hold.
pub(crate) fn open_item(
    team: &[u8; 16],
    keys: &GroupKeys,
    rec: &proto::ItemRecord,
) -> Result<(SharedItem, i64)> {
    open_record(team, keys.info.group_id, &keys.keys, rec)
}

/// [`open_item`] with the group's id and its keys by epoch.
pub(super) fn open_record(
    team: &[u8; 16],
    group: Id,
    keys: &BTreeMap<u64, SymmetricKey>,
    rec: &proto::ItemRecord,
) -> Result<(SharedItem, i64)> {
    let bad = || Error::Tampered {
        item: rec.item_id.to_hex(),
    };
    let b = &rec.blob.0;
    if b.len() < 28 {
        return Err(bad());
    }
    let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let epoch = u64_at(0);
    let created_at = u64_at(8) as i64;
    let secret_changed_at = u64_at(16) as i64;
    let key_len = u32::from_be_bytes(b[24..28].try_into().expect("4 bytes")) as usize;
    let key_end = 28usize
        .checked_add(key_len)
        .filter(|e| *e <= b.len())
        .ok_or_else(bad)?;
    let id = ItemId(rec.item_id.0);
    let group_key = keys.get(&epoch).ok_or_else(bad)?;
    let wrapped = Sealed::from_bytes(b[28..key_end].to_vec()).map_err(|_| bad())?;
    let raw = envelope::open(
        group_key,
        &wrapped,
        &item_key_ad(team, &group, &id, rec.version, epoch),
    )
    .map_err(|_| bad())?;
    let item_key = SymmetricKey::from_slice(&raw).map_err(|_| bad())?;
    let content = Sealed::from_bytes(b[key_end..].to_vec()).map_err(|_| bad())?;
    let plain = envelope::open(
        &item_key,
        &content,
        &content_ad(
            team,
            &group,
            &id,
            rec.version,
            created_at,
            secret_changed_at,
        ),
    )
    .map_err(|_| bad())?;
    let data = codec::decode(&plain).map_err(|_| bad())?;
    Ok((
        SharedItem {
            group_id: group.to_hex(),
            id,
            version: rec.version,
            epoch,
            updated_at: created_at,
            secret_changed_at,
            data,
        },
        secret_changed_at,
    ))
}
