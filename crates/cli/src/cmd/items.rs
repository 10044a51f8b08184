//! Item commands: add, edit, show, list, search, rm, restore, history, import.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use tessera_core::agent::{field_kind_for, Filter, HistoryView, ItemSummary, ItemView, Request};
use tessera_core::generator::{
    generate_passphrase, generate_password, PassphraseOptions, PasswordOptions,
};
use tessera_core::item::{is_env_name, Field, FieldKind, ItemData, ItemKind, SecretText};
use tessera_core::paths::VaultDir;
use tessera_core::totp::TotpSpec;

use super::usage;
use crate::output::{date, parse_date, Output};
use crate::prompt::{ask_secret, ask_text, ask_value, PassphraseSource};
use crate::session::unlocked_client;

/// Field options shared by `add` and `edit`.
#[derive(clap::Args, Default)]
pub struct FieldArgs {
    /// The username.
    #[arg(long)]
    username: Option<String>,
    /// The URL.
    #[arg(long)]
    url: Option<String>,
    /// A text field, `NAME=VALUE` (shown in clear; use --secret for concealed values).
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// A concealed field: its value is asked without echo (or read as one line of standard input).
    #[arg(long = "secret", value_name = "NAME")]
    secrets: Vec<String>,
    /// Generate a random password into this concealed field (default length 24).
    #[arg(long, value_name = "NAME")]
    generate: Option<String>,
    /// Length of the generated password.
    #[arg(long, default_value_t = 24, requires = "generate")]
    length: usize,
    /// Generate a passphrase (6 words) instead of a password.
    #[arg(long, requires = "generate")]
    passphrase: bool,
    /// Ask for a TOTP secret (an otpauth:// URI or base32 secret) and store it in field `totp`.
    #[arg(long)]
    totp: bool,
    /// Read `NAME=value` lines from this file into concealed fields (environment sets).
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Add a tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Put the item in this folder (a/b/c).
    #[arg(long)]
    folder: Option<String>,
    /// Mark as a favourite.
    #[arg(long)]
    favourite: bool,
    /// Rotate the secret every N days.
    #[arg(long, value_name = "DAYS")]
    rotate_days: Option<u32>,
    /// The credential expires on this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    expires: Option<String>,
    /// Read the notes from standard input to its end, after any --secret values (on a
    /// terminal: type them, then Ctrl-D).
    #[arg(long)]
    notes: bool,
    /// Accept an empty line on standard input as an empty --secret value (refused otherwise).
    #[arg(long)]
    allow_empty: bool,
}

/// Arguments of `add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// login, ssh_key, api_token, totp, secure_note, certificate, database or env_set.
    kind: String,
    /// The title.
    title: String,
    #[command(flatten)]
    fields: FieldArgs,
}

/// Arguments of `edit`.
#[derive(clap::Args)]
pub struct EditArgs {
    /// The item: id, id prefix or exact title.
    item: String,
    /// A new title.
    #[arg(long)]
    title: Option<String>,
    #[command(flatten)]
    fields: FieldArgs,
    /// Remove a field (repeatable).
    #[arg(long = "remove-field", value_name = "NAME")]
    remove_fields: Vec<String>,
    /// Remove a tag (repeatable).
    #[arg(long = "untag", value_name = "TAG")]
    untag: Vec<String>,
    /// No longer a favourite.
    #[arg(long, conflicts_with = "favourite")]
    no_favourite: bool,
    /// Remove the rotation policy.
    #[arg(long, conflicts_with = "rotate_days")]
    no_rotation: bool,
    /// Remove the expiry date.
    #[arg(long, conflicts_with = "expires")]
    no_expiry: bool,
    /// Take the item out of its folder.
    #[arg(long, conflicts_with = "folder")]
    no_folder: bool,
}

