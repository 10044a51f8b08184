//! The configuration file: the shipped example parses with the server's own parser and documents
//! every key; unknown keys, bad values, missing files and contradictions are refused with the
//! file, line and key named; flags and the environment win over the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera_server::config::{
    Config, ConfigError, Database, DatabaseUrl, FileConfig, LogLevel, Overrides, TlsFiles,
};

/// `installers/server/tessera-server.toml`, the example the packages install.
fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../installers/server/tessera-server.toml")
}

fn example_text() -> String {
    std::fs::read_to_string(example_path()).unwrap()
}

fn parse(text: &str) -> Result<FileConfig, ConfigError> {
    FileConfig::parse(text, Path::new("/etc/tessera/server.toml"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_example_file_parses_as_documented() {
    let file = FileConfig::read(&example_path()).unwrap();
    assert_eq!(file.listen, Some("0.0.0.0:8787".parse().unwrap()));
    assert_eq!(file.log, Some(LogLevel::Info));
    assert_eq!(
        file.data_dir.as_deref(),
        Some(Path::new("/var/lib/tessera-server"))
    );
    assert!(file.database_url.is_none() && file.database_url_file.is_none());
    let config = Config::resolve(file, Overrides::default()).unwrap();
    assert_eq!(
        config.tls,
        Some(TlsFiles {
            cert: "/etc/tessera/tls/cert.pem".into(),
            key: "/etc/tessera/tls/key.pem".into(),
        })
    );
    assert!(!config.insecure_http);
    config.check_transport().unwrap();
    assert!(
        matches!(&config.database, Database::Sqlite { data_dir } if data_dir == Path::new("/var/lib/tessera-server"))
    );
}

/// Each commented-out `# key = value` line of the example, uncommented on its own, parses too:
/// the documented alternatives cannot rot either.
#[test]
fn every_commented_example_parses() {
    let text = example_text();
    let mut tried = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(setting) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, _)) = setting.split_once(" = ") else {
            continue;
        };
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        let edited: Vec<&str> = text
            .lines()
            .enumerate()
            .map(|(j, l)| if j == i { setting } else { l })
            .collect();
        let file =
            parse(&edited.join("\n")).unwrap_or_else(|e| panic!("line {}: {setting}: {e}", i + 1));
        Config::resolve(
            file,
            Overrides {
                // database_url_file is not read when a URL is given.
                database_url: Some(DatabaseUrl::new("postgres://x@127.0.0.1/x".into())),
                ..Overrides::default()
            },
        )
        .unwrap_or_else(|e| panic!("line {}: {setting}: {e}", i + 1));
        tried.push(key.to_owned());
    }
    for key in ["database_url_file", "database_url", "insecure_http"] {
        assert!(tried.iter().any(|k| k == key), "{key} has no example");
    }
}

/// The parser's own list of keys (from its unknown-key error) all appear in the example.
#[test]
fn the_example_documents_every_key() {
    let err = parse("no_such_key = 1").unwrap_err().to_string();
    let expected = err
        .split("expected one of ")
        .nth(1)
        .unwrap_or_else(|| panic!("no key list in: {err}"));
    let keys: Vec<&str> = expected
        .split(',')
        .map(|k| k.trim().trim_matches('`'))
        .filter(|k| !k.is_empty())
        .collect();
    assert!(keys.len() >= 8, "{keys:?}");
    let text = example_text();
    for key in keys {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{key} = "))
                    || l.starts_with(&format!("# {key} = "))),
            "the example does not show `{key} = ...`"
        );
    }
}

#[test]
fn an_unknown_key_is_refused_naming_it_the_file_and_the_line() {
    let err = parse("listen = \"127.0.0.1:1\"\ntls_certificate = \"/x\"\n").unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }));
    let msg = err.to_string();
    for want in [
        "/etc/tessera/server.toml",
        "tls_certificate",
        "line 2",
        "tls_cert",
    ] {
        assert!(msg.contains(want), "{want:?} missing from: {msg}");
    }
}

