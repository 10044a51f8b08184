-- 2: certificates, groups, key epochs, memberships, group items.
ALTER TABLE accounts ADD COLUMN certificate BYTEA;
CREATE TABLE groups (
    id BYTEA PRIMARY KEY,
    team_id BYTEA NOT NULL REFERENCES teams(id),
    epoch BIGINT NOT NULL,
    name BYTEA NOT NULL,
    created_by BYTEA NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX groups_team ON groups(team_id);
CREATE TABLE group_epochs (
    group_id BYTEA NOT NULL REFERENCES groups(id),
    epoch BIGINT NOT NULL,
    prev BYTEA NOT NULL,
    created_by BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, epoch)
);
CREATE TABLE group_keys (
    group_id BYTEA NOT NULL REFERENCES groups(id),
    account_id BYTEA NOT NULL REFERENCES accounts(id),
    epoch BIGINT NOT NULL,
    wrapped BYTEA NOT NULL,
    PRIMARY KEY (group_id, account_id, epoch)
);
CREATE TABLE group_members (
    group_id BYTEA NOT NULL REFERENCES groups(id),
    account_id BYTEA NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    expires_at BIGINT,
    added_by BYTEA NOT NULL,
    added_at BIGINT NOT NULL,
    removed_at BIGINT,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_account ON group_members(account_id);
CREATE TABLE group_items (
    group_id BYTEA NOT NULL REFERENCES groups(id),
    item_id BYTEA NOT NULL,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    blob BYTEA NOT NULL,
    PRIMARY KEY (group_id, item_id)
);
CREATE INDEX group_items_seq ON group_items(group_id, seq);
CREATE INDEX group_items_item ON group_items(item_id);
CREATE TABLE group_item_versions (
    group_id BYTEA NOT NULL REFERENCES groups(id),
    item_id BYTEA NOT NULL,
    version BIGINT NOT NULL,
    team_id BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    blob BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, item_id, version)
);
