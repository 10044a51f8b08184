-- 6: machine tokens and the group keys sealed to them.
CREATE TABLE machine_tokens (
    id BYTEA PRIMARY KEY,
    group_id BYTEA NOT NULL REFERENCES groups(id),
    team_id BYTEA NOT NULL REFERENCES teams(id),
    name BYTEA NOT NULL,
    name_epoch BIGINT NOT NULL,
    exchange_public BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_by BYTEA NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX machine_tokens_group ON machine_tokens(group_id);
CREATE TABLE token_keys (
    token_id BYTEA NOT NULL REFERENCES machine_tokens(id),
    epoch BIGINT NOT NULL,
    wrapped BYTEA NOT NULL,
    PRIMARY KEY (token_id, epoch)
);
