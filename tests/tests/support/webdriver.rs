//! A small W3C WebDriver client for driving the real desktop app through `tauri-driver`
//! (which hands the session to WebKitGTK's WebKitWebDriver), plus the Xvfb display it runs on.
// Stopping processes and ending sessions is best effort here: they may be gone already, and
// what outlives a session is checked (and reported) by `Guard::stop`.
#![allow(clippy::let_underscore_must_use)]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The W3C key of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a process group gets to exit after SIGTERM before it is sent SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// A child process, stopped when dropped. A group leader's whole group is stopped with it:
/// `tauri-driver` leads its own group (see [`Session::start`]), so this also ends the
/// WebKitWebDriver it started and the app that one started, which would otherwise be left
/// running, reparented to PID 1, once `tauri-driver` is gone.
pub struct Guard {
    child: Child,
    group: bool,
    stopped: bool,
}

impl Guard {
    /// A child that is a process of its own.
    pub fn new(child: Child) -> Self {
        Self {
            child,
            group: false,
            stopped: false,
        }
    }

    /// A child started with `process_group(0)`: its pid is the group's id.
    pub fn group_leader(child: Child) -> Self {
        Self {
            child,
            group: true,
            stopped: false,
        }
    }

    /// The child itself (to signal or wait for it).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Stop it: SIGTERM to the process (or its whole group), up to [`GRACE`] for every member
    /// to exit, SIGKILL to what is left, and the child reaped. Returns the processes it started
    /// (its descendants and its group's members when it was stopped) still running after that,
    /// as `pid name`: there should be none.
    pub fn stop(&mut self) -> Vec<String> {
        if std::mem::replace(&mut self.stopped, true) {
            return Vec::new();
        }
        let pid = self.child.id() as i32;
        let Some(target) = rustix::process::Pid::from_raw(pid) else {
            return Vec::new();
        };
        let started: Vec<Process> = if self.group {
            let all = processes();
            all.iter()
                .filter(|p| p.pid != pid && (p.pgid == pid || descends_from(&all, p, pid)))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let signal = |sig| {
            if self.group {
                let _ = rustix::process::kill_process_group(target, sig);
            } else {
                let _ = rustix::process::kill_process(target, sig);
            }
        };
        let left = || {
            let now = processes();
            started
                .iter()
                .filter(|p| now.contains(p))
                .chain(now.iter().filter(|p| self.group && p.pgid == pid))
                .map(|p| format!("{} {}", p.pid, p.name))
                .collect::<std::collections::BTreeSet<_>>()
        };
        signal(rustix::process::Signal::TERM);
        let deadline = Instant::now() + GRACE;
        // The child is reaped as soon as it exits (`try_wait`), so it no longer counts.
        while !(matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) && left().is_empty()) {
            if Instant::now() >= deadline {
                signal(rustix::process::Signal::KILL);
                let _ = self.child.kill();
                let _ = self.child.wait();
                let gone = Instant::now() + Duration::from_secs(5);
                while !left().is_empty() && Instant::now() < gone {
                    std::thread::sleep(Duration::from_millis(50));
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        left().into_iter().collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A running process, as /proc shows it. Two are the same when pid and start time match (a
/// pid can be reused).
#[derive(Clone, Debug)]
struct Process {
    pid: i32,
    ppid: i32,
    pgid: i32,
    start: u64,
    name: String,
}

impl PartialEq for Process {
    fn eq(&self, other: &Self) -> bool {
        self.pid == other.pid && self.start == other.start
    }
}

/// Every live process. Zombies are left out: they have exited and only wait for their parent
/// to collect the status.
fn processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
            // cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime":
            // comm may hold spaces and parentheses.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(').map_or("", |(_, n)| n).to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if matches!(fields.first(), Some(&("Z" | "X"))) {
                return None;
            }
            Some(Process {
                pid,
                ppid: fields.get(1)?.parse().ok()?,
                pgid: fields.get(2)?.parse().ok()?,
                start: fields.get(19)?.parse().ok()?,
                name,
            })
        })
        .collect()
}

fn descends_from(all: &[Process], p: &Process, ancestor: i32) -> bool {
    let mut ppid = p.ppid;
    for _ in 0..64 {
        if ppid == ancestor {
            return true;
        }
        match all.iter().find(|q| q.pid == ppid) {
            Some(q) if q.pid > 1 => ppid = q.ppid,
            _ => return false,
        }
    }
    false
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start Xvfb on a free display number; returns the guard and `:N`. Xvfb picks the number
/// itself (`-displayfd`: it takes the first one whose lock file it can create, and prints it),
/// so tests starting at the same moment never share a display.
pub fn xvfb() -> (Guard, String) {
    use std::io::BufRead;
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x860x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is missing: run the tests with `cargo xtask test`, which installs it");
    let stdout = child.stdout.take().expect("Xvfb's stdout is piped");
    let guard = Guard::new(child);
    // Xvfb prints the number once it listens.
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reading Xvfb's display number");
    let n: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb did not start (it printed {line:?})"));
    (guard, format!(":{n}"))
}

/// The `tauri-driver` binary: `$TAURI_DRIVER`, else where `cargo xtask test` installs it
/// (`tools/bin` in the target directory these tests were built in), else on the PATH.
pub fn tauri_driver() -> PathBuf {
    let installed = std::env::current_exe().ok().and_then(|exe| {
        // target/<profile>/deps/<test> -> target/tools/bin/tauri-driver
        let target = exe.parent()?.parent()?.parent()?;
        Some(target.join("tools/bin/tauri-driver"))
    });
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .into_iter()
        .chain(installed)
        .find(|p| p.exists())
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
    driver: Guard,
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
        // Its own process group, which it, WebKitWebDriver and the app share, so that
        // stopping the session ends all three (see `Guard`).
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = Guard::group_leader(cmd.spawn().expect(
            "tauri-driver is missing: run `cargo xtask test` once, which installs it under \
             tools/bin in the target directory (or set TAURI_DRIVER to its path)",
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
            driver,
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

    /// A PNG screenshot of the window (WebKitWebDriver's own).
    ///
    /// WebKitWebDriver answers a screenshot once the page paints a frame, and a page with
    /// nothing to repaint (one that fits the window whole and is still, like the Emergency Kit
    /// at 1120x740 or the unlock screen) may never paint one: the command then hangs until the
    /// client gives up. So for a few seconds a transparent pixel in a corner changes every
    /// frame (between 1 % and 2 % black), which makes the page paint without changing what it
    /// shows.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        self.script(
            "const p = document.createElement('div');
             p.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none';
             document.body.appendChild(p);
             let n = 0;
             (function tick() {
               p.style.background = `rgba(0, 0, 0, ${n % 2 ? 0.01 : 0.02})`;
               if (++n < 300) requestAnimationFrame(tick); else p.remove();
             })();",
            &json!([]),
        );
        let v = self.send("GET", &self.session_path("/screenshot"), None);
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap()
    }
}

/// The page check behind [`Session::layout_problems`]: one line per element that is out of
/// reach, naming it and what is wrong.
const LAYOUT_CHECK: &str = r#"
const W = window.innerWidth, H = window.innerHeight;
const out = [];
const name = (e) => {
  if (e.dataset && e.dataset.testid) return `[data-testid=${e.dataset.testid}]`;
  const label = e.getAttribute('aria-label') || (e.textContent || '').trim().slice(0, 30);
  const cls = typeof e.className === 'string'
    ? e.className.trim().split(/\s+/).filter((c) => c && !c.startsWith('svelte-')).map((c) => '.' + c).join('')
    : '';
  return `${e.tagName.toLowerCase()}${cls}${label ? ` "${label}"` : ''}`;
};
const px = Math.round;
const root = document.documentElement;
if (root.scrollWidth > W + 1) out.push(`the page is ${root.scrollWidth} px wide in a ${W} px window`);
const scrolls = (e, axis) => {
  const cs = getComputedStyle(e);
  const o = axis === 'x' ? cs.overflowX : cs.overflowY;
  return (o === 'auto' || o === 'scroll')
    && (axis === 'x' ? e.scrollWidth > e.clientWidth + 1 : e.scrollHeight > e.clientHeight + 1);
};
for (const e of document.body.querySelectorAll('*')) {
  if (e.closest('.visually-hidden')) continue;
  const cs = getComputedStyle(e);
  if (cs.display === 'none' || cs.visibility === 'hidden') continue;
  if (scrolls(e, 'x')) out.push(`${name(e)} scrolls sideways (${e.scrollWidth} px of content in ${e.clientWidth} px)`);
  const control = e.matches('button, input, select, textarea, a[href]');
  if (!control && !e.matches('[data-testid]')) continue;
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  if (r.left < -1 || r.right > W + 1) {
    out.push(`${name(e)} is outside the window (x ${px(r.left)} to ${px(r.right)} of ${W})`);
    continue;
  }
  if (r.top < -1 || r.bottom > H + 1) {
    let reachable = false;
    for (let p = e.parentElement; p && !reachable; p = p.parentElement) reachable = scrolls(p, 'y');
    if (!reachable) out.push(`${name(e)} is outside the window and nothing scrolls to it (y ${px(r.top)} to ${px(r.bottom)} of ${H})`);
    continue;
  }
  if (!control) continue;
  // A control cut by a box that clips it and does not scroll to it.
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    if (getComputedStyle(p).overflowX === 'visible') continue;
    const q = p.getBoundingClientRect();
    if ((r.left < q.left - 1 || r.right > q.right + 1) && !scrolls(p, 'x')) {
      out.push(`${name(e)} is cut off by ${name(p)} (x ${px(r.left)} to ${px(r.right)}, the box ${px(q.left)} to ${px(q.right)})`);
      break;
    }
  }
}
return out;
"#;

impl Session {
    /// What is out of reach in the window as it is now: the page wider than the window, a box
    /// that scrolls sideways, a button, field or test-id element outside the window (sideways
    /// at all; above or below with nothing that scrolls to it), a control cut off by a box
    /// that clips it. Empty when every part of the screen can be seen and used.
    pub fn layout_problems(&self) -> Vec<String> {
        self.script(LAYOUT_CHECK, &json!([]))
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Panic, naming the screen, the window's size and each problem, unless
    /// [`Self::layout_problems`] finds none.
    pub fn assert_layout_fits(&self, screen: &str) {
        let problems = self.layout_problems();
        let size = self.script(
            "return `${window.innerWidth}x${window.innerHeight}`",
            &json!([]),
        );
        assert!(
            problems.is_empty(),
            "{screen} does not fit the {} window:\n  {}",
            size.as_str().unwrap_or("?"),
            problems.join("\n  ")
        );
    }
}

impl Session {
    /// End the session and stop `tauri-driver` with everything it started, and check that
    /// nothing of its process group is left running (WebKitWebDriver, the app).
    pub fn close(mut self) {
        self.end();
        let left = self.driver.stop();
        assert!(
            left.is_empty(),
            "processes of the WebDriver session are still running: {left:?}"
        );
    }

    /// Delete the WebDriver session (WebKitWebDriver then closes the app).
    fn end(&mut self) {
        let id = std::mem::take(&mut self.id);
        if !id.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{id}", self.base))
                .call();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.end();
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
