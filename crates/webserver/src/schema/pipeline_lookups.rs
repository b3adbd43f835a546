//! The job lookups `pipelineOrError`, `pipelineSnapshotOrError`, `graphOrError` and
//! `runGroupOrError`, moved out of [`super::pipelines`], which re-exports them.

#![allow(dead_code)] // error members of Dagster's unions that these lookups never produce

#[allow(unused_imports)]
use super::prelude::*;
use dagster_core::defs::Definitions;
use dagster_core::domain::RunsFilter;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Lookups

/// The job named by a selector, with its location's definitions.
pub fn find_job(
    ctx: &Ctx,
    location: &str,
    repository: &str,
    job: &str,
) -> Result<Arc<JobGraph>, PipelineNotFoundError> {
    let not_found = |message: String| PipelineNotFoundError {
        message,
        pipeline_name: job.to_string(),
        repository_name: repository.to_string(),
        repository_location_name: location.to_string(),
    };
    if repository != REPOSITORY_NAME {
        return Err(not_found(format!(
            "Could not find repository {repository} in location {location}"
        )));
    }
    let entry = ctx
        .state
        .locations()
        .into_iter()
        .find(|e| e.name == location)
        .ok_or_else(|| not_found(format!("Location {location} does not exist in workspace")))?;
    let defs = entry
        .defs
        .map_err(|m| not_found(format!("Location {location} failed to load: {m}")))?;
    let def = defs.job(job).ok_or_else(|| {
        not_found(format!(
            "Could not find Pipeline {location}.{repository}.{job}"
        ))
    })?;
    Ok(JobGraph::new(location, defs, def))
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PipelineOrError {
    Pipeline(Pipeline),
    PipelineNotFoundError(PipelineNotFoundError),
    InvalidSubsetError(InvalidSubsetError),
    PythonError(PythonError),
}

pub fn pipeline_or_error(ctx: &Ctx, sel: &PipelineSelector) -> PipelineOrError {
    match find_job(
        ctx,
        &sel.repository_location_name,
        &sel.repository_name,
        &sel.pipeline_name,
    ) {
        Ok(g) => PipelineOrError::Pipeline(Pipeline(g)),
        Err(e) => PipelineOrError::PipelineNotFoundError(e),
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct PipelineSnapshotNotFoundError {
    pub message: String,
    pub snapshot_id: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PipelineSnapshotOrError {
    PipelineNotFoundError(PipelineNotFoundError),
    PipelineSnapshot(PipelineSnapshot),
    PipelineSnapshotNotFoundError(PipelineSnapshotNotFoundError),
    PythonError(PythonError),
}

/// A snapshot by id is the current definition of the job whose structure has that id (the
/// job as it is now); a job that changed since has another id, and its old snapshot is not
/// kept.
pub fn pipeline_snapshot_or_error(
    ctx: &Ctx,
    snapshot_id: Option<String>,
    active: Option<PipelineSelector>,
) -> PipelineSnapshotOrError {
    if let Some(sel) = active {
        return match find_job(
            ctx,
            &sel.repository_location_name,
            &sel.repository_name,
            &sel.pipeline_name,
        ) {
            Ok(g) => PipelineSnapshotOrError::PipelineSnapshot(PipelineSnapshot(g)),
            Err(e) => PipelineSnapshotOrError::PipelineNotFoundError(e),
        };
    }
    let Some(id) = snapshot_id else {
        return PipelineSnapshotOrError::PythonError(PythonError::new(
            "give snapshotId or activePipelineSelector",
        ));
    };
    for entry in ctx.state.locations() {
        let Ok(defs) = entry.defs else { continue };
        for g in job_graphs(&entry.name, &defs) {
            if g.snapshot_id() == id {
                return PipelineSnapshotOrError::PipelineSnapshot(PipelineSnapshot(g));
            }
        }
    }
    PipelineSnapshotOrError::PipelineSnapshotNotFoundError(PipelineSnapshotNotFoundError {
        message: format!("No job with snapshot {id} is loaded (the job has changed since)"),
        snapshot_id: id,
    })
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct GraphNotFoundError {
    pub message: String,
    pub graph_name: String,
    pub repository_name: String,
    pub repository_location_name: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum GraphOrError {
    Graph(Graph),
    GraphNotFoundError(GraphNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct GraphSelector {
    pub graph_name: String,
    pub repository_name: String,
    pub repository_location_name: String,
}

/// A job's graph is named like the job.
pub fn graph_or_error(ctx: &Ctx, sel: Option<GraphSelector>) -> GraphOrError {
    let Some(sel) = sel else {
        return GraphOrError::PythonError(PythonError::new("a graph selector is required"));
    };
    match find_job(
        ctx,
        &sel.repository_location_name,
        &sel.repository_name,
        &sel.graph_name,
    ) {
        Ok(g) => GraphOrError::Graph(Graph(g)),
        Err(e) => GraphOrError::GraphNotFoundError(GraphNotFoundError {
            message: e.message,
            graph_name: sel.graph_name,
            repository_name: sel.repository_name,
            repository_location_name: sel.repository_location_name,
        }),
    }
}

/// `UsedSolid`: an op and the jobs it is invoked in.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct UsedSolid {
    pub definition: ISolidDefinitionValue,
    pub invocations: Vec<NodeInvocationSite>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct NodeInvocationSite {
    pub pipeline: Pipeline,
    pub solid_handle: SolidHandle,
}

/// Every op of a location's jobs, with where it is used (the "Ops" page).
pub fn used_solids(location: &str, defs: &Arc<Definitions>) -> Vec<UsedSolid> {
    let graphs = job_graphs(location, defs);
    let mut by_op: std::collections::BTreeMap<String, UsedSolid> = Default::default();
    for g in &graphs {
        for (i, op) in g.ops.iter().enumerate() {
            let entry = by_op.entry(op.name.clone()).or_insert_with(|| UsedSolid {
                definition: ISolidDefinitionValue::SolidDefinition(SolidDefinition {
                    graph: g.clone(),
                    op: i,
                }),
                invocations: Vec::new(),
            });
            entry.invocations.push(NodeInvocationSite {
                pipeline: Pipeline(g.clone()),
                solid_handle: SolidHandle {
                    graph: g.clone(),
                    op: i,
                },
            });
        }
    }
    by_op.into_values().collect()
}

/// `RunGroup`: a run with its re-executions (same root run), oldest first.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct RunGroup {
    pub root_run_id: String,
    pub runs: Option<Vec<Option<Run>>>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct RunGroupNotFoundError {
    pub message: String,
    pub run_id: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum RunGroupOrError {
    RunGroup(RunGroup),
    RunGroupNotFoundError(RunGroupNotFoundError),
    PythonError(PythonError),
}

pub async fn run_group_or_error(ctx: &Ctx, run_id: String) -> RunGroupOrError {
    let st = ctx.state.clone();
    let res = blocking(move || {
        let storage = &st.instance.storage;
        let Some(run) = storage
            .get_run(&run_id)
            .map_err(|e| PythonError::from_error(&e))?
        else {
            return Ok(RunGroupOrError::RunGroupNotFoundError(
                RunGroupNotFoundError {
                    message: format!("Run group of run {run_id} could not be found."),
                    run_id,
                },
            ));
        };
        let root = run
            .root_run_id
            .clone()
            .unwrap_or_else(|| run.run_id.clone());
        let mut runs = storage
            .list_runs(
                &RunsFilter {
                    tags: vec![(
                        dagster_core::domain::tags::ROOT_RUN_ID.to_string(),
                        root.clone(),
                    )],
                    ..Default::default()
                },
                None,
                Some(1000),
            )
            .map_err(|e| PythonError::from_error(&e))?;
        if let Some(r) = storage
            .get_run(&root)
            .map_err(|e| PythonError::from_error(&e))?
        {
            runs.push(r);
        }
        runs.sort_by(|a, b| a.create_time.total_cmp(&b.create_time));
        runs.dedup_by(|a, b| a.run_id == b.run_id);
        Ok(RunGroupOrError::RunGroup(RunGroup {
            root_run_id: root,
            runs: Some(runs.into_iter().map(|r| Some(Run::new(r))).collect()),
        }))
    })
    .await;
    res.unwrap_or_else(RunGroupOrError::PythonError)
}
