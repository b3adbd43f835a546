//! `dagster-webserver`: the HTTP side of the deployment.
//!
//! This first version serves `/server_info` (and the legacy `/dagit_info`) and a health route
//! for container health checks (`/health`, which also checks that storage answers). The
//! GraphQL API and the UI are built on top of this binary in their own work items.
//! Flags and `DAGSTER_WEBSERVER_*` environment variables follow Dagster's.

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{Context, Result};
use clap::Parser;
use dagster_core::config::home::DagsterHome;
use dagster_core::instance::Instance;
use std::sync::Arc;

const VERSION: &str = "1.13.27";

#[derive(Parser, Debug)]
#[command(name = "dagster-webserver", version, disable_help_flag = true)]
struct Args {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Host to bind.
    #[arg(
        short = 'h',
        long,
        default_value = "127.0.0.1",
        env = "DAGSTER_WEBSERVER_HOST"
    )]
    host: String,
    /// Port to bind.
    #[arg(
        short = 'p',
        long,
        default_value_t = 3000,
        env = "DAGSTER_WEBSERVER_PORT"
    )]
    port: u16,
    /// Workspace file(s).
    #[arg(short = 'w', long = "workspace", env = "DAGSTER_WEBSERVER_WORKSPACE")]
    workspace: Vec<std::path::PathBuf>,
    /// Pipeline config file instead of a workspace.
    #[arg(short = 'f', long = "pipeline-config")]
    pipeline_config: Option<std::path::PathBuf>,
    /// Path prefix, e.g. /dagster.
    #[arg(
        short = 'l',
        long = "path-prefix",
        default_value = "",
        env = "DAGSTER_WEBSERVER_PATH_PREFIX"
    )]
    path_prefix: String,
    /// Refuse every mutation.
    #[arg(long = "read-only", env = "DAGSTER_WEBSERVER_READ_ONLY")]
    read_only: bool,
    /// Log level.
    #[arg(
        long = "log-level",
        default_value = "info",
        env = "DAGSTER_WEBSERVER_LOG_LEVEL"
    )]
    log_level: String,
}

struct AppState {
    instance: Instance,
}

async fn server_info() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "dagster_webserver_version": VERSION,
        "dagster_version": VERSION,
        "dagster_graphql_version": VERSION,
    }))
}

async fn health(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let st = state.clone();
    let check = web::block(move || st.instance.storage.kv_get("__health__")).await;
    match check {
        Ok(Ok(_)) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "storage unavailable", "error": e.to_string()})),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "error", "error": e.to_string()})),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let home = DagsterHome::from_env()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        .context("DAGSTER_HOME must be set for dagster-webserver (or use `dagster dev`)")?;
    let instance = Instance::open(home)?;
    for w in &instance.warnings {
        tracing::warn!("{w}");
    }
    if args.read_only {
        tracing::info!("read-only mode");
    }
    let state = Arc::new(AppState { instance });
    let prefix = args.path_prefix.trim_end_matches('/').to_string();
    let bind = (args.host.clone(), args.port);
    tracing::info!(
        "Serving dagster-webserver on http://{}:{}{} in process {}",
        args.host,
        args.port,
        prefix,
        std::process::id()
    );
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new().app_data(web::Data::new(state.clone())).service(
                web::scope(&prefix)
                    .route("/server_info", web::get().to(server_info))
                    .route("/dagit_info", web::get().to(server_info))
                    .route("/health", web::get().to(health)),
            )
        })
        .workers(2)
        .bind(bind)?
        .run()
        .await
    })?;
    Ok(())
}
