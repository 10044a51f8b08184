//! Groups and sharing: the groups you belong to, their items (read-only here), their members,
//! and moving a personal item into a group. A shared value crosses to the web view only when
//! the user reveals it, and that reveal is recorded in the team's audit log; copying happens
//! here and is recorded too.
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tessera_core::agent::{GroupItemsView, ItemView, Request};
use tessera_core::vault::{AccessView, GroupRole, GroupView, MemberView, TeamMember};

use crate::commands::items::{totp_now, totp_seed, CopyResult, ItemInput, TotpCode};
use crate::commands::team::call_team;
use crate::error::{blocking, CmdError, CmdResult, Code};
use crate::state::AppState;

#[tauri::command]
pub async fn groups(state: State<'_, AppState>) -> CmdResult<Vec<GroupView>> {
    call_team(&state, Request::GroupList).await
}

/// A group and its members.
#[derive(Serialize, Deserialize)]
pub struct GroupMembers {
    pub(crate) group: GroupView,
    pub(crate) members: Vec<MemberView>,
}

#[tauri::command]
pub async fn group_members(state: State<'_, AppState>, group: String) -> CmdResult<GroupMembers> {
    let (group, members): (GroupView, Vec<MemberView>) =
        call_team(&state, Request::GroupMembers { group }).await?;
    Ok(GroupMembers { group, members })
}

/// Everyone in the team directory.
#[tauri::command]
pub async fn team_members(state: State<'_, AppState>) -> CmdResult<Vec<TeamMember>> {
    call_team(&state, Request::TeamMembers).await
}

#[tauri::command]
pub async fn group_create(state: State<'_, AppState>, name: String) -> CmdResult<GroupView> {
    call_team(&state, Request::GroupCreate { name }).await
}

#[tauri::command]
pub async fn group_add(
    state: State<'_, AppState>,
    group: String,
    email: String,
    role: GroupRole,
    expires_at: Option<i64>,
) -> CmdResult<MemberView> {
    call_team(
        &state,
        Request::GroupAdd {
            group,
            member: email,
            role,
            expires_at,
        },
    )
    .await
}

#[tauri::command]
pub async fn group_remove(
    state: State<'_, AppState>,
    group: String,
    email: String,
) -> CmdResult<GroupView> {
    call_team(
        &state,
        Request::GroupRemove {
            group,
            member: email,
        },
    )
    .await
}

#[tauri::command]
pub async fn group_items(state: State<'_, AppState>, group: String) -> CmdResult<GroupItemsView> {
    call_team(&state, Request::GroupItems { group }).await
}

/// A shared item without its concealed values.
#[tauri::command]
pub async fn group_item(
    state: State<'_, AppState>,
    group: String,
    id: String,
) -> CmdResult<ItemView> {
    call_team(
        &state,
        Request::GroupItem {
            group,
            item: id,
            reveal: false,
        },
    )
    .await
}

/// One concealed value of a shared item ("notes" for the notes); the reveal is recorded in the
/// team's audit log first.
#[tauri::command]
pub async fn group_reveal(
    state: State<'_, AppState>,
    group: String,
    id: String,
    field: String,
) -> CmdResult<String> {
    let view: ItemView = call_team(
        &state,
        Request::GroupItem {
            group,
            item: id,
            reveal: true,
        },
    )
    .await?;
    let title = view.title.clone();
    if field == "notes" && !view.fields.iter().any(|f| f.name == "notes") {
        return Ok(view
            .notes
            .map(|n| n.expose_secret().to_owned())
            .unwrap_or_default());
    }
    view.fields
        .into_iter()
        .find(|f| f.name == field)
        .and_then(|f| f.value)
        .map(|v| v.expose_secret().to_owned())
        .ok_or_else(|| {
            CmdError::new(
                Code::NotFound,
                format!("\u{201c}{title}\u{201d} has no field {field}."),
            )
        })
}

