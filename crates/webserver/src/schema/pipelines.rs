//! Jobs as Dagster's UI sees them: `Pipeline`/`Job`, their op graph (`Solid`, `SolidHandle`,
//! inputs and outputs), `PipelineSnapshot`, modes, Dagster types, and the lookups
//! `pipelineOrError`, `pipelineSnapshotOrError`, `graphOrError`, `runGroupOrError`.
//!
//! A job here is a selection of assets; each asset is one op (named by its step key, e.g.
//! `demo__daily_totals`) with one output, `result`, and one input per upstream asset, named by
//! the upstream's step key. Upstream assets pass no value (they are built in external
//! systems), so inputs and outputs have Dagster's `Nothing` type, as an `@asset(deps=...)` does.
//! An input is connected to the op of its upstream asset when that asset is in the same job.
//! The job has one mode, `default`, whose resources are the ones its assets require.

#![allow(dead_code)] // error members of Dagster's unions that these lookups never produce

use super::prelude::*;
use dagster_core::defs::{Definitions, JobDef};
use dagster_core::domain::{AssetKey as DomainKey, RunsFilter};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub use super::dagster_types::*;
pub use super::pipeline_lookups::*;

/// A job's op graph, built once per resolved `Pipeline`.
#[derive(Debug)]
pub struct JobGraph {
    pub location: String,
    pub defs: Arc<Definitions>,
    pub job: JobDef,
    pub ops: Vec<OpNode>,
}

#[derive(Debug)]
pub struct OpNode {
    pub name: String,
    pub asset: DomainKey,
    pub inputs: Vec<OpInput>,
    /// `(op index, input index)` of the inputs fed by this op's output.
    pub dependents: Vec<(usize, usize)>,
}

#[derive(Debug)]
pub struct OpInput {
    pub name: String,
    pub upstream_asset: DomainKey,
    /// The op producing the input, when its asset is in this job.
    pub upstream: Option<usize>,
}

impl JobGraph {
    pub fn new(location: &str, defs: Arc<Definitions>, job: JobDef) -> Arc<JobGraph> {
        let order = defs.topo_order(&job.assets);
        let index: std::collections::HashMap<&DomainKey, usize> =
            order.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let mut ops: Vec<OpNode> = order
            .iter()
            .map(|k| {
                let deps = defs
                    .assets
                    .get(k)
                    .map(|a| a.deps.clone())
                    .unwrap_or_default();
                OpNode {
                    name: k.to_step_key(),
                    asset: k.clone(),
                    inputs: deps
                        .iter()
                        .map(|d| OpInput {
                            name: d.to_step_key(),
                            upstream_asset: d.clone(),
                            upstream: index.get(d).copied(),
                        })
                        .collect(),
                    dependents: Vec::new(),
                }
            })
            .collect();
        let edges: Vec<(usize, usize, usize)> = ops
            .iter()
            .enumerate()
            .flat_map(|(oi, op)| {
                op.inputs
                    .iter()
                    .enumerate()
                    .filter_map(move |(ii, inp)| inp.upstream.map(|u| (u, oi, ii)))
            })
            .collect();
        for (u, oi, ii) in edges {
            ops[u].dependents.push((oi, ii));
        }
        Arc::new(JobGraph {
            location: location.to_string(),
            defs,
            job,
            ops,
        })
    }

    fn op_index(&self, name: &str) -> Option<usize> {
        self.ops.iter().position(|o| o.name == name)
    }

