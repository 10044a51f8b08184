//! The subcommands. Each module parses its arguments into domain values and calls the agent or
//! the core; none holds logic the core should own.
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use tessera_core::generator::Setting;
use tessera_core::paths::VaultDir;

use crate::output::Output;

mod access_request;
mod audit;
mod export;
mod group;
mod items;
mod keys;
mod run;
mod team;
mod token;
mod vault;

/// Input that makes sense to clap but not to Tessera; exit code 7.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// How `tessera generate` names the generator's options in the hints of a refusal. The
/// character classes have no name: lowercase is always on here, so no refusal can ask to turn a
/// class on (`--no-upper` and the like only turn classes off).
pub fn generate_option(s: Setting) -> Option<&'static str> {
    match s {
        Setting::Length => Some("--length"),
        Setting::Words => Some("--words"),
        Setting::Separator => Some("--separator"),
        Setting::Capitalize => Some("--capitalize"),
        _ => None,
    }
}

/// Fail with a [`UsageError`].
pub fn usage<T>(message: impl Into<String>) -> Result<T> {
    Err(UsageError(message.into()).into())
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a new vault and print its Emergency Kit.
    Init(vault::InitArgs),
    /// Unlock the vault for this session (starts the agent).
    Unlock(vault::UnlockArgs),
    /// Lock the vault: keys and decrypted items leave memory, the agent exits.
    Lock,
    /// Show whether the vault is unlocked and what it holds.
    Status,
    /// Change the master password: the current one from the terminal, --password-file or
    /// --password-fd; the new one asked twice, or from --new-password-file or --new-password-fd.
    Passwd(vault::PasswdArgs),
    /// Add an item (each value and the notes hold up to 64 KiB).
    Add(items::AddArgs),
    /// Change an item (a new version; the old one stays in the history; values and notes up to
    /// 64 KiB each).
    Edit(items::EditArgs),
    /// Show an item (concealed values hidden unless --reveal).
    Show(items::ShowArgs),
    /// List items, sorted by title.
    List(items::FilterArgs),
    /// Fuzzy search: typos and abbreviations find the item.
    Search(items::SearchArgs),
    /// Move an item to the trash (or, with --purge, delete it from the trash for good).
    Rm(items::RmArgs),
    /// Take an item out of the trash, or make an old version current again.
    Restore(items::RestoreArgs),
    /// List an item's versions.
    History(items::ItemArg),
    /// Import an encrypted export or a JSON file of items (one transaction: all or nothing).
    Import(items::ImportArgs),
    /// Write every personal item, with history and trash, to a file encrypted under a passphrase.
    Export(export::ExportArgs),
    /// Generate a password or passphrase (printed, not stored).
    Generate(keys::GenerateArgs),
    /// Print the current TOTP code of an item.
    Totp(keys::TotpArgs),
    /// Generate an SSH key pair and store it as an item.
    SshKeygen(keys::SshKeygenArgs),
    /// Export an SSH key item in OpenSSH format.
    SshExport(keys::SshExportArgs),
    /// Store an existing OpenSSH private key file as an SSH key item.
    SshImport(keys::SshImportArgs),
    /// Run a command with secrets in its environment; nothing is written to disk.
    Run(run::RunArgs),
    /// Render a template with secrets to standard output.
    Inject(run::InjectArgs),
    /// Team server: create a team, invite, join.
    #[command(subcommand)]
    Team(team::TeamCommand),
    /// Sign in on a new device (builds this device's vault from the team server).
    Login(team::LoginArgs),
    /// Sign this device out of the team server (the local vault stays).
    Logout,
    /// Exchange changes with the team server now.
    Sync,
    /// List the account's signed-in devices, or sign one out.
    Devices(team::DevicesArgs),
    /// The TOTP second factor for the team server account.
    #[command(subcommand)]
    Mfa(team::MfaCommand),
    /// Groups: create, list, members, add, remove, role.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Move a personal item into a group (it syncs to every member).
    Share(group::ShareArgs),
    /// Move a shared item out of a group, back into your personal items.
    Unshare(group::UnshareArgs),
    /// Machine tokens for CI: create, list, revoke (group admins).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Who can decrypt an item: through which group and role, until when.
    Access {
        /// The item (title or id).
        item: String,
    },
    /// The team's audit log (team admins): filter it, or `audit verify` its hash chain.
    Audit(audit::AuditArgs),
    /// The offboarding review of a member (team admins); `--revoke` ends their access.
    Offboard(audit::OffboardArgs),
    /// Items overdue under their rotation policy, personal and shared.
    Rotation(audit::RotationArgs),
    /// Ask a group's admins for time-boxed access to the group.
    RequestAccess(access_request::RequestArgs),
    /// Access requests: pending ones of groups you administer, and your own with their status.
    Requests,
    /// Approve an access request (group admins).
    Approve(access_request::ApproveArgs),
    /// Deny an access request (group admins).
    Deny {
        /// The request (its id or first characters, from `tessera requests`).
        request: String,
    },
    /// Serve the agent in the foreground (started by `tessera unlock`).
    #[command(hide = true)]
    Agent(vault::AgentArgs),
}

