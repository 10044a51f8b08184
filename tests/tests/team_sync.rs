//! Two devices of one account and two accounts of one team, syncing through a real server
//! process over HTTP on loopback, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{bin, psql, DropDatabase, Server};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One device: a vault directory and the `tessera` command pointed at it.
struct Device {
    home: tempfile::TempDir,
    pw: PathBuf,
    ca_file: Option<PathBuf>,
}

impl Device {
    fn new(password: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let pw = home.path().join("pw.txt");
        std::fs::write(&pw, format!("{password}\n")).unwrap();
        Self {
            home,
            pw,
            ca_file: None,
        }
    }

    fn vault_dir(&self) -> PathBuf {
        self.home.path().join("vault")
    }

    fn run(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new(bin("tessera"))
            .env("TESSERA_HOME", self.vault_dir())
            .env(
                "TESSERA_CA_FILE",
                self.ca_file.as_deref().unwrap_or(Path::new("")),
            )
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, "")
    }

    fn ok_in(&self, args: &[&str], input: &str) -> String {
        let o = self.run(args, input);
        assert!(
            o.status.success(),
            "tessera {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    fn pw(&self) -> &str {
        self.pw.to_str().unwrap()
    }

    fn init_and_unlock(&self) -> String {
        let kit = self.json(&["init", "--password-file", self.pw()]);
        self.ok(&["unlock", "--offline", "--password-file", self.pw()]);
        kit["secret_key"].as_str().unwrap().to_owned()
    }

    fn titles(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .json(&["list"])
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect();
        t.sort();
        t
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.run(&["lock"], "");
    }
}

const ALICE_PW: &str = "alice orbit lantern cobalt fjord";
const BOB_PW: &str = "bob glacier umbrella pistachio 77";

fn scenario(server: &Server) {
    let url = server.url.as_str();
    let (laptop, desktop) = two_devices(url);
    edits_merge_or_are_kept(&laptop, &desktop);
    team_members(url, &laptop);
    changes_reach_connected_devices(&laptop, &desktop);
    revoked_devices_are_refused(&laptop, &desktop);
}

