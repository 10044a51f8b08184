//! An HTTP client of the API and servers on 127.0.0.1:0, shared by the HTTP test suites.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};
use tessera_protocol::{GroupRole, Id};
use tessera_server::{AppState, Store};

use super::{Harness, Kind};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A server on 127.0.0.1:0 over a fresh store; derefs to its [`Api`] client.
pub struct Server {
    pub api: Api,
    pub h: Harness,
}

impl std::ops::Deref for Server {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Server {
    pub fn start(kind: Kind) -> Self {
        Self::start_with(kind, |s| s)
    }

    /// Start with the state adjusted by `configure`.
    pub fn start_with(kind: Kind, configure: impl FnOnce(AppState) -> AppState) -> Self {
        let h = Harness::new(kind);
        let api = spawn_node(&h.rt, Arc::clone(&h.store), configure);
        Self { api, h }
    }
}

/// Start another server node on `rt` over `store`.
pub fn spawn_node(
    rt: &tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    configure: impl FnOnce(AppState) -> AppState,
) -> Api {
    let base = rt.block_on(async {
        let state = configure(AppState::new(store).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tessera_server::serve(listener, state));
        format!("http://{addr}")
    });
    Api::new(base)
}

/// A JSON client of one server.
pub struct Api {
    pub base: String,
    agent: ureq::Agent,
    /// The account and team of each session token seen in a login reply (see [`Api::with_log`]).
    who: std::sync::Mutex<std::collections::HashMap<String, (Id, Id)>>,
}

impl Api {
    pub fn new(base: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A fresh connection per request: the server may close one after refusing a body
            // it did not read, and a pooled connection would then race that close.
            .max_idle_connections_per_host(0)
            .build()
            .into();
        Self {
            base,
            agent,
            who: std::sync::Mutex::default(),
        }
    }

    /// A request with any headers and a raw body; the status and the JSON answer (or Null).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        self.try_raw(method, path, headers, body)
            .unwrap_or_else(|| panic!("{method} {path}: the server did not answer"))
    }

