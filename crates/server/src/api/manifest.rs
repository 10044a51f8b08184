//! Collection manifests: `PUT /v1/sync/manifest` (the caller's personal items) and
//! `PUT /v1/groups/{group_id}/manifest` (a group's editors and admins), and the newest one
//! handed out with the last page of every pull. The server cannot make a manifest (it holds
//! neither the account's MAC key nor a member's signing key) and does not check the tag or the
//! signature: clients do. It keeps honest clients consistent: a manifest names the collection
//! it is stored for and the caller as its signer, and follows the stored one.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_protocol::{ErrorCode, Id, Manifest, SignedManifest};

use super::group::live_member;
use super::{now, path_id, ApiError, ApiJson, AppState, Member};
use crate::store::{StoreError, StoredManifest};

/// The newest manifest of `collection`, for the last page of a pull.
pub(super) async fn newest(
    state: &AppState,
    collection: Id,
    more: bool,
) -> Result<Option<SignedManifest>, ApiError> {
    if more {
        return Ok(None);
    }
    Ok(state
        .store()
        .manifest(collection)
        .await?
        .map(|m| SignedManifest {
            body: tessera_protocol::Blob(m.body),
            auth: tessera_protocol::Blob(m.auth),
            signer: m.signer,
        }))
}

async fn store(
    state: &AppState,
    collection: Id,
    m: SignedManifest,
) -> Result<StatusCode, ApiError> {
    let body = Manifest::decode(&m.body.0)
        .map_err(|why| ApiError::bad("body", format!("the manifest body is malformed: {why}")))?;
    if body.collection != collection {
        return Err(ApiError::bad(
            "body",
            "the manifest describes another collection than the one it is sent for",
        ));
    }
    let stored = StoredManifest {
        seq: body.seq,
        body: m.body.0,
        auth: m.auth.0,
        signer: m.signer,
    };
    match state.store().put_manifest(collection, stored).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::StaleManifest) => Err(ApiError::new(
            ErrorCode::Conflict,
            "another device or member wrote a newer manifest first; pull and try again",
        )
        .with_field("body")),
        Err(e) => Err(e.into()),
    }
}

/// `PUT /v1/sync/manifest`: the caller's personal items' next manifest.
pub(super) async fn put_personal(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiJson(m): ApiJson<SignedManifest>,
) -> Result<StatusCode, ApiError> {
    if m.signer.is_some() {
        return Err(ApiError::bad(
            "signer",
            "a personal manifest is authenticated by a MAC and names no signer",
        ));
    }
    store(&state, caller.account.id, m).await
}

/// `PUT /v1/groups/{group_id}/manifest` (live editors and admins): the group's next manifest,
/// signed by the caller.
pub(super) async fn put_group(
    State(state): State<AppState>,
    Member(caller): Member,
    Path(group): Path<String>,
    ApiJson(m): ApiJson<SignedManifest>,
) -> Result<StatusCode, ApiError> {
    let group = path_id("group_id", &group)?;
    let (_, membership) = live_member(&state, &caller, group, now()).await?;
    if !membership.role.can_write() {
        return Err(ApiError::forbidden(
            "viewers cannot sign a group's item list; only its editors and admins",
        ));
    }
    if m.signer != Some(caller.account.id) {
        return Err(ApiError::bad(
            "signer",
            "a group manifest names its signer, the caller",
        ));
    }
    store(&state, group, m).await
}
