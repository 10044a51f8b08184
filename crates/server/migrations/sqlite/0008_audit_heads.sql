-- 8: each team's newest audit entry in a row of its own, as PostgreSQL has kept it since 3, so
-- both backends append to the chain the same way. Filled from the log.
CREATE TABLE audit_heads (
    team_id BLOB PRIMARY KEY REFERENCES teams(id),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
) WITHOUT ROWID;
INSERT INTO audit_heads (team_id, seq, hash)
SELECT l.team_id, l.seq, l.hash FROM audit_log l
WHERE l.seq = (SELECT max(m.seq) FROM audit_log m WHERE m.team_id = l.team_id);
