//! `run` and `inject`: secrets into a process's environment or a rendered template, never onto
//! disk.
//!
//! References have the form `tessera://VAULT/ITEM/FIELD` (see [`reference`] for how one ends,
//! spaces in titles, `{{ }}` and the escapes of `/` and `%`). A TOTP field resolves to its
//! current code. VAULT is `personal`, or the name or id of one of your groups, whose items are
//! read from this device's copy of the group (brought up to date when the server answers; each
//! reveal recorded in the team's audit log, or queued for it while offline).
//!
//! In CI, with a machine token in `TESSERA_TOKEN` and the team server's URL in `TESSERA_SERVER`,
//! VAULT is the token's group (its name or id) and the items come from the team server through
//! the token: no local vault is opened, no password asked, nothing written to disk.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};
use tessera_core::agent::ItemView;
use tessera_core::item::{is_env_name, FieldKind, ItemKind, SecretText};
use tessera_core::paths::VaultDir;
use tessera_core::token::{MachineToken, TokenClient, SERVER_ENV, TOKEN_ENV};
use tessera_core::totp::TotpSpec;
use tessera_core::vault::{GroupItems, SharedItem};
use zeroize::Zeroizing;

use super::usage;
use crate::output::Output;
use crate::prompt::PasswordSource;
use crate::session::Source;

mod reference;

use reference::{references, Reference};

/// What replaces a secret in a masked child's output.
pub const MASK: &str = "<concealed by tessera>";
/// Values shorter than this are not masked: they would hide ordinary output.
const MIN_MASKED_LEN: usize = 4;

/// Arguments of `run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// An environment-set item whose fields become variables (repeatable).
    #[arg(long = "env-set", short = 'e', value_name = "ITEM")]
    env_sets: Vec<String>,
    /// A dotenv-style file of `NAME=value` lines whose values may hold tessera:// references.
    #[arg(long, short = 't', value_name = "FILE")]
    template: Option<PathBuf>,
    /// One variable, `NAME=tessera://VAULT/ITEM/FIELD` (repeatable). VAULT is `personal` or
    /// one of your groups, by name or id; with a machine token in $TESSERA_TOKEN (and the
    /// server's URL in $TESSERA_SERVER) the token's group. ITEM may hold spaces (`tessera://personal/AWS root/totp`);
    /// write `/` in a title as `%2F`, `%` as `%25`; `{{ REF }}` lets FIELD hold spaces too.
    #[arg(long = "env", value_name = "NAME=REF")]
    vars: Vec<String>,
    /// Start the command with only the injected variables (and PATH).
    #[arg(long)]
    clear_env: bool,
    /// Do not mask the secrets in the command's output (the command then replaces tessera).
    #[arg(long)]
    no_mask: bool,
    #[command(flatten)]
    password: PasswordSource,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Arguments of `inject`.
#[derive(clap::Args)]
pub struct InjectArgs {
    /// The template; tessera://VAULT/ITEM/FIELD references in it are replaced (VAULT as for
    /// `run --env`). `-` reads
    /// standard input. ITEM may hold spaces and runs to the next `/` (write `/` in a title as
    /// `%2F`, `%` as `%25`); `{{ tessera://... }}` is replaced whole and its FIELD may hold
    /// spaces too. Under --json the output is `{"rendered": TEXT}`.
    #[arg(long, short = 't', value_name = "FILE")]
    template: PathBuf,
    #[command(flatten)]
    password: PasswordSource,
}

/// The VAULT segment that names the local, personal vault.
const PERSONAL: &str = "personal";

/// Where secrets come from: the local vault, or a group through a machine token.
enum Resolver {
    Vault {
        source: Source,
        /// By (vault, item) as the references name them.
        items: HashMap<(String, String), ItemView>,
    },
    Token(Box<TokenSource>),
}

impl Resolver {
    /// The machine token's group when `TESSERA_TOKEN` is set, else the local vault.
    fn open(dir: &VaultDir, password: &PasswordSource) -> Result<Self> {
        if let Some(t) = TokenSource::from_env()? {
            return Ok(Self::Token(Box::new(t)));
        }
        Ok(Self::Vault {
            source: Source::open(dir, password)?,
            items: HashMap::new(),
        })
    }