/// Copy a field of a shared item (a TOTP field copies its current code); the copy is recorded
/// in the team's audit log with the field's kind.
#[tauri::command]
pub async fn group_copy(
    app: AppHandle,
    state: State<'_, AppState>,
    group: String,
    id: String,
    field: String,
) -> CmdResult<CopyResult> {
    let agent = state.agent.clone();
    let value =
        blocking(move || Ok(agent.with_vault(|v| v.group_copy(&group, &id, &field))?)).await?;
    let seconds = state.settings().clipboard_seconds;
    state.clipboard.copy(
        value.expose_secret(),
        Duration::from_secs(u64::from(seconds)),
        move || {
            crate::notify(&app, "clipboard-cleared", ());
        },
    )?;
    Ok(CopyResult {
        clears_in_secs: seconds,
    })
}

/// The current one-time code of a shared item; showing it is recorded as a reveal.
#[tauri::command]
pub async fn group_totp(
    state: State<'_, AppState>,
    group: String,
    id: String,
    field: String,
) -> CmdResult<TotpCode> {
    let agent = state.agent.clone();
    blocking(move || {
        let seed = agent.with_vault(|v| {
            let shared = v.group_item(&group, &id, true)?;
            Ok(totp_seed(&shared.data, &field))
        })??;
        Ok(totp_now(&seed)?)
    })
    .await
}

/// Create an item straight in a group (editors and admins).
#[tauri::command]
pub async fn group_add_item(
    state: State<'_, AppState>,
    group: String,
    item: ItemInput,
) -> CmdResult<String> {
    let data = item.into_data(None)?;
    let agent = state.agent.clone();
    let ids = blocking(move || Ok(agent.with_vault(|v| v.group_import(&group, &[data]))?)).await?;
    ids.first()
        .map(tessera_core::item::ItemId::to_hex)
        .ok_or_else(|| CmdError::new(Code::Internal, "The item was not added."))
}

/// Save a new version of a shared item (editors and admins); values left unchanged (null) are
/// kept without being shown, so editing records no reveal.
#[tauri::command]
pub async fn group_update_item(
    state: State<'_, AppState>,
    group: String,
    id: String,
    item: ItemInput,
) -> CmdResult<u64> {
    let agent = state.agent.clone();
    blocking(move || {
        agent.with_vault(|v| {
            let current = v.group_item(&group, &id, false)?;
            let data = match item.into_data(Some(&current.data)) {
                Ok(d) => d,
                Err(e) => return Ok(Err(e)),
            };
            Ok(Ok(v.group_update(&group, &id, &data)?))
        })?
    })
    .await
}

/// Move a shared item out of its group into your personal items; returns the new item's id.
#[tauri::command]
pub async fn unshare_item(
    state: State<'_, AppState>,
    group: String,
    id: String,
) -> CmdResult<String> {
    let id = call_team(&state, Request::Unshare { item: id, group }).await?;
    state.agent.changed();
    Ok(id)
}

/// Where a shared item went.
#[derive(Serialize, Deserialize)]
pub struct ShareResult {
    pub(crate) item_id: String,
    pub(crate) title: String,
    pub(crate) group_id: String,
    pub(crate) epoch: u64,
}

/// Move a personal item into a group.
#[tauri::command]
pub async fn share_item(
    state: State<'_, AppState>,
    id: String,
    group: String,
    expires_at: Option<i64>,
) -> CmdResult<ShareResult> {
    if expires_at.is_some_and(|t| t <= tessera_core::vault::now()) {
        return Err(CmdError::invalid(
            "the end of the share must be in the future",
        ));
    }
    let request = Request::Share {
        item: id,
        group,
        expires_at,
    };
    let shared = call_team(&state, request).await?;
    state.agent.changed();
    Ok(shared)
}

/// Who can decrypt an item.
#[tauri::command]
pub async fn item_access(state: State<'_, AppState>, id: String) -> CmdResult<AccessView> {
    call_team(&state, Request::Access { item: id }).await
}
