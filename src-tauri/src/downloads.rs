//! Files the app writes for the user (an offboarding checklist, a vault export): always a new
//! file in the Downloads directory, mode 0600, never over an existing one. The web view names
//! no path; the shell picks it and tells the user where it went.
use std::io::Write;
use std::path::{Path, PathBuf};

use tauri::{AppHandle, Manager};

use crate::error::{CmdError, CmdResult, Code};

/// Write `bytes` to a new file `<stem>.<ext>` (or `<stem>-2.<ext>`, ...) in Downloads: the
/// desktop's configured one (XDG user dirs), else `~/Downloads` (created if missing), as on
/// systems without xdg-user-dirs.
pub fn save(app: &AppHandle, stem: &str, ext: &str, bytes: &[u8]) -> CmdResult<PathBuf> {
    let paths = app.path();
    let dir = paths
        .download_dir()
        .or_else(|_| paths.home_dir().map(|home| home.join("Downloads")))
        .map_err(|e| CmdError::new(Code::Internal, format!("No Downloads directory: {e}")))?;
    save_in(&dir, stem, ext, bytes)
}

/// [`save`] into `dir`. Characters other than ASCII letters, digits and dots in `stem` become
/// dashes, so a name taken from user data cannot leave `dir`.
pub fn save_in(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> CmdResult<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |p: &Path, e: std::io::Error| {
        CmdError::new(Code::Internal, format!("Cannot write {}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| fail(&path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(&path, e)),
        }
    }
    Err(CmdError::invalid(format!(
        "Too many files named {stem} in {}; move some away.",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_each_time_never_outside_the_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = save_in(dir.path(), "tessera-offboarding-../b@x.com", "csv", b"h\n").unwrap();
        let b = save_in(dir.path(), "tessera-offboarding-../b@x.com", "csv", b"h\n").unwrap();
        assert_eq!(a.parent().unwrap(), dir.path());
        assert_eq!(a.file_name().unwrap(), "tessera-offboarding-..-b-x.com.csv");
        assert_eq!(
            b.file_name().unwrap(),
            "tessera-offboarding-..-b-x.com-2.csv"
        );
        assert_eq!(std::fs::read(&a).unwrap(), b"h\n");
        let mode = std::fs::metadata(&a).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
