-- 12: each machine token's pin: what its creating admin's client tagged under a key only the
-- token's secret derives (the team root, the key sealed to it, the group's log and manifest
-- positions then). The server keeps and serves it; it cannot make one.
ALTER TABLE machine_tokens ADD COLUMN pin BYTEA;
