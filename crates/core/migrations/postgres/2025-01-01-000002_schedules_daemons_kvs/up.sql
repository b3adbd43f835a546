-- Schedule/sensor storage, daemon heartbeats and key-value pairs (Postgres).
-- Keep in sync with ../../sqlite/ (same logical schema).

CREATE TABLE instigators (
    id BIGSERIAL PRIMARY KEY,
    selector_id VARCHAR(255) NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status VARCHAR(63) NOT NULL CHECK (status IN ('RUNNING', 'STOPPED', 'DECLARED_IN_CODE')),
    instigator_type VARCHAR(63) NOT NULL,
    instigator_body TEXT NOT NULL,
    create_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    update_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_instigators_type ON instigators (instigator_type);

CREATE TABLE job_ticks (
    id BIGSERIAL PRIMARY KEY,
    selector_id VARCHAR(255) NOT NULL,
    status VARCHAR(63) NOT NULL CHECK (status IN ('STARTED', 'SKIPPED', 'SUCCESS', 'FAILURE')),
    type VARCHAR(63) NOT NULL,
    timestamp DOUBLE PRECISION NOT NULL,
    tick_body TEXT NOT NULL,
    unique_key VARCHAR(512),
    create_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    update_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX idx_job_ticks_unique_key ON job_ticks (unique_key);
CREATE INDEX idx_tick_selector_timestamp ON job_ticks (selector_id, timestamp);

CREATE TABLE daemon_heartbeats (
    id BIGSERIAL PRIMARY KEY,
    daemon_type VARCHAR(255) NOT NULL UNIQUE,
    daemon_id VARCHAR(255) NOT NULL,
    timestamp DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE kvs (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE UNIQUE INDEX idx_kvs_keys_unique ON kvs (key);
