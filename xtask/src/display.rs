//! `cargo xtask run` starts a desktop app: before it spends many minutes building one, it checks
//! that there is a graphical session to show it in (an X server at `$DISPLAY` or a Wayland
//! compositor at `$WAYLAND_DISPLAY` that accepts a connection), and otherwise says how to get
//! one. Without this, GTK fails at the very end with a raw backtrace.
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// What a user without a display reads.
const HOW: &str = "`cargo xtask run` starts the desktop app, which needs a graphical session:
  - run it from a terminal inside your desktop session (X11 or Wayland), or
  - over SSH with X forwarding (`ssh -X`, which sets DISPLAY).
Nothing was installed or built. On a machine without a screen, `cargo xtask test` runs the app
under a virtual display (Xvfb), and `cargo xtask cli` runs the command-line client.";

/// Fail, saying how to get one, unless `$WAYLAND_DISPLAY` or `$DISPLAY` names a display that
/// accepts a connection.
pub fn ensure_display() -> Result<(), String> {
    let wayland = std::env::var("WAYLAND_DISPLAY")
        .ok()
        .filter(|v| !v.is_empty());
    let x11 = std::env::var("DISPLAY").ok().filter(|v| !v.is_empty());
    let mut tried = Vec::new();
    if let Some(name) = &wayland {
        match wayland_reachable(name) {
            Ok(()) => return Ok(()),
            Err(why) => tried.push(format!("WAYLAND_DISPLAY={name}: {why}")),
        }
    }
    if let Some(name) = &x11 {
        match x11_reachable(name) {
            Ok(()) => return Ok(()),
            Err(why) => tried.push(format!("DISPLAY={name}: {why}")),
        }
    }
    if tried.is_empty() {
        return Err(format!(
            "no display: neither DISPLAY nor WAYLAND_DISPLAY is set.\n{HOW}"
        ));
    }
    Err(format!("no display answers ({}).\n{HOW}", tried.join("; ")))
}

/// `$WAYLAND_DISPLAY` is a socket name in `$XDG_RUNTIME_DIR`, or an absolute path.
fn wayland_reachable(name: &str) -> Result<(), String> {
    let path = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .ok_or("XDG_RUNTIME_DIR, where its socket lives, is not set")?;
        PathBuf::from(runtime).join(name)
    };
    UnixStream::connect(&path)
        .map(drop)
        .map_err(|e| format!("cannot connect to {}: {e}", path.display()))
}

/// `$DISPLAY` is `[host]:N[.screen]`: a local server listens on `/tmp/.X11-unix/XN`, a remote
/// one (SSH forwarding: `localhost:10.0`) on TCP port 6000 + N.
fn x11_reachable(name: &str) -> Result<(), String> {
    let (host, rest) = name
        .rsplit_once(':')
        .ok_or("not of the form [host]:number[.screen]")?;
    let number: u16 = rest
        .split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or("not of the form [host]:number[.screen]")?;
    if host.is_empty() || host == "unix" {
        let path = format!("/tmp/.X11-unix/X{number}");
        return UnixStream::connect(&path)
            .map(drop)
            .map_err(|e| format!("no X server on {path}: {e}"));
    }
    let port = 6000u16
        .checked_add(number)
        .ok_or("display number out of range")?;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    for addr in addrs {
        if TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok() {
            return Ok(());
        }
    }
    Err(format!("no X server answers on {host}:{port}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_display_name_that_is_not_one_is_named_as_such() {
        assert!(x11_reachable("nonsense").unwrap_err().contains("form"));
        assert!(x11_reachable(":x").unwrap_err().contains("form"));
    }

    #[test]
    fn a_display_nobody_serves_is_refused_with_the_path_tried() {
        let err = x11_reachable(":65000").unwrap_err();
        assert!(err.contains("/tmp/.X11-unix/X65000"), "{err}");
        let dir = std::env::temp_dir().join(format!("xtask-wayland-{}", std::process::id()));
        let err = wayland_reachable(dir.to_str().unwrap()).unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
    }

    #[test]
    fn a_listening_x_socket_counts_as_a_display() {
        // Any listener at the path will do: only the connection is checked.
        let dir = std::env::temp_dir().join(format!("xtask-display-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("wayland-test");
        #[allow(clippy::let_underscore_must_use)] // a socket of an earlier run, if any
        let _ = std::fs::remove_file(&socket);
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert_eq!(wayland_reachable(socket.to_str().unwrap()), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
