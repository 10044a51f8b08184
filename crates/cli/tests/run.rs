//! `tessera run` and `tessera inject`: secrets reach the child's environment or standard output
//! and nothing else, with the child's exit code passed through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::Env;

fn with_env_set(env: &Env) {
    env.ok_with_input(
        &[
            "add",
            "env_set",
            "deploy",
            "--secret",
            "API_TOKEN",
            "--secret",
            "DB_PASSWORD",
        ],
        "tok-123456789\npg-secret-value\n",
    );
}

#[test]
fn run_injects_masks_and_passes_the_exit_code() {
    let env = Env::unlocked();
    with_env_set(&env);
    let o = env.run(&[
        "run",
        "-e",
        "deploy",
        "--",
        "sh",
        "-c",
        "echo token=$API_TOKEN db=$DB_PASSWORD >&2; echo out $API_TOKEN; exit 42",
    ]);
    assert_eq!(o.status.code(), Some(42));
    let out = String::from_utf8(o.stdout).unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(out.trim(), "out <concealed by tessera>");
    assert_eq!(
        err.trim(),
        "token=<concealed by tessera> db=<concealed by tessera>"
    );

    // Without masking the child sees and prints the real values (it replaces tessera).
    let o = env.run(&[
        "run",
        "-e",
        "deploy",
        "--no-mask",
        "--",
        "sh",
        "-c",
        "printf %s \"$API_TOKEN\"",
    ]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "tok-123456789");

    // A signal ends the child: 128 + N.
    let o = env.run(&["run", "-e", "deploy", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(128 + 15));
    // A command that does not exist: 127.
    assert_eq!(
        env.run(&["run", "-e", "deploy", "--", "/nonexistent/cmd"])
            .status
            .code(),
        Some(127)
    );
}

#[test]
fn clear_env_keeps_only_the_injected_variables() {
    let env = Env::unlocked();
    with_env_set(&env);
    let o = env
        .command()
        .env("LEAKY", "1")
        .args([
            "run",
            "-e",
            "deploy",
            "--clear-env",
            "--no-mask",
            "--",
            "env",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    let mut names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["API_TOKEN", "DB_PASSWORD", "PATH"], "{out}");
}

#[test]
fn templates_resolve_references_and_nothing_is_written_to_disk() {
    let env = Env::unlocked();
    env.ok_with_input(
        &[
            "add",
            "database",
            "Orders DB",
            "--field",
            "host=db.internal",
            "--secret",
            "password",
        ],
        "hunter2-pg\n",
    );
    let tpl = env.tmp.path().join("app.env");
    std::fs::write(&tpl, "# app settings\nDATABASE_URL=postgres://app:tessera://personal/Orders%20DB/password@tessera://personal/Orders%20DB/host/orders\nPLAIN=1\n").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let before: Vec<_> = std::fs::read_dir(env.home())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let o = env
        .command()
        .env("TMPDIR", scratch.path())
        .current_dir(scratch.path())
        .args([
            "run",
            "-t",
            tpl.to_str().unwrap(),
            "--no-mask",
            "--",
            "sh",
            "-c",
            "printf '%s %s' \"$DATABASE_URL\" \"$PLAIN\"",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "postgres://app:hunter2-pg@db.internal/orders 1"
    );
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "run wrote a file"
    );
    let after: Vec<_> = std::fs::read_dir(env.home())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "run created files in the vault directory");

    let inj = env.tmp.path().join("config.yaml");
    std::fs::write(
        &inj,
        "db:\n  password: \"tessera://personal/Orders%20DB/password\"\n",
    )
    .unwrap();
    assert_eq!(
        env.ok(&["inject", "-t", inj.to_str().unwrap()]),
        "db:\n  password: \"hunter2-pg\"\n"
    );

    std::fs::write(&inj, "x: tessera://personal/Orders%20DB/nope\n").unwrap();
    let e = env.fails(&["inject", "-t", inj.to_str().unwrap()], 4);
    assert!(e.contains("no field") && e.contains("password"), "{e}");
    std::fs::write(&inj, "x: tessera://personal/just-one-part\n").unwrap();
    env.fails(&["inject", "-t", inj.to_str().unwrap()], 7);
}

#[test]
fn run_without_an_agent_unlocks_for_one_command() {
    let env = Env::unlocked();
    with_env_set(&env);
    env.ok(&["lock"]);
    env.fails(&["run", "-e", "deploy", "--", "true"], 3);
    let o = env.run(&[
        "run",
        "-e",
        "deploy",
        "--password-file",
        env.pw(),
        "--no-mask",
        "--",
        "sh",
        "-c",
        "printf %s \"$DB_PASSWORD\"",
    ]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "pg-secret-value");
    assert_eq!(
        env.json(&["status"])["unlocked"],
        false,
        "an in-process unlock leaves no agent behind"
    );
}

#[test]
fn references_to_titles_with_spaces_work_as_written() {
    let env = Env::unlocked();
    env.ok_with_input(
        &[
            "add",
            "login",
            "AWS root",
            "--field",
            "console url=https://aws.example",
            "--secret",
            "password",
        ],
        "aws-root-pw-1\n",
    );
    env.ok_with_input(
        &["add", "api_token", "CI/CD 100%", "--secret", "token"],
        "cicd-token-2\n",
    );
    let printed = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--no-mask", "--", "sh", "-c", "printf %s \"$X\""]);
        env.ok(&a)
    };
    assert_eq!(
        printed(&["run", "--env", "X=tessera://personal/AWS root/password"]),
        "aws-root-pw-1"
    );
    assert_eq!(
        printed(&["run", "--env", "X=tessera://personal/CI%2FCD 100%25/token"]),
        "cicd-token-2"
    );
    assert_eq!(
        printed(&[
            "run",
            "--env",
            "X={{ tessera://personal/AWS root/console url }}/home"
        ]),
        "https://aws.example/home"
    );
    let dotenv = env.tmp.path().join("app.env");
    std::fs::write(
        &dotenv,
        "X=\"u:tessera://personal/AWS root/password@tessera://personal/aws root/console url\"\n",
    )
    .unwrap();
    // Bare, FIELD ends at the space: "console" is no field of the item.
    let e = env.fails(&["run", "-t", dotenv.to_str().unwrap(), "--", "true"], 4);
    assert!(e.contains("no field \"console\""), "{e}");
    std::fs::write(
        &dotenv,
        "X=\"u:tessera://personal/AWS root/password@{{tessera://personal/aws root/console url}}\"\n",
    )
    .unwrap();
    assert_eq!(
        printed(&["run", "-t", dotenv.to_str().unwrap()]),
        "u:aws-root-pw-1@https://aws.example"
    );

    let tpl = env.tmp.path().join("config.yaml");
    std::fs::write(
        &tpl,
        "aws:\n  password: \"tessera://personal/AWS root/password\"\n  url: {{ tessera://personal/AWS root/console url }}\nhelm: {{ .Values.image }}\n",
    )
    .unwrap();
    assert_eq!(
        env.ok(&["inject", "-t", tpl.to_str().unwrap()]),
        "aws:\n  password: \"aws-root-pw-1\"\n  url: https://aws.example\nhelm: {{ .Values.image }}\n"
    );
    // A `%` that is no escape says how to write it.
    let e = env.fails(
        &[
            "run",
            "--env",
            "X=tessera://personal/CI%2FCD 100%/token",
            "--",
            "true",
        ],
        7,
    );
    assert!(e.contains("%25"), "{e}");
}

#[test]
fn under_json_run_and_inject_print_json() {
    let env = Env::unlocked();
    with_env_set(&env);
    let o = env.run(&["--json", "run", "-e", "deploy", "--", "/nonexistent/cmd"]);
    assert_eq!(o.status.code(), Some(127));
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(err["error"]["code"], "error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot start /nonexistent/cmd"),
        "{err}"
    );
    let tpl = env.tmp.path().join("t.env");
    std::fs::write(&tpl, "TOKEN=tessera://personal/deploy/API_TOKEN\n").unwrap();
    let v = env.json(&["inject", "-t", tpl.to_str().unwrap()]);
    assert_eq!(v["rendered"], "TOKEN=tok-123456789\n");
}
