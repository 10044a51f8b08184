//! `tessera://VAULT/ITEM/FIELD` references, as `run --env`, env files and `inject` templates
//! hold them.
//!
//! A reference has three segments, so one inside a URL ends unambiguously
//! (`postgres://u:tessera://personal/db/password@host/orders`). VAULT is `personal` for the
//! local vault (or a group, with a machine token); ITEM an item id, id prefix or title; FIELD a
//! field name (or `notes`).
//!
//! How a reference ends:
//! * Written bare, ITEM runs to the next `/` and may hold spaces and most punctuation
//!   (`tessera://personal/AWS root/totp`); VAULT and FIELD are letters, digits, `-._~%` and end
//!   at anything else (a space, a quote, `@`, a `/`, a final `.`).
//! * Between `{{` and `}}` (`{{ tessera://personal/AWS root/one-time code }}`), the reference is
//!   everything up to `}}`, spaces around it ignored, so FIELD may hold spaces too and the
//!   reference may touch the text after it. The braces are replaced with the value.
//!
//! In every segment `/` is written `%2F` and `%` is written `%25` (any `%XX` is decoded), so
//! a title `CI/CD 100%` is `tessera://personal/CI%2FCD 100%25/password`. Every reference that
//! parsed before spaces were allowed parses the same way now: a space used to end ITEM, which
//! left two segments and was refused.
use std::ops::Range;

use anyhow::Result;

use crate::cmd::{usage, UsageError};

/// What every reference starts with.
pub const SCHEME: &str = "tessera://";

const FORM: &str =
    "the form is tessera://VAULT/ITEM/FIELD, e.g. tessera://personal/AWS root/totp; \
                    write / in a title as %2F and % as %25";

/// A parsed `tessera://VAULT/ITEM/FIELD` reference.
#[derive(Debug, PartialEq, Eq, Hash, Clone)]
pub struct Reference {
    /// `personal`, or a group's name or id.
    pub vault: String,
    /// An item id, id prefix or title.
    pub item: String,
    /// A field name, or `notes`.
    pub field: String,
}

/// Characters of a bare VAULT or FIELD segment.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%".contains(c)
}

/// Characters of a bare ITEM segment: anything a title holds but `/`, control characters, and
/// the quotes and brackets a reference is commonly written between.
fn is_item_char(c: char) -> bool {
    !(c == '/' || c.is_control() || "\"'`<>{}".contains(c))
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return usage(format!(
                    "bad percent-escape in reference segment {s:?}: write % as %25 (and / as %2F)"
                ));
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| UsageError(format!("reference {s:?} is not UTF-8 after decoding")).into())
}

impl Reference {
    /// The reference from its three raw (still percent-encoded) segments.
    pub fn parse(vault: &str, item: &str, field: &str) -> Result<Self> {
        if vault.is_empty() || item.trim().is_empty() || field.trim().is_empty() {
            return usage(format!(
                "{SCHEME}{vault}/{item}/{field} has an empty segment; {FORM}"
            ));
        }
        Ok(Self {
            vault: percent_decode(vault)?,
            item: percent_decode(item)?,
            field: percent_decode(field)?,
        })
    }
}

/// The length of the longest prefix of `s` whose characters pass `ok`.
fn span(s: &str, ok: impl Fn(char) -> bool) -> usize {
    s.find(|c: char| !ok(c)).unwrap_or(s.len())
}

/// A bare reference whose body (after the scheme) starts `body`: the reference and the body's
/// length.
fn bare(body: &str) -> Result<(Reference, usize)> {
    let not_one = || {
        let shown = &body[..span(body, |c| !c.is_whitespace() && !"\"'`<>".contains(c))];
        usage(format!("{SCHEME}{shown} is not a reference; {FORM}"))
    };
    let vault_len = span(body, is_name_char);
    let rest = &body[vault_len..];
    let Some(rest) = rest.strip_prefix('/') else {
        return not_one();
    };
    let item_len = span(rest, is_item_char);
    let Some(after) = rest[item_len..].strip_prefix('/') else {
        return not_one();
    };
    let field = &after[..span(after, is_name_char)];
    let field = field.trim_end_matches('.');
    let r = Reference::parse(&body[..vault_len], &rest[..item_len], field)?;
    Ok((r, vault_len + 1 + item_len + 1 + field.len()))
}

/// A reference between `{{` and `}}`; `inner` starts at the scheme. The reference and how far
/// past the scheme's start the closing `}}` ends.
fn delimited(inner: &str) -> Result<(Reference, usize)> {
    let Some(close) = inner.find("}}") else {
        let line = inner.lines().next().unwrap_or_default();
        return usage(format!("{{{{ {line} has no closing }}}}; {FORM}"));
    };
    let body = inner[SCHEME.len()..close].trim_end();
    let mut segments = body.splitn(3, '/');
    let (Some(vault), Some(item), Some(field)) =
        (segments.next(), segments.next(), segments.next())
    else {
        return usage(format!("{SCHEME}{body} is not a reference; {FORM}"));
    };
    if field.contains('/') {
        return usage(format!(
            "{SCHEME}{body} has more than three segments; {FORM}"
        ));
    }
    Ok((Reference::parse(vault, item, field)?, close + 2))
}

