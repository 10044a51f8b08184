//! The app's preferences, kept in `settings.json` beside the vault. Nothing here is secret.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CmdError, CmdResult};

/// Light, dark, or follow the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Always light.
    Light,
    /// Always dark.
    Dark,
    /// Follow the desktop's preference.
    System,
}

/// Where the window was, to put it back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowGeometry {
    /// Left edge, physical pixels.
    pub x: i32,
    /// Top edge, physical pixels.
    pub y: i32,
    /// Inner width, physical pixels.
    pub width: u32,
    /// Inner height, physical pixels.
    pub height: u32,
}

/// User preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Lock after this many minutes without use.
    pub auto_lock_minutes: u32,
    /// Clear a copied value from the clipboard after this many seconds.
    pub clipboard_seconds: u32,
    /// Colour scheme.
    pub theme: Theme,
    /// The window's last size and position (not part of the UI's settings form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowGeometry>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            auto_lock_minutes: 5,
            clipboard_seconds: 30,
            theme: Theme::System,
            window: None,
        }
    }
}

/// The range the auto-lock setting accepts, in minutes.
pub const AUTO_LOCK_MINUTES: std::ops::RangeInclusive<u32> = 1..=1440;
/// The range the clipboard timeout accepts, in seconds.
pub const CLIPBOARD_SECONDS: std::ops::RangeInclusive<u32> = 5..=600;

impl Settings {
    /// Refuse values outside the accepted ranges, naming the setting.
    pub fn validate(&self) -> CmdResult<()> {
        if !AUTO_LOCK_MINUTES.contains(&self.auto_lock_minutes) {
            return Err(CmdError::invalid(format!(
                "Auto-lock must be between {} and {} minutes.",
                AUTO_LOCK_MINUTES.start(),
                AUTO_LOCK_MINUTES.end()
            )));
        }
        if !CLIPBOARD_SECONDS.contains(&self.clipboard_seconds) {
            return Err(CmdError::invalid(format!(
                "The clipboard timeout must be between {} and {} seconds.",
                CLIPBOARD_SECONDS.start(),
                CLIPBOARD_SECONDS.end()
            )));
        }
        Ok(())
    }

    /// The settings file in a vault directory.
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("settings.json")
    }

    /// Read the settings; a missing file gives the defaults, and a damaged or out-of-range one
    /// too (preferences are not worth refusing to start over).
    pub fn load(dir: &Path) -> Self {
        std::fs::read(Self::file(dir))
            .ok()
            .and_then(|b| serde_json::from_slice::<Self>(&b).ok())
            .filter(|s| s.validate().is_ok())
            .unwrap_or_default()
    }

    /// Write the settings (atomically: a temporary file renamed over the old one).
    pub fn save(&self, dir: &Path) -> CmdResult<()> {
        let io = |e: std::io::Error| {
            CmdError::new(
                crate::error::Code::Internal,
                format!("Could not save the settings in {}: {e}", dir.display()),
            )
        };
        tessera_core::store::create_private_dir(dir)?;
        let tmp = dir.join("settings.json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, Self::file(dir)).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused_by_name() {
        let mut s = Settings {
            auto_lock_minutes: 0,
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().message.contains("Auto-lock"));
        s.auto_lock_minutes = 5;
        s.clipboard_seconds = 1;
        assert!(s.validate().unwrap_err().message.contains("clipboard"));
    }

    #[test]
    fn a_damaged_file_falls_back_to_defaults_and_a_saved_one_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(Settings::file(dir.path()), b"{not json").unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
        let s = Settings {
            auto_lock_minutes: 12,
            clipboard_seconds: 45,
            theme: Theme::Dark,
            window: Some(WindowGeometry {
                x: 10,
                y: 20,
                width: 900,
                height: 600,
            }),
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()), s);
    }
}
