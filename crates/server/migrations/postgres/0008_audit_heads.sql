-- 8: nothing to do here: SQLite gains the audit_heads table that PostgreSQL has kept since 3.
-- (Both backends keep the same numbered schema, which backups record.)
SELECT 1;
