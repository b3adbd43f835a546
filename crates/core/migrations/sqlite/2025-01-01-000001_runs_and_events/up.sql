-- Run storage and event log (SQLite). Keep in sync with ../../postgres/ (same logical schema).
-- AUTOINCREMENT: ids are cursors and must never be reused after deletes.

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id VARCHAR(255) NOT NULL UNIQUE,
    snapshot_id VARCHAR(255),
    pipeline_name TEXT NOT NULL,
    mode TEXT,
    status VARCHAR(63) NOT NULL CHECK (status IN (
        'QUEUED', 'NOT_STARTED', 'MANAGED', 'STARTING', 'STARTED', 'SUSPENDED',
        'SUCCESS', 'FAILURE', 'CANCELING', 'CANCELED')),
    run_body TEXT NOT NULL,
    partition TEXT,
    partition_set TEXT,
    create_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    update_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    start_time FLOAT,
    end_time FLOAT,
    backfill_id VARCHAR(255),
    worker_pid BIGINT,
    worker_heartbeat FLOAT
);
CREATE INDEX idx_run_status ON runs (status);
CREATE INDEX idx_run_range ON runs (status, update_timestamp, create_timestamp);
CREATE INDEX idx_runs_by_job ON runs (pipeline_name, id);
CREATE INDEX idx_run_partitions ON runs (partition_set, partition);
CREATE INDEX idx_runs_by_backfill_id ON runs (backfill_id, id);

CREATE TABLE run_tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id VARCHAR(255) NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT run_tags_run_id_key_unique UNIQUE (run_id, key)
);
CREATE INDEX idx_run_tags ON run_tags (key, value);

CREATE TABLE event_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id VARCHAR(255) NOT NULL,
    event TEXT NOT NULL,
    dagster_event_type TEXT,
    timestamp TIMESTAMP NOT NULL,
    step_key TEXT,
    asset_key TEXT,
    partition TEXT
);
CREATE INDEX idx_events_by_run_id ON event_logs (run_id, id);
CREATE INDEX idx_event_type ON event_logs (dagster_event_type, id);
CREATE INDEX idx_events_by_asset ON event_logs (asset_key, dagster_event_type, id)
    WHERE asset_key IS NOT NULL;

CREATE TABLE asset_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_key VARCHAR(512) NOT NULL UNIQUE,
    last_materialization TEXT,
    last_run_id VARCHAR(255),
    last_materialization_timestamp TIMESTAMP,
    wipe_timestamp TIMESTAMP,
    create_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE instance_info (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_storage_id TEXT NOT NULL
);
-- A random UUID (version 4 layout) identifying this instance's storage.
INSERT INTO instance_info (run_storage_id)
SELECT lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-'
    || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12))
FROM (SELECT hex(randomblob(16)) AS h);
