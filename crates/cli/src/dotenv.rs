//! `NAME=value` files (dotenv style), as `add --env-file` and `run --template` read them.
use std::path::Path;

use anyhow::{Context, Result};
use tessera_core::item::{is_env_name, SecretText};
use zeroize::Zeroizing;

use crate::cmd::usage;

/// Read `NAME=value` lines. Blank lines and `#` comments are skipped, an `export ` prefix is
/// allowed, and one level of matching quotes around a value is removed. Names must be valid
/// environment variable names; errors name the file and line.
pub fn read(path: &Path) -> Result<Vec<(String, SecretText)>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return usage(format!("{}:{}: expected NAME=value", path.display(), n + 1));
        };
        let name = name.trim();
        if !is_env_name(name) {
            return usage(format!(
                "{}:{}: {name:?} is not a valid variable name",
                path.display(),
                n + 1
            ));
        }
        let v = value.trim();
        let v = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(a, b)| v.strip_prefix(*a).and_then(|x| x.strip_suffix(*b)))
            .unwrap_or(v);
        out.push((name.to_owned(), SecretText::from(v)));
    }
    Ok(out)
}