    /// The fields of an environment set, as variables.
    fn env_set(&mut self, name: &str) -> Result<Vec<(String, SecretText)>> {
        let (kind, title, fields): (ItemKind, String, Vec<(String, SecretText)>) = match self {
            Self::Vault { .. } => {
                let item = self.item(PERSONAL, name)?;
                (
                    item.kind,
                    item.title.clone(),
                    item.fields
                        .iter()
                        .map(|f| {
                            (
                                f.name.clone(),
                                f.value
                                    .as_ref()
                                    .map(SecretText::duplicate)
                                    .unwrap_or_default(),
                            )
                        })
                        .collect(),
                )
            }
            Self::Token(t) => {
                let group = t.client.group_id();
                let item = t.item(&group, name)?;
                (
                    item.data.kind,
                    item.data.title.clone(),
                    item.data
                        .fields
                        .iter()
                        .map(|f| (f.name.clone(), f.value.duplicate()))
                        .collect(),
                )
            }
        };
        if kind != ItemKind::EnvSet {
            return usage(format!(
                "{title} is a {}, not an environment set",
                kind.label()
            ));
        }
        Ok(fields)
    }

    /// An item of `vault` (`personal`, or a group's name or id, read from this device's copy
    /// of the group, the reveal recorded in the team's audit log), fetched once per run.
    fn item(&mut self, vault: &str, name: &str) -> Result<&ItemView> {
        let Self::Vault { source, items } = self else {
            return usage("internal: a vault item was asked of a machine token");
        };
        let key = (vault.to_lowercase(), name.to_owned());
        if !items.contains_key(&key) {
            let group = (!vault.eq_ignore_ascii_case(PERSONAL)).then_some(vault);
            let v = source.reveal_in(group, name)?;
            items.insert(key.clone(), v);
        }
        Ok(&items[&key])
    }

