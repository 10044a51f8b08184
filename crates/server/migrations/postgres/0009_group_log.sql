-- 9: group logs: each group's signed membership entries, appended in the transaction of
-- the change they record.
CREATE TABLE group_log (
    group_id BYTEA NOT NULL REFERENCES groups(id),
    seq BIGINT NOT NULL,
    entry BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (group_id, seq)
);
