DROP TABLE kvs;
DROP TABLE daemon_heartbeats;
DROP TABLE job_ticks;
DROP TABLE instigators;
