//! `dagster asset list|materialize`.

use crate::cmd::job::{execute_in_process, request, RunArgs};
use crate::common::{self, bad_input, WorkspaceArgs};
use anyhow::Result;
use clap::Subcommand;
use dagster_core::defs::{Definitions, ASSET_JOB_NAME};
use dagster_core::domain::AssetKey;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AssetCommand {
    /// List assets (optionally a selection).
    List {
        #[command(flatten)]
        ws: WorkspaceArgs,
        /// Asset selection: comma-separated keys (a/b), `group:<name>`, `*`, `+key` (with upstream).
        #[arg(long)]
        select: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Materialize a selection of assets in this process.
    Materialize {
        #[command(flatten)]
        ws: WorkspaceArgs,
        /// Asset selection: comma-separated keys (a/b), `group:<name>`, `*`, `+key` (with upstream).
        #[arg(long)]
        select: String,
        #[arg(short = 'c', long = "config")]
        config: Vec<PathBuf>,
        #[arg(long = "config-json")]
        config_json: Option<String>,
        #[arg(long)]
        tags: Option<String>,
        #[arg(short = 'v', long)]
        verbose: bool,
        #[arg(short = 'q', long)]
        quiet: bool,
    },
}

pub fn run(cmd: AssetCommand) -> Result<ExitCode> {
    match cmd {
        AssetCommand::List { ws, select, json } => {
            let home = common::resolve_home()?;
            let loc = common::load_location(&ws, Some(&home.home))?;
            let keys = match select {
                Some(s) => resolve_selection(&loc.defs, &s)?,
                None => loc.defs.assets.keys().cloned().collect(),
            };
            if json {
                let items: Vec<serde_json::Value> = keys
                    .iter()
                    .filter_map(|k| loc.defs.assets.get(k))
                    .map(|a| {
                        serde_json::json!({
                            "key": a.key.to_user_string(),
                            "group": a.group,
                            "deps": a.deps.iter().map(|d| d.to_user_string()).collect::<Vec<_>>(),
                            "kinds": a.kinds,
                            "description": a.description,
                            "owners": a.owners,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                for k in &keys {
                    println!("{}", k.to_user_string());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AssetCommand::Materialize {
            ws,
            select,
            config,
            config_json,
            tags,
            verbose,
            quiet,
        } => {
            let home = common::resolve_home()?;
            let loc = common::load_location(&ws, Some(&home.home))?;
            let keys = resolve_selection(&loc.defs, &select)?;
            let args = RunArgs {
                job: ASSET_JOB_NAME.to_string(),
                config,
                config_json,
                tags,
                ws,
            };
            let req = request(&args, Some(keys), None)?;
            execute_in_process(&home, loc, req, verbose, quiet)
        }
    }
}

/// Resolves a CLI asset selection: comma-separated items, each a key, `group:<g>`, `*` or `+key`.
pub fn resolve_selection(defs: &Definitions, select: &str) -> Result<Vec<AssetKey>> {
    let mut out: Vec<AssetKey> = Vec::new();
    for item in select.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let found: Vec<AssetKey> = if item == "*" {
            defs.assets.keys().cloned().collect()
        } else if let Some(g) = item.strip_prefix("group:") {
            defs.assets
                .values()
                .filter(|a| a.group == g)
                .map(|a| a.key.clone())
                .collect()
        } else if let Some(k) = item.strip_prefix('+') {
            let key = AssetKey::from_user_string(k);
            let mut acc = Vec::new();
            upstream(defs, &key, &mut acc);
            acc
        } else {
            let key = AssetKey::from_user_string(item);
            if defs.assets.contains_key(&key) {
                vec![key]
            } else {
                Vec::new()
            }
        };
        if found.is_empty() {
            return Err(bad_input(format!(
                "asset selection `{item}` matches no asset (see `dagster asset list`)"
            )));
        }
        for k in found {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    if out.is_empty() {
        return Err(bad_input("empty asset selection"));
    }
    Ok(out)
}

fn upstream(defs: &Definitions, key: &AssetKey, acc: &mut Vec<AssetKey>) {
    if acc.contains(key) {
        return;
    }
    if let Some(a) = defs.assets.get(key) {
        acc.push(key.clone());
        for d in &a.deps {
            upstream(defs, d, acc);
        }
    }
}
