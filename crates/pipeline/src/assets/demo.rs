//! The demo group's code asset: `demo/summary`, built on the tables the YAML assets
//! `demo/raw_orders` and `demo/daily_totals` maintain in the `demo_db` resource.

use dagster_core::defs::{AssetDef, MaterializeResult, StepContext};
use dagster_core::domain::{AssetKey, MetadataValue};

/// The resource the demo assets use.
pub const DEMO_DB: &str = "demo_db";

/// `demo/summary`: counts the rows of the demo tables and records them as metadata.
pub fn summary() -> AssetDef {
    AssetDef::new(AssetKey::from_user_string("demo/summary"), compute_summary)
        .group("demo")
        .description("Row counts of the demo tables, computed in Rust")
        .deps([AssetKey::from_user_string("demo/daily_totals")])
        .kinds(&["rust", "sqlite"])
        .owners(&["team:data"])
        .resources(&[DEMO_DB])
}

fn compute_summary(ctx: &mut StepContext) -> anyhow::Result<MaterializeResult> {
    let (orders, days, revenue) = {
        let db = ctx.sql_resource(DEMO_DB)?;
        (
            db.query_i64("SELECT count(*) FROM raw_orders")?
                .unwrap_or(0),
            db.query_i64("SELECT count(*) FROM daily_totals")?
                .unwrap_or(0),
            db.query_i64("SELECT coalesce(sum(total_cents), 0) FROM daily_totals")?
                .unwrap_or(0),
        )
    };
    ctx.info(&format!(
        "{orders} orders over {days} days, {revenue} cents in total"
    ));
    Ok(MaterializeResult::new()
        .with("raw_orders_rows", MetadataValue::Int(orders))
        .with("daily_totals_rows", MetadataValue::Int(days))
        .with("total_cents", MetadataValue::Int(revenue)))
}