impl FieldArgs {
    /// Apply the options to `d`, asking for concealed values as needed.
    fn apply(&self, d: &mut ItemData) -> Result<()> {
        if let Some(u) = &self.username {
            d.set_field("username", FieldKind::Text, u.as_str().into());
        }
        if let Some(u) = &self.url {
            d.set_field("url", FieldKind::Text, u.as_str().into());
        }
        for f in &self.fields {
            let Some((name, value)) = f.split_once('=') else {
                return usage(format!("--field takes NAME=VALUE, got {f:?}"));
            };
            let kind = field_kind_for(d.kind, name, FieldKind::Text);
            if kind.is_secret() {
                return usage(format!("{name} is a concealed field; use --secret {name} so the value is not in your shell history"));
            }
            d.set_field(name.trim(), kind, value.into());
        }
        for name in &self.secrets {
            let value = ask_value(name, true, self.allow_empty)?;
            if d.kind == ItemKind::EnvSet && !is_env_name(name) {
                return usage(format!("{name:?} is not a valid environment variable name"));
            }
            d.set_field(
                name,
                field_kind_for(d.kind, name, FieldKind::Concealed),
                value,
            );
        }
        if let Some(name) = &self.generate {
            let g = if self.passphrase {
                generate_passphrase(&PassphraseOptions::default())?
            } else {
                generate_password(&PasswordOptions {
                    length: self.length,
                    ..PasswordOptions::default()
                })?
            };
            d.set_field(
                name,
                field_kind_for(d.kind, name, FieldKind::Concealed),
                g.secret,
            );
        }
        if self.totp {
            let raw = ask_secret("TOTP secret or otpauth:// URI", false)?;
            let spec = TotpSpec::parse(raw.expose_secret())?;
            d.set_field(
                "totp",
                FieldKind::Totp,
                SecretText::new(spec.to_uri().to_string()),
            );
        }
        if let Some(path) = &self.env_file {
            for (name, value) in crate::dotenv::read(path)? {
                d.set_field(&name, FieldKind::Concealed, value);
            }
        }
        for t in &self.tags {
            if !d.tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                d.tags.push(t.trim().to_owned());
            }
        }
        if let Some(f) = &self.folder {
            d.folder = Some(f.trim_matches('/').to_owned());
        }
        if self.favourite {
            d.favourite = true;
        }
        if let Some(r) = self.rotate_days {
            d.rotation_days = Some(r);
        }
        if let Some(e) = &self.expires {
            d.expires_at = Some(parse_date(e).ok_or_else(|| {
                super::UsageError(format!("--expires takes YYYY-MM-DD, got {e:?}"))
            })?);
        }
        if self.notes {
            d.notes = ask_text("Notes")?;
        }
        Ok(())
    }

    fn sets_a_secret(&self) -> bool {
        !self.secrets.is_empty() || self.generate.is_some() || self.env_file.is_some()
    }
}

/// Add one item.
pub fn add(a: &AddArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let kind: ItemKind = a.kind.parse()?;
    let mut client = unlocked_client(dir)?;
    let mut d = ItemData::new(kind, a.title.trim());
    a.fields.apply(&mut d)?;
    // The kind's main secret, asked for on a terminal when no option set one.
    let main_secret = kind
        .template()
        .iter()
        .find(|(_, k)| *k == FieldKind::Concealed)
        .map(|(n, _)| *n);
    if let Some(name) = main_secret {
        if !a.fields.sets_a_secret() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            let v = ask_value(&format!("{name} (empty to leave blank)"), true, true)?;
            if !v.is_empty() {
                d.set_field(name, FieldKind::Concealed, v);
            }
        }
    }
    d.validate()?;
    let ids: Vec<String> = client.call(&Request::Add { items: vec![d] })?;
    out.done(
        &serde_json::json!({ "id": ids[0] }),
        &format!("Added {}", ids[0]),
    )?;
    Ok(None)
}

/// Edit an item: a new version built from the current one.
pub fn edit(a: &EditArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let view: ItemView = client.call(&Request::Get {
        item: a.item.clone(),
        reveal: true,
    })?;
    let mut d = data_from_view(view)?;
    if let Some(t) = &a.title {
        t.trim().clone_into(&mut d.title);
    }
    for name in &a.remove_fields {
        let before = d.fields.len();
        d.fields.retain(|f| !f.name.eq_ignore_ascii_case(name));
        if d.fields.len() == before {
            return usage(format!("the item has no field {name:?}"));
        }
    }
    d.tags
        .retain(|t| !a.untag.iter().any(|u| u.eq_ignore_ascii_case(t)));
    if a.no_favourite {
        d.favourite = false;
    }
    if a.no_rotation {
        d.rotation_days = None;
    }
    if a.no_expiry {
        d.expires_at = None;
    }
    if a.no_folder {
        d.folder = None;
    }
    a.fields.apply(&mut d)?;
    let version: u64 = client.call(&Request::Update {
        item: a.item.clone(),
        data: d,
    })?;
    out.done(
        &serde_json::json!({ "version": version }),
        &format!("Saved version {version}"),
    )?;
    Ok(None)
}

/// Rebuild editable data from a revealed view.
fn data_from_view(v: ItemView) -> Result<ItemData> {
    let mut d = ItemData::new(v.kind, v.title);
    for f in v.fields {
        let value = f
            .value
            .ok_or_else(|| anyhow::anyhow!("field {} was not revealed", f.name))?;
        d.fields.push(Field {
            name: f.name,
            kind: f.kind,
            value,
        });
    }
    d.notes = v.notes.unwrap_or_default();
    d.tags = v.tags;
    d.folder = v.folder;
    d.favourite = v.favourite;
    d.rotation_days = v.rotation_days;
    d.expires_at = v.expires_at;
    Ok(d)
}

