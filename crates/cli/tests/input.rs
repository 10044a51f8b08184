//! What a user pipes into `add` and `edit` is stored whole or refused, never cut short: notes
//! to the end of input, PEM blocks to their END line, no missing line turned into an empty
//! secret; SSH keys are checked on the way in and exported as `ssh-keygen` reads them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::Env;

fn revealed(env: &Env, item: &str) -> serde_json::Value {
    env.json(&["show", item, "--reveal"])
}

fn field(v: &serde_json::Value, name: &str) -> String {
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name} in {v}"))["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A key made by real `ssh-keygen`, its private file's text.
fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> String {
    let path = dir.join(name);
    let ok = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            kind,
            "-N",
            passphrase,
            "-C",
            "test@example",
            "-f",
        ])
        .arg(&path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen -t {kind}");
    std::fs::read_to_string(path).unwrap()
}

/// `ssh-keygen -y` on `file` with `passphrase`: the public key line, or `None` when refused.
fn public_of(file: &Path, passphrase: &str) -> Option<String> {
    let out = Command::new("ssh-keygen")
        .args(["-y", "-P", passphrase, "-f"])
        .arg(file)
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

#[test]
fn notes_are_read_to_the_end_of_input() {
    let env = Env::unlocked();
    let text = "line one\nline two\n\nline four\n";
    env.ok_with_input(&["add", "secure_note", "X", "--notes"], text);
    assert_eq!(
        revealed(&env, "X")["notes"],
        "line one\nline two\n\nline four"
    );
    env.ok_with_input(&["edit", "X", "--notes"], "first\n  indented second\n");
    assert_eq!(revealed(&env, "X")["notes"], "first\n  indented second");
    // Secrets first, one per line, then the notes take the rest.
    env.ok_with_input(
        &["add", "login", "L", "--secret", "password", "--notes"],
        "s3cret-value-1\nnote a\nnote b\n",
    );
    let l = revealed(&env, "L");
    assert_eq!(field(&l, "password"), "s3cret-value-1");
    assert_eq!(l["notes"], "note a\nnote b");
}

#[test]
fn a_missing_or_empty_value_is_refused_unless_asked_for() {
    let env = Env::unlocked();
    let e = env.run_with_input(
        &[
            "add", "env_set", "E", "--secret", "A", "--secret", "B", "--secret", "C",
        ],
        "only-one\n",
    );
    assert_eq!(e.status.code(), Some(7));
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("value of B"), "{err}");
    let e = env.run_with_input(&["add", "login", "X", "--secret", "password"], "");
    assert_eq!(e.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&e.stderr).contains("value of password"));
    let e = env.run_with_input(&["add", "login", "X", "--secret", "password"], "\n");
    assert_eq!(e.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&e.stderr).contains("--allow-empty"));
    // Nothing was stored by the refusals.
    env.fails(&["show", "E"], 4);
    env.fails(&["show", "X"], 4);
    // An empty value on purpose.
    env.ok_with_input(
        &["add", "login", "X", "--secret", "password", "--allow-empty"],
        "\n",
    );
    assert_eq!(field(&revealed(&env, "X"), "password"), "");
}

