//! `dagster-webserver`: the HTTP side of the deployment.
//!
//! Routes (all under `--path-prefix` when one is given; `/` then redirects into it):
//! `/server_info` (and the legacy `/dagit_info`); `/health` for container health checks (also
//! checks that storage answers); `/graphql` (juniper over HTTP, see [`http`] and [`schema`];
//! subscriptions over websocket on the same path, see [`ws`] and [`tailer`]; GraphiQL for a
//! browser); `/logs/<run id>/compute_logs/<file key>/out|err` (captured step output);
//! `/report_asset_{materialization,observation,check}/<key>` and `/download_debug/<run id>`
//! ([`external`]); `/login`, `/logout` ([`auth`]); every other `GET` is Dagster's UI
//! ([`ui`]: a file of the embedded build, or `index.html` for the UI's own routing). Flags and
//! `DAGSTER_WEBSERVER_*` environment variables follow Dagster's. `DAGSTER_WEBSERVER_TOKEN`
//! enables access control for everything but `/server_info`, `/dagit_info` and `/health`
//! (bearer token for API clients, a sign-in form and session cookie for browsers).

mod alloc;
mod auth;
mod cost;
mod external;
mod gql;
mod http;
mod schema;
mod state;
mod tailer;
mod ui;
#[cfg(test)]
mod ui_ops;
mod ws;

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{Context, Result};
use clap::Parser;
use dagster_core::config::home::DagsterHome;
use dagster_core::instance::Instance;
use std::sync::{Arc, RwLock};

pub(crate) const VERSION: &str = "1.13.27";

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
    /// How often the UI polls for new asset data, in milliseconds.
    #[arg(
        long = "live-data-poll-rate",
        default_value_t = 2000,
        env = "DAGSTER_WEBSERVER_LIVE_DATA_POLL_RATE"
    )]
    live_data_poll_rate: u32,
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
    /// How log lines are written: colored (text), json (one object per line) or rich.
    #[arg(
        long = "log-format",
        default_value = "colored",
        env = "DAGSTER_WEBSERVER_LOG_FORMAT",
        value_parser = clap::builder::PossibleValuesParser::new(LOG_FORMATS)
    )]
    log_format: String,
    /// GraphQL cost limit: the estimated fields of one request (fragments expanded; a field's
    /// `limit:`/`first:` argument multiplies the fields under it).
    #[arg(
        long = "max-query-fields",
        default_value_t = cost::DEFAULT_MAX_FIELDS,
        env = "DAGSTER_WEBSERVER_MAX_QUERY_FIELDS"
    )]
    max_query_fields: u64,
    /// GraphQL cost limit: aliased fields in one request.
    #[arg(
        long = "max-query-aliases",
        default_value_t = cost::DEFAULT_MAX_ALIASES,
        env = "DAGSTER_WEBSERVER_MAX_QUERY_ALIASES"
    )]
    max_query_aliases: u64,
    /// GraphQL cost limit: the deepest field nesting of one request.
    #[arg(
        long = "max-query-depth",
        default_value_t = cost::DEFAULT_MAX_DEPTH,
        env = "DAGSTER_WEBSERVER_MAX_QUERY_DEPTH"
    )]
    max_query_depth: u64,
    /// GraphQL cost limit: the largest `limit:`/`first:` argument.
    #[arg(
        long = "max-query-list-limit",
        default_value_t = cost::DEFAULT_MAX_LIST_LIMIT,
        env = "DAGSTER_WEBSERVER_MAX_QUERY_LIST_LIMIT"
    )]
    max_query_list_limit: u64,
    /// GraphQL cost limit: the size of one serialized answer, in bytes.
    #[arg(
        long = "max-response-bytes",
        default_value_t = cost::DEFAULT_MAX_RESPONSE_BYTES,
        env = "DAGSTER_WEBSERVER_MAX_RESPONSE_BYTES"
    )]
    max_response_bytes: u64,
    /// GraphQL cost limit: estimated fields of all requests running at once (a request waits
    /// for room; one heavier than this alone is refused).
    #[arg(
        long = "max-fields-in-flight",
        default_value_t = cost::DEFAULT_MAX_FIELDS_IN_FLIGHT,
        env = "DAGSTER_WEBSERVER_MAX_FIELDS_IN_FLIGHT"
    )]
    max_fields_in_flight: u64,
}

impl Args {
    fn limits(&self) -> cost::Limits {
        cost::Limits {
            max_fields: self.max_query_fields,
            max_aliases: self.max_query_aliases,
            max_depth: self.max_query_depth,
            max_list_limit: self.max_query_list_limit,
            max_response_bytes: self.max_response_bytes,
            max_fields_in_flight: self.max_fields_in_flight,
        }
    }
}

