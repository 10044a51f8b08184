-- 2: certificates, groups, key epochs, memberships, group items.
ALTER TABLE accounts ADD COLUMN certificate BLOB;
CREATE TABLE groups (
    id BLOB PRIMARY KEY,
    team_id BLOB NOT NULL REFERENCES teams(id),
    epoch INTEGER NOT NULL,
    name BLOB NOT NULL,
    created_by BLOB NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX groups_team ON groups(team_id);
CREATE TABLE group_epochs (
    group_id BLOB NOT NULL REFERENCES groups(id),
    epoch INTEGER NOT NULL,
    prev BLOB NOT NULL,
    created_by BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, epoch)
) WITHOUT ROWID;
CREATE TABLE group_keys (
    group_id BLOB NOT NULL REFERENCES groups(id),
    account_id BLOB NOT NULL REFERENCES accounts(id),
    epoch INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    PRIMARY KEY (group_id, account_id, epoch)
) WITHOUT ROWID;
CREATE TABLE group_members (
    group_id BLOB NOT NULL REFERENCES groups(id),
    account_id BLOB NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    expires_at INTEGER,
    added_by BLOB NOT NULL,
    added_at INTEGER NOT NULL,
    removed_at INTEGER,
    PRIMARY KEY (group_id, account_id)
) WITHOUT ROWID;
CREATE INDEX group_members_account ON group_members(account_id);
CREATE TABLE group_items (
    group_id BLOB NOT NULL REFERENCES groups(id),
    item_id BLOB NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (group_id, item_id)
) WITHOUT ROWID;
CREATE INDEX group_items_seq ON group_items(group_id, seq);
CREATE INDEX group_items_item ON group_items(item_id);
CREATE TABLE group_item_versions (
    group_id BLOB NOT NULL REFERENCES groups(id),
    item_id BLOB NOT NULL,
    version INTEGER NOT NULL,
    team_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    blob BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, item_id, version)
) WITHOUT ROWID;
