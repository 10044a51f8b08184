-- 4: offboarding.
CREATE TABLE offboarded (
    account_id BLOB PRIMARY KEY REFERENCES accounts(id),
    at INTEGER NOT NULL,
    by_account BLOB NOT NULL
) WITHOUT ROWID;
