-- 7: share expiry.
CREATE TABLE share_expiry (
    group_id BLOB NOT NULL REFERENCES groups(id),
    item_id BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, item_id)
) WITHOUT ROWID;