async fn server_info() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "dagster_webserver_version": VERSION,
        "dagster_version": VERSION,
        "dagster_graphql_version": VERSION,
    }))
}

async fn health(server: web::Data<http::Server>) -> HttpResponse {
    let st = server.state.clone();
    let check = web::block(move || st.instance.storage.kv_get("__health__")).await;
    match check {
        Ok(Ok(_)) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "storage unavailable", "error": e.to_string()})),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "error", "error": e.to_string()})),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// actix stops on SIGTERM (gracefully) and SIGINT/SIGQUIT; a graceful stop waits for open
/// connections, and a websocket never ends by itself, so on the same signals every websocket
/// connection is told to close ([`state::AppState::shutdown`]).
async fn close_websockets_on_signal(state: Arc<state::AppState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut streams = Vec::new();
    for kind in [
        SignalKind::terminate(),
        SignalKind::interrupt(),
        SignalKind::quit(),
    ] {
        match signal(kind) {
            Ok(s) => streams.push(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for a stop signal; open websockets may delay shutdown")
            }
        }
    }
    if streams.is_empty() {
        return;
    }
    let waits = streams
        .iter_mut()
        .map(|s| Box::pin(s.recv()))
        .collect::<Vec<_>>();
    let _ = juniper::futures::future::select_all(waits).await;
    state.shutdown.send_replace(true);
}

use dagster_core::logging::LOG_FORMATS;

/// HTTP worker threads (each with its own runtime).
const HTTP_WORKERS: usize = 2;
/// Threads of each worker's blocking pool, where resolvers read storage. Together they match
/// the storage pool's 8 connections: a ninth thread would only wait for a connection, and each
/// thread keeps its stack and caches for tokio's 10 s keep-alive after a burst (with the
/// default of 256 per worker, a burst of expensive requests started 120 of them: 48 MB of RSS
/// until they exited, docs/BENCHMARKS.md).
const BLOCKING_THREADS_PER_WORKER: usize = 4;

