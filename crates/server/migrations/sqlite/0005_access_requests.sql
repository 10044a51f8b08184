-- 5: just-in-time access requests.
CREATE TABLE access_requests (
    id BLOB PRIMARY KEY,
    team_id BLOB NOT NULL REFERENCES teams(id),
    group_id BLOB NOT NULL REFERENCES groups(id),
    requester BLOB NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    duration_secs INTEGER NOT NULL,
    reasons BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by BLOB REFERENCES accounts(id),
    decision TEXT,
    granted_role TEXT,
    granted_until INTEGER
) WITHOUT ROWID;
CREATE INDEX access_requests_group ON access_requests(group_id, requester);
CREATE INDEX access_requests_requester ON access_requests(requester);
