//! Machine tokens end to end: the real `tessera` CLI against the real `tessera-server` binary,
//! on SQLite and on PostgreSQL.
//!
//! Alice creates a team and a group, shares an item into it and creates a machine token. A CI
//! job with nothing but `TESSERA_TOKEN` and `TESSERA_SERVER` (an empty home, no vault) runs a
//! command with the item's password in its environment. Removing a member rotates the group key;
//! the token still works. A token whose public key the server swapped makes the next rotation
//! refuse. An expired token and a revoked one fail at once, saying what to do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Output, Stdio};

use support::bin;
use support::team::{Backend, Cli};

/// A CI job: `tessera run` with only the token and the server in an otherwise empty environment
/// and an empty home directory.
fn ci_run(url: &str, token: &str, args: &[&str]) -> (Output, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(bin("tessera"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TESSERA_TOKEN", token)
        .env("TESSERA_SERVER", url)
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o, home)
}

fn print_pw(url: &str, token: &str, reference: &str) -> Output {
    let env = format!("PW={reference}");
    let (o, home) = ci_run(
        url,
        token,
        &[
            "--no-mask",
            "--env",
            &env,
            "--",
            "sh",
            "-c",
            "printf %s \"$PW\"",
        ],
    );
    assert_eq!(
        std::fs::read_dir(home.path()).unwrap().count(),
        0,
        "the job wrote to its home directory"
    );
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Swaps the stored public key of one token, as a malicious server would.
type Tamper<'a> = &'a dyn Fn(&str);

#[allow(clippy::too_many_lines)] // one story, told in order
fn scenario(url: &str, tamper: Tamper<'_>) {
    let (alice, bob, carol) = (Cli::new(), Cli::new(), Cli::new());
    alice.start();
    alice.create_team(url, "alice@example.com");
    for (cli, email) in [(&bob, "bob@example.com"), (&carol, "carol@example.com")] {
        cli.start();
        cli.join_team_of(&alice, url, email);
        alice.json(&["team", "certify", email]);
    }
    let g = alice.json(&["group", "create", "Ops"]);
    let gid = g["id"].as_str().unwrap().to_owned();
    alice.json(&["group", "add", "Ops", "bob@example.com", "--role", "viewer"]);
    alice.json(&[
        "group",
        "add",
        "Ops",
        "carol@example.com",
        "--role",
        "viewer",
    ]);
    alice.json_in(
        &["add", "login", "deploy-db", "--secret", "password"],
        "pg-secret-1\n",
    );
    alice.json(&["share", "deploy-db", "Ops"]);

    // A viewer cannot create tokens; an admin can, and sees the secret once.
    let o = bob.run(
        &["token", "create", "Ops", "--name", "ci", "--expires", "1d"],
        "",
    );
    assert!(!o.status.success(), "a viewer created a token");
    let o = alice.run(
        &["token", "create", "Ops", "--name", "ci", "--expires", "30d"],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(token.starts_with("tsr2_"), "{token}");
    assert!(stderr(&o).contains("not shown again"), "{}", stderr(&o));
    // Who can read an item lists the live token beside the members, for a viewer too.
    for who in [&alice, &bob] {
        let a = who.json(&["access", "deploy-db"]);
        let tokens = a["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 1, "{a}");
        assert_eq!(tokens[0]["name"], "ci", "{a}");
        assert_eq!(tokens[0]["state"], "live", "{a}");
        assert_eq!(tokens[0]["created_by"], "alice@example.com", "{a}");
    }
    let o = bob.run(&["access", "deploy-db"], "");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("token ci"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // The job reads the password with no vault and no master password, by group name or id.
    let o = print_pw(url, &token, "tessera://Ops/deploy-db/password");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pg-secret-1");
    let o = print_pw(url, &token, &format!("tessera://{gid}/DEPLOY-DB/password"));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pg-secret-1");
    // Masked by default.
    let (o, _) = ci_run(
        url,
        &token,
        &[
            "--env",
            "PW=tessera://Ops/deploy-db/password",
            "--",
            "sh",
            "-c",
            "printf %s \"$PW\"",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "<concealed by tessera>");
    // Unknown items, fields and groups name the reference.
    for (reference, says) in [
        ("tessera://Ops/nope/password", "tessera://Ops/nope"),
        ("tessera://Ops/deploy-db/pin", "no field \"pin\""),
        (
            "tessera://Dev/deploy-db/password",
            "reads only group \"Ops\"",
        ),
    ] {
        let o = print_pw(url, &token, reference);
        assert_eq!(o.status.code(), Some(4), "{reference}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{reference}: {}", stderr(&o));
    }
    // A truncated token is refused before any request, without repeating it.
    let o = print_pw(url, &token[..40], "tessera://Ops/deploy-db/password");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(&token[..40]));

    // Removing a member rotates the group key; it is sealed to the token too.
    let r = alice.json(&["group", "remove", "Ops", "bob@example.com"]);
    assert_eq!(r["epoch"], 2);
    alice.json_in(
        &["add", "login", "api-key", "--secret", "password"],
        "api-secret-2\n",
    );
    alice.json(&["share", "api-key", "Ops"]);
    let o = print_pw(url, &token, "tessera://Ops/api-key/password");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "api-secret-2");
    let list = alice.json(&["token", "list", "Ops"]);
    assert_eq!(list[0]["name"], "ci");
    assert_eq!(list[0]["state"], "live");
    assert_eq!(list[0]["created_by"], "alice@example.com");
    assert!(list[0]["last_used_at"].as_i64().is_some());

    // An expired token fails and says what to do.
    let o = alice.run(
        &[
            "token",
            "create",
            "Ops",
            "--name",
            "short",
            "--expires",
            "2s",
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let short = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let o = print_pw(url, &short, "tessera://Ops/deploy-db/password");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("expired"), "{}", stderr(&o));
    assert!(stderr(&o).contains("ask a group admin"), "{}", stderr(&o));

    // A server that swaps a token's public key for its own is caught at the next rotation.
    let o = alice.run(
        &[
            "--json",
            "token",
            "create",
            "Ops",
            "--name",
            "victim",
            "--expires",
            "1d",
        ],
        "",
    );
    let victim: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    tamper(victim["id"].as_str().unwrap());
    // `access` lists it as untrusted: its record no longer carries its creator's signature.
    let a = alice.json(&["access", "deploy-db"]);
    let states: Vec<&str> = a["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 2, "{a}");
    assert_eq!(states[0], "live", "{a}");
    assert!(states[1].starts_with("untrusted: "), "{a}");
    assert!(states[1].contains("substituted"), "{a}");
    let o = alice.run(&["group", "remove", "Ops", "carol@example.com"], "");
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("machine token"), "{}", stderr(&o));
    assert!(stderr(&o).contains("substituted"), "{}", stderr(&o));
    assert_eq!(
        alice
            .json(&["group", "members", "Ops"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    alice.json(&["token", "revoke", "Ops", "victim"]);
    let r = alice.json(&["group", "remove", "Ops", "carol@example.com"]);
    assert_eq!(r["epoch"], 3);
    let o = print_pw(url, &token, "tessera://Ops/deploy-db/password");
    assert!(o.status.success(), "{}", stderr(&o));

    // Revocation takes effect at once.
    let r = alice.json(&["token", "revoke", "Ops", "ci"]);
    assert_eq!(r["state"], "revoked");
    // A revoked token can no longer read anything: `access` leaves it out.
    assert_eq!(
        alice.json(&["access", "deploy-db"])["tokens"],
        serde_json::json!([])
    );
    let o = print_pw(url, &token, "tessera://Ops/deploy-db/password");
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("revoked"), "{}", stderr(&o));
}

/// Swap a token's stored public key behind the server's back.
fn swap_token_key(b: &Backend, token: &str) {
    let new_key = match b.db {
        None => "randomblob(32)",
        Some(_) => "sha256(exchange_public)",
    };
    b.sql(&format!(
        "UPDATE machine_tokens SET exchange_public = {new_key} WHERE id = {}",
        b.blob(token)
    ));
}

#[test]
fn machine_tokens_on_sqlite() {
    let b = Backend::sqlite();
    scenario(b.url(), &|t: &str| swap_token_key(&b, t));
}

#[test]
fn machine_tokens_on_postgresql() {
    let b = Backend::postgres("tokens");
    scenario(b.url(), &|t: &str| swap_token_key(&b, t));
}
