//! A small W3C WebDriver client for driving the real desktop app through `tauri-driver`
//! (which hands the session to WebKitGTK's WebKitWebDriver), plus the Xvfb display it runs on.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The W3C key of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Kill a child process, and the process group it leads, when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        // tauri-driver leads its own group (see `Session::start`): this also ends the
        // WebKitWebDriver it started and the app that one started.
        if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start Xvfb on a free display number; returns the guard and `:N`.
pub fn xvfb() -> (Guard, String) {
    for n in (90..190).map(|i| i + (std::process::id() % 50)) {
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
        if socket.exists() || lock.exists() {
            continue;
        }
        let child = Command::new("Xvfb")
            .args([
                &format!(":{n}"),
                "-screen",
                "0",
                "1280x860x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is missing: run the tests with `cargo xtask test`, which installs it");
        let guard = Guard(child);
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "Xvfb :{n} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        return (guard, format!(":{n}"));
    }
    panic!("no free X display number");
}

/// The `tauri-driver` binary: `$TAURI_DRIVER`, else on the PATH.
pub fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

/// Poll `f` until it gives a value, for at most `limit`; panics naming `what` otherwise.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A WebDriver session on the app.
pub struct Session {
    base: String,
    id: String,
    agent: ureq::Agent,
    _driver: Guard,
}

impl Session {
    /// Start `tauri-driver` with `env` (the app inherits it) and open a session on `app`.
    pub fn start(app: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let native = free_port();
        let mut cmd = Command::new(tauri_driver());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = Guard(cmd.spawn().expect(
            "tauri-driver is missing: run the tests with `cargo xtask test`, which installs it",
        ));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        // Both tauri-driver and the WebKitWebDriver it starts must listen before a session
        // can be opened.
        let started = Instant::now();
        for p in [port, native] {
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "tauri-driver (port {port}) or WebKitWebDriver (port {native}) did not listen"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": app.display().to_string()}
        }}});
        let mut session = Self {
            base,
            id: String::new(),
            agent,
            _driver: driver,
        };
        let v = session.send("POST", "/session", Some(&caps));
        v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .clone_into(&mut session.id);
        session
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, Some(b)) => self.agent.post(&url).send_json(b),
            (_, None) => self.agent.post(&url).send_json(json!({})),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let v: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
        assert!(
            status < 400,
            "{method} {path} answered {status}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.id)
    }

    /// Elements matching a CSS selector, now.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self.send(
            "POST",
            &self.session_path("/elements"),
            Some(&json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element {
                        session: self,
                        id: id.to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Wait (up to 15 s) for an element matching `css` and return the first.
    pub fn wait(&self, css: &str) -> Element<'_> {
        self.wait_until(&format!("an element {css}"), || {
            self.find_all(css).into_iter().next()
        })
    }

    /// The element with `data-testid` = `id`, waiting for it.
    pub fn testid(&self, id: &str) -> Element<'_> {
        self.wait(&format!("[data-testid=\"{id}\"]"))
    }

    /// True when an element with this test id is present now.
    pub fn has_testid(&self, id: &str) -> bool {
        !self.find_all(&format!("[data-testid=\"{id}\"]")).is_empty()
    }

    /// Poll `f` until it gives a value (up to 15 s); panics naming `what` otherwise.
    // A method so that test steps read as steps of the session.
    #[allow(clippy::unused_self)]
    pub fn wait_until<T>(&self, what: &str, f: impl FnMut() -> Option<T>) -> T {
        wait_for(what, Duration::from_secs(15), f)
    }

    /// Run a script in the page and return its result.
    pub fn script(&self, script: &str, args: &Value) -> Value {
        self.send(
            "POST",
            &self.session_path("/execute/sync"),
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Press keys on the focused element, as a user would (W3C actions). Each entry is a key
    /// value: a character, or a WebDriver special key such as `\u{E009}` (Control).
    pub fn keys(&self, chord: &[&str]) {
        let mut actions: Vec<Value> = chord
            .iter()
            .map(|k| json!({"type": "keyDown", "value": k}))
            .collect();
        actions.extend(
            chord
                .iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k})),
        );
        self.send(
            "POST",
            &self.session_path("/actions"),
            Some(&json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        let _ = self
            .agent
            .delete(format!("{}{}", self.base, self.session_path("/actions")))
            .call();
    }

    /// Type text on whatever has focus (each character pressed and released).
    pub fn type_text(&self, text: &str) {
        for c in text.chars() {
            self.keys(&[&c.to_string()]);
        }
    }

    /// A PNG screenshot of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.send("GET", &self.session_path("/screenshot"), None);
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.id))
                .call();
        }
    }
}

/// One element of the page.
pub struct Element<'s> {
    session: &'s Session,
    id: String,
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        self.session
            .session_path(&format!("/element/{}{rest}", self.id))
    }

    /// Click it.
    pub fn click(&self) {
        self.session.send("POST", &self.path("/click"), None);
    }

    /// Type into it.
    pub fn send_keys(&self, text: &str) {
        self.session
            .send("POST", &self.path("/value"), Some(&json!({"text": text})));
    }

    /// Replace its value as a user would: select all, delete, type. (WebDriver's own clear
    /// fires no input event in WebKitGTK, so bound state would keep the old value.)
    pub fn fill(&self, text: &str) {
        self.click();
        self.session.keys(&["\u{E009}", "a"]);
        self.session.keys(&["\u{E003}"]);
        if !text.is_empty() {
            self.send_keys(text);
        }
    }

    /// Its rendered text.
    pub fn text(&self) -> String {
        self.session
            .send("GET", &self.path("/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A DOM property's value (`value` of an input).
    pub fn prop(&self, name: &str) -> Value {
        self.session
            .send("GET", &self.path(&format!("/property/{name}")), None)
    }
}
