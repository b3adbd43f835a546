//! Workspace listing (compat doc §3.10): `workspaceOrError`, `locationStatusesOrError`, and the
//! per-repository schedules, sensors (with their stored `InstigationState`), asset nodes and
//! resources. Resource config values are shown redacted (`ResourceDef::redacted_config`):
//! secrets never leave the process.

use super::assets::{AssetNode, DefinitionTag};
use super::runs::RepositoryOrigin;
use super::types::*;
use super::{blocking, Ctx};
use dagster_core::defs::{DefaultStatus, Definitions, ResourceDef, ScheduleDef, SensorDef};
use dagster_core::schedule;
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
    async fn ticks(
        &self,
        ctx: &Ctx,
        limit: Option<i32>,
    ) -> Result<Vec<super::instigators::InstigationTick>, PythonError> {
        super::instigators::ticks(ctx, self, limit).await
    }
}

async fn state_of(
    ctx: &Ctx,
    location: &str,
    name: &str,
    kind: InstigationType,
    default: DefaultStatus,
) -> Result<InstigationState, PythonError> {
    let st = ctx.state.clone();
    let id = schedule::selector_id(location, name);
    let stored = blocking(move || {
        st.instance
            .storage
            .get_instigator(&id)
            .map_err(|e| PythonError::from_error(&e))
    })
    .await?;
    let running = match stored.as_ref().map(|s| s.status.as_str()) {
        Some("RUNNING") => true,
        Some("STOPPED") => false,
        _ => matches!(default, DefaultStatus::Running),
    };
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
        state_of(
            ctx,
            &self.location,
            &self.def.name,
            InstigationType::Schedule,
            self.def.default_status,
        )
        .await
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
        state_of(
            ctx,
            &self.location,
            &self.def.name,
            InstigationType::Sensor,
            self.def.default_status,
        )
        .await
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
    fn asset_keys_using(&self, ctx: &Ctx) -> Vec<AssetKey> {
        let _ = ctx;
        Vec::new()
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
