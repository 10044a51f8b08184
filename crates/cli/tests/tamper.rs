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
