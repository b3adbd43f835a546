//! `kind: sql`: runs SQL statements on a resource as the body of an asset.
//!
//! Keys (next to the common asset keys):
//!
//! | key | meaning |
//! |-----|---------|
//! | `resource` | required: a resource in `resources:` that runs SQL ([`Resource::as_sql`](crate::defs::Resource::as_sql)) |
//! | `statements` | list of SQL strings, run in order in one transaction (each string may hold several statements) |
//! | `file` | instead of `statements`: an SQL file, relative to the pipeline config file (read at load) |
//! | `row_count_query` | optional SQL returning one integer, recorded as metadata `row_count` |
//!
//! The materialization records `rows_affected`, `statements` (how many strings ran) and
//! `duration_ms`. Cancellation and the step timeout are checked before the statements start;
//! a statement already sent to the database runs to completion.

use crate::config::yaml::Map;
use crate::defs::{AssetCompute, AssetKind, MaterializeResult, StepContext};
use crate::domain::MetadataValue;
use anyhow::{bail, Context as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `kind: sql`.
pub struct SqlKind;

/// SQL statements to run on a named resource as an asset body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlAsset {
    /// Name of the resource (in `resources:`) that runs the statements.
    pub resource: String,
    pub statements: Vec<String>,
    pub row_count_query: Option<String>,
}

impl AssetKind for SqlKind {
    fn kind_name(&self) -> &'static str {
        "sql"
    }

    fn build(&self, entry: &Map<'_>) -> Option<(Arc<dyn AssetCompute>, Vec<String>)> {
        let resource = entry.req_str("resource");
        let statements_value = entry.get("statements");
        let file_value = entry.get("file");
        let row_count_query = entry.str("row_count_query");
        let statements = match (statements_value, file_value) {
            (Some(_), Some(fv)) => {
                fv.error("give either `statements` or `file`, not both");
                None
            }
            (None, None) => {
                entry.error("missing required key `statements` (or `file`)");
                None
            }
            (Some(sv), None) => {
                let items = if sv.is_seq() {
                    sv.as_seq()
                } else {
                    vec![sv.clone()]
                };
                let mut out = Vec::new();
                let mut ok = true;
                for item in items {
                    match item.as_str() {
                        Some(s) if s.trim().is_empty() => {
                            item.error("empty SQL statement");
                            ok = false;
                        }
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                if out.is_empty() && ok {
                    sv.error("`statements` is empty");
                    ok = false;
                }
                ok.then_some(out)
            }
            (None, Some(fv)) => fv.as_str().and_then(|f| {
                let path = super::relative_to_file(entry.file(), f.trim());
                match std::fs::read_to_string(&path) {
                    Ok(text) if text.trim().is_empty() => {
                        fv.error(format!("SQL file `{}` is empty", path.display()));
                        None
                    }
                    Ok(text) => Some(vec![text]),
                    Err(e) => {
                        fv.error(format!("cannot read SQL file `{}`: {e}", path.display()));
                        None
                    }
                }
            }),
        };
        let resource = resource?;
        let statements = statements?;
        Some((
            Arc::new(SqlAsset {
                resource: resource.clone(),
                statements,
                row_count_query,
            }),
            vec![resource],
        ))
    }

    fn default_kinds(&self) -> Vec<String> {
        vec!["sql".to_string()]
    }
}

impl AssetCompute for SqlAsset {
    fn compute(&self, ctx: &mut StepContext) -> anyhow::Result<MaterializeResult> {
        if ctx.is_cancelled() {
            bail!("cancelled before the SQL statements started");
        }
        if ctx.remaining() == Some(Duration::ZERO) {
            bail!("timed out before the SQL statements started");
        }
        ctx.info(&format!(
            "running {} SQL statement{} on resource `{}`",
            self.statements.len(),
            if self.statements.len() == 1 { "" } else { "s" },
            self.resource
        ));
        let started = Instant::now();
        let (rows, row_count) = {
            let sql = ctx.sql_resource(&self.resource)?;
            let rows = sql.execute_statements(&self.statements)?;
            let row_count = match &self.row_count_query {
                Some(q) => sql.query_i64(q).with_context(|| {
                    format!("row_count_query `{}` failed", super::preview(q, 80))
                })?,
                None => None,
            };
            (rows, row_count)
        };
        let elapsed = started.elapsed();
        let mut result = MaterializeResult::new()
            .with(
                "rows_affected",
                MetadataValue::Int(i64::try_from(rows).unwrap_or(i64::MAX)),
            )
            .with(
                "statements",
                MetadataValue::Int(i64::try_from(self.statements.len()).unwrap_or(i64::MAX)),
            )
            .with(
                "duration_ms",
                MetadataValue::Int(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)),
            );
        if let Some(n) = row_count {
            result = result.with("row_count", MetadataValue::Int(n));
        }
        ctx.info(&format!("{rows} rows affected"));
        Ok(result)
    }
}