    fn value(&mut self, r: &Reference) -> Result<SecretText> {
        if let Self::Token(t) = self {
            return t.value(r);
        }
        let item = self.item(&r.vault, &r.item)?;
        if r.field.eq_ignore_ascii_case("notes") && item.field("notes").is_none() {
            return Ok(item
                .notes
                .as_ref()
                .map(SecretText::duplicate)
                .unwrap_or_default());
        }
        let f = item.field(&r.field).ok_or_else(|| {
            anyhow::Error::new(tessera_core::Error::NotFound(format!(
                "{} has no field {:?} (fields: {})",
                item.title,
                r.field,
                item.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        })?;
        let value = f
            .value
            .as_ref()
            .map(SecretText::duplicate)
            .unwrap_or_default();
        if f.kind == FieldKind::Totp {
            return Ok(SecretText::new(
                TotpSpec::parse(value.expose_secret())?.now().0,
            ));
        }
        Ok(value)
    }

    fn render(&mut self, text: &str) -> Result<SecretText> {
        let refs = references(text)?;
        let mut out = Zeroizing::new(String::with_capacity(text.len() + 64 * refs.len()));
        let mut last = 0;
        for (range, r) in refs {
            out.push_str(&text[last..range.start]);
            out.push_str(self.value(&r)?.expose_secret());
            last = range.end;
        }
        out.push_str(&text[last..]);
        Ok(SecretText::new(std::mem::take(&mut *out)))
    }
}

trait FieldLookup {
    fn field(&self, name: &str) -> Option<&tessera_core::agent::FieldView>;
}

impl FieldLookup for ItemView {
    fn field(&self, name: &str) -> Option<&tessera_core::agent::FieldView> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// The variables `run` injects, resolved.
fn collect_env(a: &RunArgs, dir: &VaultDir) -> Result<Vec<(String, SecretText)>> {
    if a.env_sets.is_empty() && a.template.is_none() && a.vars.is_empty() {
        return usage("say which secrets to inject: --env-set ITEM, --template FILE or --env NAME=tessera://personal/ITEM/FIELD");
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for v in &a.vars {
        let Some((name, value)) = v.split_once('=') else {
            return usage(format!(
                "--env takes NAME=tessera://personal/ITEM/FIELD, got {v:?}"
            ));
        };
        pairs.push((name.trim().to_owned(), value.to_owned()));
    }
    if let Some(path) = &a.template {
        for (name, value) in crate::dotenv::read(path)? {
            pairs.push((name, value.expose_secret().to_owned()));
        }
    }
    for (name, _) in &pairs {
        if !is_env_name(name) {
            return usage(format!("{name:?} is not a valid environment variable name"));
        }
    }
    // Parse every reference before opening anything: a typo fails fast.
    for (_, value) in &pairs {
        references(value)?;
    }
    let mut resolver = Resolver::open(dir, &a.password)?;
    let mut env: Vec<(String, SecretText)> = Vec::new();
    for set in &a.env_sets {
        env.extend(resolver.env_set(set)?);
    }
    for (name, value) in pairs {
        let rendered = resolver.render(&value)?;
        env.push((name, rendered));
    }
    Ok(env)
}

/// `tessera run`.
pub fn run(a: &RunArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let env = collect_env(a, dir)?;
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    if a.clear_env {
        cmd.env_clear();
        if let Some(p) = std::env::var_os("PATH") {
            cmd.env("PATH", p);
        }
    }
    for (k, v) in &env {
        cmd.env(k, v.expose_secret());
    }
    if a.no_mask {
        let err = cmd.exec();
        out.error("error", &format!("cannot start {}: {err}", a.command[0]));
        return Ok(Some(ExitCode::from(127)));
    }
    let masker = Masker::new(env.iter().map(|(_, v)| v.expose_secret()));
    drop(env);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            out.error("error", &format!("cannot start {}: {e}", a.command[0]));
            return Ok(Some(ExitCode::from(127)));
        }
    };
    let out = child.stdout.take().context("child stdout")?;
    let err = child.stderr.take().context("child stderr")?;
    let status = std::thread::scope(|s| {
        let m = &masker;
        s.spawn(move || m.pump(out, std::io::stdout()));
        s.spawn(move || m.pump(err, std::io::stderr()));
        child.wait()
    })
    .context("waiting for the command")?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Some(ExitCode::from(u8::try_from(code).unwrap_or(1))))
}

/// `tessera inject`.
pub fn inject(a: &InjectArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut text = String::new();
    if a.template.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the template from standard input")?;
    } else {
        text = std::fs::read_to_string(&a.template)
            .with_context(|| format!("reading the template {}", a.template.display()))?;
    }
    // Parse every reference before asking for the password: a typo fails fast.
    references(&text)?;
    let mut resolver = Resolver::open(dir, &a.password)?;
    let rendered = resolver.render(&text)?;
    out.show(
        &serde_json::json!({ "rendered": rendered.expose_secret() }),
        |w| w.write_all(rendered.expose_secret().as_bytes()),
    )?;
    Ok(None)
}

/// A machine token's group: its items, fetched and decrypted once.
struct TokenSource {
    client: TokenClient,
    items: GroupItems,
}

impl TokenSource {
    /// Connect with `TESSERA_TOKEN` to `TESSERA_SERVER`, or `None` when no token is set.
    fn from_env() -> Result<Option<Self>> {
        let Some(text) = std::env::var_os(TOKEN_ENV).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let text = Zeroizing::new(text.into_string().map_err(|_| {
            super::UsageError(format!("{TOKEN_ENV} is not text; copy the token again"))
        })?);
        let server = std::env::var(SERVER_ENV).unwrap_or_default();
        if server.trim().is_empty() {
            return usage(format!(
                "{TOKEN_ENV} is set but {SERVER_ENV} is not: set it to the team server's URL (https://...)"
            ));
        }
        let token = MachineToken::parse(&text).with_context(|| format!("reading {TOKEN_ENV}"))?;
        drop(text);
        let client = TokenClient::connect(server.trim(), &token).with_context(|| {
            format!(
                "reading secrets with the machine token {} from {}",
                token.id(),
                server.trim()
            )
        })?;
        if let Some(w) = client.warning() {
            eprintln!("warning: {w}");
        }
        let items = client.items().with_context(|| {
            format!(
                "reading the items of {} with the machine token",
                client.group_name()
            )
        })?;
        // A damaged record is left out; the job goes on with the items it needs, if they opened.
        for d in &items.damaged {
            eprintln!(
                "warning: item {} of group {:?} is left out: {}",
                d.item,
                client.group_name(),
                d.why
            );
        }
        Ok(Some(Self { client, items }))
    }

