//! Helpers shared by the end-to-end suites: the workspace's binaries, a real `tessera-server`
//! process, PostgreSQL databases made and dropped per test, and (for the desktop suite) a
//! WebDriver client. Each suite uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod proxy;
pub mod team;
pub mod webdriver;

/// A binary of the workspace, built next to the test executables.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        p.display()
    );
    p
}

/// A `tessera-server` process on a free loopback port, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub data: tempfile::TempDir,
    /// The arguments it was started with, for [`Server::restart`].
    args: Vec<std::ffi::OsString>,
    port: u16,
}

impl Server {
    pub fn start(database_url: Option<&str>) -> Self {
        Self::start_with(database_url, &[], "http")
    }

    pub fn start_with(database_url: Option<&str>, extra: &[&str], scheme: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = tempfile::tempdir().unwrap();
        let mut args: Vec<std::ffi::OsString> = vec![
            "--listen".into(),
            format!("127.0.0.1:{port}").into(),
            "--data-dir".into(),
            data.path().into(),
        ];
        if let Some(u) = database_url {
            args.extend(["--database-url".into(), u.into()]);
        }
        args.extend(extra.iter().map(Into::into));
        let child = spawn_server(&args, port);
        let url = format!("{scheme}://127.0.0.1:{port}");
        Self {
            child,
            url,
            data,
            args,
            port,
        }
    }

    /// Stop the server (as a crash or an outage would).
    #[allow(clippy::let_underscore_must_use)] // best effort: it may have exited already
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same address, data and database.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn_server(&self.args, self.port);
    }
}

fn spawn_server(args: &[std::ffi::OsString], port: u16) -> Child {
    let child = Command::new(bin("tessera-server"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

impl Drop for Server {
    #[allow(clippy::let_underscore_must_use)] // best effort: it may have exited already
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Drops the test's PostgreSQL database, also when the test panics.
pub struct DropDatabase(pub String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
    }
}

/// Run one SQL statement as `postgres` on the test server at 127.0.0.1:5432.
pub fn psql(sql: &str) -> std::process::Output {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .output()
        .unwrap()
}

/// The environment the desktop app runs in under the tests: `home` as HOME (with a private
/// runtime directory in it), the vault in `vault`, the X server on `display`, and WebKit set
/// up for Xvfb (no compositing, no accessibility bus).
pub fn app_env(home: &Path, vault: &Path, display: &str) -> Vec<(&'static str, String)> {
    use std::os::unix::fs::PermissionsExt;
    let runtime = home.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    vec![
        ("HOME", home.display().to_string()),
        ("TESSERA_HOME", vault.display().to_string()),
        ("DISPLAY", display.to_owned()),
        ("XDG_RUNTIME_DIR", runtime.display().to_string()),
        ("NO_AT_BRIDGE", "1".into()),
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1".into()),
        ("GDK_BACKEND", "x11".into()),
    ]
}

/// Where a desktop suite's screenshots go: `docs/screenshots/` with `TESSERA_SCREENSHOTS=docs`,
/// the directory it names otherwise, else `home/screenshots` (a temporary directory). Made if
/// missing.
pub fn screenshots_dir(home: &Path) -> PathBuf {
    let shots = match std::env::var("TESSERA_SCREENSHOTS").as_deref() {
        Ok("docs") => Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"),
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => home.join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// With `TESSERA_WINDOW=WIDTHxHEIGHT`, the app in `vault` starts with a window of that size, as
/// if the user had left it so: the size goes into its `settings.json` (the directory is made,
/// 0700, if missing). Without it the window has the size `tauri.conf.json` gives it.
pub fn window_size_from_env(vault: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(size) = std::env::var("TESSERA_WINDOW") else {
        return;
    };
    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .unwrap_or_else(|| panic!("TESSERA_WINDOW is WIDTHxHEIGHT, such as 800x600, not {size:?}"));
    if !vault.exists() {
        std::fs::create_dir_all(vault).unwrap();
        std::fs::set_permissions(vault, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::write(
        vault.join("settings.json"),
        serde_json::json!({"window": {"x": 0, "y": 0, "width": w, "height": h}}).to_string(),
    )
    .unwrap();
}