    /// Dagster's snapshot id: a digest of what the job runs (name, ops, edges, tags), so it
    /// changes when the job's structure does.
    pub fn snapshot_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.job.name.as_bytes());
        for op in &self.ops {
            h.update(b"\0op\0");
            h.update(op.name.as_bytes());
            for i in &op.inputs {
                h.update(b"\0in\0");
                h.update(i.name.as_bytes());
            }
        }
        for (k, v) in &self.job.tags {
            h.update(b"\0tag\0");
            h.update(k.as_bytes());
            h.update(b"=");
            h.update(v.as_bytes());
        }
        h.finalize()
            .iter()
            .take(20)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn solid(self: &Arc<Self>, i: usize) -> Solid {
        Solid {
            graph: self.clone(),
            op: i,
        }
    }

    /// The handles under `parent`: ops are not nested, so all of them at the top and none
    /// under an op.
    fn handles_under(self: &Arc<Self>, parent: Option<&str>) -> Vec<SolidHandle> {
        match parent {
            Some(p) if !p.is_empty() => Vec::new(),
            _ => self.handles(),
        }
    }

    fn handles(self: &Arc<Self>) -> Vec<SolidHandle> {
        (0..self.ops.len())
            .map(|i| SolidHandle {
                graph: self.clone(),
                op: i,
            })
            .collect()
    }

    fn handle(self: &Arc<Self>, handle_id: &str) -> Option<SolidHandle> {
        self.op_index(handle_id).map(|i| SolidHandle {
            graph: self.clone(),
            op: i,
        })
    }

    pub(super) fn required_resources(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .ops
            .iter()
            .filter_map(|o| self.defs.assets.get(&o.asset))
            .flat_map(|a| a.required_resources.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn mode(self: &Arc<Self>) -> Mode {
        Mode {
            graph: self.clone(),
        }
    }

    fn tags(&self) -> Vec<PipelineTag> {
        self.job
            .tags
            .iter()
            .map(|(k, v)| PipelineTag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    }
}

/// The `Nothing` type of every input and output.
fn nothing_type() -> DagsterTypeValue {
    DagsterTypeValue::RegularDagsterType(RegularDagsterType {
        key: "Nothing".into(),
        name: Some("Nothing".into()),
        display_name: "Nothing".into(),
        description: Some("A type carrying no value: the dependency only orders the steps.".into()),
        is_nothing: true,
    })
}

fn dagster_type_or_error(graph: &JobGraph, name: &str) -> DagsterTypeOrError {
    if name == "Nothing" {
        let DagsterTypeValue::RegularDagsterType(t) = nothing_type();
        return DagsterTypeOrError::RegularDagsterType(t);
    }
    DagsterTypeOrError::DagsterTypeNotFoundError(DagsterTypeNotFoundError {
        message: format!("Dagster type {name} not found in job {}", graph.job.name),
        dagster_type_name: name.to_string(),
    })
}

async fn job_runs(
    ctx: &Ctx,
    job: String,
    cursor: Option<String>,
    limit: Option<i32>,
) -> Result<Vec<Run>, PythonError> {
    let st = ctx.state.clone();
    let limit = limit.map(|l| l.clamp(0, 1000) as usize);
    blocking(move || {
        let filter = RunsFilter {
            job_name: Some(job),
            ..Default::default()
        };
        st.instance
            .storage
            .list_runs(&filter, cursor.as_deref(), limit)
            .map(|runs| runs.into_iter().map(Run::new).collect())
            .map_err(|e| PythonError::from_error(&e))
    })
    .await
}

/// The fields `Pipeline`, `Job` and `PipelineSnapshot` share (`SolidContainer` and
/// `IPipelineSnapshot`), plus each one's own.
macro_rules! job_object {
    ($name:ident [$($iface:ty),*] { $($extra:tt)* }) => {
        #[derive(Debug, Clone)]
        pub struct $name(pub Arc<JobGraph>);

        #[graphql_object]
        #[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [$($iface),*])]
        impl $name {
            fn id(&self) -> ID {
                ID::new(format!("{}:{}:{}", self.0.location, REPOSITORY_NAME, self.0.job.name))
            }
            fn name(&self) -> &str {
                &self.0.job.name
            }
            fn description(&self) -> Option<&str> {
                self.0.job.description.as_deref()
            }
            fn solids(&self) -> Vec<Solid> {
                (0..self.0.ops.len()).map(|i| self.0.solid(i)).collect()
            }
            #[graphql(name = "solidHandle")]
            fn solid_handle(&self, #[graphql(name = "handleID")] handle_id: String) -> Option<SolidHandle> {
                self.0.handle(&handle_id)
            }
            /// Ops are not nested: every handle has no parent.
            fn solid_handles(
                &self,
                #[graphql(name = "parentHandleID")] parent_handle_id: Option<String>,
            ) -> Vec<SolidHandle> {
                self.0.handles_under(parent_handle_id.as_deref())
            }
            fn modes(&self) -> Vec<Mode> {
                vec![self.0.mode()]
            }
            fn owners(&self) -> Vec<DefinitionOwner> {
                Vec::new()
            }
            fn pipeline_snapshot_id(&self) -> String {
                self.0.snapshot_id()
            }
            fn dagster_types(&self) -> Vec<DagsterTypeValue> {
                vec![nothing_type()]
            }
            fn dagster_type_or_error(&self, dagster_type_name: String) -> DagsterTypeOrError {
                dagster_type_or_error(&self.0, &dagster_type_name)
            }
            fn tags(&self) -> Vec<PipelineTag> {
                self.0.tags()
            }
            fn run_tags(&self) -> Vec<PipelineTag> {
                self.0.tags()
            }
            fn metadata_entries(&self) -> Vec<MetadataEntryValue> {
                Vec::new()
            }
            async fn runs(
                &self,
                ctx: &Ctx,
                cursor: Option<String>,
                limit: Option<i32>,
            ) -> Result<Vec<Run>, PythonError> {
                job_runs(ctx, self.0.job.name.clone(), cursor, limit).await
            }
            fn schedules(&self) -> Vec<Schedule> {
                schedules_of(&self.0.location, &self.0.defs)
                    .into_iter()
                    .filter(|s| s.def.job == self.0.job.name)
                    .collect()
            }
            fn sensors(&self) -> Vec<Sensor> {
                sensors_of(&self.0.location, &self.0.defs)
                    .into_iter()
                    .filter(|s| s.def.job == self.0.job.name)
                    .collect()
            }
            fn parent_snapshot_id(&self) -> Option<String> {
                None
            }
            fn graph_name(&self) -> &str {
                &self.0.job.name
            }
            fn external_job_source(&self) -> Option<String> {
                None
            }
            $($extra)*
        }
    };
}

/// The fields of a job proper (`Pipeline`, and `Job`, Dagster's newer name for the same
/// object), besides the shared ones.
macro_rules! full_job_object {
    ($name:ident) => {
        job_object!($name [SolidContainerValue, IPipelineSnapshotValue] {
    fn presets(&self) -> Vec<PipelinePreset> {
        Vec::new()
    }
    fn is_job(&self) -> bool {
        true
    }
    fn is_asset_job(&self) -> bool {
        true
    }
    fn repository(&self) -> Repository {
        Repository {
            location: self.0.location.clone(),
            defs: self.0.defs.clone(),
        }
    }
    /// Jobs have no partitions.
    fn partition_keys_or_error(
        &self,
        cursor: Option<String>,
        limit: Option<i32>,
        reverse: Option<bool>,
        selected_asset_keys: Option<Vec<AssetKeyInput>>,
    ) -> PartitionKeys {
        let _ = (cursor, limit, reverse, selected_asset_keys);
        PartitionKeys { partition_keys: Vec::new() }
    }
    fn partition(
        &self,
        partition_name: String,
        selected_asset_keys: Option<Vec<AssetKeyInput>>,
    ) -> Option<PartitionTagsAndConfig> {
        let _ = (partition_name, selected_asset_keys);
        None
    }
    fn has_launch_execution_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn has_launch_reexecution_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn node_names(&self) -> Vec<String> {
        self.0.ops.iter().map(|o| o.name.clone()).collect()
    }
    fn automation_condition(&self) -> Option<AutomationCondition> {
        None
    }
});
    };
}

full_job_object!(Pipeline);
full_job_object!(Job);

job_object!(PipelineSnapshot [SolidContainerValue, IPipelineSnapshotValue, PipelineReferenceValue] {
    fn solid_selection(&self) -> Option<Vec<String>> {
        None
    }
});

interface! {
    pub enum IPipelineSnapshotValue: "IPipelineSnapshot" {
        fields {
            "name": String,
            "description": Option<String>,
            "owners": Vec<DefinitionOwner>,
            "pipelineSnapshotId": String,
            "dagsterTypes": Vec<DagsterTypeValue>,
            "dagsterTypeOrError"(dagsterTypeName: String): DagsterTypeOrError,
            "solids": Vec<Solid>,
            "modes": Vec<Mode>,
            "solidHandles"(parentHandleID: Option<String>): Vec<SolidHandle>,
            "solidHandle"(handleID: String): Option<SolidHandle>,
            "tags": Vec<PipelineTag>,
            "metadataEntries": Vec<MetadataEntryValue>,
            "runs"(cursor: Option<String>, limit: Option<i32>): Vec<Run>,
            "schedules": Vec<Schedule>,
            "sensors": Vec<Sensor>,
            "parentSnapshotId": Option<String>,
            "graphName": String,
        }
        for [Job, Pipeline, PipelineSnapshot]
    }
}

interface! {
    pub enum SolidContainerValue: "SolidContainer" {
        fields {
            "id": ID,
            "name": String,
            "description": Option<String>,
            "solids": Vec<Solid>,
            "solidHandle"(handleID: String): Option<SolidHandle>,
            "solidHandles"(parentHandleID: Option<String>): Vec<SolidHandle>,
            "modes": Vec<Mode>,
        }
        for [CompositeSolidDefinition, Graph, Job, Pipeline, PipelineSnapshot]
    }
}

interface! {
    pub enum PipelineReferenceValue: "PipelineReference" {
        fields {
            "name": String,
            "solidSelection": Option<Vec<String>>,
        }
        for [PipelineSnapshot, UnknownPipeline]
    }
}

/// A run's job when its snapshot is not known here.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = PipelineReferenceValue)]
pub struct UnknownPipeline {
    pub name: String,
    pub solid_selection: Option<Vec<String>>,
}

/// `type Graph`: a job's graph on its own (`graphOrError`).
#[derive(Debug, Clone)]
pub struct Graph(pub Arc<JobGraph>);

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = SolidContainerValue)]
impl Graph {
    fn id(&self) -> ID {
        ID::new(format!("graph:{}:{}", self.0.location, self.0.job.name))
    }
    fn name(&self) -> &str {
        &self.0.job.name
    }
    fn description(&self) -> Option<&str> {
        self.0.job.description.as_deref()
    }
    fn solids(&self) -> Vec<Solid> {
        (0..self.0.ops.len()).map(|i| self.0.solid(i)).collect()
    }
    #[graphql(name = "solidHandle")]
    fn solid_handle(&self, #[graphql(name = "handleID")] handle_id: String) -> Option<SolidHandle> {
        self.0.handle(&handle_id)
    }
    fn solid_handles(
        &self,
        #[graphql(name = "parentHandleID")] parent_handle_id: Option<String>,
    ) -> Vec<SolidHandle> {
        self.0.handles_under(parent_handle_id.as_deref())
    }
    fn modes(&self) -> Vec<Mode> {
        vec![self.0.mode()]
    }
}

