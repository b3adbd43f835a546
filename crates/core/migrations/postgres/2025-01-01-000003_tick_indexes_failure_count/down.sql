DROP INDEX idx_tick_selector_status;
ALTER TABLE job_ticks DROP COLUMN failure_count;
DROP INDEX idx_tick_type_status_timestamp;
