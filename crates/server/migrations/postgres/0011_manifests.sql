-- 11: each collection's newest manifest (an account's personal items, or a group's): the
-- item ids and versions a writer committed, authenticated by the writer, so a client can tell
-- which item a server left out. Only the newest is kept; the next must follow it.
CREATE TABLE manifests (
    collection BYTEA PRIMARY KEY,
    seq BIGINT NOT NULL,
    body BYTEA NOT NULL,
    auth BYTEA NOT NULL,
    signer BYTEA
);
