-- 11: each collection's newest manifest (an account's personal items, or a group's): the
-- item ids and versions a writer committed, authenticated by the writer, so a client can tell
-- which item a server left out. Only the newest is kept; the next must follow it.
CREATE TABLE manifests (
    collection BLOB PRIMARY KEY,
    seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    auth BLOB NOT NULL,
    signer BLOB
) WITHOUT ROWID;
