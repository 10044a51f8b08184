//! The item model: what a user stores, in its decrypted, in-use form.
//!
//! Everything in [`ItemData`] is encrypted at rest as one unit per version. Values of fields are
//! [`SecretText`]: zeroized on drop, `***` in `Debug`, read through `expose_secret()`. The whole
//! [`ItemData`] zeroizes its strings on drop too, so locking the vault leaves no title or URL in
//! memory either.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// Lowercase hex of any bytes (ids, and stored ids too damaged to be ids).
pub use tessera_protocol::hex;

pub mod codec;

/// A random 128-bit item id, shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ItemId(pub [u8; 16]);

impl ItemId {
    /// A fresh random id.
    pub fn random() -> Self {
        let mut b = [0u8; 16];
        tessera_crypto::random_bytes(&mut b);
        Self(b)
    }

    /// From stored bytes; wrong lengths are refused.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }

    /// The hex form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemId({self})")
    }
}

impl FromStr for ItemId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.len() != 32 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!(
                "{s:?} is not an item id (32 hex digits)"
            )));
        }
        let mut b = [0u8; 16];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("checked hex above");
        }
        Ok(Self(b))
    }
}

impl From<ItemId> for String {
    fn from(id: ItemId) -> String {
        id.to_hex()
    }
}

impl TryFrom<String> for ItemId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

/// The type of an item. Decides its standard fields and how it is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A website or service login.
    Login,
    /// An SSH key pair.
    SshKey,
    /// An API token.
    ApiToken,
    /// A TOTP seed on its own.
    Totp,
    /// A free-form secure note.
    SecureNote,
    /// An X.509 certificate with its private key.
    Certificate,
    /// Database connection credentials.
    Database,
    /// A list of `NAME=value` pairs for `tessera run`.
    EnvSet,
}

/// A standard field of a kind: name, and whether its value is concealed.
pub type FieldTemplate = (&'static str, FieldKind);

impl ItemKind {
    /// Every kind, in display order.
    pub const ALL: [ItemKind; 8] = [
        ItemKind::Login,
        ItemKind::SshKey,
        ItemKind::ApiToken,
        ItemKind::Totp,
        ItemKind::SecureNote,
        ItemKind::Certificate,
        ItemKind::Database,
        ItemKind::EnvSet,
    ];

    /// The machine name (`ssh_key`), as used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Login => "login",
            ItemKind::SshKey => "ssh_key",
            ItemKind::ApiToken => "api_token",
            ItemKind::Totp => "totp",
            ItemKind::SecureNote => "secure_note",
            ItemKind::Certificate => "certificate",
            ItemKind::Database => "database",
            ItemKind::EnvSet => "env_set",
        }
    }

    /// The name people read ("SSH key").
    pub fn label(self) -> &'static str {
        match self {
            ItemKind::Login => "Login",
            ItemKind::SshKey => "SSH key",
            ItemKind::ApiToken => "API token",
            ItemKind::Totp => "TOTP",
            ItemKind::SecureNote => "Secure note",
            ItemKind::Certificate => "Certificate",
            ItemKind::Database => "Database",
            ItemKind::EnvSet => "Environment set",
        }
    }

    /// The standard fields of this kind, in display order. Custom fields may follow.
    pub fn template(self) -> &'static [FieldTemplate] {
        use FieldKind::{Concealed, Text, Totp};
        match self {
            ItemKind::Login => &[
                ("username", Text),
                ("password", Concealed),
                ("url", Text),
                ("totp", Totp),
            ],
            ItemKind::SshKey => &[
                ("private_key", Concealed),
                ("public_key", Text),
                ("fingerprint", Text),
                ("passphrase", Concealed),
            ],
            ItemKind::ApiToken => &[("token", Concealed), ("url", Text), ("username", Text)],
            ItemKind::Totp => &[("totp", Totp), ("username", Text), ("url", Text)],
            ItemKind::Certificate => &[
                ("certificate", Text),
                ("private_key", Concealed),
                ("url", Text),
            ],
            ItemKind::Database => &[
                ("host", Text),
                ("port", Text),
                ("database", Text),
                ("username", Text),
                ("password", Concealed),
            ],
            ItemKind::SecureNote | ItemKind::EnvSet => &[],
        }
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let kind = match norm.as_str() {
            "login" | "password" => ItemKind::Login,
            "ssh_key" | "ssh" => ItemKind::SshKey,
            "api_token" | "token" | "api" => ItemKind::ApiToken,
            "totp" | "otp" => ItemKind::Totp,
            "secure_note" | "note" => ItemKind::SecureNote,
            "certificate" | "cert" => ItemKind::Certificate,
            "database" | "db" => ItemKind::Database,
            "env_set" | "env" | "environment" => ItemKind::EnvSet,
            _ => {
                let names: Vec<&str> = ItemKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(Error::Invalid(format!(
                    "unknown item type {s:?}; use one of: {}",
                    names.join(", ")
                )));
            }
        };
        Ok(kind)
    }
}

