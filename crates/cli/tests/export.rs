//! `tessera export` and `tessera import` of an encrypted export, with the real binary: from one
//! vault directory into a fresh one; and `tessera import` of a plain JSON file, twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::Env;

const PASSPHRASE: &str = "velvet quarry harbour mosaic 97";

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A vault with a favourite login edited twice, a note, an environment set, a TOTP item and an
/// item in the trash.
fn populated() -> Env {
    let env = Env::unlocked();
    env.ok(&[
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
        "--folder",
        "dev/code",
        "--favourite",
    ]);
    env.ok(&["edit", "GitHub", "--generate", "password"]);
    env.ok(&["edit", "GitHub", "--field", "team=platform"]);
    env.ok_with_input(
        &["add", "secure_note", "Safe", "--notes"],
        "canary-note-7\n",
    );
    env.ok_with_input(
        &[
            "add",
            "env_set",
            "deploy",
            "--secret",
            "AWS_SECRET_ACCESS_KEY",
        ],
        "canary-aws-secret\n",
    );
    env.ok_with_input(&["add", "totp", "AWS root", "--totp"], "JBSWY3DPEHPK3PXP\n");
    env.ok(&["add", "api_token", "Old token", "--tag", "legacy"]);
    env.ok(&["rm", "Old token"]);
    env
}

fn pass_file(env: &Env, name: &str, text: &str) -> String {
    let p = env.tmp.path().join(name);
    std::fs::write(&p, format!("{text}\n")).unwrap();
    p.to_str().unwrap().to_owned()
}

/// What `list`, `list --trash`, and `show --reveal` and `history` of every item print as JSON.
fn snapshot(env: &Env) -> Vec<serde_json::Value> {
    let list = env.json(&["list"]);
    let trash = env.json(&["list", "--trash"]);
    let mut all = vec![list.clone(), trash.clone()];
    for item in list
        .as_array()
        .unwrap()
        .iter()
        .chain(trash.as_array().unwrap())
    {
        let id = item["id"].as_str().unwrap();
        all.push(env.json(&["show", id, "--reveal"]));
        all.push(env.json(&["history", id]));
    }
    all
}

#[test]
fn export_then_import_into_a_fresh_vault_shows_the_same_items() {
    let a = populated();
    let pf = pass_file(&a, "pass", PASSPHRASE);
    let out = a.tmp.path().join("backup.tessera");
    let out_s = out.to_str().unwrap();
    let report = a.json(&["export", "--out", out_s, "--passphrase-file", &pf]);
    assert_eq!(report["items"], 5);
    assert_eq!(report["trashed"], 1);
    assert_eq!(report["versions"], 7);

    // The file: private, with the magic, and no title or value in clear.
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(bytes.starts_with(b"TESSERA-EXPORT"));
    let password = a.ok(&["show", "GitHub", "--reveal", "--field", "password"]);
    for needle in [
        "GitHub",
        "alice",
        "github.com",
        "dev/code",
        password.trim(),
        "canary-note-7",
        "canary-aws-secret",
        "AWS_SECRET_ACCESS_KEY",
        "JBSWY3DPEHPK3PXP",
        "Old token",
        PASSPHRASE,
    ] {
        assert!(
            !contains(&bytes, needle),
            "{needle} is in the file in clear"
        );
    }

    // Into a fresh vault in another directory.
    let b = Env::unlocked();
    let pf_b = pass_file(&b, "pass", PASSPHRASE);
    let r = b.json(&["import", out_s, "--passphrase-file", &pf_b]);
    assert_eq!(
        (&r["imported"], &r["copies"], &r["skipped"], &r["versions"]),
        (&5.into(), &0.into(), &0.into(), &7.into())
    );
    assert_eq!(snapshot(&a), snapshot(&b));
    assert!(b.ok(&["list", "--favourites"]).contains("GitHub"));
    assert!(b.ok(&["list", "--trash"]).contains("Old token"));
    assert_eq!(
        b.ok(&["show", "GitHub", "--reveal", "--field", "password"]),
        password
    );

    // Again: everything is already there. The passphrase may come on standard input too.
    let again = b.ok_with_input(
        &["import", out_s, "--passphrase-fd", "0"],
        &format!("{PASSPHRASE}\n"),
    );
    assert!(again.contains("Imported 0 items"), "{again}");
    assert!(again.contains("Skipped 5 items"), "{again}");
}

