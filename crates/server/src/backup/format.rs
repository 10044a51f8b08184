//! The backup file: JSON lines, the same whatever backend wrote or reads it.
//!
//! ```text
//! {"format":"tessera-server-backup","format_version":1,"schema":7,"created_at":…,"server_version":"…","source":"sqlite"}
//! {"table":"teams","columns":["id","root_public",…]}
//! [{"b":"…base64…"},"text",42,null]            one line per row, values in column order
//! …
//! {"end":{"tables":21,"rows":1234,"sha256":"…"}}
//! ```
//!
//! A value is an integer (a JSON number), text (a JSON string), bytes (`{"b": base64}`) or null;
//! booleans are integers 0 and 1 on every backend. The end record carries the SHA-256 of every
//! byte before it, so a truncated, corrupted or hand-edited file is refused before anything is
//! written. The checksum is an integrity check, not a signature: whoever can write the file can
//! recompute it (the restore also verifies every audit chain, which an edit cannot keep valid
//! without the entries' hashes changing).
use std::io::Write;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use sha2::{Digest as _, Sha256};
use tessera_protocol::hex;

use super::BackupError;

/// The `format` field of the header.
pub const FORMAT: &str = "tessera-server-backup";
/// The version of the file format this server writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (booleans are 0 and 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Value {
    /// What kind of value it is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
        }
    }

    fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int(i) => json!(i),
            Value::Text(s) => json!(s),
            Value::Bytes(b) => json!({ "b": B64.encode(b) }),
        }
    }

    fn from_json(v: Json) -> Result<Self, String> {
        match v {
            Json::Null => Ok(Value::Null),
            Json::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| format!("{n} is not a 64-bit integer")),
            Json::String(s) => Ok(Value::Text(s)),
            Json::Object(mut o) if o.len() == 1 => match o.remove("b") {
                Some(Json::String(s)) => B64
                    .decode(s)
                    .map(Value::Bytes)
                    .map_err(|e| format!("bytes that are not base64 ({e})")),
                _ => Err("an object that is not {\"b\": base64}".into()),
            },
            other => Err(format!("an unexpected value {other}")),
        }
    }
}

/// The first line: what wrote the backup, when, and at which schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The file format's version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// How many migrations the database had run (the same numbering on both backends).
    pub schema: u32,
    /// Unix time the snapshot was taken.
    pub created_at: i64,
    /// The version of the `tessera-server` that wrote it.
    pub server_version: String,
    /// The backend it came from: `sqlite` or `postgres`.
    pub source: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableLine {
    table: String,
    columns: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    tables: u64,
    rows: u64,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndLine {
    end: End,
}

/// One table of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its columns, in the order of every row's values.
    pub columns: Vec<String>,
    /// Its rows.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// The values of one column, row by row (`None` when there is no such column).
    pub fn column(&self, name: &str) -> Option<impl Iterator<Item = &Value> + '_> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().filter_map(move |r| r.get(i)))
    }
}

/// A whole backup, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The header.
    pub header: Header,
    /// Every table, in the order written (dependency order).
    pub tables: Vec<Table>,
}

impl Backup {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// How many rows in all.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows.len() as u64).sum()
    }
}

/// Writes a backup line by line, hashing as it goes.
pub struct Writer<W: Write> {
    out: W,
    hash: Sha256,
    bytes: u64,
    tables: u64,
    rows: u64,
    columns: usize,
}

impl<W: Write> Writer<W> {
    /// A writer onto `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            hash: Sha256::new(),
            bytes: 0,
            tables: 0,
            rows: 0,
            columns: 0,
        }
    }

    /// Write one line: `v` serialised in its fields' order (the header's `format` first).
    fn line(&mut self, v: &impl Serialize) -> Result<(), BackupError> {
        let mut buf = serde_json::to_vec(v).map_err(|e| BackupError::Write(e.into()))?;
        buf.push(b'\n');
        self.hash.update(&buf);
        self.bytes += buf.len() as u64;
        self.out.write_all(&buf).map_err(BackupError::Write)
    }

    /// The header line (first).
    pub fn header(&mut self, h: &Header) -> Result<(), BackupError> {
        self.line(h)
    }

    /// Start a table; its rows follow.
    pub fn table(&mut self, name: &str, columns: &[String]) -> Result<(), BackupError> {
        self.tables += 1;
        self.columns = columns.len();
        self.line(&TableLine {
            table: name.into(),
            columns: columns.to_vec(),
        })
    }

    /// One row of the current table.
    pub fn row(&mut self, values: &[Value]) -> Result<(), BackupError> {
        if values.len() != self.columns {
            return Err(BackupError::Write(std::io::Error::other(
                "a row does not have one value per column",
            )));
        }
        self.rows += 1;
        self.line(&Json::Array(values.iter().map(Value::to_json).collect()))
    }

    /// Write the end record; returns the output, the tables, rows and bytes written.
    pub fn finish(mut self) -> Result<(W, u64, u64, u64), BackupError> {
        let digest = hex(&self.hash.finalize_reset());
        let end = EndLine {
            end: End {
                tables: self.tables,
                rows: self.rows,
                sha256: digest,
            },
        };
        let mut buf = serde_json::to_vec(&end).map_err(|e| BackupError::Write(e.into()))?;
        buf.push(b'\n');
        self.bytes += buf.len() as u64;
        self.out.write_all(&buf).map_err(BackupError::Write)?;
        self.out.flush().map_err(BackupError::Write)?;
        Ok((self.out, self.tables, self.rows, self.bytes))
    }
}

