//! The HTTP client of the team server API (blocking; the CLI and the agent call it from their
//! own threads). Every request carries the API version header; error bodies become
//! [`Error::Remote`] with the server's code and message.
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_protocol::{ErrorBody, API_VERSION, API_VERSION_HEADER};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A connection to one team server, optionally with a session (or a machine token).
pub struct Remote {
    agent: ureq::Agent,
    base: String,
    token: Option<Zeroizing<String>>,
    scheme: &'static str,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Remote({}, session: {})",
            self.base,
            self.token.is_some()
        )
    }
}

impl Remote {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8787`).
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Invalid(format!(
                "{base:?} is not a server URL; use http(s)://host:port"
            )));
        }
        if base.starts_with("http://") && !is_loopback(&base) {
            return Err(Error::Invalid(format!(
                "{base} is plain HTTP to another machine; use https:// (plain HTTP is accepted only on this machine)"
            )));
        }
        let agent = agent(Some(Duration::from_secs(60)))?;
        Ok(Self {
            agent,
            base,
            token: token.map(Zeroizing::new),
            scheme: "Bearer",
        })
    }

    /// A client that authenticates with a machine token's credential (`<id>.<bearer>`), sent as
    /// `Authorization: Token <credential>`.
    pub fn machine(base: &str, credential: Zeroizing<String>) -> Result<Self> {
        let mut r = Self::new(base, None)?;
        r.token = Some(credential);
        r.scheme = tessera_protocol::TOKEN_SCHEME;
        Ok(r)
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET a JSON resource.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let req = self.agent.get(format!("{}{path}", self.base));
        let req = self.headers(req);
        Self::finish(req.call())
    }

    /// POST a JSON body and read a JSON answer.
    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let req = self.headers(self.agent.post(format!("{}{path}", self.base)));
        Self::finish(req.send_json(body))
    }

    /// PUT a JSON body and read a JSON answer.
    pub fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let req = self.headers(self.agent.put(format!("{}{path}", self.base)));
        Self::finish(req.send_json(body))
    }

    /// POST with no body, or DELETE, expecting no content.
    pub fn call_empty(&self, method: &str, path: &str) -> Result<()> {
        let url = format!("{}{path}", self.base);
        let resp = match method {
            "DELETE" => self.headers(self.agent.delete(url)).call(),
            _ => self.headers(self.agent.post(url)).send_empty(),
        };
        let mut resp = resp.map_err(|e| Error::Network(e.to_string()))?;
        if resp.status().is_success() {
            return Ok(());
        }
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Err(Self::error(resp.status().as_u16(), &text))
    }

    /// Open the server's change stream (`GET /v1/events`, server-sent events). Blocks until
    /// the stream opens; the iterator then yields one item per `change` event and ends when the
    /// connection does.
    pub fn events(&self) -> Result<ChangeEvents> {
        // No overall timeout: the stream stays open; the server sends keep-alives.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let resp = self
            .headers(agent.get(format!("{}/v1/events", self.base)))
            .call()
            .map_err(|e| Error::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let mut resp = resp;
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            return Err(Self::error(status, &text));
        }
        Ok(ChangeEvents {
            lines: std::io::BufReader::new(Box::new(resp.into_body().into_reader())),
        })
    }

    fn headers<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let req = req.header(API_VERSION_HEADER, API_VERSION.to_string());
        match &self.token {
            Some(t) => req.header("authorization", format!("{} {}", self.scheme, t.as_str())),
            None => req,
        }
    }

    fn finish<T: DeserializeOwned>(
        resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T> {
        let mut resp = resp.map_err(|e| Error::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Error::Network(format!("reading the answer: {e}")))?;
        if (200..300).contains(&status) {
            // 204 No Content reads as JSON null.
            let text = if text.trim().is_empty() {
                "null"
            } else {
                text.as_str()
            };
            return serde_json::from_str(text)
                .map_err(|e| Error::Network(format!("unexpected answer from the server: {e}")));
        }
        Err(Self::error(status, &text))
    }

    fn error(status: u16, text: &str) -> Error {
        match serde_json::from_str::<ErrorBody>(text) {
            Ok(b) => Error::Remote {
                status,
                code: b.error.code,
                message: b.error.message,
            },
            Err(_) => Error::Network(format!(
                "the server answered HTTP {status} without an explanation"
            )),
        }
    }
}

/// The environment variable naming a PEM file of CA certificates to trust instead of the
/// built-in Mozilla roots (for a team server with a company or self-signed certificate).
pub const CA_FILE_ENV: &str = "TESSERA_CA_FILE";

/// An HTTP agent: HTTPS with rustls, verified against Mozilla's roots or `$TESSERA_CA_FILE`.
fn agent(timeout: Option<Duration>) -> Result<ureq::Agent> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // No connection reuse: a server may close a connection after refusing a body, and a
        // reused connection would race that close. Sync makes few requests.
        .max_idle_connections_per_host(0)
        .timeout_global(timeout);
    if let Some(path) = std::env::var_os(CA_FILE_ENV).filter(|p| !p.is_empty()) {
        let shown = std::path::Path::new(&path).display().to_string();
        let pem = std::fs::read(&path).map_err(|e| Error::Io {
            context: format!("reading {CA_FILE_ENV}={shown}"),
            source: e,
        })?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(Error::Invalid(format!(
                "{CA_FILE_ENV}={shown} holds no PEM certificate"
            )));
        }
        config = config.tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&certs))
                .build(),
        );
    }
    Ok(config.build().into())
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host == "localhost" || host.starts_with("127.") || url.contains("://[::1]")
}

/// The `change` events of a server-sent event stream.
pub struct ChangeEvents {
    lines: std::io::BufReader<Box<dyn std::io::Read + Send>>,
}

impl std::fmt::Debug for ChangeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeEvents")
    }
}

impl Iterator for ChangeEvents {
    type Item = ();

    /// The next `change` event (comments, keep-alives and other events are skipped).
    fn next(&mut self) -> Option<()> {
        use std::io::BufRead;
        let mut event = String::new();
        loop {
            let mut line = String::new();
            match self.lines.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if event == "change" {
                    return Some(());
                }
                event.clear();
            } else if let Some(name) = line.strip_prefix("event:") {
                name.trim().clone_into(&mut event);
            }
        }
    }
}
