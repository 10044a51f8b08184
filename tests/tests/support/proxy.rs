//! A rewriting HTTP proxy between real clients and the real server: the hostile server (or
//! anyone on the path with the server's TLS key) of the attack suites. Each request is
//! forwarded as it came; a test's hook may look at the request and rewrite the answer.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// What a hook sees of one exchange, and may change of the answer.
pub struct Exchange<'a> {
    pub method: &'a str,
    /// Path and query, as sent.
    pub path: &'a str,
    /// The bearer token of the request, if any.
    pub token: Option<&'a str>,
    pub request: &'a [u8],
    pub status: u16,
    pub response: Vec<u8>,
}

type Hook = Box<dyn FnMut(&mut Exchange<'_>) + Send>;

/// A proxy on 127.0.0.1 in front of `upstream`.
pub struct Proxy {
    pub url: String,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hook: Arc<Mutex<Option<Hook>>> = Arc::default();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let shared = Arc::clone(&hook);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (agent, upstream, hook) =
                    (agent.clone(), upstream.clone(), Arc::clone(&shared));
                std::thread::spawn(move || serve(stream, &agent, &upstream, &hook));
            }
        });
        Self { url, hook }
    }

    /// Rewrite what passes from now on with `f` (replacing any earlier hook).
    pub fn set(&self, f: impl FnMut(&mut Exchange<'_>) + Send + 'static) {
        *self.hook.lock().unwrap() = Some(Box::new(f));
    }

    /// Let everything through unchanged again.
    pub fn honest(&self) {
        *self.hook.lock().unwrap() = None;
    }
}

fn serve(
    mut stream: std::net::TcpStream,
    agent: &ureq::Agent,
    upstream: &str,
    hook: &Mutex<Option<Hook>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let mut headers = Vec::new();
    let mut len = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        if h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
        if k == "content-length" {
            len = v.parse().unwrap();
        }
        if ["authorization", "tessera-api", "content-type"].contains(&k.as_str()) {
            headers.push((k, v));
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let mut req = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(format!("{upstream}{path}"));
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let mut res = agent.run(req.body(body.clone()).unwrap()).unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let response = res.body_mut().read_to_vec().unwrap_or_default();
    let token = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .and_then(|(_, v)| v.strip_prefix("Bearer "));
    let mut ex = Exchange {
        method: &method,
        path: &path,
        token,
        request: &body,
        status,
        response,
    };
    if let Some(f) = hook.lock().unwrap().as_mut() {
        f(&mut ex);
    }
    let reason = if ex.status < 400 { "OK" } else { "Error" };
    // A client that hung up before the answer has nothing left to be told.
    if write!(
        stream,
        "HTTP/1.1 {} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        ex.status,
        ex.response.len()
    )
    .is_ok()
    {
        stream.write_all(&ex.response).ok();
    }
}