/// How a field's value is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Shown as it is and searchable (usernames, URLs, hosts).
    Text,
    /// Hidden until revealed; never indexed (passwords, tokens, keys).
    Concealed,
    /// A TOTP seed (`otpauth://` URI or base32 secret); concealed, and shown as a live code.
    Totp,
}

impl FieldKind {
    /// True for values hidden until revealed.
    pub fn is_secret(self) -> bool {
        !matches!(self, FieldKind::Text)
    }
}

/// A string that is zeroized when dropped and never printed by `Debug`.
#[derive(Default, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    /// Take ownership of a string (no copy is made).
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The value. Greppable on purpose.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An explicit copy (each copy zeroizes itself on drop).
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self(self.0.clone())
    }
}

impl From<&str> for SecretText {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One named value of an item.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Field {
    /// The field's name (`password`, `AWS_SECRET_ACCESS_KEY`, ...).
    pub name: String,
    /// How the value is treated.
    #[zeroize(skip)]
    pub kind: FieldKind,
    /// The value.
    pub value: SecretText,
}

impl Field {
    /// A field from parts.
    pub fn new(name: impl Into<String>, kind: FieldKind, value: impl Into<SecretText>) -> Self {
        Self {
            name: name.into(),
            kind,
            value: value.into(),
        }
    }

    /// An explicit copy.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self {
            name: self.name.clone(),
            kind: self.kind,
            value: self.value.duplicate(),
        }
    }
}

impl From<String> for SecretText {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// Everything a user typed into one version of an item. Encrypted at rest as one unit.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct ItemData {
    /// The item's type.
    #[zeroize(skip)]
    pub kind: ItemKind,
    /// The title shown in lists.
    pub title: String,
    /// Standard and custom fields, in display order.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// Free-form notes; concealed like a secret. `null` reads as none, as `show --json` prints
    /// an item without notes.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub notes: SecretText,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The folder, if any (a `/`-separated path).
    #[serde(default)]
    pub folder: Option<String>,
    /// Marked as a favourite.
    #[serde(default)]
    #[zeroize(skip)]
    pub favourite: bool,
    /// Rotate the secret every this many days.
    #[serde(default)]
    #[zeroize(skip)]
    pub rotation_days: Option<u32>,
    /// The credential stops working at this Unix time.
    #[serde(default)]
    #[zeroize(skip)]
    pub expires_at: Option<i64>,
}

/// A missing value, read as empty (moved, not copied: no second copy of the secret).
fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<SecretText, D::Error> {
    Ok(Option::<SecretText>::deserialize(d)?.unwrap_or_default())
}

/// Limits on what one item may hold, so a bad import cannot bloat the vault.
pub mod limits {
    /// Longest title, in bytes.
    pub const TITLE: usize = 1024;
    /// Longest field name, in bytes.
    pub const FIELD_NAME: usize = 256;
    /// Longest single value (an RSA 4096 private key is about 3.3 KB), in bytes.
    pub const VALUE: usize = 64 * 1024;
    /// Most fields on one item.
    pub const FIELDS: usize = 500;
    /// Most tags on one item.
    pub const TAGS: usize = 64;
    /// Longest tag or folder path, in bytes.
    pub const TAG: usize = 256;
}

