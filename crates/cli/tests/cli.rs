//! The `tessera` command end to end: the real binary, the real agent, real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use support::{Env, PASSWORD};

#[test]
fn version_help_and_exit_codes_are_documented() {
    let env = Env::empty();
    let v = env.ok(&["--version"]);
    assert!(
        v.starts_with("tessera ") && v.contains(env!("CARGO_PKG_VERSION")),
        "{v}"
    );
    let help = env.ok(&["--help"]);
    for word in [
        "init",
        "unlock",
        "run",
        "inject",
        "ssh-keygen",
        "Exit codes",
        "wrong master password",
    ] {
        assert!(help.contains(word), "help lacks {word}");
    }
    assert_eq!(env.run(&["no-such-command"]).status.code(), Some(2));
    let e = env.fails(&["list"], 4);
    assert!(e.contains("tessera init"), "{e}");
}

#[test]
fn init_refuses_weak_passwords_and_existing_vaults() {
    let env = Env::empty();
    let weak = env.tmp.path().join("weak");
    std::fs::write(&weak, "password1\n").unwrap();
    let e = env.fails(&["init", "--password-file", weak.to_str().unwrap()], 7);
    assert!(
        e.contains("weak") && e.contains("--allow-weak-password"),
        "{e}"
    );
    assert!(!env.home().join("vault.sqlite").exists(), "nothing created");
    let kit = env.json(&["init", "--password-file", env.pw()]);
    let sk = kit["secret_key"].as_str().unwrap();
    assert!(sk.starts_with("T1-") && sk.len() == 37, "{sk}");
    let on_disk = std::fs::read_to_string(env.home().join("secret-key")).unwrap();
    assert_eq!(on_disk.trim(), sk);
    for f in ["secret-key", "vault.sqlite"] {
        let mode = std::fs::metadata(env.home().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let e = env.fails(&["init", "--password-file", env.pw()], 7);
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn wrong_password_is_refused_clearly() {
    let env = Env::init();
    let bad = env.tmp.path().join("bad");
    std::fs::write(&bad, "not the password\n").unwrap();
    let e = env.fails(&["unlock", "--password-file", bad.to_str().unwrap()], 5);
    assert!(
        e.contains("wrong master password or Account Secret Key"),
        "{e}"
    );
    env.fails(&["list"], 3);
    let empty = env.tmp.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let e = env.fails(&["unlock", "--password-file", empty.to_str().unwrap()], 7);
    assert!(e.contains("first line is empty"), "{e}");
    // The agent the failed unlock started is gone, socket and all.
    assert!(
        !env.home().join("agent.sock").exists(),
        "agent.sock was left"
    );
    assert_eq!(agents_of(env.home()), 0, "a locked agent was left running");
    env.ok(&["unlock", "--password-file", env.pw()]);
    env.ok(&["list"]);
    // Unlocked already: a password given is still checked; none given, it says so.
    let e = env.fails(&["unlock", "--password-file", bad.to_str().unwrap()], 5);
    assert!(e.contains("wrong master password"), "{e}");
    let again = env.ok(&["unlock", "--password-file", env.pw()]);
    assert!(again.contains("the password is right"), "{again}");
    let again = env.ok(&["unlock"]);
    assert!(again.contains("no password was asked for"), "{again}");
    env.ok(&["list"]);
}

/// Processes whose command line names `home` (the agents serving it).
fn agents_of(home: &std::path::Path) -> usize {
    let home = home.to_str().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == home.as_bytes()))
        .count()
}

#[test]
fn a_damaged_vault_file_is_exit_6_for_every_command() {
    let env = Env::init();
    let vault = env.home().join("vault.sqlite");
    let good = std::fs::read(&vault).unwrap();
    let template = env.tmp.path().join("t.tpl");
    std::fs::write(&template, "x: tessera://personal/GitHub/password\n").unwrap();
    let damages: [(&str, Vec<u8>); 4] = [
        ("truncated", good[..good.len() / 3].to_vec()),
        (
            "random bytes",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        ("text", b"hello, I am not a vault\n".to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in damages {
        std::fs::write(&vault, &bytes).unwrap();
        for args in [
            vec!["unlock", "--password-file", env.pw()],
            vec!["status"],
            vec![
                "inject",
                "-t",
                template.to_str().unwrap(),
                "--password-file",
                env.pw(),
            ],
            vec![
                "run",
                "--env",
                "X=tessera://personal/GitHub/password",
                "--password-file",
                env.pw(),
                "--",
                "true",
            ],
        ] {
            let err = env.fails(&args, 6);
            assert!(err.contains("vault"), "{what}, tessera {args:?}: {err}");
        }
        assert_eq!(
            agents_of(env.home()),
            0,
            "{what}: an agent was left running"
        );
    }
}

#[test]
fn item_lifecycle_through_the_agent() {
    let env = Env::unlocked();
    let sock = env.home().join("agent.sock");
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let added = env.json(&[
        "add",
        "login",
        "GitHub",
        "--username",
        "alice",
        "--url",
        "https://github.com",
        "--generate",
        "password",
        "--tag",
        "work",
    ]);
    let id = added["id"].as_str().unwrap().to_owned();
    let shown = env.ok(&["show", "github"]);
    assert!(
        shown.contains("alice") && shown.contains("--reveal"),
        "{shown}"
    );
    let pw1 = env.ok(&["show", "GitHub", "--reveal", "--field", "password"]);
    assert_eq!(pw1.trim().len(), 24);
    assert!(
        !shown.contains(pw1.trim()),
        "concealed value shown without --reveal"
    );
    env.fails(&["show", "GitHub", "--field", "password"], 7);

    env.ok_with_input(
        &[
            "edit",
            "GitHub",
            "--secret",
            "password",
            "--title",
            "GitHub (work)",
        ],
        "new-password-2\n",
    );
    assert_eq!(
        env.ok(&["show", &id[..8], "--reveal", "--field", "password"])
            .trim(),
        "new-password-2"
    );
    let history = env.json(&["history", &id]);
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert!(history[1]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "password"));
    env.ok(&["restore", &id, "--version", "1"]);
    assert_eq!(
        env.ok(&["show", &id, "--reveal", "--field", "password"])
            .trim(),
        pw1.trim()
    );
    assert_eq!(env.json(&["show", &id])["version"], 3);

    env.ok(&["rm", &id]);
    assert!(env.ok(&["list"]).contains("No items"));
    assert!(env.ok(&["list", "--trash"]).contains("GitHub"));
    env.fails(&["rm", "--purge", "nope"], 4);
    env.ok(&["restore", &id]);
    env.ok(&["rm", &id]);
    env.ok(&["rm", "--purge", &id]);
    assert!(env.ok(&["list", "--trash"]).contains("empty"));

    env.fails(&["add", "spaceship", "x"], 7);
    env.fails(&["show", "nothing-like-this"], 4);
    env.ok(&["lock"]);
    let e = env.fails(&["list"], 3);
    assert!(e.contains("tessera unlock"), "{e}");
}

#[test]
fn import_search_and_filters() {
    let env = Env::unlocked();
    let items = serde_json::json!([
        {"kind": "login", "title": "Jenkins production", "fields": [{"name": "username", "kind": "text", "value": "ci-bot"}, {"name": "password", "kind": "concealed", "value": "x1"}], "tags": ["ci"]},
        {"kind": "database", "title": "Orders Postgres", "fields": [{"name": "host", "kind": "text", "value": "db-prod.eu-west-1.example.com"}], "folder": "prod/db", "favourite": true},
        {"kind": "api_token", "title": "Grafana token", "fields": [{"name": "token", "kind": "concealed", "value": "glsa_secret"}]}
    ]);
    let file = env.tmp.path().join("items.json");
    std::fs::write(&file, items.to_string()).unwrap();
    assert!(env
        .ok(&["import", file.to_str().unwrap()])
        .contains("Imported 3"));
    let bad = env.tmp.path().join("bad.json");
    std::fs::write(&bad, r#"[{"kind": "login"}]"#).unwrap();
    assert!(env
        .fails(&["import", bad.to_str().unwrap()], 7)
        .contains("title"));

    let hits = env.json(&["search", "jenkisn"]);
    assert_eq!(
        hits[0]["title"], "Jenkins production",
        "a typo still finds it"
    );
    assert_eq!(
        env.json(&["search", "postgres"])[0]["title"],
        "Orders Postgres"
    );
    assert_eq!(
        env.json(&["list", "--favourites"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        env.json(&["list", "--folder", "prod"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        env.json(&["list", "--kind", "api_token"])[0]["title"],
        "Grafana token"
    );
    assert_eq!(
        env.json(&["list", "--tag", "ci"])[0]["title"],
        "Jenkins production"
    );
    assert!(
        env.json(&["search", "glsa"]).as_array().unwrap().is_empty(),
        "concealed values are not searchable"
    );
}

#[test]
fn the_agent_locks_itself_when_idle() {
    let env = Env::init();
    env.ok(&["unlock", "--password-file", env.pw(), "--timeout", "1s"]);
    assert_eq!(env.json(&["status"])["unlocked"], true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if env.json(&["status"])["unlocked"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "agent did not lock after its idle timeout"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    env.fails(&["list"], 3);
    assert!(
        !env.home().join("agent.sock").exists(),
        "the agent exits and removes its socket"
    );
}

#[test]
fn password_change_keeps_items() {
    let env = Env::unlocked();
    env.ok(&["add", "secure_note", "Recovery codes"]);
    let new = "glacier umbrella pistachio 77";
    let f = env.tmp.path().join("new");
    std::fs::write(&f, format!("{new}\n")).unwrap();
    let new_file = f.to_str().unwrap();
    // The current password from a file descriptor (standard input here), the new from a file.
    let changed = env.ok_with_input(
        &[
            "passwd",
            "--password-fd",
            "0",
            "--new-password-file",
            new_file,
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(changed.contains("Master password changed"), "{changed}");
    env.ok(&["lock"]);
    env.fails(&["unlock", "--password-file", env.pw()], 5);
    env.ok(&["unlock", "--password-file", new_file]);
    assert!(env.ok(&["list"]).contains("Recovery codes"));
    // A wrong current password: exit 5, nothing changed.
    let e = env.fails(
        &[
            "passwd",
            "--password-file",
            env.pw(),
            "--new-password-file",
            env.pw(),
        ],
        5,
    );
    assert!(e.contains("wrong master password"), "{e}");
    env.ok(&[
        "passwd",
        "--password-file",
        new_file,
        "--new-password-file",
        env.pw(),
    ]);
    env.ok(&["lock"]);
    env.ok(&["unlock", "--password-file", env.pw()]);
}

#[test]
fn passwd_says_when_nothing_was_read() {
    let env = Env::unlocked();
    let empty = env.tmp.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    let e = env.fails(
        &[
            "passwd",
            "--password-file",
            env.pw(),
            "--new-password-file",
            empty,
        ],
        7,
    );
    assert!(
        e.contains("new master password") && e.contains("it is empty"),
        "{e}"
    );
    let e = env.fails(
        &[
            "passwd",
            "--password-file",
            empty,
            "--new-password-file",
            env.pw(),
        ],
        7,
    );
    assert!(e.contains("it is empty"), "{e}");
    // No source and no terminal (a new session has none): standard input is not read.
    let o = std::process::Command::new("setsid")
        .arg("-w")
        .arg(env!("CARGO_BIN_EXE_tessera"))
        .arg("passwd")
        .env("TESSERA_HOME", env.home())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{e}");
    assert!(
        e.contains("no master password was read") && e.contains("--password-file"),
        "{e}"
    );
    let weak = env.tmp.path().join("weak");
    std::fs::write(&weak, "password1\n").unwrap();
    let weak = weak.to_str().unwrap();
    let e = env.fails(
        &[
            "passwd",
            "--password-file",
            env.pw(),
            "--new-password-file",
            weak,
        ],
        7,
    );
    assert!(
        e.contains("weak") && e.contains("--allow-weak-password"),
        "{e}"
    );
    env.ok(&["lock"]);
    env.ok(&["unlock", "--password-file", env.pw()]);
}

#[test]
fn a_closed_standard_output_ends_a_command_quietly() {
    let env = Env::unlocked();
    env.ok_with_input(
        &["add", "login", "GitHub", "--secret", "password"],
        "hunter2-but-longer\n",
    );
    for args in [
        ["list"].as_slice(),
        ["generate"].as_slice(),
        ["--json", "list"].as_slice(),
        ["show", "GitHub", "--reveal", "--field", "password"].as_slice(),
    ] {
        // The reader is gone before the command starts (`tessera list | head -0`), so its first
        // write fails with EPIPE every time.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = env
            .command()
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "tessera {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "tessera {args:?} printed {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn under_json_errors_are_json_too() {
    let env = Env::init();
    for (args, code, name) in [
        (vec!["--json", "list"], 3, "locked"),
        (vec!["--json", "list", "--no-such-flag"], 2, "usage"),
        (vec!["--json", "add", "nonsense-kind", "X"], 7, "invalid"),
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err: serde_json::Value = serde_json::from_slice(&out.stderr)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(err["error"]["code"], name, "{args:?}");
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    // Without --json, errors stay a line for people.
    let out = env.run(&["list"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("tessera: "));
}

#[test]
fn the_64_kib_caps_are_documented_and_named_when_exceeded() {
    let env = Env::unlocked();
    let help = env.ok(&["add", "--help"]);
    assert!(help.contains("64 KiB"), "{help}");
    assert!(env.ok(&["--help"]).contains("64 KiB"));
    let big = "x".repeat(64 * 1024 + 1);
    let o = env.run_with_input(&["add", "secure_note", "Big", "--notes"], &big);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{e}");
    assert!(e.contains("notes") && e.contains("64 KiB"), "{e}");
    let o = env.run_with_input(
        &["add", "api_token", "Big token", "--secret", "token"],
        &format!("{big}\n"),
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{e}");
    assert!(e.contains("\"token\"") && e.contains("64 KiB"), "{e}");
    // At the cap exactly, it is stored.
    env.ok_with_input(
        &["add", "secure_note", "Just fits", "--notes"],
        &"y".repeat(64 * 1024),
    );
    assert!(env.ok(&["list"]).contains("Just fits"));
}

#[test]
fn generator_hints_name_the_options_of_generate() {
    let env = Env::empty();
    let e = env.fails(&["generate", "--passphrase", "--separator", ""], 7);
    assert!(
        e.contains("--separator") && e.contains("--capitalize"),
        "{e}"
    );
    assert!(!e.contains("capitalisation"), "{e}");
    let e = env.fails(&["generate", "--length", "2"], 7);
    assert!(e.contains("--length"), "{e}");
    let e = env.fails(&["generate", "--passphrase", "--words", "2"], 7);
    assert!(e.contains("--words"), "{e}");
}