/// Alice's laptop creates the team; her desktop signs in with the Account Secret Key.
fn two_devices(url: &str) -> (Device, Device) {
    // Alice's laptop: a vault with items, then a team.
    let laptop = Device::new(ALICE_PW);
    let secret_key = laptop.init_and_unlock();
    laptop.ok_in(
        &[
            "add",
            "login",
            "GitHub",
            "--username",
            "alice",
            "--secret",
            "password",
        ],
        "gh-pass-1\n",
    );
    laptop.ok_in(
        &["add", "api_token", "Grafana", "--secret", "token"],
        "glsa-token-1\n",
    );
    laptop.ok(&[
        "team",
        "create",
        "--server",
        url,
        "--email",
        "alice@example.com",
        "--device",
        "laptop",
        "--password-file",
        laptop.pw(),
    ]);
    let r = laptop.json(&["sync"]);
    assert_eq!(r["pushed"], 2, "{r}");

    // Alice's desktop: a new device signs in with the Account Secret Key and gets everything.
    let desktop = Device::new(ALICE_PW);
    let o = desktop.run(
        &[
            "login",
            "--server",
            url,
            "--email",
            "alice@example.com",
            "--device",
            "desktop",
            "--password-file",
            desktop.pw(),
        ],
        &format!("{secret_key}\n"),
    );
    assert!(
        o.status.success(),
        "login: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    desktop.ok(&["unlock", "--offline", "--password-file", desktop.pw()]);
    assert_eq!(desktop.titles(), ["GitHub", "Grafana"]);
    assert_eq!(
        desktop
            .ok(&["show", "GitHub", "--reveal", "--field", "password"])
            .trim(),
        "gh-pass-1"
    );
    (laptop, desktop)
}

fn edits_merge_or_are_kept(laptop: &Device, desktop: &Device) {
    // Offline edits to different fields on the two devices merge.
    laptop.ok_in(&["edit", "GitHub", "--secret", "password"], "gh-pass-2\n");
    desktop.ok(&["edit", "GitHub", "--title", "GitHub (work)"]);
    laptop.json(&["sync"]);
    let r = desktop.json(&["sync"]);
    assert_eq!(r["merged"].as_array().unwrap().len(), 1, "{r}");
    laptop.json(&["sync"]);
    for d in [laptop, desktop] {
        assert_eq!(
            d.ok(&["show", "GitHub (work)", "--reveal", "--field", "password"])
                .trim(),
            "gh-pass-2"
        );
    }

    // Edits to the same field collide: both are kept.
    laptop.ok_in(&["edit", "Grafana", "--secret", "token"], "from-laptop\n");
    desktop.ok_in(&["edit", "Grafana", "--secret", "token"], "from-desktop\n");
    laptop.json(&["sync"]);
    let r = desktop.json(&["sync"]);
    assert_eq!(r["kept_both"].as_array().unwrap().len(), 1, "{r}");
    laptop.json(&["sync"]);
    assert_eq!(laptop.titles(), desktop.titles());
    assert!(laptop
        .titles()
        .contains(&"Grafana (conflict copy)".to_owned()));
    assert_eq!(
        laptop
            .ok(&["show", "Grafana", "--reveal", "--field", "token"])
            .trim(),
        "from-laptop"
    );
    assert_eq!(
        laptop
            .ok(&[
                "show",
                "Grafana (conflict copy)",
                "--reveal",
                "--field",
                "token"
            ])
            .trim(),
        "from-desktop"
    );

    // A deletion syncs as a tombstone.
    desktop.ok(&["rm", "Grafana (conflict copy)"]);
    desktop.ok(&["rm", "--purge", "Grafana (conflict copy)"]);
    desktop.json(&["sync"]);
    laptop.json(&["sync"]);
    assert_eq!(laptop.titles(), ["GitHub (work)", "Grafana"]);
}

fn team_members(url: &str, laptop: &Device) {
    // A client refuses a server presenting another team root key than the invitation's.
    let carol_invite = laptop.json(&["team", "invite", "carol@example.com"]);
    let carol = Device::new(BOB_PW);
    carol.init_and_unlock();
    let wrong = carol.run(
        &[
            "team",
            "join",
            "--server",
            url,
            "--email",
            "carol@example.com",
            "--token",
            carol_invite["invite_token"].as_str().unwrap(),
            "--fingerprint",
            "SHA256:not-the-root-key",
            "--password-file",
            carol.pw(),
        ],
        "",
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("root key"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert_eq!(
        carol.json(&["status"])["link"],
        serde_json::Value::Null,
        "nothing linked"
    );

    // Bob joins the team by invitation; he sees none of Alice's personal items.
    let invite = laptop.json(&["team", "invite", "bob@example.com"]);
    assert!(invite["root_fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    let bob = Device::new(BOB_PW);
    bob.init_and_unlock();
    bob.ok_in(
        &["add", "secure_note", "Bob's note", "--notes"],
        "private to bob\n",
    );
    bob.ok(&[
        "team",
        "join",
        "--server",
        url,
        "--email",
        "bob@example.com",
        "--token",
        invite["invite_token"].as_str().unwrap(),
        "--fingerprint",
        invite["root_fingerprint"].as_str().unwrap(),
        "--password-file",
        bob.pw(),
    ]);
    assert_eq!(bob.json(&["sync"])["pushed"], 1);
    laptop.json(&["sync"]);
    assert_eq!(bob.titles(), ["Bob's note"]);
    assert_eq!(laptop.titles(), ["GitHub (work)", "Grafana"]);
}

/// With background sync on (the default), an edit on one device is pushed at once and the other
/// device's agent, following the server's change stream, pulls it without being asked.
fn changes_reach_connected_devices(laptop: &Device, desktop: &Device) {
    for d in [laptop, desktop] {
        d.ok(&["lock"]);
        d.ok(&["unlock", "--password-file", d.pw()]);
    }
    // Give the desktop's agent a moment to open its change stream.
    std::thread::sleep(Duration::from_millis(500));
    laptop.ok_in(
        &["add", "api_token", "Pushed live", "--secret", "token"],
        "live-1\n",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !desktop.titles().contains(&"Pushed live".to_owned()) {
        assert!(
            Instant::now() < deadline,
            "the change did not reach the other device"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        desktop
            .ok(&["show", "Pushed live", "--reveal", "--field", "token"])
            .trim(),
        "live-1"
    );
}

fn revoked_devices_are_refused(laptop: &Device, desktop: &Device) {
    // Devices: Alice signs the desktop out from the laptop; the desktop is refused at once.
    let devices = laptop.json(&["devices"]);
    assert_eq!(devices.as_array().unwrap().len(), 2);
    let desktop_session = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["current"] == false)
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    laptop.ok(&["devices", "--revoke", &desktop_session]);
    let refused = desktop.run(&["sync"], "");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Nothing a user typed appears in the server's files.
fn assert_no_plaintext(dir: &Path) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        for needle in [
            "GitHub",
            "Grafana",
            "gh-pass",
            "from-laptop",
            "private to bob",
            "glsa-token",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} in clear in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn team_sync_on_sqlite() {
    let server = Server::start(None);
    scenario(&server);
    assert_no_plaintext(server.data.path());
}

#[test]
fn team_sync_on_postgresql() {
    let db = format!(
        "tessera_e2e_{}_{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let o = psql(&format!("CREATE DATABASE {db}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _guard = DropDatabase(db.clone());
    let server = Server::start(Some(&format!("postgres://postgres@127.0.0.1:5432/{db}")));
    scenario(&server);
    drop(server);
    let dump = Command::new("pg_dump")
        .args(["-h", "127.0.0.1", "-U", "postgres", &db])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.len() > 100, "pg_dump produced nothing");
    for needle in [
        "GitHub",
        "Grafana",
        "gh-pass",
        "from-laptop",
        "private to bob",
    ] {
        assert!(
            !text.contains(needle),
            "{needle} in clear in the PostgreSQL database"
        );
    }
}

#[test]
fn team_sync_over_tls() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("c.pem"), certs.path().join("k.pem"));
    let o = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-days",
            "1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let server = Server::start_with(
        None,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        "https",
    );
    let url = server.url.as_str();

    let mut laptop = Device::new(ALICE_PW);
    laptop.ca_file = Some(cert.clone());
    let secret_key = laptop.init_and_unlock();
    laptop.ok_in(
        &["add", "login", "Over TLS", "--secret", "password"],
        "tls-secret\n",
    );
    laptop.ok(&[
        "team",
        "create",
        "--server",
        url,
        "--email",
        "alice@example.com",
        "--password-file",
        laptop.pw(),
    ]);
    assert_eq!(laptop.json(&["sync"])["pushed"], 1);

    // A device that does not trust the server's certificate refuses to talk to it.
    let stranger = Device::new(ALICE_PW);
    let o = stranger.run(
        &[
            "login",
            "--server",
            url,
            "--email",
            "alice@example.com",
            "--password-file",
            stranger.pw(),
        ],
        &format!("{secret_key}\n"),
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot reach the team server"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let mut desktop = Device::new(ALICE_PW);
    desktop.ca_file = Some(cert);
    let o = desktop.run(
        &[
            "login",
            "--server",
            url,
            "--email",
            "alice@example.com",
            "--password-file",
            desktop.pw(),
        ],
        &format!("{secret_key}\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    desktop.ok(&["unlock", "--offline", "--password-file", desktop.pw()]);
    assert_eq!(
        desktop
            .ok(&["show", "Over TLS", "--reveal", "--field", "password"])
            .trim(),
        "tls-secret"
    );
}

#[test]
fn second_factor_through_the_cli() {
    use std::io::{BufRead, BufReader};
    let server = Server::start(None);
    let url = server.url.as_str();
    let laptop = Device::new(ALICE_PW);
    let secret_key = laptop.init_and_unlock();
    laptop.ok(&[
        "team",
        "create",
        "--server",
        url,
        "--email",
        "alice@example.com",
        "--password-file",
        laptop.pw(),
    ]);

    // Enrol: read the secret the CLI shows, answer with the current code.
    let mut child = Command::new(bin("tessera"))
        .env("TESSERA_HOME", laptop.vault_dir())
        .args(["--json", "mfa", "enrol"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let uri = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "mfa enrol showed no otpauth URI"
        );
        if let Some(i) = line.find("otpauth://") {
            break line[i..].trim().to_owned();
        }
    };
    let code = tessera_core::totp::TotpSpec::parse(&uri).unwrap().now().0;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{code}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let recovery: Vec<String> = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        ["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 8);

    // A new device without a code is refused; with a recovery code it signs in, once.
    let login = |d: &Device, totp: bool, input: String| {
        let mut args = vec![
            "login",
            "--server",
            url,
            "--email",
            "alice@example.com",
            "--password-file",
            d.pw(),
        ];
        if totp {
            args.push("--totp");
        }
        d.run(&args, &input)
    };
    let desktop = Device::new(ALICE_PW);
    assert!(!login(&desktop, false, format!("{secret_key}\n"))
        .status
        .success());
    assert!(
        !desktop.vault_dir().join("vault.sqlite").exists(),
        "a refused login leaves no vault behind"
    );
    let o = login(&desktop, true, format!("{secret_key}\n{}\n", recovery[0]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tablet = Device::new(ALICE_PW);
    assert!(
        !login(&tablet, true, format!("{secret_key}\n{}\n", recovery[0]))
            .status
            .success(),
        "a recovery code works once"
    );

    // Disable (a recovery code counts as a current code); then a plain login works again.
    laptop.ok_in(&["mfa", "disable"], &format!("{}\n", recovery[1]));
    let phone = Device::new(ALICE_PW);
    let o = login(&phone, false, format!("{secret_key}\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