/// The references in `text`, each with the byte range it replaces.
pub fn references(text: &str) -> Result<Vec<(Range<usize>, Reference)>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(SCHEME) {
        let start = from + pos;
        let before = text[from..start].trim_end_matches([' ', '\t']);
        let (range, r) = if let Some(open) = before.strip_suffix("{{") {
            let (r, len) = delimited(&text[start..])?;
            (from + open.len()..start + len, r)
        } else {
            let body_start = start + SCHEME.len();
            let (r, len) = bare(&text[body_start..])?;
            (start..body_start + len, r)
        };
        from = range.end;
        out.push((range, r));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "../../../../../tests/fuzz/support.rs"]
mod fuzz;

/// Fuzzing (see `tests/fuzz/support.rs`): any text, env file or `inject` template, never a
/// panic; every reference found lies at character boundaries, in order, and parses alone to
/// the same reference.
#[cfg(test)]
mod fuzz_targets {
    use proptest::prelude::*;

    use super::{fuzz, references};

    pub(super) fn references_in(text: &str) {
        let Ok(found) = references(text) else {
            return;
        };
        let mut end = 0;
        for (range, r) in found {
            assert!(range.start >= end, "references overlap in {text:?}");
            end = range.end;
            let piece = text
                .get(range.clone())
                .expect("a reference lies at char boundaries");
            assert!(
                piece.starts_with("tessera://") || piece.starts_with("{{"),
                "{piece:?}"
            );
            let alone = references(piece).expect("a reference found parses alone");
            assert_eq!(alone, vec![(0..piece.len(), r)], "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn references_and_templates(s in fuzz::text("references", Vec::new())) {
            references_in(&s);
        }
    }

    #[test]
    fn the_corpus_runs_clean() {
        let corpus = fuzz::corpus("references");
        assert!(!corpus.is_empty());
        for b in corpus {
            references_in(&String::from_utf8_lossy(&b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (String, Reference) {
        let r = references(text).unwrap();
        assert_eq!(r.len(), 1, "{text}");
        let (range, reference) = r.into_iter().next().unwrap();
        (text[range].to_owned(), reference)
    }

    fn r(vault: &str, item: &str, field: &str) -> Reference {
        Reference {
            vault: vault.into(),
            item: item.into(),
            field: field.into(),
        }
    }

    #[test]
    fn references_are_found_and_decoded() {
        let text = "url=postgres://u:tessera://personal/Prod%20DB/password@tessera://personal/db/host/orders tessera://personal/abc/token.";
        let found = references(text).unwrap();
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].1, r("personal", "Prod DB", "password"));
        assert_eq!(found[1].1, r("personal", "db", "host"));
        assert_eq!(&text[found[1].0.end..found[1].0.end + 7], "/orders");
        assert_eq!(found[2].1, r("personal", "abc", "token"));
        assert!(references("x tessera://personal/only-item y")
            .unwrap_err()
            .to_string()
            .contains("tessera://VAULT/ITEM/FIELD"));
        assert_eq!(references("tessera://ops/i/f").unwrap()[0].1.vault, "ops");
    }

    #[test]
    fn titles_hold_spaces_as_written() {
        assert_eq!(
            one("tessera://personal/AWS root/totp"),
            (
                "tessera://personal/AWS root/totp".into(),
                r("personal", "AWS root", "totp")
            )
        );
        assert_eq!(
            one("  password: \"tessera://personal/Orders DB (prod)/password\"\n").1,
            r("personal", "Orders DB (prod)", "password")
        );
        assert_eq!(
            one("postgres://app:tessera://personal/Orders DB/password@db/orders").0,
            "tessera://personal/Orders DB/password"
        );
        // `/` and `%` in a title are escaped.
        assert_eq!(
            one("tessera://personal/CI%2FCD 100%25/password").1,
            r("personal", "CI/CD 100%", "password")
        );
        let e = references("tessera://personal/100% sure/password").unwrap_err();
        assert!(e.to_string().contains("%25"), "{e}");
        // A space with no second `/` on the line is still no reference, and says the form.
        let e = references("see tessera://personal/AWS root for this").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("tessera://personal/AWS is not a reference")
                && e.to_string().contains("%2F"),
            "{e}"
        );
    }

    #[test]
    fn braces_delimit_a_reference_with_spaces_anywhere() {
        assert_eq!(
            one("code={{ tessera://personal/AWS root/one-time code }}!"),
            (
                "{{ tessera://personal/AWS root/one-time code }}".into(),
                r("personal", "AWS root", "one-time code")
            )
        );
        assert_eq!(
            one("{{tessera://personal/db/password}}suffix").0,
            "{{tessera://personal/db/password}}"
        );
        // Other `{{ }}` (Helm, Jinja) are left alone.
        assert!(references("{{ .Values.image }}").unwrap().is_empty());
        assert!(references("{{ tessera://personal/db/password")
            .unwrap_err()
            .to_string()
            .contains("no closing }}"));
        assert!(references("{{ tessera://personal/a/b/c }}")
            .unwrap_err()
            .to_string()
            .contains("more than three"));
    }
}