/// `type Solid`: op `op` of a job graph.
#[derive(Debug, Clone)]
pub struct Solid {
    pub graph: Arc<JobGraph>,
    pub op: usize,
}

impl Solid {
    fn node(&self) -> Option<&OpNode> {
        self.graph.ops.get(self.op)
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl Solid {
    fn name(&self) -> &str {
        self.node().map_or("", |n| n.name.as_str())
    }
    fn definition(&self) -> ISolidDefinitionValue {
        ISolidDefinitionValue::SolidDefinition(SolidDefinition {
            graph: self.graph.clone(),
            op: self.op,
        })
    }
    fn inputs(&self) -> Vec<Input> {
        let n = self.node().map_or(0, |n| n.inputs.len());
        (0..n)
            .map(|i| Input {
                graph: self.graph.clone(),
                op: self.op,
                input: i,
            })
            .collect()
    }
    fn outputs(&self) -> Vec<Output> {
        vec![Output {
            graph: self.graph.clone(),
            op: self.op,
        }]
    }
    fn is_dynamic_mapped(&self) -> bool {
        false
    }
}

/// `type SolidHandle`: an op's place in its job (ops are not nested: no parent).
#[derive(Debug, Clone)]
pub struct SolidHandle {
    pub graph: Arc<JobGraph>,
    pub op: usize,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl SolidHandle {
    #[graphql(name = "handleID")]
    fn handle_id(&self) -> &str {
        self.graph.ops.get(self.op).map_or("", |n| n.name.as_str())
    }
    fn solid(&self) -> Solid {
        self.graph.solid(self.op)
    }
    fn parent(&self) -> Option<SolidHandle> {
        None
    }
    /// The op's step stats in the job's latest runs, newest first.
    async fn step_stats(
        &self,
        ctx: &Ctx,
        limit: Option<i32>,
    ) -> Result<Option<SolidStepStatsOrError>, PythonError> {
        let Some(step) = self.graph.ops.get(self.op).map(|n| n.name.clone()) else {
            return Ok(None);
        };
        let job = self.graph.job.name.clone();
        let limit = limit.unwrap_or(10).clamp(1, 100) as usize;
        let st = ctx.state.clone();
        let nodes = blocking(move || {
            let filter = RunsFilter {
                job_name: Some(job),
                ..Default::default()
            };
            let runs = st
                .instance
                .storage
                .list_runs(&filter, None, Some(limit))
                .map_err(|e| PythonError::from_error(&e))?;
            let mut out = Vec::new();
            for r in runs {
                let events = st
                    .instance
                    .storage
                    .events_for_step(&r.run_id, &step, 10_000)
                    .map_err(|e| PythonError::from_error(&e))?;
                out.extend(
                    step_stats(&r.run_id, &events)
                        .into_iter()
                        .filter(|s| s.step_key == step),
                );
            }
            Ok(out)
        })
        .await?;
        Ok(Some(SolidStepStatsOrError::SolidStepStatsConnection(
            SolidStepStatsConnection { nodes },
        )))
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct SolidStepStatsConnection {
    pub nodes: Vec<RunStepStats>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct SolidStepStatusUnavailableError {
    pub message: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum SolidStepStatsOrError {
    SolidStepStatsConnection(SolidStepStatsConnection),
    SolidStepStatusUnavailableError(SolidStepStatusUnavailableError),
}

interface! {
    pub enum ISolidDefinitionValue: "ISolidDefinition" {
        fields {
            "name": String,
            "description": Option<String>,
            "metadata": Vec<MetadataItemDefinition>,
            "inputDefinitions": Vec<InputDefinition>,
            "outputDefinitions": Vec<OutputDefinition>,
            "assetNodes": Vec<AssetNode>,
            "pools": Vec<String>,
        }
        for [CompositeSolidDefinition, SolidDefinition]
    }
}

/// `type SolidDefinition`: the op of an asset.
#[derive(Debug, Clone)]
pub struct SolidDefinition {
    pub graph: Arc<JobGraph>,
    pub op: usize,
}

impl SolidDefinition {
    fn node(&self) -> Option<&OpNode> {
        self.graph.ops.get(self.op)
    }
    fn asset(&self) -> Option<&dagster_core::defs::AssetDef> {
        self.node()
            .and_then(|n| self.graph.defs.assets.get(&n.asset))
    }
    /// The op's `config` field in the job's run config schema.
    pub fn config_field_of(&self) -> Option<ConfigTypeField> {
        config_types_for_op(&self.graph, self.op).map(ConfigTypeField::standalone)
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ISolidDefinitionValue)]
impl SolidDefinition {
    fn name(&self) -> &str {
        self.node().map_or("", |n| n.name.as_str())
    }
    fn description(&self) -> Option<String> {
        self.asset().and_then(|a| a.description.clone())
    }
    fn metadata(&self) -> Vec<MetadataItemDefinition> {
        let Some(a) = self.asset() else {
            return Vec::new();
        };
        let mut out = vec![MetadataItemDefinition {
            key: "asset".into(),
            value: a.key.to_user_string(),
        }];
        if !a.kinds.is_empty() {
            out.push(MetadataItemDefinition {
                key: "kinds".into(),
                value: a.kinds.join(", "),
            });
        }
        out
    }
    fn input_definitions(&self) -> Vec<InputDefinition> {
        self.node()
            .map(|n| {
                n.inputs
                    .iter()
                    .map(|i| InputDefinition {
                        name: i.name.clone(),
                        description: Some(format!(
                            "Upstream asset {}",
                            i.upstream_asset.to_user_string()
                        )),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn output_definitions(&self) -> Vec<OutputDefinition> {
        vec![OutputDefinition::result()]
    }
    fn asset_nodes(&self) -> Vec<AssetNode> {
        self.node()
            .map(|n| {
                vec![AssetNode {
                    defs: self.graph.defs.clone(),
                    key: n.asset.clone(),
                }]
            })
            .unwrap_or_default()
    }
    fn pools(&self) -> Vec<String> {
        Vec::new()
    }
    fn pool(&self) -> Option<String> {
        None
    }
    /// The op's run config: `config`, laid over the asset's configured config.
    fn config_field(&self) -> Option<ConfigTypeField> {
        self.config_field_of()
    }
    fn required_resources(&self) -> Vec<ResourceRequirement> {
        resource_requirements(self.asset())
    }
}

/// The `config` field of op `op` in the job's run config schema.
fn config_types_for_op(graph: &JobGraph, op: usize) -> Option<CfgField> {
    let node = graph.ops.get(op)?;
    let root = job_config_schema(&graph.defs, &graph.job);
    let CfgKind::Shape { fields, .. } = &root.kind else {
        return None;
    };
    let ops = fields.iter().find(|f| f.name == "ops")?;
    let CfgKind::Shape { fields, .. } = &ops.ty.kind else {
        return None;
    };
    let step = fields.iter().find(|f| f.name == node.name)?;
    let CfgKind::Shape { fields, .. } = &step.ty.kind else {
        return None;
    };
    let config = fields.iter().find(|f| f.name == "config")?;
    Some(CfgField {
        name: "config".into(),
        description: config.description.clone(),
        required: false,
        ty: config.ty.clone(),
        default: None,
    })
}

/// Graph-backed ops only: there are no composite (nested) ops here.
#[derive(Debug, Clone)]
pub struct CompositeSolidDefinition(std::convert::Infallible);

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ISolidDefinitionValue, SolidContainerValue])]
impl CompositeSolidDefinition {
    fn id(&self) -> ID {
        match self.0 {}
    }
    fn name(&self) -> String {
        match self.0 {}
    }
    fn description(&self) -> Option<String> {
        match self.0 {}
    }
    fn metadata(&self) -> Vec<MetadataItemDefinition> {
        match self.0 {}
    }
    fn input_definitions(&self) -> Vec<InputDefinition> {
        match self.0 {}
    }
    fn output_definitions(&self) -> Vec<OutputDefinition> {
        match self.0 {}
    }
    fn asset_nodes(&self) -> Vec<AssetNode> {
        match self.0 {}
    }
    fn pools(&self) -> Vec<String> {
        match self.0 {}
    }
    fn solids(&self) -> Vec<Solid> {
        match self.0 {}
    }
    #[graphql(name = "solidHandle")]
    fn solid_handle(&self, #[graphql(name = "handleID")] handle_id: String) -> Option<SolidHandle> {
        let _ = handle_id;
        match self.0 {}
    }
    fn solid_handles(
        &self,
        #[graphql(name = "parentHandleID")] parent_handle_id: Option<String>,
    ) -> Vec<SolidHandle> {
        let _ = parent_handle_id;
        match self.0 {}
    }
    fn modes(&self) -> Vec<Mode> {
        match self.0 {}
    }
    fn input_mappings(&self) -> Vec<InputMapping> {
        match self.0 {}
    }
    fn output_mappings(&self) -> Vec<OutputMapping> {
        match self.0 {}
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct InputMapping {
    pub mapped_input: Input,
    pub definition: InputDefinition,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct OutputMapping {
    pub mapped_output: Output,
    pub definition: OutputDefinition,
}

/// `type Input`: input `input` of op `op`.
#[derive(Debug, Clone)]
pub struct Input {
    pub graph: Arc<JobGraph>,
    pub op: usize,
    pub input: usize,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl Input {
    fn solid(&self) -> Solid {
        self.graph.solid(self.op)
    }
    fn definition(&self) -> InputDefinition {
        let i = self
            .graph
            .ops
            .get(self.op)
            .and_then(|n| n.inputs.get(self.input));
        InputDefinition {
            name: i.map(|i| i.name.clone()).unwrap_or_default(),
            description: i.map(|i| format!("Upstream asset {}", i.upstream_asset.to_user_string())),
        }
    }
    fn depends_on(&self) -> Vec<Output> {
        self.graph
            .ops
            .get(self.op)
            .and_then(|n| n.inputs.get(self.input))
            .and_then(|i| i.upstream)
            .map(|u| {
                vec![Output {
                    graph: self.graph.clone(),
                    op: u,
                }]
            })
            .unwrap_or_default()
    }
    fn is_dynamic_collect(&self) -> bool {
        false
    }
}

/// `type Output`: the one output (`result`) of op `op`.
#[derive(Debug, Clone)]
pub struct Output {
    pub graph: Arc<JobGraph>,
    pub op: usize,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl Output {
    fn solid(&self) -> Solid {
        self.graph.solid(self.op)
    }
    fn definition(&self) -> OutputDefinition {
        OutputDefinition::result()
    }
    fn depended_by(&self) -> Vec<Input> {
        self.graph
            .ops
            .get(self.op)
            .map(|n| {
                n.dependents
                    .iter()
                    .map(|(op, input)| Input {
                        graph: self.graph.clone(),
                        op: *op,
                        input: *input,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct InputDefinition {
    pub name: String,
    pub description: Option<String>,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl InputDefinition {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn r#type(&self) -> DagsterTypeValue {
        nothing_type()
    }
    fn metadata_entries(&self) -> Vec<MetadataEntryValue> {
        Vec::new()
    }
}

#[derive(Debug, Clone)]
pub struct OutputDefinition {
    pub name: String,
    pub description: Option<String>,
}

impl OutputDefinition {
    fn result() -> Self {
        OutputDefinition {
            name: "result".into(),
            description: None,
        }
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl OutputDefinition {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn is_dynamic(&self) -> Option<bool> {
        Some(false)
    }
    fn r#type(&self) -> DagsterTypeValue {
        nothing_type()
    }
    fn metadata_entries(&self) -> Vec<MetadataEntryValue> {
        Vec::new()
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct MetadataItemDefinition {
    pub key: String,
    pub value: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ResourceRequirement {
    pub resource_key: String,
}

/// The resources an asset (its op) requires.
pub fn resource_requirements(
    asset: Option<&dagster_core::defs::AssetDef>,
) -> Vec<ResourceRequirement> {
    asset
        .map(|a| {
            a.required_resources
                .iter()
                .map(|r| ResourceRequirement {
                    resource_key: r.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}