/// Arguments of `show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The item: id, id prefix or exact title.
    item: String,
    /// Show concealed values.
    #[arg(long)]
    reveal: bool,
    /// Print only this field's value (for scripts).
    #[arg(long, value_name = "NAME")]
    field: Option<String>,
}

/// Show one item.
pub fn show(a: &ShowArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let v: ItemView = client.call(&Request::Get {
        item: a.item.clone(),
        reveal: a.reveal,
    })?;
    if let Some(name) = &a.field {
        let f = v
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                anyhow::Error::new(tessera_core::Error::NotFound(format!(
                    "{} has no field {name:?}",
                    v.title
                )))
            })?;
        let Some(value) = &f.value else {
            return usage(format!("{name} is concealed; add --reveal to print it"));
        };
        let value = if f.kind == FieldKind::Totp {
            TotpSpec::parse(value.expose_secret())?.now().0
        } else {
            value.expose_secret().to_owned()
        };
        return out
            .show(&serde_json::json!({ "value": value }), |w| {
                writeln!(w, "{value}")
            })
            .map(|()| None);
    }
    out.show(&v, |w| print_item(w, &v))?;
    Ok(None)
}

/// The text form of an item.
pub(super) fn print_item(w: &mut dyn std::io::Write, v: &ItemView) -> std::io::Result<()> {
    writeln!(w, "{}  ({})", v.title, v.kind.label())?;
    writeln!(w, "  id          {}", v.id)?;
    let width = v
        .fields
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0)
        .max(10);
    for f in &v.fields {
        let shown = match (&f.value, f.kind) {
            (Some(val), FieldKind::Totp) => TotpSpec::parse(val.expose_secret()).map_or_else(
                |e| format!("(invalid: {e})"),
                |s| {
                    let (code, left) = s.now();
                    format!("{code}  ({left}s left)")
                },
            ),
            (Some(val), _) => val.expose_secret().to_owned(),
            (None, _) => "******** (--reveal to show)".into(),
        };
        writeln!(
            w,
            "  {:width$}  {}",
            f.name,
            shown.replace('\n', &format!("\n  {:width$}  ", ""))
        )?;
    }
    if v.has_notes {
        match &v.notes {
            Some(n) => writeln!(
                w,
                "  notes\n    {}",
                n.expose_secret().replace('\n', "\n    ")
            )?,
            None => writeln!(w, "  notes       ******** (--reveal to show)")?,
        }
    }
    if !v.tags.is_empty() {
        writeln!(w, "  tags        {}", v.tags.join(", "))?;
    }
    if let Some(f) = &v.folder {
        writeln!(w, "  folder      {f}")?;
    }
    if v.favourite {
        writeln!(w, "  favourite   yes")?;
    }
    writeln!(
        w,
        "  version     {} (updated {}, created {})",
        v.version,
        date(v.updated_at),
        date(v.created_at)
    )?;
    if let Some(r) = v.rotation_days {
        let age = (tessera_core::vault::now() - v.secret_changed_at) / 86_400;
        let status = if v.rotation_overdue_days.is_some() {
            "OVERDUE"
        } else {
            "ok"
        };
        writeln!(
            w,
            "  rotation    every {r} days; rotated {age} days ago ({status})"
        )?;
    }
    if let Some(e) = v.expires_at {
        writeln!(w, "  expires     {}", &date(e)[..10])?;
    }
    if let Some(t) = v.trashed_at {
        writeln!(w, "  in trash    since {}", date(t))?;
    }
    Ok(())
}

/// Filters shared by `list` and `search`.
#[derive(clap::Args)]
pub struct FilterArgs {
    /// Only this type.
    #[arg(long)]
    kind: Option<String>,
    /// Only items with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only items in this folder (and below).
    #[arg(long)]
    folder: Option<String>,
    /// Only favourites.
    #[arg(long)]
    favourites: bool,
    /// Items in the trash instead.
    #[arg(long)]
    trash: bool,
    /// Only the items of this group (name or id), or `personal` for your own.
    #[arg(long)]
    group: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            kind: self.kind.as_deref().map(str::parse).transpose()?,
            tag: self.tag.clone(),
            folder: self.folder.as_ref().map(|f| f.trim_matches('/').to_owned()),
            favourites: self.favourites,
            trash: self.trash,
            group: self.group.clone(),
        })
    }
}

