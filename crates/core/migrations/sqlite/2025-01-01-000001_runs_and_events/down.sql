DROP TABLE instance_info;
DROP TABLE asset_keys;
DROP TABLE event_logs;
DROP TABLE run_tags;
DROP TABLE runs;
