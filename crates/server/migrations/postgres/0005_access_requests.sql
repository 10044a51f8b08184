-- 5: just-in-time access requests.
CREATE TABLE access_requests (
    id BYTEA PRIMARY KEY,
    team_id BYTEA NOT NULL REFERENCES teams(id),
    group_id BYTEA NOT NULL REFERENCES groups(id),
    requester BYTEA NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    duration_secs BIGINT NOT NULL,
    reasons BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by BYTEA REFERENCES accounts(id),
    decision TEXT,
    granted_role TEXT,
    granted_until BIGINT
);
CREATE INDEX access_requests_group ON access_requests(group_id, requester);
CREATE INDEX access_requests_requester ON access_requests(requester);
