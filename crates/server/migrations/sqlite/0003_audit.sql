-- 3: the audit chain (append-only).
CREATE TABLE audit_log (
    team_id BLOB NOT NULL REFERENCES teams(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor_kind INTEGER NOT NULL,
    actor_id BLOB,
    action TEXT NOT NULL,
    item_id BLOB,
    group_id BLOB,
    subject BLOB,
    detail TEXT NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (team_id, seq)
) WITHOUT ROWID;
CREATE INDEX audit_actor ON audit_log(team_id, actor_id, seq);
CREATE INDEX audit_item ON audit_log(team_id, item_id, seq);
CREATE INDEX audit_subject ON audit_log(team_id, subject, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
