//! Small mutation results and instance-level types.

#![allow(dead_code)]

use super::prelude::*;

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ClaimedConcurrencySlot {
    pub run_id: String,
    pub step_key: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct LaunchMultipleRunsResult {
    pub launch_multiple_runs_result: Vec<LaunchRunResult>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum LaunchMultipleRunsResultOrError {
    LaunchMultipleRunsResult(LaunchMultipleRunsResult),
    PythonError(PythonError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum LogTelemetryMutationResult {
    LogTelemetrySuccess(LogTelemetrySuccess),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct LogTelemetrySuccess {
    pub action: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PendingConcurrencyStep {
    pub run_id: String,
    pub step_key: String,
    pub enqueued_timestamp: f64,
    pub assigned_timestamp: Option<f64>,
    pub priority: Option<i32>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PoolConfig {
    pub pool_granularity: Option<String>,
    pub default_pool_limit: Option<i32>,
    pub op_granularity_run_buffer: Option<i32>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ReloadWorkspaceMutationResult {
    Workspace(Workspace),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum RepositoryOrError {
    PythonError(PythonError),
    Repository(Repository),
    RepositoryNotFoundError(RepositoryNotFoundError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct UnsupportedOperationError {
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Resolvers

/// The kv key Dagster keeps the asset daemon's pause flag under.
pub const AUTO_MATERIALIZE_PAUSED: &str = "ASSET_DAEMON_PAUSED";

pub fn repository_or_error(ctx: &Ctx, sel: RepositorySelector) -> RepositoryOrError {
    match location_defs(ctx, &sel.repository_name, &sel.repository_location_name) {
        Some(defs) => RepositoryOrError::Repository(Repository {
            location: sel.repository_location_name,
            defs,
        }),
        None => RepositoryOrError::RepositoryNotFoundError(RepositoryNotFoundError {
            message: format!(
                "Could not find a repository named {}@{}",
                sel.repository_name, sel.repository_location_name
            ),
            repository_name: sel.repository_name,
            repository_location_name: sel.repository_location_name,
        }),
    }
}

/// `reloadWorkspace`: re-reads every code location, then answers the workspace.
pub async fn reload_workspace(ctx: &Ctx) -> ReloadWorkspaceMutationResult {
    if ctx.state.read_only {
        return ReloadWorkspaceMutationResult::UnauthorizedError(UnauthorizedError::new());
    }
    let st = ctx.state.clone();
    let before = ctx.state.locations();
    let res = blocking(move || {
        let entries = crate::state::load(&st.sources, &before);
        st.set_locations(entries);
        Ok(())
    })
    .await;
    match (res, workspace_or_error(ctx)) {
        (Err(e), _) => ReloadWorkspaceMutationResult::PythonError(e),
        (Ok(()), WorkspaceOrError::Workspace(w)) => ReloadWorkspaceMutationResult::Workspace(w),
        (Ok(()), WorkspaceOrError::PythonError(e)) => ReloadWorkspaceMutationResult::PythonError(e),
    }
}

pub async fn set_auto_materialize_paused(ctx: &Ctx, paused: bool) -> Result<bool, PythonError> {
    if ctx.state.read_only {
        return Err(PythonError::new("Authorization failed"));
    }
    let st = ctx.state.clone();
    blocking(move || {
        st.instance
            .storage
            .kv_set(
                AUTO_MATERIALIZE_PAUSED,
                if paused { "true" } else { "false" },
            )
            .map_err(|e| PythonError::from_error(&e))
    })
    .await?;
    Ok(paused)
}
