-- 3: the audit chain (append-only).
CREATE TABLE audit_log (
    team_id BYTEA NOT NULL REFERENCES teams(id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor_kind SMALLINT NOT NULL,
    actor_id BYTEA,
    action TEXT NOT NULL,
    item_id BYTEA,
    group_id BYTEA,
    subject BYTEA,
    detail TEXT NOT NULL,
    prev BYTEA NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (team_id, seq)
);
CREATE INDEX audit_actor ON audit_log(team_id, actor_id, seq);
CREATE INDEX audit_item ON audit_log(team_id, item_id, seq);
CREATE INDEX audit_subject ON audit_log(team_id, subject, seq);
CREATE TABLE audit_heads (
    team_id BYTEA PRIMARY KEY REFERENCES teams(id),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