    /// [`Api::raw`], `None` when the server did not answer (the connection failed or closed).
    pub fn try_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Option<(u16, Value)> {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut res = self.agent.run(req.body(body).unwrap()).ok()?;
        let status = res.status().as_u16();
        let bytes = res.body_mut().read_to_vec().ok()?;
        let text = String::from_utf8_lossy(&bytes).to_string();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::String(text));
        Some((status, value))
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.try_call(method, path, token, body)
            .unwrap_or_else(|| panic!("{method} {path}: the server did not answer"))
    }

    /// [`Api::call`], `None` when the server did not answer (the connection failed or closed).
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Option<(u16, Value)> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("tessera-api", "1"), ("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        let body = body
            .map(|b| self.with_log(method, path, token, b))
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        let (status, v) = self.try_raw(method, path, &headers, body)?;
        if let (Some(t), Some(a), Some(team)) = (
            v["session"]["token"].as_str(),
            v["account_id"].as_str().and_then(Id::parse),
            v["team_id"].as_str().and_then(Id::parse),
        ) {
            self.who.lock().unwrap().insert(t.to_owned(), (a, team));
        }
        Some((status, v))
    }

    /// What an honest client adds to a membership change and the suites leave out: the group
    /// log entry that says what the request does, next in the group's log as the caller reads
    /// it. Its signature is zeros: the server does not check signatures (clients do, in
    /// `tessera-core`'s tests), only that the entry follows the log and matches the request.
    /// A body that has a `log` already is sent as it is.
    fn with_log(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Value {
        use tessera_protocol::{Blob, LogEntry, SignedLogEntry};
        let Some(token) = token else { return body };
        if body.get("log").is_some() {
            return body;
        }
        let Some((author, team)) = self.who.lock().unwrap().get(token).copied() else {
            return body;
        };
        let Some((group, change)) = self.change_of(method, path, token, author, &body) else {
            return body;
        };
        let (_, log) = self.call("GET", &format!("/v1/groups/{group}/log"), Some(token), None);
        let last = log["entries"]
            .as_array()
            .and_then(|e| e.last())
            .map(|e| serde_json::from_value::<SignedLogEntry>(e.clone()).unwrap());
        let entry = LogEntry {
            v: tessera_protocol::LOG_VERSION,
            team_id: team,
            group_id: group,
            seq: log["entries"].as_array().map_or(0, Vec::len) as u64 + 1,
            prev: Blob(last.map(|l| l.hash().to_vec()).unwrap_or_default()),
            author,
            at: now(),
            change,
        };
        let signed = SignedLogEntry {
            entry: Blob(serde_json::to_vec(&entry).unwrap()),
            signature: Blob(vec![0; 64]),
        };
        let mut body = body;
        body["log"] = serde_json::to_value(signed).unwrap();
        body
    }

    /// The group and the log change an honest client would sign for this request, if it is a
    /// membership change.
    fn change_of(
        &self,
        method: &str,
        path: &str,
        token: &str,
        author: Id,
        body: &Value,
    ) -> Option<(Id, tessera_protocol::LogChange)> {
        use tessera_protocol::{KeyDigest, LogChange, LogMember};
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let blob = |v: &Value| {
            B64.decode(v.as_str().unwrap_or_default())
                .unwrap_or_default()
        };
        let digests = |list: &Value, id: &str| -> Vec<KeyDigest> {
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| Some(KeyDigest::of(Id::parse(k[id].as_str()?)?, &blob(&k["key"]))))
                .collect()
        };
        let role = |v: &Value| serde_json::from_value(v.clone()).unwrap_or(GroupRole::Viewer);
        // A malformed id in the request (which the server refuses first) gets a zero one.
        let id_or_zero = |s: &str| Id::parse(s).unwrap_or(Id([0; 16]));
        let (group, change) = match (method, parts.as_slice()) {
            ("POST", ["v1", "groups"]) => {
                let g = body["group_id"].as_str().map_or(Id([0; 16]), id_or_zero);
                let change = LogChange::Genesis {
                    members: vec![LogMember {
                        account_id: author,
                        role: GroupRole::Admin,
                        expires_at: None,
                    }],
                    epoch: 1,
                    keys: vec![KeyDigest::of(author, &blob(&body["key"]))],
                    tokens: vec![],
                };
                (g, change)
            }
            ("PUT", ["v1", "groups", g, "members", a]) => {
                let (g, a) = (id_or_zero(g), id_or_zero(a));
                let change = LogChange::SetMember {
                    member: LogMember {
                        account_id: a,
                        role: role(&body["role"]),
                        expires_at: body["expires_at"].as_i64(),
                    },
                    epoch: body["epoch"].as_u64().unwrap_or_default(),
                    key: body
                        .get("key")
                        .filter(|k| !k.is_null())
                        .map(|k| KeyDigest::of(a, &blob(k)).digest),
                };
                (g, change)
            }
            ("POST", ["v1", "groups", g, "rotate"]) => {
                let g = id_or_zero(g);
                let change = LogChange::Rotate {
                    epoch: body["epoch"].as_u64().unwrap_or_default(),
                    removed: body["remove"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| Id::parse(r.as_str()?))
                        .collect(),
                    keys: digests(&body["keys"], "account_id"),
                    tokens: digests(&body["token_keys"], "token_id"),
                };
                (g, change)
            }
            ("POST", ["v1", "requests", r, "approve"]) => {
                let (_, list) = self.call("GET", "/v1/requests", Some(token), None);
                // A request the caller cannot see (decided, another team's) gets an entry
                // for nobody: the server refuses the request before it reads the entry.
                let none = json!({});
                let req = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|x| x["request_id"].as_str() == Some(r))
                    .unwrap_or(&none);
                let id_of = |k: &str| req[k].as_str().and_then(Id::parse).unwrap_or(Id([0; 16]));
                let (g, who) = (id_of("group_id"), id_of("requester_id"));
                let secs = body["duration_secs"]
                    .as_i64()
                    .or(req["duration_secs"].as_i64())
                    .unwrap_or_default();
                let granted = if body["role"].is_null() {
                    role(&req["role"])
                } else {
                    role(&body["role"])
                };
                let change = LogChange::SetMember {
                    member: LogMember {
                        account_id: who,
                        role: granted,
                        expires_at: Some(now() + secs),
                    },
                    epoch: body["epoch"].as_u64().unwrap_or_default(),
                    key: body
                        .get("key")
                        .filter(|k| !k.is_null())
                        .map(|k| KeyDigest::of(who, &blob(k)).digest),
                };
                (g, change)
            }
            _ => return None,
        };
        Some((group, change))
    }

    pub fn ok(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, token, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }
}