impl ItemData {
    /// A new, empty item of a kind with the given title.
    pub fn new(kind: ItemKind, title: impl Into<String>) -> Self {
        Self {
            kind,
            title: title.into(),
            fields: Vec::new(),
            notes: SecretText::default(),
            tags: Vec::new(),
            folder: None,
            favourite: false,
            rotation_days: None,
            expires_at: None,
        }
    }

    /// Builder-style: add a field.
    #[must_use]
    pub fn with_field(mut self, name: &str, kind: FieldKind, value: impl Into<SecretText>) -> Self {
        self.fields.push(Field::new(name, kind, value));
        self
    }

    /// The first field with this name (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Set a field's value, adding the field (with the kind's standard treatment, or `kind`)
    /// when it is missing.
    pub fn set_field(&mut self, name: &str, kind: FieldKind, value: SecretText) {
        if let Some(f) = self
            .fields
            .iter_mut()
            .find(|f| f.name.eq_ignore_ascii_case(name))
        {
            f.value = value;
        } else {
            self.fields.push(Field {
                name: name.to_owned(),
                kind,
                value,
            });
        }
    }

    /// The standard treatment of a field name for this item's kind, if it is a standard field.
    pub fn standard_kind(&self, name: &str) -> Option<FieldKind> {
        self.kind
            .template()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
    }

    /// The concealed values of this version, for telling whether a secret changed (rotation).
    pub fn secrets_equal(&self, other: &ItemData) -> bool {
        fn secrets(d: &ItemData) -> impl Iterator<Item = (&str, &str)> {
            d.fields
                .iter()
                .filter(|f| f.kind.is_secret())
                .map(|f| (f.name.as_str(), f.value.expose_secret()))
        }
        secrets(self).eq(secrets(other))
    }

    /// An explicit deep copy (each copy zeroizes itself on drop).
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self {
            kind: self.kind,
            title: self.title.clone(),
            fields: self.fields.iter().map(Field::duplicate).collect(),
            notes: self.notes.duplicate(),
            tags: self.tags.clone(),
            folder: self.folder.clone(),
            favourite: self.favourite,
            rotation_days: self.rotation_days,
            expires_at: self.expires_at,
        }
    }

    /// Check the limits and shapes a stored item must respect; the message names the problem.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.title.trim().is_empty() {
            return bad("the title is empty; give the item a name".into());
        }
        if self.title.len() > limits::TITLE {
            return bad(format!(
                "the title is {} bytes; the limit is {}",
                self.title.len(),
                limits::TITLE
            ));
        }
        if self.fields.len() > limits::FIELDS {
            return bad(format!(
                "{} fields; the limit is {}",
                self.fields.len(),
                limits::FIELDS
            ));
        }
        for f in &self.fields {
            if f.name.trim().is_empty() {
                return bad("a field has an empty name".into());
            }
            if f.name.len() > limits::FIELD_NAME {
                return bad(format!(
                    "field name {:?}... is longer than {} bytes",
                    truncate(&f.name, 20),
                    limits::FIELD_NAME
                ));
            }
            if f.value.expose_secret().len() > limits::VALUE {
                return bad(format!(
                    "the value of field {:?} is {} bytes, over the limit of {} KiB for one value",
                    f.name,
                    f.value.expose_secret().len(),
                    limits::VALUE / 1024
                ));
            }
            if self.kind == ItemKind::EnvSet && !is_env_name(&f.name) {
                return bad(format!(
                    "{:?} is not a valid environment variable name (letters, digits and _, not starting with a digit)",
                    f.name
                ));
            }
        }
        if self.notes.expose_secret().len() > limits::VALUE {
            return bad(format!(
                "the notes are {} bytes, over the limit of {} KiB for the notes",
                self.notes.expose_secret().len(),
                limits::VALUE / 1024
            ));
        }
        // An SSH key item holds a key `ssh-export` can write: checked on the way in, so a
        // truncated paste or an import of a damaged key is refused, not stored.
        if let Some(f) = self
            .field("private_key")
            .filter(|f| self.kind == ItemKind::SshKey && !f.value.is_empty())
        {
            crate::ssh::SshKey::check_openssh(f.value.expose_secret()).map_err(|e| {
                Error::Invalid(format!(
                    "the private_key of {:?} is not a usable OpenSSH private key: {e}",
                    self.title
                ))
            })?;
        }
        if self.tags.len() > limits::TAGS {
            return bad(format!(
                "{} tags; the limit is {}",
                self.tags.len(),
                limits::TAGS
            ));
        }
        for t in self.tags.iter().chain(self.folder.iter()) {
            if t.trim().is_empty() || t.len() > limits::TAG {
                return bad(format!(
                    "tag or folder {:?} must be 1 to {} bytes",
                    truncate(t, 20),
                    limits::TAG
                ));
            }
        }
        if self.rotation_days == Some(0) {
            return bad("a rotation policy must be at least 1 day".into());
        }
        Ok(())
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// True for a POSIX-style environment variable name.
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A stored, decrypted item: its data plus the metadata the store keeps in clear.
#[derive(Debug)]
pub struct Item {
    /// The id.
    pub id: ItemId,
    /// The current version (1 for a new item, +1 per edit).
    pub version: u64,
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time of the current version.
    pub updated_at: i64,
    /// Unix time the concealed values last changed (for rotation policies).
    pub secret_changed_at: i64,
    /// Unix time the item was moved to the trash, if it is there.
    pub trashed_at: Option<i64>,
    /// The decrypted content.
    pub data: ItemData,
}

