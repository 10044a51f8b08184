-- 6: machine tokens and the group keys sealed to them.
CREATE TABLE machine_tokens (
    id BLOB PRIMARY KEY,
    group_id BLOB NOT NULL REFERENCES groups(id),
    team_id BLOB NOT NULL REFERENCES teams(id),
    name BLOB NOT NULL,
    name_epoch INTEGER NOT NULL,
    exchange_public BLOB NOT NULL,
    signature BLOB NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_by BLOB NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX machine_tokens_group ON machine_tokens(group_id);
CREATE TABLE token_keys (
    token_id BLOB NOT NULL REFERENCES machine_tokens(id),
    epoch INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    PRIMARY KEY (token_id, epoch)
) WITHOUT ROWID;
