//! Workspace listing (compat doc §3.10): `workspaceOrError`, `locationStatusesOrError`, and the
//! per-repository schedules, sensors (with their stored `InstigationState`), asset nodes and
//! resources. Resource config values are shown redacted (`ResourceDef::redacted_config`):
//! secrets never leave the process.

use super::assets::{AssetNode, DefinitionTag};
#[allow(unused_imports)]
use super::prelude::*;
use super::runs::RepositoryOrigin;
use super::types::*;
use super::{with_storage, Ctx};
use dagster_core::defs::{DefaultStatus, Definitions, ResourceDef, ScheduleDef, SensorDef};
use dagster_core::instigator::schedule;
use juniper::{graphql_object, GraphQLEnum, GraphQLObject, GraphQLUnion, ID};
use std::sync::Arc;

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum InstigationStatus {
    Running,
    Stopped,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum InstigationType {
    Schedule,
    Sensor,
    AutoMaterialize,
}

/// `InstigationState` of a schedule or sensor: the stored status, else the code default.
#[derive(Debug, Clone)]
pub struct InstigationState {
    pub location: String,
    pub name: String,
    pub kind: InstigationType,
    pub status: InstigationStatus,
}

/// `"<origin id>::<selector id>"`, as Dagster's compound instigator ids.
pub fn instigator_id(location: &str, name: &str) -> String {
    format!(
        "{}::{}",
        super::runs::repository_origin_id(location),
        schedule::selector_id(location, name)
    )
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl InstigationState {
    fn id(&self) -> ID {
        ID::new(instigator_id(&self.location, &self.name))
    }
    fn selector_id(&self) -> String {
        schedule::selector_id(&self.location, &self.name)
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn instigation_type(&self) -> InstigationType {
        self.kind
    }
    fn status(&self) -> InstigationStatus {
        self.status
    }
    fn repository_name(&self) -> &str {
        REPOSITORY_NAME
    }
    fn repository_location_name(&self) -> &str {
        &self.location
    }
    fn repository_origin(&self) -> RepositoryOrigin {
        RepositoryOrigin {
            location: self.location.clone(),
        }
    }
    fn running_count(&self) -> i32 {
        i32::from(self.status == InstigationStatus::Running)
    }
    fn has_start_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn has_stop_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    // The fields below read the stored row or the runs and ticks: see `instigators`.
    async fn type_specific_data(
        &self,
        ctx: &Ctx,
    ) -> Result<Option<super::instigators::InstigationTypeSpecificData>, PythonError> {
        super::instigators::type_specific_data(ctx, self).await
    }
    async fn runs(
        &self,
        ctx: &Ctx,
        limit: Option<i32>,
    ) -> Result<Vec<super::runs::Run>, PythonError> {
        super::instigators::runs(ctx, self, limit).await
    }
    async fn runs_count(&self, ctx: &Ctx) -> Result<i32, PythonError> {
        super::instigators::runs_count(ctx, self).await
    }
    /// Newest first. `dayRange`/`dayOffset`: the ticks of the `dayRange` days ending
    /// `dayOffset` days ago; `cursor`: the `tickId` of the last tick of the previous page.
    #[allow(clippy::too_many_arguments)]
    async fn ticks(
        &self,
        ctx: &Ctx,
        day_range: Option<i32>,
        day_offset: Option<i32>,
        limit: Option<i32>,
        cursor: Option<String>,
        statuses: Option<Vec<super::instigators::InstigationTickStatus>>,
        before_timestamp: Option<f64>,
        after_timestamp: Option<f64>,
    ) -> Result<Vec<super::instigators::InstigationTick>, PythonError> {
        let q = super::instigators::TicksQuery {
            day_range,
            day_offset,
            limit,
            cursor,
            statuses,
            before_timestamp,
            after_timestamp,
        };
        super::instigators::ticks(ctx, self, q).await
    }
    /// One of this instigator's ticks by id.
    async fn tick(
        &self,
        ctx: &Ctx,
        tick_id: ID,
    ) -> Result<super::instigators::InstigationTick, PythonError> {
        super::instigators::tick(ctx, self, &tick_id).await
    }
    /// When it ticks next (`null` when stopped).
    async fn next_tick(&self, ctx: &Ctx) -> Result<Option<DryRunInstigationTick>, PythonError> {
        let defs = location_defs(ctx, REPOSITORY_NAME, &self.location);
        match (self.kind, defs) {
            (InstigationType::Schedule, Some(d)) => match d.schedules.get(&self.name) {
                Some(def) => schedule_next_tick(ctx, &self.location, def).await,
                None => Ok(None),
            },
            (InstigationType::Sensor, Some(d)) => match d.sensors.get(&self.name) {
                Some(def) => sensor_next_tick(ctx, &self.location, def).await,
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }
}

pub async fn instigation_state_of(
    ctx: &Ctx,
    location: &str,
    name: &str,
    kind: InstigationType,
    default: DefaultStatus,
) -> Result<InstigationState, PythonError> {
    let id = schedule::selector_id(location, name);
    let stored = with_storage(&ctx.state, move |s| s.get_instigator(&id)).await?;
    let running = dagster_core::instigator::effective_status(stored.as_ref(), default)
        == dagster_core::instigator::InstigatorStatus::Running;
    Ok(InstigationState {
        location: location.to_string(),
        name: name.to_string(),
        kind,
        status: if running {
            InstigationStatus::Running
        } else {
            InstigationStatus::Stopped
        },
    })
}

fn default_status(d: DefaultStatus) -> InstigationStatus {
    match d {
        DefaultStatus::Running => InstigationStatus::Running,
        DefaultStatus::Stopped => InstigationStatus::Stopped,
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub location: String,
    pub def: ScheduleDef,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl Schedule {
    fn id(&self) -> ID {
        ID::new(instigator_id(&self.location, &self.def.name))
    }
    fn name(&self) -> &str {
        &self.def.name
    }
    fn cron_schedule(&self) -> &str {
        &self.def.cron
    }
    fn pipeline_name(&self) -> &str {
        &self.def.job
    }
    fn solid_selection(&self) -> Option<Vec<Option<String>>> {
        None
    }
    fn mode(&self) -> &str {
        "default"
    }
    fn execution_timezone(&self) -> Option<String> {
        Some(self.def.timezone.name().to_string())
    }
    fn description(&self) -> Option<&str> {
        self.def.description.as_deref()
    }
    fn default_status(&self) -> InstigationStatus {
        default_status(self.def.default_status)
    }
    fn can_reset(&self) -> bool {
        true
    }
    fn tags(&self) -> Vec<DefinitionTag> {
        self.def
            .tags
            .iter()
            .map(|(k, v)| DefinitionTag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    }
    async fn schedule_state(&self, ctx: &Ctx) -> Result<InstigationState, PythonError> {
        instigation_state_of(
            ctx,
            &self.location,
            &self.def.name,
            InstigationType::Schedule,
            self.def.default_status,
        )
        .await
    }
    /// Schedules target jobs, not asset selections.
    fn asset_selection(&self) -> Option<AssetSelection> {
        None
    }
    /// The next ticks after `cursor` (default now), each with the run it will request.
    fn future_ticks(
        &self,
        cursor: Option<f64>,
        limit: Option<i32>,
        until: Option<f64>,
    ) -> Result<DryRunInstigationTicks, PythonError> {
        future_ticks(&self.def, cursor, limit, until)
    }
    fn potential_tick_timestamps(
        &self,
        start_timestamp: Option<f64>,
        upper_limit: Option<i32>,
        lower_limit: Option<i32>,
    ) -> Result<Vec<f64>, PythonError> {
        potential_tick_timestamps(&self.def, start_timestamp, upper_limit, lower_limit)
    }
    fn owners(&self) -> Vec<DefinitionOwner> {
        Vec::new()
    }
    /// Jobs are unpartitioned: no partition set.
    fn partition_set(&self) -> Option<PartitionSet> {
        None
    }
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum SensorType {
    Standard,
    RunStatus,
    Asset,
    MultiAsset,
    FreshnessPolicy,
    AutoMaterialize,
    Automation,
    Unknown,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct Target {
    pub pipeline_name: String,
    pub mode: String,
    pub solid_selection: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Sensor {
    pub location: String,
    pub def: SensorDef,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl Sensor {
    fn id(&self) -> ID {
        ID::new(instigator_id(&self.location, &self.def.name))
    }
    fn job_origin_id(&self) -> String {
        super::runs::repository_origin_id(&self.location)
    }
    fn name(&self) -> &str {
        &self.def.name
    }
    fn description(&self) -> Option<&str> {
        self.def.description.as_deref()
    }
    fn min_interval_seconds(&self) -> i32 {
        i32::try_from(self.def.minimum_interval_seconds).unwrap_or(i32::MAX)
    }
    fn default_status(&self) -> InstigationStatus {
        default_status(self.def.default_status)
    }
    fn can_reset(&self) -> bool {
        true
    }
    fn has_cursor_update_permissions(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn sensor_type(&self) -> SensorType {
        self.kind()
    }
    fn targets(&self) -> Option<Vec<Target>> {
        Some(vec![Target {
            pipeline_name: self.def.job.clone(),
            mode: "default".into(),
            solid_selection: None,
        }])
    }
    fn tags(&self) -> Vec<DefinitionTag> {
        Vec::new()
    }
    async fn sensor_state(&self, ctx: &Ctx) -> Result<InstigationState, PythonError> {
        instigation_state_of(
            ctx,
            &self.location,
            &self.def.name,
            InstigationType::Sensor,
            self.def.default_status,
        )
        .await
    }
    /// Sensors target jobs, not asset selections.
    fn asset_selection(&self) -> Option<AssetSelection> {
        None
    }
    fn metadata(&self) -> SensorMetadata {
        sensor_metadata(&self.def)
    }
    async fn next_tick(&self, ctx: &Ctx) -> Result<Option<DryRunInstigationTick>, PythonError> {
        sensor_next_tick(ctx, &self.location, &self.def).await
    }
    fn owners(&self) -> Vec<DefinitionOwner> {
        Vec::new()
    }
}

impl Sensor {
    pub fn kind(&self) -> SensorType {
        match self.def.kind.as_str() {
            "run_status" => SensorType::RunStatus,
            "asset_materialized" => SensorType::Asset,
            _ => SensorType::Standard,
        }
    }
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum ConfiguredValueType {
    Value,
    EnvVar,
    Secret,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ConfiguredValue {
    pub key: String,
    pub value: String,
    #[graphql(name = "type")]
    pub value_type: ConfiguredValueType,
}

/// A resource of a code location. Config values of secret keys are `***` (type `SECRET`).
#[derive(Debug, Clone)]
pub struct ResourceDetails {
    pub location: String,
    pub def: ResourceDef,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl ResourceDetails {
    fn id(&self) -> String {
        format!("{}-{}-{}", self.location, REPOSITORY_NAME, self.def.name)
    }
    fn name(&self) -> &str {
        &self.def.name
    }
    fn description(&self) -> Option<&str> {
        self.def.description.as_deref()
    }
    fn resource_type(&self) -> &str {
        &self.def.type_name
    }
    fn is_top_level(&self) -> bool {
        true
    }
    fn configured_values(&self) -> Vec<ConfiguredValue> {
        let redacted = self.def.redacted_config();
        let Some(obj) = redacted.as_object() else {
            return Vec::new();
        };
        obj.iter()
            .map(|(k, v)| ConfiguredValue {
                key: k.clone(),
                value: match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                value_type: if self.def.secret_keys.contains(k) {
                    ConfiguredValueType::Secret
                } else {
                    ConfiguredValueType::Value
                },
            })
            .collect()
    }
    /// The assets that require this resource.
    fn asset_keys_using(&self, ctx: &Ctx) -> Vec<AssetKey> {
        self.defs(ctx)
            .map(|d| {
                d.assets
                    .values()
                    .filter(|a| a.required_resources.iter().any(|r| r == &self.def.name))
                    .map(|a| AssetKey::from(&a.key))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn jobs_ops_using(&self, ctx: &Ctx) -> Vec<JobWithOps> {
        self.defs(ctx)
            .map(|d| jobs_using(&self.location, &d, &self.def.name))
            .unwrap_or_default()
    }
    fn schedules_using(&self) -> Vec<String> {
        Vec::new()
    }
    fn sensors_using(&self, ctx: &Ctx) -> Vec<String> {
        self.defs(ctx)
            .map(|d| sensors_using(&d, &self.def.name))
            .unwrap_or_default()
    }
    fn nested_resources(&self) -> Vec<NestedResourceEntry> {
        Vec::new()
    }
    fn parent_resources(&self) -> Vec<NestedResourceEntry> {
        Vec::new()
    }
    /// The resource's config keys (values redacted in `configuredValues`); types are checked
    /// by the resource type when the location loads, so each is shown as `Any`.
    fn config_fields(&self) -> Vec<ConfigTypeField> {
        let Some(obj) = self.def.config.as_object() else {
            return Vec::new();
        };
        let any = std::sync::Arc::new(CfgType {
            key: "Any".into(),
            description: None,
            kind: CfgKind::Regular("Any"),
        });
        let fields: Vec<CfgField> = obj
            .keys()
            .map(|k| CfgField {
                name: k.clone(),
                description: None,
                required: false,
                ty: any.clone(),
                default: None,
            })
            .collect();
        let n = fields.len();
        let shape = std::sync::Arc::new(CfgType {
            key: format!("Shape.resource.{}", self.def.name),
            description: None,
            kind: CfgKind::Shape {
                fields,
                permissive: false,
            },
        });
        (0..n)
            .map(|index| ConfigTypeField {
                shape: shape.clone(),
                index,
            })
            .collect()
    }
}

impl ResourceDetails {
    fn defs(&self, ctx: &Ctx) -> Option<Arc<Definitions>> {
        location_defs(ctx, REPOSITORY_NAME, &self.location)
    }
}

pub fn schedules_of(location: &str, defs: &Definitions) -> Vec<Schedule> {
    defs.schedules
        .values()
        .map(|def| Schedule {
            location: location.to_string(),
            def: def.clone(),
        })
        .collect()
}

pub fn sensors_of(location: &str, defs: &Definitions) -> Vec<Sensor> {
    defs.sensors
        .values()
        .map(|def| Sensor {
            location: location.to_string(),
            def: def.clone(),
        })
        .collect()
}

pub fn resources_of(location: &str, defs: &Definitions) -> Vec<ResourceDetails> {
    defs.resources
        .values()
        .map(|def| ResourceDetails {
            location: location.to_string(),
            def: def.clone(),
        })
        .collect()
}

pub fn asset_nodes_of(defs: &Arc<Definitions>) -> Vec<AssetNode> {
    defs.assets
        .keys()
        .map(|key| AssetNode {
            defs: defs.clone(),
            key: key.clone(),
        })
        .collect()
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct AssetGroup {
    pub id: String,
    pub group_name: String,
    pub asset_keys: Vec<AssetKey>,
}

pub fn asset_groups_of(location: &str, defs: &Definitions) -> Vec<AssetGroup> {
    let mut groups: std::collections::BTreeMap<String, Vec<AssetKey>> = Default::default();
    for a in defs.assets.values() {
        groups
            .entry(a.group.clone())
            .or_default()
            .push(AssetKey::from(&a.key));
    }
    groups
        .into_iter()
        .map(|(group_name, asset_keys)| AssetGroup {
            id: format!("{location}-{REPOSITORY_NAME}-{group_name}"),
            group_name,
            asset_keys,
        })
        .collect()
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct Workspace {
    pub id: String,
    pub location_entries: Vec<WorkspaceLocationEntry>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum WorkspaceOrError {
    Workspace(Workspace),
    #[allow(dead_code)] // a member of Dagster's union; loading errors are per location here
    PythonError(PythonError),
}

pub fn workspace_or_error(ctx: &Ctx) -> WorkspaceOrError {
    WorkspaceOrError::Workspace(Workspace {
        id: "Workspace".into(),
        location_entries: ctx
            .state
            .locations()
            .into_iter()
            .map(WorkspaceLocationEntry)
            .collect(),
    })
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct WorkspaceLocationStatusEntry {
    pub id: ID,
    pub name: String,
    pub load_status: RepositoryLocationLoadStatus,
    pub update_timestamp: f64,
    pub version_key: String,
    pub permissions: Vec<super::instance::Permission>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct WorkspaceLocationStatusEntries {
    pub entries: Vec<WorkspaceLocationStatusEntry>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum WorkspaceLocationStatusEntriesOrError {
    WorkspaceLocationStatusEntries(WorkspaceLocationStatusEntries),
    #[allow(dead_code)] // a member of Dagster's union
    PythonError(PythonError),
}

pub fn location_statuses(ctx: &Ctx) -> WorkspaceLocationStatusEntriesOrError {
    let perms = super::instance::permissions(ctx);
    WorkspaceLocationStatusEntriesOrError::WorkspaceLocationStatusEntries(
        WorkspaceLocationStatusEntries {
            entries: ctx
                .state
                .locations()
                .into_iter()
                .map(|e| WorkspaceLocationStatusEntry {
                    id: ID::new(format!("location_status:{}", e.name)),
                    name: e.name.clone(),
                    load_status: RepositoryLocationLoadStatus::Loaded,
                    update_timestamp: e.updated,
                    version_key: format!("{}", e.updated),
                    permissions: perms.clone(),
                })
                .collect(),
        },
    )
}