impl Item {
    /// Days since the secret changed, if the item has a rotation policy that is overdue.
    pub fn rotation_overdue(&self, now: i64) -> Option<i64> {
        let policy = i64::from(self.data.rotation_days?);
        let age_days = (now - self.secret_changed_at) / 86_400;
        (age_days >= policy).then_some(age_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn debug_never_prints_values() {
        let d = ItemData::new(ItemKind::Login, "GitHub").with_field(
            "password",
            FieldKind::Concealed,
            "hunter2-canary",
        );
        assert!(!format!("{d:?}").contains("hunter2-canary"));
    }

    #[test]
    fn validation_names_the_problem() {
        let mut d = ItemData::new(ItemKind::EnvSet, "ci");
        d.fields.push(Field::new("1BAD", FieldKind::Concealed, "x"));
        assert!(d.validate().unwrap_err().to_string().contains("1BAD"));
        assert!(ItemData::new(ItemKind::Login, "  ").validate().is_err());
    }

    #[test]
    fn kinds_parse_from_names_and_aliases() {
        for k in ItemKind::ALL {
            assert_eq!(k.as_str().parse::<ItemKind>().unwrap(), k);
        }
        assert_eq!("SSH".parse::<ItemKind>().unwrap(), ItemKind::SshKey);
        assert!("bogus"
            .parse::<ItemKind>()
            .unwrap_err()
            .to_string()
            .contains("login"));
    }

    proptest! {
        #[test]
        fn id_round_trip(b in any::<[u8; 16]>()) {
            let id = ItemId(b);
            prop_assert_eq!(id.to_hex().parse::<ItemId>().unwrap(), id);
        }

        #[test]
        fn item_json_round_trip(title in "\\PC{1,40}", user in "\\PC{0,40}", pw in "\\PC{0,40}", tags in proptest::collection::vec("[a-z]{1,8}", 0..4)) {
            let mut d = ItemData::new(ItemKind::Login, title)
                .with_field("username", FieldKind::Text, user)
                .with_field("password", FieldKind::Concealed, pw);
            d.tags = tags;
            let json = serde_json::to_vec(&d).unwrap();
            let back: ItemData = serde_json::from_slice(&json).unwrap();
            prop_assert_eq!(back, d);
        }
    }
}