/// Run one subcommand.
pub fn run(command: Command, dir: &VaultDir, out: &Output) -> Result<ExitCode> {
    match command {
        Command::Init(a) => vault::init(&a, dir, out),
        Command::Unlock(a) => vault::unlock(&a, dir, out),
        Command::Lock => vault::lock(dir, out),
        Command::Status => vault::status(dir, out),
        Command::Passwd(a) => vault::passwd(&a, dir, out),
        Command::Add(a) => items::add(&a, dir, out),
        Command::Edit(a) => items::edit(&a, dir, out),
        Command::Show(a) => items::show(&a, dir, out),
        Command::List(a) => items::list(&a, dir, out),
        Command::Search(a) => items::search(&a, dir, out),
        Command::Rm(a) => items::rm(&a, dir, out),
        Command::Restore(a) => items::restore(&a, dir, out),
        Command::History(a) => items::history(&a, dir, out),
        Command::Import(a) => items::import(&a, dir, out),
        Command::Export(a) => export::export(&a, dir, out),
        Command::Generate(a) => keys::generate(&a, out),
        Command::Totp(a) => keys::totp(&a, dir, out),
        Command::SshKeygen(a) => keys::ssh_keygen(&a, dir, out),
        Command::SshExport(a) => keys::ssh_export(&a, dir, out),
        Command::SshImport(a) => keys::ssh_import(&a, dir, out),
        Command::Run(a) => run::run(&a, dir, out),
        Command::Inject(a) => run::inject(&a, dir, out),
        Command::Agent(a) => vault::agent(&a, dir),
        Command::Team(c) => team::team(c, dir, out),
        Command::Login(a) => team::login(&a, dir, out),
        Command::Logout => team::logout(dir, out),
        Command::Sync => team::sync(dir, out),
        Command::Devices(a) => team::devices(&a, dir, out),
        Command::Mfa(c) => team::mfa(&c, dir, out),
        Command::Group(c) => group::group(c, dir, out),
        Command::Share(a) => group::share(&a, dir, out),
        Command::Unshare(a) => group::unshare(&a, dir, out),
        Command::Access { item } => group::access(&item, dir, out),
        Command::Audit(a) => audit::audit(&a, dir, out),
        Command::Offboard(a) => audit::offboard(&a, dir, out),
        Command::Rotation(a) => audit::rotation(&a, dir, out),
        Command::RequestAccess(a) => access_request::request(&a, dir, out),
        Command::Requests => access_request::list(dir, out),
        Command::Approve(a) => access_request::approve(&a, dir, out),
        Command::Deny { request } => access_request::deny(&request, dir, out),
        Command::Token(c) => token::token(c, dir, out),
    }
    .map(|code| code.unwrap_or(ExitCode::SUCCESS))
}