fn main() -> Result<()> {
    let args = Args::parse();
    dagster_core::logging::init(
        &args.log_level,
        "info",
        args.log_format.parse().unwrap_or_default(),
        true,
    );
    let home = DagsterHome::from_env()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        .context("DAGSTER_HOME must be set for dagster-webserver (or use `dagster dev`)")?;
    let instance = Instance::open(home)?;
    instance.home.check_writable()?;
    for w in &instance.warnings {
        tracing::warn!("{w}");
    }
    if args.read_only {
        tracing::info!("read-only mode: every mutation answers UnauthorizedError");
    }
    let token = std::env::var("DAGSTER_WEBSERVER_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if token.is_none() && !is_loopback(&args.host) {
        tracing::warn!(
            "binding {} (not a loopback address) without DAGSTER_WEBSERVER_TOKEN: anyone who can reach this port can launch and terminate runs",
            args.host
        );
    }
    let exe = std::env::current_exe().context("locating the dagster-webserver binary")?;
    let dagster_bin = exe
        .parent()
        .map(|p| p.join("dagster"))
        .context("locating the dagster binary next to dagster-webserver")?;
    if !dagster_bin.is_file() {
        tracing::warn!(
            "{} not found: runs launched by this process (DefaultRunCoordinator) will fail to start",
            dagster_bin.display()
        );
    }
    let launcher = instance
        .run_launcher(dagster_bin, false)
        .context("starting the run launcher")?;
    let mut sources = state::Sources {
        workspace_files: args.workspace.clone(),
        pipeline_config: args.pipeline_config.clone(),
    };
    if sources.workspace_files.is_empty() && sources.pipeline_config.is_none() {
        let cwd = std::path::PathBuf::from("workspace.yaml");
        let default = instance.home.workspace_yaml();
        if cwd.is_file() {
            sources.workspace_files.push(cwd);
        } else if default.is_file() {
            sources.workspace_files.push(default);
        } else {
            tracing::warn!("no workspace (-w, -f, ./workspace.yaml or $DAGSTER_HOME/workspace.yaml): no code locations are loaded");
        }
    }
    let locations = if sources.workspace_files.is_empty() && sources.pipeline_config.is_none() {
        Vec::new()
    } else {
        state::load(&sources, &[])
    };
    let runs = instance.run_submitter(launcher);
    let state = Arc::new(state::AppState {
        instance,
        runs,
        read_only: args.read_only,
        path_prefix: args.path_prefix.trim_end_matches('/').to_string(),
        sources,
        locations: RwLock::new(locations),
        latest_event: tokio::sync::watch::Sender::new(None),
        location_events: tokio::sync::broadcast::Sender::new(64),
        shutdown: tokio::sync::watch::Sender::new(false),
        live_data_poll_rate_ms: args.live_data_poll_rate,
        storage_id: std::sync::OnceLock::new(),
    });
    // Read now, so that serving index.html never waits for the database.
    let _ = state.run_storage_id();
    let prefix = args.path_prefix.trim_end_matches('/').to_string();
    let bind = (args.host.clone(), args.port);
    tracing::info!(
        "Serving dagster-webserver on http://{}:{}{} in process {}",
        args.host,
        args.port,
        prefix,
        std::process::id()
    );
    let limits = args.limits();
    tracing::info!(
        max_query_fields = limits.max_fields,
        max_query_aliases = limits.max_aliases,
        max_query_depth = limits.max_depth,
        max_query_list_limit = limits.max_list_limit,
        max_response_bytes = limits.max_response_bytes,
        max_fields_in_flight = limits.max_fields_in_flight,
        "GraphQL cost limits"
    );
    tracing::debug!(allocator = alloc::NAME, "memory allocator");
    // juniper's parser has limits of its own (15,000 fields without list multipliers, 64 levels
    // of selection sets); they are raised to ours, so that ours answer first.
    let schema = Arc::new(
        schema::schema()
            .limit_fields(usize::try_from(limits.max_fields.max(15_000)).unwrap_or(usize::MAX))
            .limit_depth(usize::try_from(limits.max_depth.max(64)).unwrap_or(usize::MAX)),
    );
    let costs = Arc::new(gql::Costs::new(&schema, limits));
    // With a path prefix, `/` redirects to it (as Dagster's webserver does).
    let redirect_to = if prefix.is_empty() {
        "/".to_string()
    } else {
        prefix.clone()
    };
    if ui::available() {
        tracing::info!("serving Dagster's UI {} (embedded)", ui::UI_VERSION);
    } else {
        tracing::warn!("this binary was built without Dagster's UI (cargo feature `ui`): only the GraphQL API is served");
    }
    actix_web::rt::System::new().block_on(async move {
        actix_web::rt::spawn(tailer::run(state.clone()));
        actix_web::rt::spawn(close_websockets_on_signal(state.clone()));
        HttpServer::new(move || {
            // Called once on each worker thread.
            let requests = costs.clone();
            actix_web::rt::spawn(alloc::return_freed_memory_after_requests(
                move || requests.in_flight.admitted(),
                std::time::Duration::from_secs(1),
            ));
            let server = web::Data::new(http::Server {
                state: state.clone(),
                schema: schema.clone(),
                token: token.clone(),
                costs: costs.clone(),
            });
            let redirect_to_prefix = redirect_to.clone();
            App::new()
                .app_data(server)
                .service(
                    web::scope(&prefix)
                        .route("/server_info", web::get().to(server_info))
                        .route("/dagit_info", web::get().to(server_info))
                        .route("/health", web::get().to(health))
                        .route("/graphql", web::get().to(http::graphql_get))
                        .route("/graphql", web::post().to(http::graphql_post))
                        .route("/logs/{tail:.*}", web::get().to(http::logs_download))
                        .route(
                            "/report_asset_materialization",
                            web::post().to(external::report_materialization),
                        )
                        .route(
                            "/report_asset_materialization/{key:.*}",
                            web::post().to(external::report_materialization),
                        )
                        .route(
                            "/report_asset_observation",
                            web::post().to(external::report_observation),
                        )
                        .route(
                            "/report_asset_observation/{key:.*}",
                            web::post().to(external::report_observation),
                        )
                        .route(
                            "/report_asset_check",
                            web::post().to(external::report_check),
                        )
                        .route(
                            "/report_asset_check/{key:.*}",
                            web::post().to(external::report_check),
                        )
                        .route(
                            "/download_debug/{run_id}",
                            web::get().to(external::download_debug),
                        )
                        .route("/login", web::get().to(auth::login_form))
                        .route("/login", web::post().to(auth::login))
                        .route("/logout", web::get().to(auth::logout))
                        .default_service(web::to(ui::serve)),
                )
                .route(
                    "/",
                    web::get().to(move || {
                        let to = redirect_to_prefix.clone();
                        async move {
                            HttpResponse::TemporaryRedirect()
                                .insert_header((actix_web::http::header::LOCATION, to))
                                .finish()
                        }
                    }),
                )
                .default_service(web::to(ui::serve_root_file))
        })
        .workers(HTTP_WORKERS)
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
        .bind(bind)?
        .run()
        .await
    })?;
    Ok(())
}
