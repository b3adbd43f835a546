-- Nothing to do on SQLite: idx_run_tags (key, value) from the first migration already serves the
-- tag key and value lookups that this migration indexes on Postgres. The migration exists so
-- both backends have the same schema versions.
SELECT 1;
