DROP INDEX idx_run_tags_key;