#[test]
fn refusals_are_named_with_their_exit_codes() {
    let a = populated();
    let pf = pass_file(&a, "pass", PASSPHRASE);
    let out = a.tmp.path().join("backup.tessera");
    let out_s = out.to_str().unwrap();

    let weak = pass_file(&a, "weak", "tessera2024");
    let e = a.fails(&["export", "--out", out_s, "--passphrase-file", &weak], 7);
    assert!(e.contains("too weak"), "{e}");
    assert!(!out.exists(), "nothing written");

    a.ok(&["export", "--out", out_s, "--passphrase-file", &pf]);
    let e = a.fails(&["export", "--out", out_s, "--passphrase-file", &pf], 7);
    assert!(e.contains("already exists") && e.contains("--force"), "{e}");
    a.ok(&["export", "-o", out_s, "--force", "--passphrase-file", &pf]);

    let b = Env::unlocked();
    let wrong = pass_file(&b, "wrong", "velvet quarry harbour mosaic 98");
    let e = b.fails(&["import", out_s, "--passphrase-file", &wrong], 5);
    assert!(
        e.contains("wrong export passphrase, or the file was changed"),
        "{e}"
    );

    let bytes = std::fs::read(&out).unwrap();
    let write = |name: &str, content: &[u8]| {
        let p = b_path(&b, name);
        std::fs::write(&p, content).unwrap();
        p
    };
    let pf_b = pass_file(&b, "pass", PASSPHRASE);
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    let p = write("flipped", &flipped);
    let e = b.fails(&["import", &p, "--passphrase-file", &pf_b], 5);
    assert!(e.contains("or the file was changed"), "{e}");

    let p = write("short", &bytes[..bytes.len() - 10]);
    let e = b.fails(&["import", &p, "--passphrase-file", &pf_b], 6);
    assert!(e.contains("truncated"), "{e}");
    let p = write("header", &bytes[..40]);
    let e = b.fails(&["import", &p], 6);
    assert!(e.contains("truncated inside its header"), "{e}");
    let mut header = bytes.clone();
    header[30] ^= 1;
    let p = write("badheader", &header);
    let e = b.fails(&["import", &p], 6);
    assert!(e.contains("checksum"), "{e}");
    let e = b.fails(&["import", &write("other", b"PK\x03\x04 a zip")], 7);
    assert!(e.contains("not a Tessera export"), "{e}");
    assert!(b.ok(&["list"]).contains("No items"), "nothing was imported");
}

fn b_path(env: &Env, name: &str) -> String {
    let p: &Path = env.tmp.path();
    p.join(name).to_str().unwrap().to_owned()
}

/// Every item's revealed content as `show --json --reveal` prints it, by title.
fn contents(env: &Env) -> Vec<serde_json::Value> {
    let list = env.json(&["list"]);
    let mut all: Vec<serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| env.json(&["show", i["id"].as_str().unwrap(), "--reveal"]))
        .collect();
    all.sort_by_key(|v| v["title"].as_str().unwrap().to_owned());
    all
}

#[test]
fn a_json_file_imported_twice_adds_nothing_the_second_time() {
    let env = Env::unlocked();
    let file = b_path(&env, "items.json");
    // Without ids, as a script writes them: matched by content.
    let items = serde_json::json!([
        {"kind": "login", "title": "Jenkins", "fields": [{"name": "password", "kind": "concealed", "value": "x1"}]},
        {"kind": "secure_note", "title": "Recovery codes", "notes": "one\ntwo"},
        {"kind": "api_token", "title": "Grafana", "fields": [{"name": "token", "kind": "concealed", "value": "glsa"}]}
    ]);
    std::fs::write(&file, items.to_string()).unwrap();
    let first = env.json(&["import", &file]);
    assert_eq!(
        (first["imported"].as_u64(), first["skipped"].as_u64()),
        (Some(3), Some(0))
    );
    let before = contents(&env);
    let again = env.ok(&["import", &file]);
    assert!(
        again.contains("Imported 0 items") && again.contains("Skipped 3 items"),
        "{again}"
    );
    assert_eq!(
        contents(&env),
        before,
        "the second import changed the vault"
    );

    // With ids, as `show --json --reveal` prints them: matched by id, into this vault and another.
    let shown = b_path(&env, "shown.json");
    std::fs::write(&shown, serde_json::Value::from(before.clone()).to_string()).unwrap();
    let r = env.json(&["import", &shown]);
    assert_eq!(
        (r["imported"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(3))
    );
    let other = Env::unlocked();
    let r = other.json(&["import", &shown]);
    assert_eq!(r["imported"].as_u64(), Some(3));
    let ids: Vec<&str> = before.iter().map(|v| v["id"].as_str().unwrap()).collect();
    let mut got: Vec<&str> = r["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    got.sort_unstable();
    let mut want = ids.clone();
    want.sort_unstable();
    assert_eq!(got, want, "the items keep their ids");
    let r = other.json(&["import", &shown]);
    assert_eq!(
        (r["imported"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(other.json(&["list"]).as_array().unwrap().len(), 3);

    // Same id, other content: both are kept, the import as a copy, as the encrypted import does.
    let mut changed = before.clone();
    changed[0]["fields"][0]["value"] = "x2".into();
    let title = changed[0]["title"].as_str().unwrap().to_owned();
    std::fs::write(
        &shown,
        serde_json::Value::from(vec![changed[0].clone()]).to_string(),
    )
    .unwrap();
    let r = env.json(&["import", &shown]);
    assert_eq!(
        (r["imported"].as_u64(), r["copies"].as_u64()),
        (Some(1), Some(1))
    );
    let copy = env.json(&["show", &format!("{title} (imported)"), "--reveal"]);
    assert_eq!(copy["fields"][0]["value"], "x2");
    assert_eq!(
        env.json(&["show", &title, "--reveal"])["fields"][0]["value"],
        before[0]["fields"][0]["value"]
    );

    // One id twice in a file is refused, naming both, and nothing is written.
    std::fs::write(
        &shown,
        serde_json::Value::from(vec![changed[0].clone(), changed[0].clone()]).to_string(),
    )
    .unwrap();
    let e = env.fails(&["import", &shown], 7);
    assert!(e.contains("items 1 and 2 have the same id"), "{e}");
    assert_eq!(env.json(&["list"]).as_array().unwrap().len(), 4);
}
