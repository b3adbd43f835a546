//! The table sync as a job: loaded from a pipeline config and executed by the real executor
//! (resources built and dropped by the engine, events and the materialization in storage).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sync_support;

use dagster_core::domain::{EventData, EventType, MetadataValue, RunStatus};
use dagster_core::exec::{self, CreateRun, ExecContext, ExecOptions};
use dagster_core::test_support::TestDb;
use std::sync::Arc;
use sync_support::Env;

#[test]
fn sync_job_runs_through_the_executor_twice() {
    let env = Env::new();
    env.mysql(&[
        "CREATE TABLE customers (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(50) NULL, \
         balance DECIMAL(12,2) NOT NULL, updated_at DATETIME NOT NULL, KEY (updated_at, id))",
        "INSERT INTO customers VALUES (1,'Ana',1.50,'2024-01-01 00:00:00'),(2,NULL,2.25,'2024-01-01 00:00:00'),\
         (3,'Zoë',-3.00,'2024-01-02 00:00:00')",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sync.yaml");
    std::fs::write(
        &config,
        format!(
            "resources:\n  replica: {{type: mysql, config: {{host: 127.0.0.1, user: root, database: {db}}}}}\n  \
             reporting: {{type: clickhouse, config: {ch}}}\n\
             pipeline_configs:\n  customers_sync:\n    kind: table_sync\n    key: reporting/customers\n    source: replica\n    \
             source_table: customers\n    destination: reporting\n    destination_table: customers\n    mode: incremental\n    \
             cursor_column: updated_at\n    primary_key: [id]\n    batch_size: 2\n\
             jobs:\n  sync_job: {{selection: [reporting/customers]}}\n",
            db = env.name,
            ch = sync_support::ch_yaml_config(&env.name)
        ),
    )
    .unwrap();
    let (defs, warnings) = dagster_pipeline::load(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let db = TestDb::sqlite();
    let storage: Arc<dyn dagster_core::storage::Storage> = Arc::new(db.storage());
    let logs = tempfile::tempdir().unwrap();
    let ctx = ExecContext {
        storage: storage.clone(),
        defs: Arc::new(defs),
        compute_logs: exec::ComputeLogManager::new(logs.path().to_path_buf()),
        options: ExecOptions::default(),
        observer: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for (round, expect_written) in [(1, 3), (2, 1)] {
        if round == 2 {
            env.mysql(&["INSERT INTO customers VALUES (4,'Bo',4.00,'2024-01-03 00:00:00')"]);
        }
        let req = CreateRun {
            job_name: "sync_job".into(),
            ..Default::default()
        };
        let run = exec::create_run(&*storage, &ctx.defs, req).unwrap();
        let status = rt.block_on(exec::execute_run(&ctx, &run.run_id)).unwrap();
        assert_eq!(status, RunStatus::Success, "round {round}");
        assert_eq!(
            storage.get_run(&run.run_id).unwrap().unwrap().status,
            RunStatus::Success
        );
        let events = storage
            .events_for_run(&run.run_id, None, 1000)
            .unwrap()
            .events;
        let mat = events
            .iter()
            .find(|e| e.event.event_type == Some(EventType::AssetMaterialization))
            .expect("materialization");
        let EventData::Asset(m) = &mat.event.data else {
            panic!("{mat:?}")
        };
        let written = m
            .metadata
            .iter()
            .find(|e| e.label == "rows_written")
            .map(|e| e.value.clone());
        assert_eq!(
            written,
            Some(MetadataValue::Int(expect_written)),
            "round {round}: {:?}",
            m.metadata
        );
    }
    assert_eq!(env.ch_count("SELECT count() FROM customers_dedup"), 4);
}