fn malformed(line: usize, reason: impl Into<String>) -> BackupError {
    BackupError::Malformed {
        line,
        reason: reason.into(),
    }
}

/// Parse and check a whole backup: the end record and checksum first (truncated, corrupted or
/// edited files are refused before anything else is read), then the header, then every line.
pub fn parse(data: &[u8]) -> Result<Backup, BackupError> {
    let first_line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let named = serde_json::from_slice::<Json>(first_line)
        .ok()
        .and_then(|v| v.get("format").cloned())
        .is_some_and(|f| f == FORMAT);
    // This server writes `format` first, so even a file cut inside its header is known.
    if !named && !data.starts_with(format!("{{\"format\":\"{FORMAT}\"").as_bytes()) {
        return Err(BackupError::NotABackup);
    }
    // The end record is the last line; a file cut anywhere lacks it.
    let Some(body) = data.strip_suffix(b"\n") else {
        return Err(BackupError::Truncated);
    };
    let split = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (content, last) = body.split_at(split);
    let Ok(EndLine { end }) = serde_json::from_slice::<EndLine>(last) else {
        return Err(BackupError::Truncated);
    };
    if hex(&Sha256::digest(content)) != end.sha256 {
        return Err(BackupError::Checksum);
    }
    let mut lines = content
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.is_empty());
    let (_, first) = lines.next().ok_or(BackupError::NotABackup)?;
    let header: Header =
        serde_json::from_slice(first).map_err(|e| malformed(1, format!("the header: {e}")))?;
    if header.format_version > FORMAT_VERSION {
        return Err(BackupError::FormatTooNew {
            found: header.format_version,
            known: FORMAT_VERSION,
        });
    }
    let mut tables: Vec<Table> = Vec::new();
    for (n, line) in lines {
        if line.first() == Some(&b'[') {
            let table = tables
                .last_mut()
                .ok_or_else(|| malformed(n, "a row before any table"))?;
            let values: Vec<Json> = serde_json::from_slice(line)
                .map_err(|e| malformed(n, format!("a row that is not a JSON array: {e}")))?;
            if values.len() != table.columns.len() {
                return Err(malformed(
                    n,
                    format!(
                        "a row of {} with {} values for {} columns",
                        table.name,
                        values.len(),
                        table.columns.len()
                    ),
                ));
            }
            let row = values
                .into_iter()
                .zip(&table.columns)
                .map(|(v, c)| {
                    Value::from_json(v)
                        .map_err(|e| malformed(n, format!("{}.{c}: {e}", table.name)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            table.rows.push(row);
        } else {
            let t: TableLine = serde_json::from_slice(line)
                .map_err(|e| malformed(n, format!("neither a row nor a table: {e}")))?;
            if tables.iter().any(|x| x.name == t.table) {
                return Err(malformed(n, format!("table {} appears twice", t.table)));
            }
            tables.push(Table {
                name: t.table,
                columns: t.columns,
                rows: Vec::new(),
            });
        }
    }
    let backup = Backup { header, tables };
    if backup.tables.len() as u64 != end.tables || backup.rows() != end.rows {
        return Err(malformed(
            0,
            format!(
                "the end record counts {} tables and {} rows, the file holds {} and {}",
                end.tables,
                end.rows,
                backup.tables.len(),
                backup.rows()
            ),
        ));
    }
    Ok(backup)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.header(&Header {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            schema: 7,
            created_at: 1,
            server_version: "0".into(),
            source: "sqlite".into(),
        })
        .unwrap();
        w.table("t", &["a".into(), "b".into(), "c".into(), "d".into()])
            .unwrap();
        w.row(&[
            Value::Int(-5),
            Value::Text("x\ny".into()),
            Value::Bytes(vec![0, 255]),
            Value::Null,
        ])
        .unwrap();
        w.finish().unwrap().0
    }

    #[test]
    fn round_trip() {
        let b = parse(&sample()).unwrap();
        assert_eq!(b.header.schema, 7);
        assert_eq!(b.tables[0].rows[0][2], Value::Bytes(vec![0, 255]));
        assert_eq!(b.rows(), 1);
    }

    #[test]
    fn damage_is_named() {
        let data = sample();
        for cut in [data.len() - 1, data.len() - 10, 100] {
            assert!(matches!(parse(&data[..cut]), Err(BackupError::Truncated)));
        }
        let mut edited = data.clone();
        let at = edited.windows(2).position(|w| w == b"-5").unwrap();
        edited[at + 1] = b'6';
        assert!(matches!(parse(&edited), Err(BackupError::Checksum)));
        assert!(matches!(parse(b"hello"), Err(BackupError::NotABackup)));
        assert!(matches!(parse(b""), Err(BackupError::NotABackup)));
    }
}