/// Unix time now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Base64 (standard) of bytes, as bodies carry them.
pub fn b64(b: &[u8]) -> String {
    B64.encode(b)
}

/// A new group created by `token`'s account (its first admin); returns its id.
pub fn new_group(s: &Api, token: &str) -> String {
    let g = hex_id();
    let (status, v) = s.call(
        "POST",
        "/v1/groups",
        Some(token),
        Some(
            json!({"group_id": g, "name": b64(b"sealed name"), "key": b64(b"key e1 for creator")}),
        ),
    );
    assert_eq!(status, 201, "{v}");
    g
}

pub fn hex_id() -> String {
    Id(rand::random()).to_hex()
}

pub struct User {
    pub email: String,
    pub auth_key: String,
    pub body: Value,
}

pub fn user(email: &str) -> User {
    let auth_key = B64.encode(rand::random::<[u8; 32]>());
    let body = json!({
        "account_id": hex_id(),
        "email": email,
        "device_name": "laptop",
        "auth_key": auth_key,
        "kdf": {"memory_kib": 65536, "iterations": 3, "parallelism": 4,
                "salt": B64.encode(rand::random::<[u8; 16]>())},
        "keys": {"exchange_public": B64.encode([1u8; 32]), "signing_public": B64.encode([2u8; 32]),
                 "header": B64.encode([3u8; 40]), "wrapped_keyset": B64.encode([4u8; 60])},
    });
    User {
        email: email.into(),
        auth_key,
        body,
    }
}

/// Create a team; returns (team id, admin account id, admin token).
pub fn create_team(s: &Api, admin: &User) -> (String, String, String) {
    let root = B64.encode(rand::random::<[u8; 32]>());
    let (status, v) = s.call(
        "POST",
        "/v1/teams",
        None,
        Some(json!({"root_public": root, "admin": admin.body})),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["root_public"], root);
    (
        str_of(&v["team_id"]),
        str_of(&v["account_id"]),
        str_of(&v["session"]["token"]),
    )
}