    fn item(&self, group: &str, name: &str) -> Result<&SharedItem> {
        let g = group.trim();
        if !(g.eq_ignore_ascii_case(self.client.group_name())
            || g.eq_ignore_ascii_case(&self.client.group_id()))
        {
            return Err(anyhow::Error::new(tessera_core::Error::NotFound(format!(
                "tessera://{g}/...: the machine token reads only group {:?}",
                self.client.group_name()
            ))));
        }
        let q = name.trim().to_lowercase();
        let found: Vec<&SharedItem> = self
            .items
            .iter()
            .filter(|i| {
                let id = i.id.to_hex();
                id == q || (q.len() >= 4 && id.starts_with(&q)) || i.data.title.to_lowercase() == q
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(anyhow::Error::new(self.items.not_found(
                tessera_core::Error::NotFound(format!(
                    "tessera://{g}/{name}/...: no item {name:?} in group {:?}",
                    self.client.group_name()
                )),
            ))),
            many => Err(anyhow::Error::new(tessera_core::Error::Ambiguous {
                query: name.to_owned(),
                count: many.len(),
            })),
        }
    }

    fn value(&self, r: &Reference) -> Result<SecretText> {
        let item = self.item(&r.vault, &r.item)?;
        let data = &item.data;
        let field = data
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&r.field));
        let Some(f) = field else {
            if r.field.eq_ignore_ascii_case("notes") {
                return Ok(data.notes.duplicate());
            }
            return Err(anyhow::Error::new(tessera_core::Error::NotFound(format!(
                "tessera://{}/{}/{}: {} has no field {:?} (fields: {})",
                r.vault,
                r.item,
                r.field,
                data.title,
                r.field,
                data.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))));
        };
        if f.kind == FieldKind::Totp {
            return Ok(SecretText::new(
                TotpSpec::parse(f.value.expose_secret())?.now().0,
            ));
        }
        Ok(f.value.duplicate())
    }
}

/// Replaces secret values in a byte stream, also across read boundaries.
pub struct Masker {
    needles: Vec<Zeroizing<Vec<u8>>>,
}

impl Masker {
    /// Mask these values (short ones are skipped; longest first, so overlaps mask fully).
    pub fn new<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut needles: Vec<Zeroizing<Vec<u8>>> = values
            .filter(|v| v.len() >= MIN_MASKED_LEN)
            .map(|v| Zeroizing::new(v.as_bytes().to_vec()))
            .collect();
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Self { needles }
    }

    /// Copy `src` to `dst`, masking. Bytes that might start a secret wait for the next read.
    pub fn pump(&self, mut src: impl Read, mut dst: impl Write) {
        let mut pending: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(16 * 1024));
        let mut buf = Zeroizing::new(vec![0u8; 8192]);
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let eof = n == 0;
            pending.extend_from_slice(&buf[..n]);
            let (out, keep) = self.mask(&pending, eof);
            if dst.write_all(&out).and_then(|()| dst.flush()).is_err() {
                return;
            }
            let rest = pending[keep..].to_vec();
            pending.clear();
            pending.extend_from_slice(&rest);
            if eof {
                return;
            }
        }
    }

    /// Mask what can be decided now; returns the output and where the undecided tail starts.
    fn mask(&self, data: &[u8], eof: bool) -> (Zeroizing<Vec<u8>>, usize) {
        let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
        let mut i = 0;
        'outer: while i < data.len() {
            for n in &self.needles {
                let rest = &data[i..];
                if rest.starts_with(n) {
                    out.extend_from_slice(MASK.as_bytes());
                    i += n.len();
                    continue 'outer;
                }
                if !eof && rest.len() < n.len() && n.starts_with(rest) {
                    return (out, i);
                }
            }
            out.push(data[i]);
            i += 1;
        }
        (out, data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_works_across_chunk_boundaries() {
        let m = Masker::new(["hunter22", "abc", "s3cr3t-token"].into_iter());
        let input = b"login hunter22 ok; token=s3cr3t-token; abc stays".to_vec();
        for chunk in 1..input.len() {
            let mut out = Vec::new();
            m.pump(
                ChunkReader {
                    data: &input,
                    chunk,
                    pos: 0,
                },
                &mut out,
            );
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("login {MASK} ok; token={MASK}; abc stays"),
                "chunk {chunk}"
            );
        }
    }

    struct ChunkReader<'a> {
        data: &'a [u8],
        chunk: usize,
        pos: usize,
    }

    impl Read for ChunkReader<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.chunk.min(self.data.len() - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
}
