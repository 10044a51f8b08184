//! The real desktop app (release or debug build of `tessera-app`) under Xvfb, driven through
//! `tauri-driver` and WebKitWebDriver as a user would: create a vault, keep the Emergency Kit,
//! lock and unlock, add and find items, copy a password and see the clipboard cleared, a TOTP
//! code checked against `oathtool`, an SSH key read back by `ssh-keygen`, history restore, the
//! CLI sharing the app's unlock through the agent socket, and auto-lock.
//!
//! Screenshots of the main screens go to `docs/screenshots/` when `TESSERA_SCREENSHOTS=docs`,
//! to that directory when it names another, else to a temporary directory. Each screen
//! photographed is first checked to be in reach: nothing outside the window or cut off, no
//! sideways scrolling (`Session::assert_layout_fits`). `TESSERA_WINDOW=800x600` starts the app
//! with a window of that size (as if left so): the same journey and checks in a small window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::json;
use support::bin;
use support::webdriver::{wait_for, xvfb, Session};

const PASSWORD: &str = "correct horse battery staple 42!";
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";
const CONTROL: &str = "\u{E009}";

struct Env {
    _home_dir: tempfile::TempDir,
    home: PathBuf,
    vault: PathBuf,
    display: String,
    shots: PathBuf,
}

impl Env {
    fn vars(&self) -> Vec<(&'static str, String)> {
        support::app_env(&self.home, &self.vault, &self.display)
    }