#[test]
fn a_pasted_ssh_key_is_stored_whole_and_a_broken_one_is_refused() {
    let env = Env::unlocked();
    let dir = env.tmp.path();
    let pem = keygen(dir, "id_ed25519", "ed25519", "");
    env.ok_with_input(&["add", "ssh_key", "K", "--secret", "private_key"], &pem);
    let out = dir.join("exported");
    env.ok(&["ssh-export", "K", "-o", out.to_str().unwrap()]);
    let original = public_of(&dir.join("id_ed25519"), "").unwrap();
    let exported = public_of(&out, "").expect("ssh-keygen reads the export");
    assert_eq!(
        exported.split_whitespace().nth(1),
        original.split_whitespace().nth(1)
    );
    // A PEM block and then another value: the block ends at its END line.
    env.ok_with_input(
        &[
            "add",
            "ssh_key",
            "K2",
            "--secret",
            "private_key",
            "--secret",
            "note",
        ],
        &format!("{pem}after-the-key\n"),
    );
    assert_eq!(field(&revealed(&env, "K2"), "note"), "after-the-key");
    // Half a key, or a key without its END line, is refused and not stored.
    let half: String = pem.lines().take(3).collect::<Vec<_>>().join("\n");
    let e = env.run_with_input(&["add", "ssh_key", "K3", "--secret", "private_key"], &half);
    assert_eq!(
        e.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
    let lines: Vec<&str> = pem.lines().collect();
    let cut = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[lines.len() - 1]);
    let e = env.run_with_input(&["add", "ssh_key", "K3", "--secret", "private_key"], &cut);
    assert_eq!(e.status.code(), Some(7));
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("not a usable OpenSSH private key"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
    env.fails(&["show", "K3"], 4);
}

#[test]
fn keys_wrapped_at_other_widths_are_accepted_as_openssh_does() {
    let env = Env::unlocked();
    let dir = env.tmp.path();
    let pem = keygen(dir, "id_rsa", "ecdsa", "");
    let lines: Vec<&str> = pem.lines().collect();
    let body: String = lines[1..lines.len() - 1].concat();
    let wrapped: Vec<String> = body
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let rewrapped = format!(
        "{}\n{}\n{}\n",
        lines[0],
        wrapped.join("\n"),
        lines[lines.len() - 1]
    );
    // ssh-keygen reads it: it is a valid key.
    let file = dir.join("wrapped");
    std::fs::write(&file, &rewrapped).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let original = public_of(&file, "").expect("ssh-keygen reads a 76-column key");
    env.ok_with_input(
        &["add", "ssh_key", "W", "--secret", "private_key"],
        &rewrapped,
    );
    let out = dir.join("exported");
    env.ok(&["ssh-export", "W", "-o", out.to_str().unwrap()]);
    let exported = public_of(&out, "").unwrap();
    assert_eq!(
        exported.split_whitespace().nth(1),
        original.split_whitespace().nth(1)
    );
    // The JSON import checks keys too: a damaged one is named and nothing is imported.
    let items = dir.join("items.json");
    let broken = format!("{}\nAAAA\n{}\n", lines[0], lines[lines.len() - 1]);
    std::fs::write(
        &items,
        serde_json::json!([
            {"kind": "ssh_key", "title": "bad key",
             "fields": [{"name": "private_key", "kind": "concealed", "value": broken}]}
        ])
        .to_string(),
    )
    .unwrap();
    let err = env.fails(&["import", items.to_str().unwrap()], 7);
    assert!(err.contains("bad key"), "{err}");
}

#[test]
fn an_exported_key_keeps_its_passphrase_unless_told_otherwise() {
    let env = Env::unlocked();
    let dir = env.tmp.path();
    env.ok_with_input(
        &["ssh-keygen", "P", "--passphrase"],
        "correct horse battery\ncorrect horse battery\n",
    );
    let kept = dir.join("kept");
    let said = env.ok(&["ssh-export", "P", "-o", kept.to_str().unwrap()]);
    assert!(said.contains("stored passphrase"), "{said}");
    assert!(
        public_of(&kept, "").is_none(),
        "the export opened without a passphrase"
    );
    assert!(public_of(&kept, "correct horse battery").is_some());
    let open = dir.join("open");
    let said = env.ok(&[
        "ssh-export",
        "P",
        "--no-passphrase",
        "-o",
        open.to_str().unwrap(),
    ]);
    assert!(said.contains("unencrypted"), "{said}");
    assert!(public_of(&open, "").is_some());
    // Never over an existing file: invalid input, as `export` says it.
    let err = env.fails(&["ssh-export", "P", "-o", open.to_str().unwrap()], 7);
    assert!(err.contains("exists already"), "{err}");
    // --json: the public key as JSON, not a bare line.
    let v = env.json(&["ssh-export", "P", "--public"]);
    assert!(v["public_key"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519 "));
}

#[test]
fn ssh_import_takes_openssh_key_files_with_or_without_a_passphrase() {
    let env = Env::unlocked();
    let dir = env.tmp.path();
    let pass = dir.join("pass");
    std::fs::write(&pass, "open sesame please\n").unwrap();
    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();
    for (kind, passphrase) in [
        ("ed25519", ""),
        ("ed25519", "open sesame please"),
        ("ecdsa", ""),
        ("ecdsa", "open sesame please"),
        ("rsa", ""),
        ("rsa", "open sesame please"),
    ] {
        let name = if passphrase.is_empty() {
            format!("id_{kind}")
        } else {
            format!("id_{kind}_locked")
        };
        keygen(dir, &name, kind, passphrase);
        let file = dir.join(&name);
        let original = public_of(&file, passphrase).unwrap();
        let mut args = vec!["ssh-import", file.to_str().unwrap(), &name];
        if !passphrase.is_empty() {
            let refused = [
                args.clone(),
                vec!["--passphrase-file", wrong.to_str().unwrap()],
            ]
            .concat();
            let err = env.fails(&refused, 7);
            assert!(err.contains("wrong passphrase"), "{err}");
            args.extend(["--passphrase-file", pass.to_str().unwrap()]);
        }
        env.ok(&args);
        let out = dir.join(format!("{name}.out"));
        env.ok(&["ssh-export", &name, "-o", out.to_str().unwrap()]);
        let exported = public_of(&out, passphrase).expect("ssh-keygen reads the export");
        assert_eq!(
            exported.split_whitespace().nth(1),
            original.split_whitespace().nth(1),
            "{kind}"
        );
        if !passphrase.is_empty() {
            assert!(
                public_of(&out, "").is_none(),
                "{kind}: exported without its passphrase"
            );
        }
    }
    // A public key file is not a private key: the message says what to give instead.
    let err = env.fails(
        &["ssh-import", dir.join("id_ed25519.pub").to_str().unwrap()],
        7,
    );
    assert!(err.contains("public key"), "{err}");
}
