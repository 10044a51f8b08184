-- 1: teams, accounts, sessions, invitations, login throttling, second factor, items.
CREATE TABLE server_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE teams (
    id BLOB PRIMARY KEY,
    root_public BLOB NOT NULL,
    require_mfa INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE accounts (
    id BLOB PRIMARY KEY,
    team_id BLOB NOT NULL REFERENCES teams(id),
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    auth_hash TEXT NOT NULL,
    kdf_memory_kib INTEGER NOT NULL,
    kdf_iterations INTEGER NOT NULL,
    kdf_parallelism INTEGER NOT NULL,
    kdf_salt BLOB NOT NULL,
    exchange_public BLOB NOT NULL,
    signing_public BLOB NOT NULL,
    header BLOB NOT NULL,
    wrapped_keyset BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    mfa_secret BLOB,
    mfa_enabled INTEGER NOT NULL DEFAULT 0,
    mfa_last_step INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX accounts_team ON accounts(team_id);
CREATE TABLE recovery_codes (
    account_id BLOB NOT NULL REFERENCES accounts(id),
    code_hash BLOB NOT NULL,
    PRIMARY KEY (account_id, code_hash)
) WITHOUT ROWID;
CREATE TABLE sessions (
    id BLOB PRIMARY KEY,
    account_id BLOB NOT NULL REFERENCES accounts(id),
    token_hash BLOB NOT NULL UNIQUE,
    device_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_account ON sessions(account_id);
CREATE TABLE invites (
    token_hash BLOB PRIMARY KEY,
    team_id BLOB NOT NULL REFERENCES teams(id),
    email TEXT NOT NULL,
    created_by BLOB NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
) WITHOUT ROWID;
CREATE TABLE login_addresses (
    address TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE items (
    account_id BLOB NOT NULL REFERENCES accounts(id),
    item_id BLOB NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (account_id, item_id)
) WITHOUT ROWID;
CREATE INDEX items_account_seq ON items(account_id, seq);
CREATE TABLE item_versions (
    account_id BLOB NOT NULL REFERENCES accounts(id),
    item_id BLOB NOT NULL,
    version INTEGER NOT NULL,
    team_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    blob BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, item_id, version)
) WITHOUT ROWID;
