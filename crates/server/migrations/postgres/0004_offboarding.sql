-- 4: offboarding.
CREATE TABLE offboarded (
    account_id BYTEA PRIMARY KEY REFERENCES accounts(id),
    at BIGINT NOT NULL,
    by_account BYTEA NOT NULL
);
