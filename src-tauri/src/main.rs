//! Tessera's desktop app: a Tauri v2 shell around `tessera-core`.
//!
//! The shell holds the unlocked vault in an embedded agent ([`tessera_core::agent::Agent`]) and
//! serves the CLI's agent socket from it, so `tessera` commands in a terminal work without a
//! second unlock and locking either locks both. The web view gets lists and item views without
//! concealed values; a secret crosses to it only when the user reveals one, and copying happens
//! here (see [`clipboard`]).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
// Tauri commands receive their arguments (and `State`) by value.
#![allow(clippy::needless_pass_by_value)]

#[cfg(test)]
mod bindings;
mod clipboard;
mod commands;
mod downloads;
mod error;
mod settings;
mod signals;
mod state;

use std::time::Duration;

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, PhysicalPosition, PhysicalSize, RunEvent, WindowEvent};
use tessera_core::paths::VaultDir;

use crate::settings::WindowGeometry;
use crate::state::AppState;

// The command list alone is half of it; the rest is start-up.
#[allow(clippy::too_many_lines)]
fn main() {
    if let Err(e) = tessera_core::hardening::harden_process() {
        eprintln!("tessera: cannot protect this process's memory: {e}");
        std::process::exit(1);
    }
    let dir = match VaultDir::default_for_user() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tessera: {e}");
            std::process::exit(2);
        }
    };
    let app = tauri::Builder::default()
        .manage(AppState::new(dir))
        .invoke_handler(tauri::generate_handler![
            commands::vault::app_state,
            commands::vault::create_vault,
            commands::vault::unlock,
            commands::vault::lock,
            commands::vault::touch,
            commands::vault::status,
            commands::vault::change_password,
            commands::vault::get_settings,
            commands::vault::set_settings,
            commands::items::facets,
            commands::items::list_items,
            commands::items::search_items,
            commands::items::get_item,
            commands::items::reveal_field,
            commands::items::copy_field,
            commands::items::totp_code,
            commands::items::add_item,
            commands::items::update_item,
            commands::items::trash_item,
            commands::items::restore_item,
            commands::items::purge_item,
            commands::items::history,
            commands::items::restore_version,
            commands::tools::generate,
            commands::tools::strength,
            commands::tools::generate_ssh_key,
            commands::tools::export_ssh_key,
            commands::team::sync_status,
            commands::team::sync_now,
            commands::team::team_create,
            commands::team::team_join,
            commands::team::devices,
            commands::team::revoke_device,
            commands::team::sign_out,
            commands::groups::groups,
            commands::groups::group_members,
            commands::groups::group_create,
            commands::groups::group_add,
            commands::groups::group_remove,
            commands::groups::group_items,
            commands::groups::group_item,
            commands::groups::group_reveal,
            commands::groups::group_copy,
            commands::groups::share_item,
            commands::groups::item_access,
            commands::groups::team_members,
            commands::groups::group_totp,
            commands::groups::group_add_item,
            commands::groups::group_update_item,
            commands::groups::unshare_item,
            commands::audit::audit,
            commands::audit::audit_verify,
            commands::audit::offboarding,
            commands::audit::offboard,
            commands::audit::export_offboarding_csv,
            commands::export::export_vault,
            commands::export::import_vault,
            commands::kit::save_emergency_kit,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            let state = app.state::<AppState>();
            if let Err(e) = signals::quit_on_signals(&handle) {
                eprintln!("tessera: SIGTERM and SIGINT will not lock the vault first: {e}");
            }
            if let Err(e) = state.serve_socket() {
                // The app works without it; only terminal commands need the socket.
                eprintln!("tessera: not serving the agent socket for the CLI: {e}");
            }
            if let Some(window) = app.get_webview_window("main") {
                if let Some(g) = state.settings().window {
                    let placed = window
                        .set_size(PhysicalSize::new(g.width, g.height))
                        .and_then(|()| window.set_position(PhysicalPosition::new(g.x, g.y)));
                    if let Err(e) = placed {
                        eprintln!("tessera: the window is not where it was last time: {e}");
                    }
                }
            }
            if let Err(e) = tray(&handle) {
                eprintln!("tessera: no tray icon: {e}");
            }
            std::thread::spawn(move || watch(&handle));
            Ok(())
        })
        .on_window_event(|window, event| {
            if matches!(event, WindowEvent::Moved(_) | WindowEvent::Resized(_)) {
                remember_geometry(window);
            }
        })
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("tessera: the desktop app could not start: {e}");
            std::process::exit(1);
        });
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            let state = handle.state::<AppState>();
            let settings = state.settings().clone();
            if let Err(e) = settings.save(state.dir.dir()) {
                eprintln!("tessera: {}", e.message);
            }
            state.clipboard.clear_if_ours();
            state.agent.stop();
        }
    });
}

/// Keep the window's size and position in the settings (saved at exit).
fn remember_geometry(window: &tauri::Window) {
    let (Ok(pos), Ok(size)) = (window.outer_position(), window.inner_size()) else {
        return;
    };
    if window.is_minimized().unwrap_or(false) || size.width == 0 {
        return;
    }
    let state = window.state::<AppState>();
    state.settings().window = Some(WindowGeometry {
        x: pos.x,
        y: pos.y,
        width: size.width,
        height: size.height,
    });
}

/// A tray icon with Show, Lock and Quit, where the desktop has a tray.
fn tray(app: &AppHandle) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, "show", "Show Tessera", true, None::<&str>)?;
    let lock = MenuItem::with_id(app, "lock", "Lock", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &lock, &quit])?;
    let mut builder = TrayIconBuilder::with_id("tessera")
        .tooltip("Tessera")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "show" => {
                if let Some(w) = app.get_webview_window("main") {
                    if let Err(e) = w.show().and_then(|()| w.set_focus()) {
                        eprintln!("tessera: cannot show the window: {e}");
                    }
                }
            }
            "lock" => {
                let state = app.state::<AppState>();
                state.agent.lock();
                state.clipboard.clear_if_ours();
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Tell the web view when the vault locks or unlocks (idle timer, tray, `tessera lock` or
/// `tessera unlock` in a terminal), when items change (sync, CLI writes) and how sync is doing.
fn watch(app: &AppHandle) {
    let state = app.state::<AppState>();
    let mut unlocked = state.agent.is_unlocked();
    let mut changes = state.agent.changes();
    let mut sync = state.agent.sync_status();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now_unlocked = state.agent.is_unlocked();
        if now_unlocked != unlocked {
            unlocked = now_unlocked;
            if unlocked {
                notify(app, "unlocked", ());
            } else {
                state.clipboard.clear_if_ours();
                notify(app, "locked", state.agent.lock_reason());
            }
        }
        let now_changes = state.agent.changes();
        if now_changes != changes {
            changes = now_changes;
            notify(app, "items-changed", ());
        }
        let now_sync = state.agent.sync_status();
        if now_sync != sync {
            sync = now_sync;
            notify(app, "sync-status", &sync);
        }
    }
}

/// Tell the web view that something changed. Sending fails only when the window is gone (the
/// app is quitting), and then nobody needs to know.
pub(crate) fn notify<S: serde::Serialize + Clone>(app: &AppHandle, event: &str, payload: S) {
    #[allow(clippy::let_underscore_must_use)] // see above: no window, no one to tell
    let _ = app.emit(event, payload);
}
