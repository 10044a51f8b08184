//! Stopping the app from outside. SIGTERM (`kill`, a desktop session ending, a service manager)
//! and SIGINT (Ctrl+C in the terminal that started it) quit it as the tray's Quit does: the
//! vault locks, the clipboard is cleared if it still holds our copy, the settings are saved,
//! the agent socket is removed (see the `RunEvent::Exit` handler in `main`), and the process
//! exits with status 0. Without this a signal ends the process on the spot and leaves
//! `agent.sock` behind for the next start to clean up.
use tauri::AppHandle;
use tokio::signal::unix::{signal, SignalKind};

/// Install the handlers now (a signal from here on takes the clean path) and quit the app when
/// one arrives.
pub fn quit_on_signals(app: &AppHandle) -> std::io::Result<()> {
    // Tokio's signal streams need its runtime to register; Tauri runs one.
    let (mut term, mut int) = tauri::async_runtime::block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        app.exit(0);
    });
    Ok(())
}
