//! Edits to the vault file made outside Tessera, through the real `tessera` binary: each is
//! named, with exit code 6 ("damaged or tampered data"), while a wrong password stays exit 5.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::Env;

fn sql(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.home().join("vault.sqlite")).unwrap()
}

fn meta(env: &Env, key: &str) -> Vec<u8> {
    sql(env)
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .unwrap()
}

fn set_meta(env: &Env, key: &str, value: &[u8]) {
    sql(env)
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            rusqlite::params![value, key],
        )
        .unwrap();
}

#[test]
fn a_damaged_keyset_is_exit_6_naming_it_and_a_wrong_password_is_exit_5() {
    let env = Env::init();
    let keyset = meta(&env, "keyset");
    let mut flipped = keyset.clone();
    flipped[keyset.len() / 2] ^= 0x01;
    set_meta(&env, "keyset", &flipped);
    let e = env.fails(&["unlock", "--password-file", env.pw()], 6);
    assert!(
        e.contains("wrapped keyset") && e.contains("damaged") && e.contains("backup"),
        "{e}"
    );
    let json = env.run(&["--json", "unlock", "--password-file", env.pw()]);
    assert!(
        String::from_utf8_lossy(&json.stderr).contains("\"code\":\"tampered\""),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );

    set_meta(&env, "keyset", &keyset);
    let bad = env.tmp.path().join("bad-password");
    std::fs::write(&bad, "not the master password\n").unwrap();
    let e = env.fails(&["unlock", "--password-file", bad.to_str().unwrap()], 5);
    assert!(
        e.contains("wrong master password or Account Secret Key"),
        "{e}"
    );
    env.ok(&["unlock", "--password-file", env.pw()]);
}

/// An item rolled back to its older (genuine) version, or trashed, with SQLite while the vault
/// is locked: `show` and `inject` refuse with exit 6 naming it and print nothing of it; the
/// other item still reads.
#[test]
fn an_item_rolled_back_or_trashed_while_locked_is_exit_6_naming_it() {
    let env = Env::unlocked();
    let items = env.tmp.path().join("items.json");
    std::fs::write(
        &items,
        r#"[{"kind": "login", "title": "GitHub", "fields": [{"name": "password", "kind": "concealed", "value": "old-secret"}]},
            {"kind": "login", "title": "Other", "fields": [{"name": "password", "kind": "concealed", "value": "other-secret"}]}]"#,
    )
    .unwrap();
    env.ok(&["import", items.to_str().unwrap()]);
    env.ok_with_input(&["edit", "GitHub", "--secret", "password"], "new-secret\n");
    let id = env.json(&["show", "GitHub"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let template = env.tmp.path().join("config.tpl");
    std::fs::write(&template, "pw: tessera://personal/GitHub/password\n").unwrap();
    let tpl = template.to_str().unwrap();
    let edit = |sql_text: &str| {
        env.ok(&["lock"]);
        let changed = sql(&env).execute(sql_text, [&id.to_uppercase()]).unwrap();
        assert_eq!(changed, 1, "{sql_text} for {id}");
        env.ok(&["unlock", "--password-file", env.pw()])
    };
    let warned = |out: String| assert!(out.contains("WARNING") && out.contains(&id), "{out}");
    let refused = |args: &[&str]| {
        let o = env.run(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(6), "tessera {args:?}: {stderr}");
        assert!(
            stderr.contains(&id)
                && stderr.contains("\"GitHub\"")
                && stderr.contains("changed outside Tessera")
                && stderr.contains("does not match its MAC"),
            "tessera {args:?}: {stderr}"
        );
        assert!(!stdout.contains("secret"), "tessera {args:?}: {stdout}");
    };
    let other_reads = || {
        assert_eq!(
            env.ok(&["show", "Other", "--reveal", "--field", "password"])
                .trim(),
            "other-secret"
        );
        let list = env.ok(&["list"]);
        assert!(list.contains("Other") && !list.contains("GitHub"), "{list}");
    };

    warned(edit("UPDATE items SET version = 1 WHERE hex(id) = ?1"));
    refused(&["show", "GitHub", "--reveal", "--field", "password"]);
    refused(&["show", &id, "--reveal"]);
    refused(&["inject", "-t", tpl]);
    other_reads();

    assert!(!edit("UPDATE items SET version = 2 WHERE hex(id) = ?1").contains("WARNING"));
    assert_eq!(env.ok(&["inject", "-t", tpl]), "pw: new-secret\n");

    warned(edit(
        "UPDATE items SET trashed_at = 1700000000 WHERE hex(id) = ?1",
    ));
    refused(&["show", "GitHub", "--reveal", "--field", "password"]);
    refused(&["inject", "-t", tpl]);
    other_reads();
    let status = env.ok(&["status"]);
    assert!(status.contains(&id), "{status}");
}

/// An item's row deleted with SQLite while the vault is locked: `unlock` and `status` say so.
#[test]
fn an_item_removed_while_locked_is_reported_at_unlock_and_in_status() {
    let env = Env::unlocked();
    env.ok_with_input(&["add", "login", "Gone", "--secret", "password"], "s1\n");
    env.ok_with_input(&["add", "login", "Kept", "--secret", "password"], "s2\n");
    env.ok(&["lock"]);
    sql(&env)
        .execute(
            "DELETE FROM items WHERE id = (SELECT id FROM items ORDER BY id LIMIT 1)",
            [],
        )
        .unwrap();
    let says = |out: &str| {
        assert!(
            out.contains("WARNING")
                && out.contains("recorded 2 items but holds 1")
                && out.contains("removed outside Tessera"),
            "{out}"
        );
    };
    says(&env.ok(&["unlock", "--password-file", env.pw()]));
    says(&env.ok(&["status"]));
    assert_eq!(
        env.json(&["status"])["warnings"].as_array().unwrap().len(),
        1
    );
}
