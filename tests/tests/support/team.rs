//! People of a team for the end-to-end suites: a server on either backend with raw access to
//! its database (for tampering and for moving times into the past), vaults driven through
//! `tessera-core`, and the real `tessera` CLI against a vault directory of its own.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tessera_core::vault::Credentials;
use tessera_core::Vault;
use tessera_crypto::kdf::KdfParams;
use tessera_crypto::AccountSecretKey;

use super::{bin, psql, DropDatabase, Server};

/// A login item with a username and a password.
pub fn login(title: &str, password: &str) -> tessera_core::item::ItemData {
    use tessera_core::item::{FieldKind, ItemData, ItemKind};
    ItemData::new(ItemKind::Login, title)
        .with_field("username", FieldKind::Text, "deploy")
        .with_field("password", FieldKind::Concealed, password)
}

/// The password field's value of an item.
pub fn password(d: &tessera_core::item::ItemData) -> String {
    d.field("password")
        .unwrap()
        .value
        .expose_secret()
        .to_owned()
}

/// Every test person's master password.
pub const PASSWORD: &[u8] = b"a long enough master password 42";

/// A server on one backend and its database.
pub struct Backend {
    pub server: Server,
    pub db: Option<(String, DropDatabase)>,
}

impl Backend {
    pub fn sqlite() -> Self {
        Self {
            server: Server::start(None),
            db: None,
        }
    }

    /// A server on a new PostgreSQL database `tessera_<tag>_...`, dropped afterwards.
    pub fn postgres(tag: &str) -> Self {
        let name = format!(
            "tessera_{tag}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let o = psql(&format!("CREATE DATABASE {name}"));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let guard = DropDatabase(name.clone());
        let server = Server::start(Some(&format!("postgres://postgres@127.0.0.1:5432/{name}")));
        Self {
            server,
            db: Some((name, guard)),
        }
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Run SQL on the server's database behind its back. Ids are written `X'<hex>'` for SQLite
    /// and `'\x<hex>'::bytea` for PostgreSQL: use [`Backend::blob`].
    pub fn sql(&self, sql: &str) {
        match &self.db {
            None => {
                let path = self.server.data.path().join("tessera-server.sqlite3");
                let c = rusqlite::Connection::open(path).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Some((db, _)) => {
                let o = Command::new("psql")
                    .args(["-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1"])
                    .args(["-d", db, "-c", sql])
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
        }
    }

    /// A blob literal of hex bytes in this backend's SQL.
    pub fn blob(&self, hex: &str) -> String {
        match self.db {
            None => format!("X'{hex}'"),
            Some(_) => format!("'\\x{hex}'::bytea"),
        }
    }
}

/// A person with a vault driven through `tessera-core`.
pub struct Person {
    pub email: &'static str,
    pub dir: tempfile::TempDir,
    pub secret_key: AccountSecretKey,
    pub vault: Vault,
}

impl Person {
    pub fn new(email: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let secret_key = AccountSecretKey::generate();
        let vault = Vault::create(
            &dir.path().join("vault.sqlite"),
            PASSWORD,
            &secret_key,
            KdfParams::FLOOR,
        )
        .unwrap();
        Self {
            email,
            dir,
            secret_key,
            vault,
        }
    }
}

/// Credentials of a person (the shared test password).
pub fn creds<'a>(email: &'a str, secret_key: &'a AccountSecretKey) -> Credentials<'a> {
    Credentials {
        email,
        device: "laptop",
        password: PASSWORD,
        secret_key,
    }
}

/// `lead` creates a team on `url`; every other person is invited, joins and is certified.
pub fn team(url: &str, lead: &mut Person, others: &mut [&mut Person]) {
    lead.vault
        .create_team(url, &creds(lead.email, &lead.secret_key))
        .unwrap();
    for p in others.iter_mut() {
        let inv = lead.vault.invite(p.email).unwrap();
        p.vault
            .join_team(
                url,
                &inv.invite_token,
                &inv.root_fingerprint,
                &creds(p.email, &p.secret_key),
            )
            .unwrap();
        lead.vault.certify(p.email).unwrap();
    }
}

/// One person's `tessera` command against its own vault directory.
pub struct Cli {
    pub home: tempfile::TempDir,
    pw: PathBuf,
}

impl Cli {
    pub fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let pw = home.path().join("pw.txt");
        std::fs::write(&pw, "a long enough master password 42\n").unwrap();
        Self { home, pw }
    }

    pub fn run(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(bin("tessera"))
            .env("TESSERA_HOME", self.home.path().join("vault"))
            .env_remove("TESSERA_TOKEN")
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

    /// Text output of a command that must succeed.
    pub fn text(&self, args: &[&str]) -> String {
        let o = self.run(args, "");
        assert!(
            o.status.success(),
            "tessera {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        self.json_in(args, "")
    }

    pub fn json_in(&self, args: &[&str], input: &str) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let o = self.run(&a, input);
        assert!(
            o.status.success(),
            "tessera {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    pub fn pw(&self) -> &str {
        self.pw.to_str().unwrap()
    }

    /// Create a team on `url` as `email`.
    pub fn create_team(&self, url: &str, email: &str) {
        self.json(&[
            "team",
            "create",
            "--server",
            url,
            "--email",
            email,
            "--password-file",
            self.pw(),
        ]);
    }

    /// Join the team of `lead` on `url` as `email`, with an invitation `lead` makes now.
    pub fn join_team_of(&self, lead: &Cli, url: &str, email: &str) {
        let inv = lead.json(&["team", "invite", email]);
        self.json(&[
            "team",
            "join",
            "--server",
            url,
            "--email",
            email,
            "--token",
            inv["invite_token"].as_str().unwrap(),
            "--fingerprint",
            inv["root_fingerprint"].as_str().unwrap(),
            "--password-file",
            self.pw(),
        ]);
    }

    /// Create the vault and unlock it (the agent runs until drop).
    pub fn start(&self) {
        self.json(&["init", "--password-file", self.pw()]);
        self.json(&["unlock", "--offline", "--password-file", self.pw()]);
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.run(&["lock"], "");
    }
}

/// Who can read an item, as `access` shows them: each member's e-mail and role, in order.
pub fn readers(a: &tessera_core::vault::AccessView) -> Vec<(&str, tessera_protocol::GroupRole)> {
    a.members
        .iter()
        .map(|m| (m.email.as_str(), m.role))
        .collect()
}
