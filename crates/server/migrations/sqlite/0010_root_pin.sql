-- 10: each account's signed pin of its team root key, checked by a new device at login.
ALTER TABLE accounts ADD COLUMN root_pin BLOB;
