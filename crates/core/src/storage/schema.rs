//! diesel table definitions, shared by both backends.
//!
//! Written by hand to match `migrations/sqlite` and `migrations/postgres` (same logical schema;
//! see `DEVELOPING.md`). Column names follow Dagster's SQL storage (compat doc §9) where a
//! Dagster column exists; bodies are our own JSON (serde of the domain types).
//!
//! Conventions: `create_timestamp`/`update_timestamp` are naive-UTC `TIMESTAMP`s; times that the
//! domain hands back as unix seconds (`start_time`, `end_time`, heartbeats, tick times) are
//! stored as float seconds so that they round-trip exactly.

diesel::table! {
    /// One row per run. `status`, the time columns and `run_tags` are the truth; `run_body` is
    /// the JSON of [`crate::domain::Run`] kept in sync for readers of the raw table.
    runs (id) {
        id -> BigInt,
        run_id -> Text,
        snapshot_id -> Nullable<Text>,
        pipeline_name -> Text,
        mode -> Nullable<Text>,
        status -> Text,
        run_body -> Text,
        partition -> Nullable<Text>,
        partition_set -> Nullable<Text>,
        create_timestamp -> Timestamp,
        update_timestamp -> Timestamp,
        start_time -> Nullable<Double>,
        end_time -> Nullable<Double>,
        backfill_id -> Nullable<Text>,
        worker_pid -> Nullable<BigInt>,
        worker_heartbeat -> Nullable<Double>,
    }
}

diesel::table! {
    /// Run tags, including hidden `.dagster/*` ones; unique per (run_id, key).
    run_tags (id) {
        id -> BigInt,
        run_id -> Text,
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    /// The event log. `id` is the storage id used in cursors; `event` is the JSON of
    /// [`crate::domain::NewEvent`].
    event_logs (id) {
        id -> BigInt,
        run_id -> Text,
        event -> Text,
        dagster_event_type -> Nullable<Text>,
        timestamp -> Timestamp,
        step_key -> Nullable<Text>,
        asset_key -> Nullable<Text>,
        partition -> Nullable<Text>,
    }
}

diesel::table! {
    /// Asset index: latest materialization per asset key (`AssetKey::to_db_string`).
    asset_keys (id) {
        id -> BigInt,
        asset_key -> Text,
        last_materialization -> Nullable<Text>,
        last_run_id -> Nullable<Text>,
        last_materialization_timestamp -> Nullable<Timestamp>,
        wipe_timestamp -> Nullable<Timestamp>,
        create_timestamp -> Timestamp,
    }
}

diesel::table! {
    /// Schedule and sensor state.
    instigators (id) {
        id -> BigInt,
        selector_id -> Text,
        name -> Text,
        status -> Text,
        instigator_type -> Text,
        instigator_body -> Text,
        create_timestamp -> Timestamp,
        update_timestamp -> Timestamp,
    }
}

diesel::table! {
    /// Schedule and sensor ticks. `unique_key` is `<selector_id>@<timestamp>` for ticks that
    /// must exist at most once (schedules) and NULL otherwise.
    job_ticks (id) {
        id -> BigInt,
        selector_id -> Text,
        status -> Text,
        #[sql_name = "type"]
        tick_type -> Text,
        timestamp -> Double,
        tick_body -> Text,
        unique_key -> Nullable<Text>,
        create_timestamp -> Timestamp,
        update_timestamp -> Timestamp,
        failure_count -> BigInt,
    }
}

diesel::table! {
    /// Latest heartbeat per daemon type.
    daemon_heartbeats (id) {
        id -> BigInt,
        daemon_type -> Text,
        daemon_id -> Text,
        timestamp -> Double,
        body -> Text,
    }
}

diesel::table! {
    /// Small key-value pairs (daemon cursors, instance flags).
    kvs (id) {
        id -> BigInt,
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    /// One row written by the first migration: the instance's `run_storage_id` (a UUID).
    instance_info (id) {
        id -> BigInt,
        run_storage_id -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    runs,
    run_tags,
    event_logs,
    asset_keys,
    instigators,
    job_ticks,
    daemon_heartbeats,
    kvs,
    instance_info,
);
