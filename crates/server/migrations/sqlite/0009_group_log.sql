-- 9: group logs: each group's signed membership entries, appended in the transaction of
-- the change they record.
CREATE TABLE group_log (
    group_id BLOB NOT NULL REFERENCES groups(id),
    seq INTEGER NOT NULL,
    entry BLOB NOT NULL,
    signature BLOB NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (group_id, seq)
) WITHOUT ROWID;