#[test]
fn bad_values_are_refused_with_line_and_column() {
    for (text, want) in [
        ("listen = \"localhost:8787\"", "line 1, column 10"),
        ("\n\nlisten = \"127.0.0.1\"", "line 3"),
        ("listen = 8787", "line 1"),
        ("log = \"verbose\"", "verbose"),
        ("insecure_http = \"yes\"", "line 1"),
        (
            "listen = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"",
            "duplicate key",
        ),
        ("listen = [", "line 1"),
    ] {
        let msg = parse(text).unwrap_err().to_string();
        assert!(msg.contains(want), "{text:?}: {want:?} missing from: {msg}");
        assert!(msg.contains("/etc/tessera/server.toml"), "{msg}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let err = Config::load(Some(&path), Overrides::default()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("configuration file"), "{msg}");
}

#[test]
fn flags_and_the_environment_win_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = write(dir.path(), "db-url", "postgres://file@127.0.0.1/file\n");
    let path = write(
        dir.path(),
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:1000\"\nlog = \"warn\"\ndata_dir = \"data\"\n\
             database_url_file = \"{}\"\ninsecure_http = true\n",
            url_file.display()
        ),
    );
    // The file alone.
    let config = Config::load(Some(&path), Overrides::default()).unwrap();
    assert_eq!(config.listen, "127.0.0.1:1000".parse().unwrap());
    assert_eq!(config.log, LogLevel::Warn);
    assert!(config.insecure_http);
    let Database::Postgres { url, .. } = &config.database else {
        panic!("{:?}", config.database)
    };
    assert_eq!(url.expose_secret(), "postgres://file@127.0.0.1/file");
    // Debug never shows the URL.
    assert!(!format!("{config:?}").contains("file@"));

    // Flags (and TESSERA_DATABASE_URL, which clap reads into --database-url) win.
    let config = Config::load(
        Some(&path),
        Overrides {
            listen: Some("127.0.0.1:2000".parse().unwrap()),
            log: Some(LogLevel::Debug),
            database_url: Some(DatabaseUrl::new("postgres://flag@127.0.0.1/flag".into())),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(config.listen, "127.0.0.1:2000".parse().unwrap());
    assert_eq!(config.log, LogLevel::Debug);
    let Database::Postgres { url, .. } = &config.database else {
        panic!("{:?}", config.database)
    };
    assert_eq!(url.expose_secret(), "postgres://flag@127.0.0.1/flag");

    // Without a URL anywhere: SQLite, with a relative data_dir anchored at the file's directory,
    // unless --data-dir says otherwise.
    let sqlite = write(dir.path(), "sqlite.toml", "data_dir = \"data\"\n");
    let config = Config::load(Some(&sqlite), Overrides::default()).unwrap();
    assert!(
        matches!(&config.database, Database::Sqlite { data_dir } if *data_dir == dir.path().join("data"))
    );
    let config = Config::load(
        Some(&sqlite),
        Overrides {
            data_dir: Some("elsewhere".into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert!(
        matches!(&config.database, Database::Sqlite { data_dir } if data_dir == Path::new("elsewhere"))
    );
    // TLS from the file, one half from a flag: the flag's half wins, the other comes from the
    // file.
    let tls = write(
        dir.path(),
        "tls.toml",
        "tls_cert = \"/a/cert.pem\"\ntls_key = \"/a/key.pem\"\n",
    );
    let config = Config::load(
        Some(&tls),
        Overrides {
            tls_key: Some("/b/key.pem".into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(
        config.tls,
        Some(TlsFiles {
            cert: "/a/cert.pem".into(),
            key: "/b/key.pem".into()
        })
    );
}

#[test]
fn defaults_without_a_file() {
    let config = Config::load(None, Overrides::default()).unwrap();
    assert_eq!(config.listen, "127.0.0.1:8787".parse().unwrap());
    assert_eq!(config.log, LogLevel::Info);
    assert!(config.tls.is_none() && !config.insecure_http);
    assert!(
        matches!(&config.database, Database::Sqlite { data_dir } if data_dir == Path::new("./tessera-server-data"))
    );
    config.check_transport().unwrap();
}

#[test]
fn contradictions_and_unusable_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty-url", "  \n");
    let cases: Vec<(String, Overrides, &str)> = vec![
        (
            "database_url = \"postgres://a@b/c\"\ndatabase_url_file = \"/x\"".into(),
            Overrides::default(),
            "both database_url and database_url_file",
        ),
        (
            format!("database_url_file = \"{}\"", empty.display()),
            Overrides::default(),
            "is empty",
        ),
        (
            "database_url_file = \"missing-url\"".into(),
            Overrides::default(),
            "missing-url",
        ),
        (
            "tls_cert = \"/c.pem\"".into(),
            Overrides::default(),
            "tls_cert is set but tls_key is not",
        ),
        (
            String::new(),
            Overrides {
                tls_key: Some("/k.pem".into()),
                ..Overrides::default()
            },
            "tls_key is set but tls_cert is not",
        ),
        (
            "tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"".into(),
            Overrides {
                insecure_http: true,
                ..Overrides::default()
            },
            "insecure_http and tls_cert",
        ),
    ];
    for (i, (text, overrides, want)) in cases.into_iter().enumerate() {
        let path = write(dir.path(), &format!("case{i}.toml"), &text);
        let msg = Config::load(Some(&path), overrides)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(want), "{text:?}: {want:?} missing from: {msg}");
    }
    // Plain HTTP on a public address: refused when serving, allowed with insecure_http.
    let public = write(dir.path(), "public.toml", "listen = \"0.0.0.0:8787\"\n");
    let config = Config::load(Some(&public), Overrides::default()).unwrap();
    let msg = config.check_transport().unwrap_err().to_string();
    assert!(
        msg.contains("insecure_http") && msg.contains("tls_cert"),
        "{msg}"
    );
    let config = Config::load(
        Some(&public),
        Overrides {
            insecure_http: true,
            ..Overrides::default()
        },
    )
    .unwrap();
    config.check_transport().unwrap();
}

#[cfg(unix)]
#[test]
fn a_world_readable_file_with_a_database_url_warns() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "s.toml",
        "database_url = \"postgres://a:pw@b/c\"\n",
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = Config::load(Some(&path), Overrides::default()).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].contains("database_url_file"));
    assert!(!config.warnings[0].contains("pw"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let config = Config::load(Some(&path), Overrides::default()).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

/// The binary: a bad file stops it before anything starts, naming the file, the key and the
/// line (even when a flag would replace the setting: the whole file must be valid).
#[test]
fn the_binary_refuses_a_bad_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "server.toml", "lisen = \"127.0.0.1:1\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .arg("--config")
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lisen"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("line 1"), "{err}");
    // The same options after a subcommand (they are global).
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .arg("healthcheck")
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.toml"), "{err}");
}
