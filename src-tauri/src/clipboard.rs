//! Copying secrets: done here, never in the web view. The value is marked for clipboard managers
//! to keep out of their history (on Linux, the `x-kde-passwordManagerHint` target that KDE
//! Klipper, GNOME extensions and most managers honour), and cleared after the timeout, but only
//! when the clipboard still holds our value: something the user copied since is left alone.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{CmdError, CmdResult, Code};

/// The app's handle on the system clipboard.
pub struct Clipboard {
    /// Opened on first use; kept open because on X11 our process serves the copied value.
    board: Mutex<Option<arboard::Clipboard>>,
    /// SHA-256 of the value we last copied (not the value itself).
    ours: Mutex<Option<[u8; 32]>>,
    /// Bumped by every copy, so only the newest copy's timer clears.
    generation: AtomicU64,
}

fn clipboard_error(e: &arboard::Error) -> CmdError {
    CmdError::new(
        Code::Clipboard,
        format!("The clipboard is not available: {e}"),
    )
}

impl Clipboard {
    /// A clipboard that opens the system one on first use.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            board: Mutex::new(None),
            ours: Mutex::new(None),
            generation: AtomicU64::new(0),
        })
    }

    fn with_board<R>(
        &self,
        f: impl FnOnce(&mut arboard::Clipboard) -> Result<R, arboard::Error>,
    ) -> CmdResult<R> {
        let mut board = self
            .board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if board.is_none() {
            *board = Some(arboard::Clipboard::new().map_err(|e| clipboard_error(&e))?);
        }
        let b = board
            .as_mut()
            .ok_or_else(|| CmdError::new(Code::Clipboard, "The clipboard could not be opened."))?;
        f(b).map_err(|e| clipboard_error(&e))
    }

    /// Put `value` on the clipboard and clear it after `timeout` (then call `on_cleared`).
    pub fn copy(
        self: &Arc<Self>,
        value: &str,
        timeout: Duration,
        on_cleared: impl FnOnce() + Send + 'static,
    ) -> CmdResult<()> {
        self.with_board(|b| {
            #[cfg(target_os = "linux")]
            {
                use arboard::SetExtLinux as _;
                b.set().exclude_from_history().text(value)
            }
            #[cfg(not(target_os = "linux"))]
            {
                b.set().text(value)
            }
        })?;
        *self
            .ours
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Sha256::digest(value.as_bytes()).into());
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let this = Arc::clone(self);
        std::thread::spawn(move || {
            std::thread::sleep(timeout);
            if this.generation.load(Ordering::SeqCst) == generation && this.clear_if_ours() {
                on_cleared();
            }
        });
        Ok(())
    }

    /// Clear the clipboard if it still holds the value we copied last; true when it did.
    pub fn clear_if_ours(&self) -> bool {
        let Some(ours) = self
            .ours
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        else {
            return false;
        };
        self.with_board(|b| {
            let current = Zeroizing::new(b.get_text().unwrap_or_default());
            if <[u8; 32]>::from(Sha256::digest(current.as_bytes())) == ours {
                b.clear().map(|()| true)
            } else {
                Ok(false)
            }
        })
        .unwrap_or(false)
    }
}
