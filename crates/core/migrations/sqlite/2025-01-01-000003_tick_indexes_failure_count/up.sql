-- Tick retention deletes by (type, status, timestamp); without this index it scans job_ticks.
CREATE INDEX idx_tick_type_status_timestamp ON job_ticks (type, status, timestamp);
-- How many times a tick failed (also in tick_body): the scheduler finds the FAILURE ticks it
-- may still retry with (selector_id, status, failure_count), however many ticks there are.
ALTER TABLE job_ticks ADD COLUMN failure_count BIGINT NOT NULL DEFAULT 0;
UPDATE job_ticks SET failure_count = CAST(json_extract(tick_body, '$.failure_count') AS INTEGER)
    WHERE json_valid(tick_body) AND json_type(tick_body, '$.failure_count') = 'integer';
CREATE INDEX idx_tick_selector_status ON job_ticks (selector_id, status, failure_count);
