//! `cargo xtask dist [--debug]`: the Linux packages, copied to `<target>/dist/`.
//!
//! * The desktop app, a .deb and an .rpm, each holding the app (`/usr/bin/tessera-app`, its
//!   desktop entry and icons) and the CLI (`/usr/bin/tessera`), built by Tauri's bundler with
//!   `installers/desktop/linux.json` on top of `src-tauri/tauri.conf.json`.
//! * The team server, a .deb made with `dpkg-deb`: `/usr/bin/tessera-server`, its systemd unit
//!   and system user, and the example configuration as `/etc/tessera/server.toml` (a conffile).
//!
//! `--debug` packages the debug build the tests already made (what CI installs and starts);
//! without it, release builds (what ships, and what `docs/PERFORMANCE.md` measures).
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{build_ui, cargo, ensure_packages, step, target_dir, APP_PACKAGES};

/// The packages one run made.
pub struct Packages {
    pub deb: PathBuf,
    pub rpm: PathBuf,
    pub server_deb: PathBuf,
}

pub fn dist(args: &[String]) -> Result<Packages> {
    let debug = match args {
        [] => false,
        [flag] if flag == "--debug" => true,
        _ => bail!("usage: cargo xtask dist [--debug]"),
    };
    ensure_packages(APP_PACKAGES)?;
    step("UI", || build_ui(false))?;
    let profile = if debug { "debug" } else { "release" };
    // Every binary of the workspace, as the tests build them: building only some packages
    // would resolve other dependency features and compile much of the tree a second time.
    step("the CLI and the server", || {
        let mut a = vec!["build", "--workspace", "--bins"];
        if !debug {
            a.push("--release");
        }
        cargo(&a)
    })?;
    // Absolute: the bundler runs in src-tauri/.
    let target = std::env::current_dir()?.join(target_dir());
    let out = target.join(profile);
    let cli = out.join("tessera");
    let dist_dir = target.join("dist");
    std::fs::create_dir_all(&dist_dir)
        .with_context(|| format!("creating {}", dist_dir.display()))?;

    // The CLI's place in both packages needs an absolute path (the target directory can be
    // anywhere), so this part of the configuration is written per run. The UI is built above:
    // the configured beforeBuildCommand is dropped (null removes a key in a merge patch).
    let generated = dist_dir.join("tauri.dist.json");
    let files = serde_json::json!({ "/usr/bin/tessera": cli });
    let config = serde_json::json!({
        "build": { "beforeBuildCommand": null },
        "bundle": { "linux": { "deb": { "files": files }, "rpm": { "files": files } } }
    });
    std::fs::write(&generated, serde_json::to_vec_pretty(&config)?)
        .with_context(|| format!("writing {}", generated.display()))?;

    step("desktop packages (.deb, .rpm)", || {
        let tauri = Path::new("ui/node_modules/.bin/tauri")
            .canonicalize()
            .context("the Tauri CLI is missing from ui/node_modules")?;
        let mut cmd = Command::new(tauri);
        cmd.current_dir("src-tauri").arg("build");
        if debug {
            cmd.arg("--debug");
        }
        cmd.args(["--ci", "--bundles", "deb,rpm"])
            .args(["--config", "../installers/desktop/linux.json", "--config"])
            .arg(&generated)
            .args(["--", "--workspace"])
            .env("CARGO_TARGET_DIR", &target);
        let status = cmd.status().context("running tauri build")?;
        if !status.success() {
            bail!("tauri build failed ({status})");
        }
        Ok(())
    })?;

    let version = env!("CARGO_PKG_VERSION");
    let deb = copy_bundle(
        &out.join(format!("bundle/deb/Tessera_{version}_amd64.deb")),
        &dist_dir,
    )?;
    let rpm = copy_bundle(
        &out.join(format!("bundle/rpm/Tessera-{version}-1.x86_64.rpm")),
        &dist_dir,
    )?;
    let server_deb = step("server package (.deb)", || server_deb(&out, &dist_dir))?;
    for p in [&deb, &rpm, &server_deb] {
        let size = std::fs::metadata(p)?.len();
        eprintln!("==> {} ({:.2} MB)", p.display(), size as f64 / 1_000_000.0);
    }
    Ok(Packages {
        deb,
        rpm,
        server_deb,
    })
}

/// `tessera-server_<version>_<arch>.deb`, from the binary in `out` and `installers/server/`.
fn server_deb(out: &Path, dist_dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let version = env!("CARGO_PKG_VERSION");
    let arch = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .context("running dpkg --print-architecture")?;
    let arch = String::from_utf8(arch.stdout)?.trim().to_owned();
    let root = dist_dir.join("tessera-server-root");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let files: [(&Path, &str, u32); 4] = [
        (&out.join("tessera-server"), "usr/bin/tessera-server", 0o755),
        (
            Path::new("installers/server/tessera-server.service"),
            "usr/lib/systemd/system/tessera-server.service",
            0o644,
        ),
        (
            Path::new("installers/server/tessera-server.sysusers"),
            "usr/lib/sysusers.d/tessera-server.conf",
            0o644,
        ),
        (
            Path::new("installers/server/tessera-server.toml"),
            "etc/tessera/server.toml",
            0o644,
        ),
    ];
    for (from, to, mode) in files {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().context("a packaged file has a directory")?)?;
        std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))?;
    }
    let installed_kib = dir_size(&root)? / 1024;
    let debian = root.join("DEBIAN");
    std::fs::create_dir_all(&debian)?;
    let control = format!(
        "Package: tessera-server\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: Tessera <tessera@example.invalid>\n\
         Installed-Size: {installed_kib}\n\
         Depends: libc6\n\
         Section: net\n\
         Priority: optional\n\
         Homepage: https://example.invalid/tessera\n\
         Description: Tessera team server\n \
         The self-hosted server of Tessera, the credential manager for DevOps teams: accounts,\n \
         groups and end-to-end encrypted sync on SQLite or PostgreSQL. It never holds a key\n \
         that decrypts what users store. See /etc/tessera/server.toml and the systemd unit\n \
         tessera-server.service.\n"
    );
    std::fs::write(debian.join("control"), control)?;
    std::fs::write(debian.join("conffiles"), "/etc/tessera/server.toml\n")?;
    // The system user, and systemd told about the unit; the service is not started: it serves
    // once its configuration is reviewed (`systemctl enable --now tessera-server`).
    let postinst = "#!/bin/sh\nset -e\n\
        if [ \"$1\" = configure ]; then\n\
        \tif command -v systemd-sysusers >/dev/null; then systemd-sysusers tessera-server.conf; fi\n\
        \tif [ -d /run/systemd/system ]; then systemctl daemon-reload; fi\n\
        fi\n";
    let postrm = "#!/bin/sh\nset -e\n\
        if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi\n";
    for (name, text) in [("postinst", postinst), ("postrm", postrm)] {
        let p = debian.join(name);
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    }
    let deb = dist_dir.join(format!("tessera-server_{version}_{arch}.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb)
        .status()
        .context("running dpkg-deb")?;
    if !status.success() {
        bail!("dpkg-deb --build failed ({status})");
    }
    Ok(deb)
}

fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

fn copy_bundle(built: &Path, dist_dir: &Path) -> Result<PathBuf> {
    let name = built.file_name().context("a bundle has a file name")?;
    let to = dist_dir.join(name);
    std::fs::copy(built, &to).with_context(|| {
        format!(
            "copying {} (did the bundler name it differently?)",
            built.display()
        )
    })?;
    Ok(to)
}
