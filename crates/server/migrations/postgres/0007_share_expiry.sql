-- 7: share expiry.
CREATE TABLE share_expiry (
    group_id BYTEA NOT NULL REFERENCES groups(id),
    item_id BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, item_id)
);