    /// Run the `tessera` CLI against the same vault directory (and so the app's agent socket).
    fn tessera(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("tessera"));
        cmd.args(args);
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn clipboard(&self) -> String {
        let out = Command::new("xclip")
            .args(["-selection", "clipboard", "-o"])
            .env("DISPLAY", &self.display)
            .output()
            .expect("xclip is missing: run the tests with `cargo xtask test`");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Save a screenshot of the screen, first checking that everything on it is in reach.
    fn shot(&self, s: &Session, name: &str) {
        std::fs::write(self.shots.join(format!("{name}.png")), s.screenshot()).unwrap();
        s.assert_layout_fits(name);
    }
}

fn oathtool(secret: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret])
        .output()
        .expect("oathtool is missing: run the tests with `cargo xtask test`");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn rows(s: &Session) -> Vec<String> {
    s.find_all("[data-testid=\"item-row\"]")
        .iter()
        .map(|e| {
            e.prop("textContent")
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect()
}

fn wait_rows(s: &Session, what: &str, f: impl Fn(&[String]) -> bool) -> Vec<String> {
    let started = Instant::now();
    loop {
        let r = rows(s);
        if f(&r) {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}; the list shows {r:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn open_item(s: &Session, title: &str) {
    let search = s.testid("search");
    search.fill(title);
    wait_rows(s, &format!("{title} in the list"), |r| {
        r.first().is_some_and(|t| t.contains(title))
    });
    s.find_all("[data-testid=\"item-row\"]")[0].click();
    s.wait_until(&format!("{title} opened"), || {
        Some(())
            .filter(|()| s.has_testid("detail-title") && s.testid("detail-title").text() == title)
    });
}

/// Time from a key press in the search field to the next frame after the list changed, as
/// the page sees it (keydown listener, MutationObserver, requestAnimationFrame).
fn key_to_paint(s: &Session) {
    s.testid("search").click();
    s.script(
        r"window.__paint = [];
          let pending = null;
          document.addEventListener('keydown', () => { pending = performance.now(); }, true);
          new MutationObserver(() => {
            if (pending === null) return;
            const t0 = pending; pending = null;
            requestAnimationFrame(() => window.__paint.push(performance.now() - t0));
          }).observe(document.body, {subtree: true, childList: true, characterData: true});",
        &json!([]),
    );
    for query in ["grafana", "aws", "deploy"] {
        s.testid("search").fill("");
        wait_rows(s, "the full list", |r| r.len() == 6);
        s.type_text(query);
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut times: Vec<f64> = s
        .script("return window.__paint;", &json!([]))
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    assert!(
        !times.is_empty(),
        "no list update after a key press was seen"
    );
    times.sort_by(f64::total_cmp);
    eprintln!(
        "search key press to repaint: median {:.1} ms, max {:.1} ms over {} key presses",
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    );
    s.testid("search").fill("");
}

/// Save as text: the shell writes the kit under ~/Downloads, 0600, a new file each time, and the
/// page says where; nothing lands in the working directory.
fn kit_saved_by_the_shell(env: &Env, s: &Session, key: &str) {
    use std::os::unix::fs::PermissionsExt;
    let downloads = env.home.join("Downloads");
    for name in ["Tessera-Emergency-Kit.txt", "Tessera-Emergency-Kit-2.txt"] {
        let file = downloads.join(name);
        s.testid("kit-save").click();
        let said = s.wait_until(&format!("the page to say it saved {name}"), || {
            if !s.has_testid("kit-saved") {
                return None;
            }
            Some(s.testid("kit-saved").text()).filter(|t| t.contains(&file.display().to_string()))
        });
        assert!(said.contains("only you can read it"), "{said}");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(key), "{} lacks the key", file.display());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{} is readable by others",
            file.display()
        );
    }
    assert!(
        !Path::new("Tessera Emergency Kit.txt").exists(),
        "the kit was downloaded into the working directory"
    );
}

// One user's session, step by step; splitting it would start the app once per step.
#[allow(clippy::too_many_lines)]
#[test]
fn a_user_works_through_the_desktop_app() {
    let app = bin("tessera-app");
    let (_x, display) = xvfb();
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path().to_path_buf();
    let shots = support::screenshots_dir(&home);
    let env = Env {
        vault: home.join("vault"),
        home,
        _home_dir: home_dir,
        display,
        shots,
    };
    support::window_size_from_env(&env.vault);
    let vars = env.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Session::start(&app, &vars);

    // First run: a weak password is refused, then a strong one creates the vault.
    s.testid("create-password").send_keys("password1");
    s.testid("create-confirm").send_keys("password1");
    s.testid("create-submit").click();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !s.has_testid("kit-secret-key"),
        "a weak master password was accepted"
    );
    assert!(!env.vault.join("vault.sqlite").exists());
    s.testid("create-password").fill(PASSWORD);
    s.testid("create-confirm").fill(PASSWORD);
    s.wait_until("the strength meter to rate the password", || {
        Some(()).filter(|()| !s.testid("strength-meter").text().trim().is_empty())
    });
    env.shot(&s, "01-create-vault");
    s.testid("create-submit").click();

    // The Emergency Kit shows the Account Secret Key this device keeps, and must be acknowledged.
    let kit_key = s.testid("kit-secret-key").text();
    let stored = std::fs::read_to_string(env.vault.join("secret-key")).unwrap();
    assert_eq!(kit_key.trim(), stored.trim(), "the kit shows another key");
    assert!(kit_key.trim().starts_with("T1-"));
    assert_eq!(s.testid("kit-continue").prop("disabled"), json!(true));
    kit_saved_by_the_shell(&env, &s, kit_key.trim());
    env.shot(&s, "02-emergency-kit");
    s.testid("kit-ack").click();
    s.wait_until("Continue to be enabled", || {
        Some(()).filter(|()| s.testid("kit-continue").prop("disabled") != json!(true))
    });
    s.testid("kit-continue").click();
    s.testid("search");
    env.shot(&s, "03-empty-vault");

    // Settings: a short clipboard timeout, auto-lock after one minute.
    s.testid("open-settings").click();
    s.testid("setting-clipboard").fill("5");
    s.testid("setting-auto-lock").fill("1");
    env.shot(&s, "04-settings");
    s.testid("settings-save").click();
    s.wait_until("the settings to be saved", || {
        let saved = std::fs::read_to_string(env.vault.join("settings.json")).ok()?;
        Some(()).filter(|()| saved.contains("\"clipboard_seconds\": 5"))
    });
    if s.has_testid("settings-close") {
        s.testid("settings-close").click();
    }

    // Add a login through the form.
    s.testid("new-item").click();
    s.testid("new-item-login");
    s.assert_layout_fits("the New menu");
    s.testid("new-item-login").click();
    s.testid("item-title").send_keys("GitHub");
    s.testid("field-username").send_keys("alice");
    s.testid("field-password").send_keys("gh-Pass-7781-xyz");
    s.testid("field-url").send_keys("https://github.com");
    s.assert_layout_fits("the new login form");
    s.testid("item-save").click();
    s.wait_until("the new login to open", || {
        Some(()).filter(|()| {
            s.has_testid("detail-title") && s.testid("detail-title").text() == "GitHub"
        })
    });

    // The CLI in a terminal uses the app's unlock (the app serves the agent socket).
    for (title, user) in [
        ("AWS production", "deploy"),
        ("Grafana", "ops"),
        ("PagerDuty", "oncall"),
    ] {
        let out = env.tessera(&[
            "add",
            "login",
            title,
            "--username",
            user,
            "--url",
            &format!(
                "https://{}.example.com",
                title.to_lowercase().replace(' ', "-")
            ),
            "--tag",
            "ops",
        ]);
        assert!(
            out.status.success(),
            "tessera add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    s.testid("search").fill("");
    wait_rows(&s, "the items added by the CLI to appear", |r| r.len() == 4);

    // A typo'd search finds the login.
    let found = {
        s.testid("search").fill("githb");
        wait_rows(&s, "the typo'd search to find GitHub", |r| {
            r.first().is_some_and(|t| t.contains("GitHub"))
        })
    };
    assert!(found.iter().all(|r| !r.contains("Grafana")) || found[0].contains("GitHub"));

    // Typing anywhere goes to the search field.
    s.testid("search").fill("");
    s.testid("detail-title").click();
    s.type_text("pager");
    let mut typed = json!(null);
    let ok = (0..50).any(|_| {
        typed = s.testid("search").prop("value");
        std::thread::sleep(Duration::from_millis(100));
        typed == json!("pager")
    });
    assert!(
        ok,
        "typing anywhere did not reach the search field: it holds {typed}"
    );
    wait_rows(&s, "PagerDuty to be found", |r| {
        r.first().is_some_and(|t| t.contains("PagerDuty"))
    });

    // Copy the password: the clipboard holds it, and is cleared after the timeout.
    open_item(&s, "GitHub");
    env.shot(&s, "05-item-detail");
    s.testid("copy-password").click();
    s.wait_until("the password on the clipboard", || {
        Some(()).filter(|()| env.clipboard() == "gh-Pass-7781-xyz")
    });
    s.testid("toast");
    wait_for(
        "the clipboard to be cleared",
        Duration::from_secs(15),
        || Some(()).filter(|()| env.clipboard().is_empty()),
    );

    // Ctrl+C on the selected item copies its password too.
    s.testid("search").click();
    s.keys(&[CONTROL, "c"]);
    s.wait_until("Ctrl+C to copy the password", || {
        Some(()).filter(|()| env.clipboard() == "gh-Pass-7781-xyz")
    });

    // Reveal shows the concealed value on demand.
    s.testid("reveal-password").click();
    s.wait_until("the password to be revealed", || {
        Some(()).filter(|()| {
            s.testid("value-password")
                .text()
                .contains("gh-Pass-7781-xyz")
        })
    });

    // Edit, then restore the first version from the history.
    s.testid("edit-item").click();
    s.testid("field-username").fill("alice.smith");
    s.assert_layout_fits("the edit form");
    s.testid("item-save").click();
    s.wait_until("the edit to show", || {
        Some(()).filter(|()| {
            s.has_testid("value-username")
                && s.testid("value-username").text().contains("alice.smith")
        })
    });
    s.testid("tab-history").click();
    s.wait_until("two versions in the history", || {
        Some(()).filter(|()| s.find_all("[data-testid=\"history-row\"]").len() >= 2)
    });
    env.shot(&s, "06-history");
    s.testid("restore-version-1").click();
    s.testid("confirm-ok").click();
    let out = env.tessera(&["show", "GitHub", "--json"]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    s.wait_until("version 1's username to be restored", || {
        let out = env.tessera(&["show", "GitHub", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let text = v.to_string();
        Some(()).filter(|()| text.contains("\"alice\"") && !text.contains("alice.smith"))
    });
    assert!(shown.contains("GitHub"));

    // A TOTP item: the code shown matches oathtool's.
    s.testid("new-item").click();
    s.testid("new-item-totp").click();
    s.testid("item-title").send_keys("AWS root MFA");
    s.testid("field-totp").send_keys(TOTP_SECRET);
    s.testid("item-save").click();
    let matched = s.wait_until("the TOTP code to match oathtool", || {
        let shown = s.testid("totp-code").text().replace([' ', '\u{2009}'], "");
        Some(shown.clone()).filter(|c| c.len() == 6 && *c == oathtool(TOTP_SECRET))
    });
    assert_eq!(matched.len(), 6);
    assert!(!s.testid("totp-remaining").text().trim().is_empty());
    env.shot(&s, "07-totp");

    // An SSH key generated in the app, exported, and read back by OpenSSH.
    s.testid("new-item").click();
    s.testid("new-ssh-key").click();
    s.testid("ssh-title").send_keys("deploy key");
    s.testid("ssh-comment").send_keys("deploy@ci");
    env.shot(&s, "08-ssh-generator");
    s.testid("ssh-generate").click();
    let fingerprint = s.testid("ssh-fingerprint").text();
    assert!(fingerprint.contains("SHA256:"), "{fingerprint}");
    s.testid("export-ssh").click();
    s.testid("export-file-name").fill("id_deploy");
    s.testid("export-submit").click();
    s.testid("export-result");
    let key = env.home.join(".ssh/id_deploy");
    let out = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&key)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ssh-keygen -l: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains(fingerprint.trim()),
        "{listed} vs {fingerprint}"
    );
    let public = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&key)
        .output()
        .unwrap();
    let exported_pub = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    assert!(exported_pub.starts_with(String::from_utf8_lossy(&public.stdout).trim()));
    env.shot(&s, "09-ssh-export");
    s.testid("export-done").click();
    s.wait_until("the export dialog to close", || {
        Some(()).filter(|()| !s.has_testid("export-result"))
    });

    s.testid("search").fill("");
    wait_rows(&s, "all six items", |r| r.len() == 6);
    env.shot(&s, "10-main-window");
    key_to_paint(&s);

    // Lock from the app: the CLI is locked too; a wrong password is refused with a message.
    s.testid("lock-button").click();
    s.testid("unlock-password");
    assert_eq!(s.testid("lock-reason").text(), "You locked Tessera.");
    let status = env.tessera(&["status", "--json"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("\"unlocked\":false")
            || String::from_utf8_lossy(&status.stdout).contains("\"unlocked\": false")
    );
    s.testid("unlock-password").send_keys("not the password");
    s.testid("unlock-submit").click();
    let error = s.testid("unlock-error").text();
    assert!(error.to_lowercase().contains("wrong"), "{error}");
    env.shot(&s, "11-unlock-wrong-password");
    s.testid("unlock-password").fill(PASSWORD);
    s.testid("unlock-submit").click();
    wait_rows(&s, "the items after unlocking", |r| r.len() == 6);

    // `tessera lock` in a terminal locks the app.
    let out = env.tessera(&["lock"]);
    assert!(out.status.success());
    s.testid("unlock-password");
    s.wait_until("the lock screen to name the terminal", || {
        Some(()).filter(|()| s.testid("lock-reason").text().contains("tessera lock"))
    });
    s.testid("unlock-password").fill(PASSWORD);
    s.testid("unlock-submit").click();
    s.testid("search");

    // Auto-lock after the configured idle minute, with a one-time code on screen (it refreshes
    // itself every second: that is not use).
    open_item(&s, "AWS root MFA");
    s.testid("totp-code");
    let idle = Instant::now();
    wait_for(
        "the app to lock itself after one idle minute",
        Duration::from_secs(100),
        || Some(()).filter(|()| s.has_testid("unlock-password")),
    );
    assert!(
        idle.elapsed() >= Duration::from_secs(50),
        "locked too early"
    );
    assert!(s.testid("lock-reason").text().contains("inactivity"));

    // Ending the session ends tauri-driver, WebKitWebDriver and the app: none is left running.
    s.close();
}
