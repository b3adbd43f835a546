//! The committed `dagster-home/` files parse, and the examples commented out in
//! `dagster-home/dagster.yaml` stay valid when uncommented.
#![expect(clippy::unwrap_used, reason = "a failed unwrap is a test failure")]

use dagster_core::config::home::DagsterHome;
use dagster_core::config::instance::{
    InstanceConfig, RunCoordinatorConfig, StorageConfig, TagLimitValue,
};
use dagster_core::config::workspace::Workspace;
use dagster_core::config::yaml::Diagnostic;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn env(name: &str) -> Option<String> {
    match name {
        "DAGSTER_PG_URL" => Some("postgresql://dagster:secret@db.internal:5432/dagster".into()),
        "DAGSTER_PG_PASSWORD" => Some("s3cr:et".into()),
        _ => None,
    }
}

fn show(w: &[Diagnostic]) -> Vec<String> {
    w.iter().map(ToString::to_string).collect()
}

#[test]
fn committed_dagster_yaml_is_the_defaults() {
    let home = DagsterHome::new(repo_root().join("dagster-home"));
    let (cfg, warnings) = InstanceConfig::load(&home, &env).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{:#?}", show(&warnings));
    let defaults = InstanceConfig::defaults(&home);
    assert_eq!(cfg.config_file, Some(home.dagster_yaml()));
    assert_eq!(cfg.storage, defaults.storage);
    assert_eq!(cfg.run_coordinator, defaults.run_coordinator);
    assert_eq!(cfg.telemetry, defaults.telemetry);
    assert_eq!(cfg.to_yaml(), defaults.to_yaml());
}

/// Blocks of `# key:` lines up to the next line that is `#` or empty, uncommented.
fn commented_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let body = line.strip_prefix("# ");
        let starts = body.is_some_and(|b| {
            b.strip_suffix(':').is_some_and(|k| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
        });
        match (&mut cur, body) {
            (None, Some(b)) if starts => cur = Some(format!("{b}\n")),
            (Some(c), Some(b)) if !b.trim().is_empty() && (b.starts_with(' ') || starts) => {
                c.push_str(b);
                c.push('\n');
            }
            (Some(_), _) => blocks.extend(cur.take()),
            _ => {}
        }
    }
    blocks.extend(cur);
    blocks
}

#[test]
fn commented_examples_in_dagster_yaml_are_valid() {
    let path = repo_root().join("dagster-home/dagster.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let blocks = commented_blocks(&text);
    assert_eq!(blocks.len(), 4, "{blocks:#?}");
    let home = DagsterHome::new("/srv/dagster");
    let parse = |b: &str| {
        InstanceConfig::from_text(&path, b, &home, &env)
            .unwrap_or_else(|e| panic!("example does not parse:\n{b}\n{e}"))
            .0
    };
    let url = parse(&blocks[0]);
    assert!(
        matches!(&url.storage, StorageConfig::Postgres { display_url, .. } if display_url == "postgresql://dagster@db.internal:5432/dagster"),
        "{:?}",
        url.storage
    );
    let db = parse(&blocks[1]);
    assert!(
        matches!(&db.storage, StorageConfig::Postgres { url, .. } if url == "postgresql://dagster:s3cr%3Aet@db.internal:5432/dagster?sslmode=require"),
        "{:?}",
        db.storage
    );
    let runs = parse(&blocks[2]);
    match &runs.run_coordinator {
        RunCoordinatorConfig::Queued(q) => {
            assert_eq!(q.max_concurrent_runs, 10);
            assert_eq!(
                q.tag_concurrency_limits[1].value,
                TagLimitValue::PerUniqueValue
            );
        }
        other => panic!("{other:?}"),
    }
    let launcher = parse(&blocks[3]);
    assert_eq!(
        launcher.run_launcher.worker_reuse().max_runs_per_worker,
        100
    );
}

#[test]
fn committed_workspace_yaml_points_at_the_pipeline_config() {
    let path = repo_root().join("dagster-home/workspace.yaml");
    let (ws, warnings) = Workspace::load(&path, &env).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{:#?}", show(&warnings));
    assert_eq!(ws.locations.len(), 1);
    let loc = &ws.locations[0];
    assert_eq!(loc.name, "dagster-pipeline");
    assert_eq!(
        loc.pipeline_config,
        repo_root().join("pipeline-config/local.yaml")
    );
    assert_eq!(loc.source.line, 4);
}

#[test]
fn effective_config_of_defaults_reads_well() {
    let home = DagsterHome::new("/srv/dagster");
    let yaml = InstanceConfig::defaults(&home).to_yaml();
    for line in [
        "storage:\n  sqlite:\n    base_dir: /srv/dagster/storage\n",
        "run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config:\n    max_concurrent_runs: 10\n",
        "run_launcher:\n  module: dagster\n  class: DefaultRunLauncher\n",
        "    base_dir: /srv/dagster/logs\n",
        "telemetry:\n  enabled: false\n",
    ] {
        assert!(yaml.contains(line), "missing {line:?} in:\n{yaml}");
    }
}
