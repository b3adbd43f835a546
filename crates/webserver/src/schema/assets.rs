//! Assets (compat doc §3.6, §3.7): `assetNodes` (the asset graph of the loaded code locations,
//! with dependency keys and, on request, the latest materialization), `assetNodeOrError`,
//! `assetsOrError` (the catalog: every key with a definition or a record) and `assetOrError`
//! (an asset's materialization history with metadata, newest first).
//!
//! Storage: the latest materialization comes from the `asset_keys` index (one query for all
//! requested keys); history reads `event_logs` by the `(asset_key, dagster_event_type, id)`
//! index.

use super::logs::MaterializationEvent;
#[allow(unused_imports)]
use super::prelude::*;
use super::types::*;
use super::{blocking, with_storage, AssetKeyInput, Ctx};
use dagster_core::defs::{AssetDef, Definitions, ASSET_JOB_NAME};
use dagster_core::domain::{AssetKey as DomainKey, EventRecord, EventType};
use juniper::{graphql_object, GraphQLInputObject, GraphQLObject, GraphQLUnion, ID};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Largest number of materializations one `assetMaterializations` call returns.
pub const MAX_HISTORY: usize = 10_000;

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct AssetGroupSelector {
    pub group_name: String,
    pub repository_name: String,
    pub repository_location_name: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct PipelineSelector {
    pub pipeline_name: String,
    pub repository_name: String,
    pub repository_location_name: String,
    pub solid_selection: Option<Vec<String>>,
    pub asset_selection: Option<Vec<AssetKeyInput>>,
    pub asset_check_selection: Option<Vec<super::AssetCheckHandleInput>>,
}

impl From<&DomainKey> for AssetKey {
    fn from(k: &DomainKey) -> Self {
        AssetKey { path: k.0.clone() }
    }
}

/// Dagster's `AssetKey.to_escaped_user_string`: `\` → `\\`, `/` → `\/`, joined by `/`.
pub fn escaped_user_string(k: &DomainKey) -> String {
    k.0.iter()
        .map(|p| p.replace('\\', "\\\\").replace('/', "\\/"))
        .collect::<Vec<_>>()
        .join("/")
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct DefinitionTag {
    pub key: String,
    pub value: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct UserAssetOwner {
    pub email: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct TeamAssetOwner {
    pub team: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum AssetOwner {
    UserAssetOwner(UserAssetOwner),
    TeamAssetOwner(TeamAssetOwner),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct AssetDependency {
    pub asset: AssetNode,
}

/// One asset definition of a loaded code location.
#[derive(Debug, Clone)]
pub struct AssetNode {
    pub defs: Arc<Definitions>,
    pub key: DomainKey,
}

impl AssetNode {
    /// The asset's op in the location's asset job.
    fn asset_op(&self) -> Option<SolidDefinition> {
        let job = self.defs.job(ASSET_JOB_NAME)?;
        let graph = JobGraph::new(&self.defs.location_name, self.defs.clone(), job);
        let op = graph.ops.iter().position(|o| o.asset == self.key)?;
        Some(SolidDefinition { graph, op })
    }
    fn def(&self) -> Option<&AssetDef> {
        self.defs.assets.get(&self.key)
    }
    fn downstream(&self) -> Vec<DomainKey> {
        self.defs
            .assets
            .values()
            .filter(|a| a.deps.contains(&self.key))
            .map(|a| a.key.clone())
            .collect()
    }
}

/// Parses `beforeTimestampMillis` / `afterTimestampMillis`.
fn millis_arg(name: &str, v: Option<&str>) -> Result<Option<f64>, PythonError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|ms| Some(ms / 1000.0))
            .ok_or_else(|| {
                PythonError::new(format!("{name} must be unix milliseconds, got {s:?}"))
            }),
    }
}

/// Asset events of `types` for `key`, newest first, filtered by partition and time (exclusive
/// bounds), starting below storage id `cursor`.
#[allow(clippy::too_many_arguments)]
pub async fn asset_events(
    ctx: &Ctx,
    key: DomainKey,
    types: Vec<EventType>,
    partitions: Option<Vec<String>>,
    before_ms: Option<String>,
    after_ms: Option<String>,
    cursor: Option<i64>,
    limit: Option<i32>,
) -> Result<Vec<EventRecord>, PythonError> {
    let before = millis_arg("beforeTimestampMillis", before_ms.as_deref())?;
    let after = millis_arg("afterTimestampMillis", after_ms.as_deref())?;
    let limit = match limit {
        Some(l) if l < 0 => {
            return Err(PythonError::new(format!(
                "limit must not be negative (got {l})"
            )))
        }
        Some(l) => (l as usize).min(MAX_HISTORY),
        None => MAX_HISTORY,
    };
    if limit == 0 || types.is_empty() {
        return Ok(Vec::new());
    }
    let st = ctx.state.clone();
    blocking(move || {
        let mut out: Vec<EventRecord> = Vec::new();
        let mut cursor = cursor;
        let page = limit.clamp(1, 1000);
        loop {
            let batch = st
                .instance
                .storage
                .asset_events(&key, &types, cursor, page)
                .map_err(|e| PythonError::from_error(&e))?;
            let exhausted = batch.len() < page;
            cursor = batch.last().map(|r| r.storage_id);
            for r in batch {
                let ts = r.event.timestamp;
                if after.is_some_and(|a| ts <= a) {
                    return Ok(out);
                }
                if before.is_some_and(|b| ts >= b) {
                    continue;
                }
                if let Some(parts) = &partitions {
                    if !r
                        .event
                        .partition()
                        .is_some_and(|p| parts.iter().any(|x| x == p))
                    {
                        continue;
                    }
                }
                out.push(r);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            if exhausted || cursor.is_none() {
                return Ok(out);
            }
        }
    })
    .await
}

/// Materializations of `key` (see [`asset_events`]).
async fn materializations(
    ctx: &Ctx,
    key: DomainKey,
    partitions: Option<Vec<String>>,
    before_ms: Option<String>,
    after_ms: Option<String>,
    limit: Option<i32>,
) -> Result<Vec<MaterializationEvent>, PythonError> {
    let found = asset_events(
        ctx,
        key,
        vec![EventType::AssetMaterialization],
        partitions,
        before_ms,
        after_ms,
        None,
        limit,
    )
    .await?;
    Ok(found
        .into_iter()
        .map(|r| MaterializationEvent::new(Arc::new(r)))
        .collect())
}

/// Observations of `key` (see [`asset_events`]).
async fn observations(
    ctx: &Ctx,
    key: DomainKey,
    partitions: Option<Vec<String>>,
    before_ms: Option<String>,
    after_ms: Option<String>,
    limit: Option<i32>,
) -> Result<Vec<super::logs::ObservationEvent>, PythonError> {
    let found = asset_events(
        ctx,
        key,
        vec![EventType::AssetObservation],
        partitions,
        before_ms,
        after_ms,
        None,
        limit,
    )
    .await?;
    Ok(found
        .into_iter()
        .map(|r| super::logs::ObservationEvent::new(Arc::new(r)))
        .collect())
}

/// Unix milliseconds of the latest event of `ty` for `key`.
async fn latest_event_millis(
    ctx: &Ctx,
    key: DomainKey,
    ty: EventType,
) -> Result<Option<f64>, PythonError> {
    let st = ctx.state.clone();
    blocking(move || {
        st.instance
            .storage
            .asset_events(&key, &[ty], None, 1)
            .map(|r| r.first().map(|e| e.event.timestamp * 1000.0))
            .map_err(|e| PythonError::from_error(&e))
    })
    .await
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl AssetNode {
    /// Workspace-scoped id, `w.<escaped user string>`.
    fn id(&self) -> ID {
        ID::new(format!("w.{}", escaped_user_string(&self.key)))
    }
    fn asset_key(&self) -> AssetKey {
        AssetKey::from(&self.key)
    }
    fn dependency_keys(&self) -> Vec<AssetKey> {
        self.def()
            .map(|a| a.deps.iter().map(AssetKey::from).collect())
            .unwrap_or_default()
    }
    fn depended_by_keys(&self) -> Vec<AssetKey> {
        self.downstream().iter().map(AssetKey::from).collect()
    }
    fn dependencies(&self) -> Vec<AssetDependency> {
        self.def()
            .map(|a| {
                a.deps
                    .iter()
                    .map(|k| AssetDependency {
                        asset: AssetNode {
                            defs: self.defs.clone(),
                            key: k.clone(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn depended_by(&self) -> Vec<AssetDependency> {
        self.downstream()
            .into_iter()
            .map(|key| AssetDependency {
                asset: AssetNode {
                    defs: self.defs.clone(),
                    key,
                },
            })
            .collect()
    }
    fn group_name(&self) -> String {
        self.def()
            .map_or_else(|| "default".to_string(), |a| a.group.clone())
    }
    fn description(&self, character_limit: Option<i32>) -> Option<String> {
        let d = self.def()?.description.clone()?;
        match character_limit {
            Some(n) if n >= 0 && d.chars().count() > n as usize => {
                Some(d.chars().take(n as usize).collect())
            }
            _ => Some(d),
        }
    }
    fn compute_kind(&self) -> Option<String> {
        self.def()?.kinds.first().cloned()
    }
    fn kinds(&self) -> Vec<String> {
        self.def().map(|a| a.kinds.clone()).unwrap_or_default()
    }
    fn owners(&self) -> Vec<AssetOwner> {
        self.def()
            .map(|a| {
                a.owners
                    .iter()
                    .map(|o| match o.strip_prefix("team:") {
                        Some(team) => AssetOwner::TeamAssetOwner(TeamAssetOwner {
                            team: team.to_string(),
                        }),
                        None => AssetOwner::UserAssetOwner(UserAssetOwner { email: o.clone() }),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn tags(&self) -> Vec<DefinitionTag> {
        Vec::new()
    }
    fn op_tags(&self) -> Vec<DefinitionTag> {
        Vec::new()
    }
    fn metadata_entries(&self) -> Vec<super::logs::MetadataEntryValue> {
        self.def()
            .map(|a| super::logs::metadata_entries(&a.metadata))
            .unwrap_or_default()
    }
    /// The step key (one op per asset).
    fn op_name(&self) -> Option<String> {
        Some(self.key.to_step_key())
    }
    fn op_names(&self) -> Vec<String> {
        vec![self.key.to_step_key()]
    }
    fn op_version(&self) -> Option<String> {
        None
    }
    fn graph_name(&self) -> Option<String> {
        None
    }
    /// `__ASSET_JOB` and every job that selects the asset.
    fn job_names(&self) -> Vec<String> {
        let mut names = vec![ASSET_JOB_NAME.to_string()];
        names.extend(
            self.defs
                .jobs
                .values()
                .filter(|j| j.assets.contains(&self.key))
                .map(|j| j.name.clone()),
        );
        names
    }
    fn is_materializable(&self) -> bool {
        self.def().is_some()
    }
    fn is_observable(&self) -> bool {
        false
    }
    fn is_executable(&self) -> bool {
        self.def().is_some()
    }
    fn is_partitioned(&self) -> bool {
        false
    }
    fn is_virtual(&self) -> bool {
        false
    }
    fn is_auto_created_stub(&self) -> bool {
        false
    }
    fn has_asset_checks(&self) -> bool {
        false
    }
    fn partition_keys(&self) -> Vec<String> {
        Vec::new()
    }
    fn pools(&self) -> Vec<String> {
        Vec::new()
    }
    fn has_materialize_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn has_wipe_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn has_report_runless_asset_event_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn repository(&self) -> Repository {
        Repository {
            location: self.defs.location_name.clone(),
            defs: self.defs.clone(),
        }
    }
    /// The asset's op, in the location's asset job.
    fn op(&self) -> Option<SolidDefinition> {
        self.asset_op()
    }
    /// The asset's run config (`ops.<step>.config`).
    fn config_field(&self) -> Option<ConfigTypeField> {
        self.asset_op().and_then(|op| op.config_field_of())
    }
    fn required_resources(&self) -> Vec<ResourceRequirement> {
        resource_requirements(self.def())
    }
    /// The schedules and sensors whose job materializes this asset.
    fn targeting_instigators(&self) -> Vec<Instigator> {
        let location = self.defs.location_name.as_str();
        let in_job = |job: &str| {
            self.defs
                .job(job)
                .is_some_and(|j| j.assets.contains(&self.key))
        };
        let mut out: Vec<Instigator> = schedules_of(location, &self.defs)
            .into_iter()
            .filter(|s| in_job(&s.def.job))
            .map(Instigator::Schedule)
            .collect();
        out.extend(
            sensors_of(location, &self.defs)
                .into_iter()
                .filter(|s| in_job(&s.def.job))
                .map(Instigator::Sensor),
        );
        out
    }
    /// Assets here carry no output type of their own (they are `Nothing`-typed).
    fn r#type(&self) -> Option<DagsterTypeValue> {
        None
    }
    fn storage_address(&self) -> Option<StorageAddress> {
        None
    }
    // Asset checks, partitions, automation, freshness and staleness: not features of this
    // deployment, answered as Dagster does for an asset without them.
    fn asset_checks_or_error(
        &self,
        limit: Option<i32>,
        pipeline: Option<PipelineSelector>,
    ) -> AssetChecksOrError {
        let _ = (limit, pipeline);
        AssetChecksOrError::AssetChecks(AssetChecks { checks: Vec::new() })
    }
    fn asset_check_or_error(&self, check_name: String) -> AssetCheckOrError {
        AssetCheckOrError::AssetCheckNotFoundError(AssetCheckNotFoundError {
            message: format!(
                "Asset check {check_name} not found for asset {}",
                self.key.to_user_string()
            ),
        })
    }
    /// Data versions are not tracked, so no materialization records what it used.
    fn asset_materialization_used_data(
        &self,
        timestamp_millis: String,
    ) -> Vec<MaterializationUpstreamDataVersion> {
        let _ = timestamp_millis;
        Vec::new()
    }
    fn asset_partition_statuses(&self) -> AssetPartitionStatuses {
        AssetPartitionStatuses::DefaultPartitionStatuses(DefaultPartitionStatuses {
            materialized_partitions: Vec::new(),
            materializing_partitions: Vec::new(),
            failed_partitions: Vec::new(),
        })
    }
    fn auto_materialize_policy(&self) -> Option<AutoMaterializePolicy> {
        None
    }
    fn automation_condition(&self) -> Option<AutomationCondition> {
        None
    }
    fn backfill_policy(&self) -> Option<BackfillPolicy> {
        None
    }
    /// Code versions are not tracked, so nothing is reported as changed.
    fn changed_reasons(&self) -> Vec<ChangeReason> {
        Vec::new()
    }
    fn freshness_info(&self) -> Option<AssetFreshnessInfo> {
        None
    }
    fn freshness_policy(&self) -> Option<FreshnessPolicy> {
        None
    }
    fn freshness_status_info(&self) -> Option<FreshnessStatusInfo> {
        None
    }
    fn internal_freshness_policy(&self) -> Option<InternalFreshnessPolicy> {
        None
    }
    fn last_auto_materialization_evaluation_record(
        &self,
        as_of_evaluation_id: Option<ID>,
    ) -> Option<AutoMaterializeAssetEvaluationRecord> {
        let _ = as_of_evaluation_id;
        None
    }
    fn latest_materialization_by_partition(
        &self,
        partitions: Option<Vec<String>>,
    ) -> Vec<Option<MaterializationEvent>> {
        let _ = partitions;
        Vec::new()
    }
    fn latest_run_for_partition(&self, partition: String) -> Option<Run> {
        let _ = partition;
        None
    }
    fn partition_definition(&self) -> Option<PartitionDefinition> {
        None
    }
    fn partition_key_connection(
        &self,
        limit: i32,
        ascending: bool,
        cursor: Option<String>,
    ) -> Option<PartitionKeyConnection> {
        let _ = (limit, ascending, cursor);
        None
    }
    fn partition_keys_by_dimension(
        &self,
        start_idx: Option<i32>,
        end_idx: Option<i32>,
    ) -> Vec<DimensionPartitionKeys> {
        let _ = (start_idx, end_idx);
        Vec::new()
    }
    fn partition_stats(&self) -> Option<PartitionStats> {
        None
    }
    fn stale_causes(&self, partition: Option<String>) -> Vec<StaleCause> {
        let _ = partition;
        Vec::new()
    }
    fn stale_status(&self, partition: Option<String>) -> Option<StaleStatus> {
        let _ = partition;
        None
    }
    async fn asset_materializations(
        &self,
        ctx: &Ctx,
        partitions: Option<Vec<String>>,
        before_timestamp_millis: Option<String>,
        limit: Option<i32>,
    ) -> Result<Vec<MaterializationEvent>, PythonError> {
        materializations(
            ctx,
            self.key.clone(),
            partitions,
            before_timestamp_millis,
            None,
            limit,
        )
        .await
    }
    async fn asset_observations(
        &self,
        ctx: &Ctx,
        partitions: Option<Vec<String>>,
        before_timestamp_millis: Option<String>,
        limit: Option<i32>,
    ) -> Result<Vec<super::logs::ObservationEvent>, PythonError> {
        observations(
            ctx,
            self.key.clone(),
            partitions,
            before_timestamp_millis,
            None,
            limit,
        )
        .await
    }
}

/// Every asset node of the loaded locations, in key order.
pub fn all_nodes(ctx: &Ctx) -> Vec<AssetNode> {
    let mut out = Vec::new();
    for e in ctx.state.locations() {
        if let Ok(defs) = &e.defs {
            for key in defs.assets.keys() {
                out.push(AssetNode {
                    defs: defs.clone(),
                    key: key.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// `assetNodes(group, pipeline, assetKeys, loadMaterializations)`.
pub fn asset_nodes(
    ctx: &Ctx,
    group: Option<AssetGroupSelector>,
    pipeline: Option<PipelineSelector>,
    asset_keys: Option<Vec<AssetKeyInput>>,
) -> Vec<AssetNode> {
    let keys: Option<BTreeSet<Vec<String>>> =
        asset_keys.map(|k| k.into_iter().map(|k| k.path).collect());
    all_nodes(ctx)
        .into_iter()
        .filter(|n| keys.as_ref().is_none_or(|k| k.contains(&n.key.0)))
        .filter(|n| {
            group.as_ref().is_none_or(|g| {
                n.defs.location_name == g.repository_location_name
                    && g.repository_name == REPOSITORY_NAME
                    && n.def().is_some_and(|a| a.group == g.group_name)
            })
        })
        .filter(|n| {
            pipeline.as_ref().is_none_or(|p| {
                n.defs.location_name == p.repository_location_name
                    && p.repository_name == REPOSITORY_NAME
                    && n.defs
                        .job(&p.pipeline_name)
                        .is_some_and(|j| j.assets.contains(&n.key))
            })
        })
        .collect()
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct AssetNotFoundError {
    pub message: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum AssetNodeOrError {
    AssetNode(AssetNode),
    AssetNotFoundError(AssetNotFoundError),
}

pub fn asset_node_or_error(ctx: &Ctx, asset_key: AssetKeyInput) -> AssetNodeOrError {
    let key = DomainKey(asset_key.path);
    match all_nodes(ctx).into_iter().find(|n| n.key == key) {
        Some(n) => AssetNodeOrError::AssetNode(n),
        None => AssetNodeOrError::AssetNotFoundError(not_found(&key)),
    }
}

pub fn not_found(key: &DomainKey) -> AssetNotFoundError {
    AssetNotFoundError {
        message: format!("Asset key {} not found.", key.to_user_string()),
    }
}

/// `Asset`: an asset key with its records (and its definition, when one is loaded).
#[derive(Debug, Clone)]
pub struct Asset {
    pub key: DomainKey,
}

impl Asset {
    pub fn new(key: DomainKey) -> Self {
        Asset { key }
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl Asset {
    /// The key's JSON form, e.g. `["a", "b"]`.
    fn id(&self) -> String {
        self.key.to_db_string()
    }
    fn key(&self) -> AssetKey {
        AssetKey::from(&self.key)
    }
    fn definition(&self, ctx: &Ctx) -> Option<AssetNode> {
        all_nodes(ctx).into_iter().find(|n| n.key == self.key)
    }
    async fn asset_materializations(
        &self,
        ctx: &Ctx,
        partitions: Option<Vec<String>>,
        before_timestamp_millis: Option<String>,
        after_timestamp_millis: Option<String>,
        limit: Option<i32>,
    ) -> Result<Vec<MaterializationEvent>, PythonError> {
        materializations(
            ctx,
            self.key.clone(),
            partitions,
            before_timestamp_millis,
            after_timestamp_millis,
            limit,
        )
        .await
    }
    async fn asset_observations(
        &self,
        ctx: &Ctx,
        partitions: Option<Vec<String>>,
        before_timestamp_millis: Option<String>,
        after_timestamp_millis: Option<String>,
        limit: Option<i32>,
    ) -> Result<Vec<super::logs::ObservationEvent>, PythonError> {
        observations(
            ctx,
            self.key.clone(),
            partitions,
            before_timestamp_millis,
            after_timestamp_millis,
            limit,
        )
        .await
    }
    /// Materializations, failures to materialize and observations in one history, newest
    /// first; `cursor` is the storage id of the last event of the previous page.
    #[allow(clippy::too_many_arguments)]
    async fn asset_event_history(
        &self,
        ctx: &Ctx,
        partitions: Option<Vec<String>>,
        before_timestamp_millis: Option<String>,
        after_timestamp_millis: Option<String>,
        limit: i32,
        event_type_selectors: Vec<AssetEventHistoryEventTypeSelector>,
        cursor: Option<String>,
    ) -> Result<AssetResultEventHistoryConnection, PythonError> {
        use AssetEventHistoryEventTypeSelector as Sel;
        let types: Vec<EventType> = event_type_selectors
            .iter()
            .map(|s| match s {
                Sel::Materialization => EventType::AssetMaterialization,
                Sel::FailedToMaterialize => EventType::AssetFailedToMaterialize,
                Sel::Observation => EventType::AssetObservation,
            })
            .collect();
        let after_id = match cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| {
                PythonError::new(format!(
                    "invalid cursor {c:?}: expected an event storage id"
                ))
            })?),
        };
        let found = asset_events(
            ctx,
            self.key.clone(),
            types,
            partitions,
            before_timestamp_millis,
            after_timestamp_millis,
            after_id,
            Some(limit),
        )
        .await?;
        let cursor = found
            .last()
            .map(|r| r.storage_id.to_string())
            .or(cursor)
            .unwrap_or_default();
        let results = found
            .into_iter()
            .filter_map(|r| {
                let ty = r.event.event_type;
                let r = Arc::new(r);
                match ty {
                    Some(EventType::AssetMaterialization) => Some(
                        AssetResultEventType::MaterializationEvent(MaterializationEvent::new(r)),
                    ),
                    Some(EventType::AssetObservation) => {
                        Some(AssetResultEventType::ObservationEvent(
                            super::logs::ObservationEvent::new(r),
                        ))
                    }
                    Some(EventType::AssetFailedToMaterialize) => {
                        Some(AssetResultEventType::FailedToMaterializeEvent(
                            super::logs::FailedToMaterializeEvent::new(r),
                        ))
                    }
                    _ => None,
                }
            })
            .collect();
        Ok(AssetResultEventHistoryConnection { results, cursor })
    }
    /// Asset health is not computed here.
    fn asset_health(&self) -> Option<AssetHealth> {
        None
    }
    fn freshness_status_changed_timestamp(&self) -> Option<f64> {
        None
    }
    /// Unix milliseconds of the latest materialization (from the asset index).
    async fn latest_materialization_timestamp(
        &self,
        ctx: &Ctx,
    ) -> Result<Option<f64>, PythonError> {
        let key = self.key.clone();
        let rec = with_storage(&ctx.state, move |s| {
            s.asset_records(Some(std::slice::from_ref(&key)))
        })
        .await?;
        Ok(rec
            .into_iter()
            .find_map(|r| r.last_materialization)
            .map(|m| m.event.timestamp * 1000.0))
    }
    async fn latest_observation_timestamp(&self, ctx: &Ctx) -> Result<Option<f64>, PythonError> {
        latest_event_millis(ctx, self.key.clone(), EventType::AssetObservation).await
    }
    async fn latest_failed_to_materialize_timestamp(
        &self,
        ctx: &Ctx,
    ) -> Result<Option<f64>, PythonError> {
        latest_event_millis(ctx, self.key.clone(), EventType::AssetFailedToMaterialize).await
    }
    fn has_definition_or_record(&self) -> bool {
        true
    }
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum AssetOrError {
    Asset(Asset),
    AssetNotFoundError(AssetNotFoundError),
}

/// `assetOrError(assetKey)`: found when a loaded location defines it or storage has a record.
pub async fn asset_or_error(
    ctx: &Ctx,
    asset_key: AssetKeyInput,
) -> Result<AssetOrError, PythonError> {
    let key = DomainKey(asset_key.path);
    if all_nodes(ctx).iter().any(|n| n.key == key) {
        return Ok(AssetOrError::Asset(Asset::new(key)));
    }
    let k = key.clone();
    let recs = with_storage(&ctx.state, move |s| {
        s.asset_records(Some(std::slice::from_ref(&k)))
    })
    .await?;
    Ok(if recs.is_empty() {
        AssetOrError::AssetNotFoundError(not_found(&key))
    } else {
        AssetOrError::Asset(Asset::new(key))
    })
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct AssetConnection {
    pub nodes: Vec<Asset>,
    pub cursor: Option<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum AssetsOrError {
    AssetConnection(AssetConnection),
    PythonError(PythonError),
}

/// One page of asset keys (stored records and loaded definitions), ordered by their JSON
/// form; `cursor` = the JSON form of the last key of the previous page.
pub async fn asset_keys_page(
    ctx: &Ctx,
    prefix: Option<Vec<String>>,
    asset_keys: Option<Vec<AssetKeyInput>>,
    cursor: Option<String>,
    limit: Option<i32>,
) -> Result<Vec<DomainKey>, PythonError> {
    let recs = with_storage(&ctx.state, |s| s.asset_records(None)).await?;
    let mut keys: BTreeSet<String> = recs.iter().map(|r| r.asset_key.to_db_string()).collect();
    keys.extend(all_nodes(ctx).iter().map(|n| n.key.to_db_string()));
    let wanted: Option<BTreeSet<String>> = asset_keys.map(|k| {
        k.into_iter()
            .map(|k| DomainKey(k.path).to_db_string())
            .collect()
    });
    let limit = limit.map(|l| usize::try_from(l).unwrap_or(0));
    let mut out = Vec::new();
    for k in keys {
        if cursor.as_ref().is_some_and(|c| k.as_str() <= c.as_str()) {
            continue;
        }
        if wanted.as_ref().is_some_and(|w| !w.contains(&k)) {
            continue;
        }
        let Some(key) = DomainKey::from_db_string(&k) else {
            continue;
        };
        if let Some(p) = &prefix {
            if !key.0.starts_with(p) {
                continue;
            }
        }
        out.push(key);
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    Ok(out)
}

/// `assetsOrError(prefix, assetKeys, cursor, limit)`: see [`asset_keys_page`].
pub async fn assets_or_error(
    ctx: &Ctx,
    prefix: Option<Vec<String>>,
    asset_keys: Option<Vec<AssetKeyInput>>,
    cursor: Option<String>,
    limit: Option<i32>,
) -> AssetsOrError {
    match asset_keys_page(ctx, prefix, asset_keys, cursor, limit).await {
        Ok(keys) => AssetsOrError::AssetConnection(AssetConnection {
            cursor: keys.last().map(DomainKey::to_db_string),
            nodes: keys.into_iter().map(Asset::new).collect(),
        }),
        Err(e) => AssetsOrError::PythonError(e),
    }
}

/// `AssetLatestInfo`: the latest materialization and run of an asset, and the unfinished runs
/// that plan to materialize it (from the not-finished runs, found by the status index).
#[derive(Debug, Clone)]
pub struct AssetLatestInfo {
    key: DomainKey,
    latest: Option<EventRecord>,
    latest_run: Option<dagster_core::domain::Run>,
    unstarted: Vec<String>,
    in_progress: Vec<String>,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl AssetLatestInfo {
    fn id(&self) -> ID {
        ID::new(format!("w.{}", escaped_user_string(&self.key)))
    }
    fn asset_key(&self) -> AssetKey {
        AssetKey::from(&self.key)
    }
    fn latest_materialization(&self) -> Option<MaterializationEvent> {
        self.latest
            .clone()
            .map(|r| MaterializationEvent::new(Arc::new(r)))
    }
    fn unstarted_run_ids(&self) -> &[String] {
        &self.unstarted
    }
    fn in_progress_run_ids(&self) -> &[String] {
        &self.in_progress
    }
    fn latest_run(&self) -> Option<super::runs::Run> {
        self.latest_run.clone().map(super::runs::Run::new)
    }
}

/// Most unfinished runs inspected by `assetsLatestInfo`.
const MAX_UNFINISHED_RUNS: usize = 1000;

/// `assetsLatestInfo(assetKeys)`: one index query for the latest materializations, one query
/// for the unfinished runs, one `get_run` per asset with a latest run.
pub async fn assets_latest_info(
    ctx: &Ctx,
    asset_keys: Vec<AssetKeyInput>,
) -> Result<Vec<AssetLatestInfo>, PythonError> {
    use dagster_core::domain::{RunStatus as S, RunsFilter};
    let keys: Vec<DomainKey> = asset_keys.into_iter().map(|k| DomainKey(k.path)).collect();
    let entries = ctx.state.locations();
    let all_defs: Vec<Arc<Definitions>> = entries
        .iter()
        .filter_map(|e| e.defs.as_ref().ok().cloned())
        .collect();
    let st = ctx.state.clone();
    blocking(move || {
        let storage = &st.instance.storage;
        let err = |e: dagster_core::storage::StorageError| PythonError::from_error(&e);
        let records = storage.asset_records(Some(&keys)).map_err(err)?;
        let filter = RunsFilter {
            statuses: Some(S::NOT_FINISHED.to_vec()),
            ..Default::default()
        };
        let unfinished = storage
            .list_runs(&filter, None, Some(MAX_UNFINISHED_RUNS))
            .map_err(err)?;
        let plans = |run: &dagster_core::domain::Run, key: &DomainKey| -> bool {
            match &run.asset_selection {
                Some(sel) if !sel.is_empty() => sel.contains(key),
                _ => all_defs
                    .iter()
                    .filter(|d| {
                        run.code_location
                            .as_deref()
                            .is_none_or(|l| l == d.location_name)
                    })
                    .any(|d| d.job(&run.job_name).is_some_and(|j| j.assets.contains(key))),
            }
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let rec = records.iter().find(|r| r.asset_key == key);
            let latest_run = match rec.and_then(|r| r.last_run_id.as_deref()) {
                Some(id) => storage.get_run(id).map_err(err)?,
                None => None,
            };
            let mut unstarted = Vec::new();
            let mut in_progress = Vec::new();
            for run in unfinished.iter().filter(|r| plans(r, &key)) {
                match run.status {
                    S::Queued | S::NotStarted => unstarted.push(run.run_id.clone()),
                    _ => in_progress.push(run.run_id.clone()),
                }
            }
            out.push(AssetLatestInfo {
                latest: rec.and_then(|r| r.last_materialization.clone()),
                latest_run,
                unstarted,
                in_progress,
                key,
            });
        }
        Ok(out)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_user_string_matches_dagster() {
        let k = DomainKey(vec!["first".into(), "second/comp".into(), "b\\s".into()]);
        assert_eq!(escaped_user_string(&k), "first/second\\/comp/b\\\\s");
        assert_eq!(millis_arg("x", Some("1500")).unwrap(), Some(1.5));
        assert!(millis_arg("x", Some("abc")).is_err());
    }
}