pub fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// Invite and join; returns (account id, token).
pub fn invite_join(s: &Api, team: &str, admin_token: &str, u: &User) -> (String, String) {
    let inv = s.ok(
        "POST",
        &format!("/v1/teams/{team}/invites"),
        Some(admin_token),
        Some(json!({"email": u.email})),
    );
    assert!(str_of(&inv["root_fingerprint"]).starts_with("SHA256:"));
    let (status, v) = s.call(
        "POST",
        "/v1/join",
        None,
        Some(json!({"invite_token": inv["invite_token"], "account": u.body})),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(str_of(&v["team_id"]), team);
    (str_of(&v["account_id"]), str_of(&v["session"]["token"]))
}

pub fn login(s: &Api, u: &User, totp: Option<&str>) -> (u16, Value) {
    let mut body = json!({"email": u.email, "auth_key": u.auth_key, "device_name": "phone"});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    s.call("POST", "/v1/login", None, Some(body))
}

pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

pub fn push_body(item: &str, base: u64, blob: &[u8]) -> Value {
    json!({"changes": [{"item_id": item, "base_version": base, "version": base + 1, "blob": B64.encode(blob)}]})
}

/// What an event stream gave next.
#[derive(Debug, PartialEq, Eq)]
pub enum Sse {
    /// An event with a name and data.
    Event { event: String, data: String },
    /// A comment-only block (`: text`).
    Comment(String),
    /// The server closed the stream.
    Ended,
    /// Nothing within the timeout.
    Timeout,
}

/// A raw Server-Sent Events client: HTTP/1.0 over a `TcpStream`, so the body is the bare event
/// stream (no chunked framing) and ends when the server closes the connection.
pub struct EventStream {
    reader: std::io::BufReader<std::net::TcpStream>,
    line: String,
    pub status: u16,
    pub content_type: String,
    /// The body when the answer is not a stream (an error).
    pub body: String,
}

impl EventStream {
    /// `GET /v1/events` on `base` (`http://host:port`); when it is a stream, waits for the
    /// server's first comment, so the subscription is in place when this returns.
    pub fn open(base: &str, token: Option<&str>) -> Self {
        use std::io::{BufRead as _, Read as _, Write as _};
        let addr = base.strip_prefix("http://").expect("an http:// base");
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            tcp,
            "GET /v1/events HTTP/1.0\r\nHost: {addr}\r\ntessera-api: 1\r\n{auth}\r\n"
        )
        .unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut reader = std::io::BufReader::new(tcp);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut content_type = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-type") {
                    v.trim().clone_into(&mut content_type);
                }
            }
        }
        let mut s = Self {
            reader,
            line: String::new(),
            status,
            content_type,
            body: String::new(),
        };
        if status == 200 {
            let first = s.next(std::time::Duration::from_secs(10));
            assert_eq!(first, Sse::Comment("subscribed".into()));
        } else {
            s.reader.read_to_string(&mut s.body).unwrap();
        }
        s
    }

    /// The next event or comment block within `timeout`.
    pub fn next(&mut self, timeout: std::time::Duration) -> Sse {
        use std::io::BufRead as _;
        let deadline = std::time::Instant::now() + timeout;
        let (mut event, mut data, mut comment) = (None::<String>, None::<String>, None::<String>);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Sse::Timeout;
            }
            self.reader.get_ref().set_read_timeout(Some(left)).unwrap();
            match self.reader.read_line(&mut self.line) {
                Ok(0) => return Sse::Ended,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Sse::Timeout
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Sse::Ended,
                Err(e) => panic!("reading the event stream: {e}"),
            }
            if !self.line.ends_with('\n') {
                continue; // a partial line; read the rest
            }
            let l = std::mem::take(&mut self.line);
            let l = l.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                match (event.take(), data.take(), comment.take()) {
                    (Some(event), data, _) => {
                        return Sse::Event {
                            event,
                            data: data.unwrap_or_default(),
                        }
                    }
                    (None, _, Some(c)) => return Sse::Comment(c),
                    _ => continue,
                }
            }
            if let Some(c) = l.strip_prefix(':') {
                comment = Some(c.trim().to_owned());
            } else if let Some(v) = l.strip_prefix("event:") {
                event = Some(v.trim().to_owned());
            } else if let Some(v) = l.strip_prefix("data:") {
                data = Some(v.trim().to_owned());
            }
        }
    }

    /// The next event, skipping keep-alive comments; panics unless it is `event: change`.
    pub fn change(&mut self, timeout: std::time::Duration) -> u64 {
        loop {
            match self.next(timeout) {
                Sse::Comment(_) => {}
                Sse::Event { event, data } if event == "change" => {
                    let v: Value = serde_json::from_str(&data).unwrap();
                    return v["seq"].as_u64().unwrap();
                }
                other => panic!("expected a change event, got {other:?}"),
            }
        }
    }
}