fn print_list(items: &[ItemSummary], out: &Output, empty: &str) -> Result<()> {
    out.show(&items, |w| {
        if items.is_empty() {
            return writeln!(w, "{empty}");
        }
        let tw = items
            .iter()
            .map(|i| i.title.chars().count())
            .max()
            .unwrap_or(5)
            .min(40);
        // A group column when shared items are listed: `personal` for your own.
        let gw = items
            .iter()
            .filter_map(|i| i.group.as_ref().map(|g| g.name.chars().count().min(20)))
            .max()
            .map(|w| w.max("personal".len()));
        for i in items {
            let title: String = i.title.chars().take(40).collect();
            let star = if i.favourite { "*" } else { " " };
            let group = gw.map_or_else(String::new, |gw| {
                let name: String = i
                    .group
                    .as_ref()
                    .map_or("personal", |g| g.name.as_str())
                    .chars()
                    .take(20)
                    .collect();
                format!("{name:gw$}  ")
            });
            writeln!(
                w,
                "{}  {star} {title:tw$}  {group}{:11}  {}",
                &i.id[..8],
                i.kind.as_str(),
                i.subtitle
            )?;
        }
        Ok(())
    })
}

/// List items.
pub fn list(a: &FilterArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let items: Vec<ItemSummary> = client.call(&Request::List {
        filter: a.filter()?,
    })?;
    print_list(
        &items,
        out,
        if a.trash {
            "The trash is empty."
        } else {
            "No items."
        },
    )?;
    Ok(None)
}

/// Arguments of `search`.
#[derive(clap::Args)]
pub struct SearchArgs {
    /// Words to look for; typos and abbreviations are fine.
    #[arg(required = true)]
    query: Vec<String>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Most results.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// Search items.
pub fn search(a: &SearchArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let items: Vec<ItemSummary> = client.call(&Request::Search {
        query: a.query.join(" "),
        filter: a.filter.filter()?,
        limit: Some(a.limit),
    })?;
    print_list(&items, out, "Nothing matches.")?;
    Ok(None)
}

/// An item argument.
#[derive(clap::Args)]
pub struct ItemArg {
    /// The item: id, id prefix or exact title.
    item: String,
}

/// Arguments of `rm`.
#[derive(clap::Args)]
pub struct RmArgs {
    /// The item: id, id prefix or exact title.
    item: String,
    /// Delete from the trash for good, with its history.
    #[arg(long)]
    purge: bool,
}

/// Trash or purge.
pub fn rm(a: &RmArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let id: String = client.call(&Request::Remove {
        item: a.item.clone(),
        purge: a.purge,
    })?;
    let msg = if a.purge {
        format!("Deleted {id} for good.")
    } else {
        format!(
            "Moved {id} to the trash (`tessera restore {}` brings it back).",
            &id[..8]
        )
    };
    out.done(&serde_json::json!({ "id": id, "purged": a.purge }), &msg)?;
    Ok(None)
}

/// Arguments of `restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The item: id, id prefix or exact title.
    item: String,
    /// Make this old version current again (see `tessera history`).
    #[arg(long)]
    version: Option<u64>,
}

/// Untrash, or restore a version.
pub fn restore(a: &RestoreArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let version: u64 = client.call(&Request::Restore {
        item: a.item.clone(),
        version: a.version,
    })?;
    let msg = match a.version {
        Some(v) => format!("Restored version {v} as version {version}."),
        None => "Restored from the trash.".to_owned(),
    };
    out.done(&serde_json::json!({ "version": version }), &msg)?;
    Ok(None)
}

/// List versions.
pub fn history(a: &ItemArg, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let mut client = unlocked_client(dir)?;
    let h: Vec<HistoryView> = client.call(&Request::History {
        item: a.item.clone(),
    })?;
    out.show(&h, |w| {
        for v in &h {
            let changed = if v.changed.is_empty() {
                String::new()
            } else {
                format!("  changed: {}", v.changed.join(", "))
            };
            writeln!(
                w,
                "v{:<4} {}  {}{changed}",
                v.version,
                date(v.created_at),
                v.title
            )?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// Arguments of `import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// An encrypted export written by `tessera export` (recognised by its `TESSERA-EXPORT`
    /// header; its passphrase is asked for), or a JSON file: an array of items as
    /// `tessera show --json --reveal` prints them (kind, title, fields [{name, kind, value}],
    /// notes, tags, folder, favourite, ...; `id` optional). Either way, what is already here is
    /// skipped, so importing a file twice adds nothing: an item with an id is matched by its id
    /// (other content comes in as a copy titled "… (imported)"), one without by its content.
    file: PathBuf,
    #[command(flatten)]
    passphrase: PassphraseSource,
}

/// Import items in one transaction: an encrypted export, or a JSON array.
pub fn import(a: &ImportArgs, dir: &VaultDir, out: &Output) -> Result<Option<ExitCode>> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?,
    );
    if super::export::is_encrypted(&bytes) {
        return super::export::import(&a.file, bytes.to_vec(), &a.passphrase, dir, out);
    }
    if a.passphrase.is_given() {
        return usage(format!(
            "{} is a JSON import, which has no passphrase; leave out --passphrase-file/--passphrase-fd",
            a.file.display()
        ));
    }
    super::export::import_plain(&a.file, &bytes, dir, out)
}
