-- 1: teams, accounts, sessions, invitations, login throttling, second factor, items.
CREATE TABLE server_meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE teams (
    id BYTEA PRIMARY KEY,
    root_public BYTEA NOT NULL,
    require_mfa BOOLEAN NOT NULL DEFAULT FALSE,
    seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE TABLE accounts (
    id BYTEA PRIMARY KEY,
    team_id BYTEA NOT NULL REFERENCES teams(id),
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    auth_hash TEXT NOT NULL,
    kdf_memory_kib BIGINT NOT NULL,
    kdf_iterations BIGINT NOT NULL,
    kdf_parallelism BIGINT NOT NULL,
    kdf_salt BYTEA NOT NULL,
    exchange_public BYTEA NOT NULL,
    signing_public BYTEA NOT NULL,
    header BYTEA NOT NULL,
    wrapped_keyset BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    mfa_secret BYTEA,
    mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    mfa_last_step BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX accounts_team ON accounts(team_id);
CREATE TABLE recovery_codes (
    account_id BYTEA NOT NULL REFERENCES accounts(id),
    code_hash BYTEA NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);
CREATE TABLE sessions (
    id BYTEA PRIMARY KEY,
    account_id BYTEA NOT NULL REFERENCES accounts(id),
    token_hash BYTEA NOT NULL UNIQUE,
    device_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE TABLE invites (
    token_hash BYTEA PRIMARY KEY,
    team_id BYTEA NOT NULL REFERENCES teams(id),
    email TEXT NOT NULL,
    created_by BYTEA NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE TABLE login_addresses (
    address TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL
);
CREATE TABLE items (
    account_id BYTEA NOT NULL REFERENCES accounts(id),
    item_id BYTEA NOT NULL,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    blob BYTEA NOT NULL,
    PRIMARY KEY (account_id, item_id)
);
CREATE INDEX items_account_seq ON items(account_id, seq);
CREATE TABLE item_versions (
    account_id BYTEA NOT NULL REFERENCES accounts(id),
    item_id BYTEA NOT NULL,
    version BIGINT NOT NULL,
    team_id BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    blob BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, item_id, version)
);
