//! Fuzz targets for what the server reads from outside: every JSON request body it accepts
//! (through the real `ApiJson` extractor: size, strict decoding, the field named in errors,
//! validation), the query strings it accepts, and backup files. Never a panic; a body that is
//! accepted serialises and decodes back to itself; a backup that parses writes back to the same
//! tables. See `tests/fuzz/support.rs` for the inputs and `TESSERA_FUZZ_CASES`.
#![allow(clippy::unwrap_used)]
// A target whose property is "any answer but a panic" drops the answer.
#![allow(clippy::let_underscore_must_use)]

#[path = "../../../tests/fuzz/support.rs"]
mod fuzz;

use axum::extract::{FromRequest, Query, Request};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tessera_protocol as proto;
use tessera_protocol::Validate;
use tessera_server::api::ApiJson;
use tessera_server::backup::format::{self, Header, Writer, FORMAT, FORMAT_VERSION};
use tessera_server::backup::{Backup, Value};

/// Decode `body` as the server does for a `T` body; an accepted body round-trips. The refusal,
/// when it is refused.
fn body<T: DeserializeOwned + Serialize + Validate>(body: &[u8]) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let req = Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_vec()))
        .unwrap();
    match runtime.block_on(ApiJson::<T>::from_request(req, &())) {
        Ok(ApiJson(v)) => {
            let json = serde_json::to_value(&v).unwrap();
            let back: T = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(serde_json::to_value(&back).unwrap(), json);
            back.validate().unwrap();
            Ok(())
        }
        Err(e) => {
            // The error is an ordinary response, whatever the body.
            let response = axum::response::IntoResponse::into_response(e);
            Err(response.status().to_string())
        }
    }
}

/// One target per body type, chosen by the first byte; the rest is the body.
fn any_body(data: &[u8]) -> Result<(), String> {
    const N: u8 = 17;
    let Some((which, rest)) = data.split_first() else {
        return Err("empty".into());
    };
    match which % N {
        0 => body::<proto::PushRequest>(rest),
        1 => body::<proto::PreloginRequest>(rest),
        2 => body::<proto::LoginRequest>(rest),
        3 => body::<proto::CreateTeamRequest>(rest),
        4 => body::<proto::InviteRequest>(rest),
        5 => body::<proto::JoinRequest>(rest),
        6 => body::<proto::MfaCodeRequest>(rest),
        7 => body::<proto::TeamSettings>(rest),
        8 => body::<proto::CertificateRequest>(rest),
        9 => body::<proto::CreateGroupRequest>(rest),
        10 => body::<proto::SetMemberRequest>(rest),
        11 => body::<proto::RotateRequest>(rest),
        12 => body::<proto::ShareExpiryRequest>(rest),
        13 => body::<proto::CreateTokenRequest>(rest),
        14 => body::<proto::CreateAccessRequest>(rest),
        15 => body::<proto::ApproveAccessRequest>(rest),
        _ => body::<proto::ClientEvents>(rest),
    }
}

fn query<T: DeserializeOwned>(q: &str) {
    let uri: axum::http::Uri = match format!("/?{q}").parse() {
        Ok(u) => u,
        Err(_) => return,
    };
    let _ = Query::<T>::try_from_uri(&uri);
}

/// `GET /v1/audit`'s query (the sync cursor's query is one integer, private to the server).
fn any_query(q: &str) {
    query::<proto::AuditQuery>(q);
}

/// Replace the end record with a correct one, so that mutated content gets past the checksum.
fn reseal(data: &[u8]) -> Vec<u8> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let split = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let content = &data[..split];
    let lines = content
        .split(|&b| b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty());
    let (mut tables, mut rows) = (0, 0);
    for l in lines {
        if l.first() == Some(&b'[') {
            rows += 1;
        } else {
            tables += 1;
        }
    }
    let sum = Sha256::digest(content)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{b:02x}"));
            s
        });
    let mut out = content.to_vec();
    out.extend_from_slice(
        format!("{{\"end\":{{\"tables\":{tables},\"rows\":{rows},\"sha256\":\"{sum}\"}}}}\n")
            .as_bytes(),
    );
    out
}

fn write(b: &Backup) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    w.header(&b.header).unwrap();
    for t in &b.tables {
        w.table(&t.name, &t.columns).unwrap();
        for r in &t.rows {
            w.row(r).unwrap();
        }
    }
    w.finish().unwrap().0
}

/// A backup parses or is refused; one that parses writes back to the same content.
fn backup(data: &[u8]) {
    for data in [data.to_vec(), reseal(data)] {
        if let Ok(b) = format::parse(&data) {
            let again = format::parse(&write(&b)).unwrap();
            assert_eq!(again.header, b.header);
            assert_eq!(again.tables, b.tables);
        }
    }
}

/// A small backup as the server writes it: every kind of value.
fn backup_seed() -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    w.header(&Header {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema: 7,
        created_at: 1_800_000_000,
        server_version: "0.1.0".into(),
        source: "sqlite".into(),
    })
    .unwrap();
    w.table(
        "teams",
        &["id".into(), "name".into(), "n".into(), "x".into()],
    )
    .unwrap();
    w.row(&[
        Value::Bytes(vec![1, 2, 3]),
        Value::Text("a \"team\" ✓".into()),
        Value::Int(-42),
        Value::Null,
    ])
    .unwrap();
    w.table("accounts", &["id".into()]).unwrap();
    w.row(&[Value::Int(i64::MAX)]).unwrap();
    w.finish().unwrap().0
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn request_bodies(data in fuzz::input("request_bodies", Vec::new())) {
        let _ = any_body(&data);
    }

    #[test]
    fn query_strings(q in fuzz::text("query_strings", Vec::new())) {
        any_query(&q);
    }

    #[test]
    fn backup_files(data in fuzz::input("backup_files", vec![backup_seed()])) {
        backup(&data);
    }
}

/// Every corpus file (and every input that once crashed a target) runs through its target.
#[test]
fn the_corpus_runs_clean() {
    // The first 17 seeds are a valid body of each type, prefixed with its selector byte.
    let bodies = fuzz::corpus("request_bodies");
    for (n, b) in bodies.iter().enumerate() {
        let accepted = any_body(b);
        if n < 17 {
            assert_eq!(b[0] as usize, n);
            assert_eq!(
                accepted,
                Ok(()),
                "seed {n}: {}",
                String::from_utf8_lossy(&b[1..])
            );
        }
    }
    for q in fuzz::corpus("query_strings") {
        any_query(&String::from_utf8_lossy(&q));
    }
    backup(&backup_seed());
    assert!(format::parse(&backup_seed()).is_ok());
    for b in fuzz::corpus("backup_files") {
        backup(&b);
    }
}
