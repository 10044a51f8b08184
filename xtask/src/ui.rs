//! The UI's npm packages and build, and the check that a build leaves the clone as it was.
//!
//! The packages are installed with `npm ci`, which installs exactly what `ui/package-lock.json`
//! lists and never writes that file. The committed lock file therefore has to be complete: it
//! lists every optional platform package (esbuild's, rollup's and the Tauri CLI's builds for
//! each OS and CPU), as `npm install --package-lock-only` writes it, and not only the ones of
//! the machine that last wrote it. [`missing_optional_packages`] checks that.
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{ensure_packages, have};

/// Where a successful install leaves a copy of the lock file it installed and of npm's record
/// of what it installed, so the next build skips `npm ci` while both still match.
const STAMP_DIR: &str = "ui/node_modules/.tessera-install";

/// Install the UI's npm packages (the locked versions) and build it into `ui/dist`, which the
/// desktop app embeds; with `checks`, also run svelte-check and the component tests.
pub fn build_ui(checks: bool) -> Result<()> {
    if !have("npm") {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let lock = std::fs::read("ui/package-lock.json").context("reading ui/package-lock.json")?;
    let missing = missing_optional_packages(&lock)?;
    if !missing.is_empty() {
        bail!(
            "ui/package-lock.json lacks optional packages it should list: {}; regenerate it \
             with `npm install --package-lock-only` in ui/ and commit it",
            missing.join(", ")
        );
    }
    if !installed_matches(&lock) {
        npm(&["ci", "--no-audit", "--no-fund"])?;
        stamp(&lock)?;
    }
    if checks {
        npm(&["run", "check"])?;
        npm(&["test"])?;
    }
    npm(&["run", "build"])
}

/// True when the last successful `npm ci` installed this lock file and node_modules has not
/// changed since (npm's own record of it is the same).
fn installed_matches(lock: &[u8]) -> bool {
    let stamp = Path::new(STAMP_DIR);
    let read = |p: &Path| std::fs::read(p).ok();
    read(&stamp.join("package-lock.json")).is_some_and(|l| l == lock)
        && read(Path::new("ui/node_modules/.package-lock.json"))
            .is_some_and(|r| read(&stamp.join("installed.json")).is_some_and(|s| s == r))
}

fn stamp(lock: &[u8]) -> Result<()> {
    let stamp = Path::new(STAMP_DIR);
    std::fs::create_dir_all(stamp).with_context(|| format!("creating {STAMP_DIR}"))?;
    let record = std::fs::read("ui/node_modules/.package-lock.json")
        .context("reading npm's record of what it installed")?;
    std::fs::write(stamp.join("installed.json"), record)
        .and_then(|()| std::fs::write(stamp.join("package-lock.json"), lock))
        .with_context(|| format!("writing {STAMP_DIR}"))
}

/// The optional dependencies a lock file names but does not list as packages. `npm ci` leaves
/// those out, and an `npm install` with such a lock file adds them and rewrites the file.
pub fn missing_optional_packages(lock: &[u8]) -> Result<Vec<String>> {
    let lock: serde_json::Value =
        serde_json::from_slice(lock).context("ui/package-lock.json is not JSON")?;
    let packages = lock
        .get("packages")
        .and_then(serde_json::Value::as_object)
        .context("ui/package-lock.json has no \"packages\" (lockfileVersion 3 expected)")?;
    let mut missing = Vec::new();
    for (path, package) in packages {
        let Some(optional) = package
            .get("optionalDependencies")
            .and_then(serde_json::Value::as_object)
        else {
            continue;
        };
        for name in optional.keys() {
            if resolve(packages, path, name).is_none() {
                missing.push(format!("{name} (for {})", display_name(path)));
            }
        }
    }
    missing.sort();
    Ok(missing)
}

/// Node's lookup: `name` required from the package at `from` is found in the nearest
/// `node_modules` on the way up to the root.
fn resolve<'a>(
    packages: &'a serde_json::Map<String, serde_json::Value>,
    from: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    let mut dir = from;
    loop {
        let candidate = if dir.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{dir}/node_modules/{name}")
        };
        if let Some(p) = packages.get(&candidate) {
            return Some(p);
        }
        if dir.is_empty() {
            return None;
        }
        dir = dir.rfind("/node_modules/").map_or("", |i| &dir[..i]);
    }
}

fn display_name(path: &str) -> &str {
    if path.is_empty() {
        "the UI itself"
    } else {
        path.rsplit_once("node_modules/").map_or(path, |(_, n)| n)
    }
}

fn npm(args: &[&str]) -> Result<()> {
    let status = Command::new("npm")
        .args(args)
        .current_dir("ui")
        .status()
        .with_context(|| format!("running npm {}", args.join(" ")))?;
    if !status.success() {
        bail!("npm {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// `git status --porcelain` of the clone (tracked changes and untracked files not ignored), or
/// `None` outside a git checkout (a source archive).
pub fn work_tree_status() -> Option<std::collections::BTreeSet<String>> {
    let out = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    })
}

/// Fail when the clone shows changes it did not have at `before`: a build or a test wrote into
/// the work tree (a rewritten lock file, a file a test left behind). On CI's fresh clone
/// `before` is empty, so this is "`git status` is empty after `cargo xtask test`".
pub fn check_work_tree_unchanged(
    before: Option<&std::collections::BTreeSet<String>>,
) -> Result<()> {
    let (Some(before), Some(after)) = (before, work_tree_status()) else {
        return Ok(());
    };
    let new: Vec<&String> = after.difference(before).collect();
    if !new.is_empty() {
        bail!(
            "the build and the tests changed the work tree (`git status --porcelain`):\n{}\n\
             They must leave a clone as they found it: a generated file belongs in .gitignore \
             or in the target directory, and ui/package-lock.json must be complete (see \
             xtask/src/ui.rs)",
            new.iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `npm ci` installs what the lock file lists; a lock file without other platforms'
    /// optional packages makes `npm install` rewrite it (hundreds of added lines).
    #[test]
    fn the_committed_lock_file_lists_every_optional_platform_package() {
        let lock =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/package-lock.json"))
                .unwrap();
        assert_eq!(
            missing_optional_packages(&lock).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_lock_file_written_for_one_platform_only_is_caught() {
        let lock = serde_json::json!({"lockfileVersion": 3, "packages": {
            "": {"devDependencies": {"vite": "^7"}},
            "node_modules/vite": {"version": "7.3.8", "optionalDependencies": {"fsevents": "~2.3.3"}},
            "node_modules/esbuild": {"version": "0.28.2", "optionalDependencies": {
                "@esbuild/linux-x64": "0.28.2", "@esbuild/darwin-arm64": "0.28.2"}},
            "node_modules/@esbuild/linux-x64": {"version": "0.28.2", "optional": true},
            "node_modules/a/node_modules/b": {"optionalDependencies": {"fsevents": "*", "c": "*"}},
            "node_modules/a/node_modules/c": {"optional": true},
        }});
        let missing = missing_optional_packages(lock.to_string().as_bytes()).unwrap();
        assert_eq!(
            missing,
            vec![
                "@esbuild/darwin-arm64 (for esbuild)".to_owned(),
                "fsevents (for b)".to_owned(),
                "fsevents (for vite)".to_owned(),
            ]
        );
    }
}
