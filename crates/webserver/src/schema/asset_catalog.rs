//! The asset catalog's records (`assetRecordsOrError`), asset event history, wipe and runless
//! events, owners and selections.

#![allow(dead_code)]

use super::prelude::*;

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetEventHistoryEventTypeSelector {
    #[graphql(name = "MATERIALIZATION")]
    Materialization,
    #[graphql(name = "FAILED_TO_MATERIALIZE")]
    FailedToMaterialize,
    #[graphql(name = "OBSERVATION")]
    Observation,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetEventType {
    #[graphql(name = "ASSET_MATERIALIZATION")]
    AssetMaterialization,
    #[graphql(name = "ASSET_OBSERVATION")]
    AssetObservation,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetJobKey {
    pub job_name: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct AssetJobKeyInput {
    pub job_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetNodeDefinitionCollision {
    pub asset_key: AssetKey,
    pub repositories: Vec<Repository>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetRecord {
    pub id: String,
    pub key: AssetKey,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetRecordConnection {
    pub assets: Vec<AssetRecord>,
    pub cursor: Option<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetRecordsOrError {
    AssetRecordConnection(AssetRecordConnection),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetResultEventHistoryConnection {
    pub results: Vec<AssetResultEventType>,
    pub cursor: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetResultEventType {
    FailedToMaterializeEvent(FailedToMaterializeEvent),
    MaterializationEvent(MaterializationEvent),
    ObservationEvent(ObservationEvent),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetSelection {
    pub asset_selection_string: Option<String>,
    pub asset_keys: Vec<AssetKey>,
    pub asset_checks: Vec<AssetCheckHandle>,
    pub assets_or_error: AssetsOrError,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetWipeMutationResult {
    AssetNotFoundError(AssetNotFoundError),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
    UnsupportedOperationError(UnsupportedOperationError),
    AssetWipeSuccess(AssetWipeSuccess),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetWipeSuccess {
    pub asset_partition_ranges: Vec<AssetPartitionRange>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum DefinitionOwner {
    UserDefinitionOwner(UserDefinitionOwner),
    TeamDefinitionOwner(TeamDefinitionOwner),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum EntityKey {
    AssetKey(AssetKey),
    AssetCheckHandle(AssetCheckHandle),
    AssetJobKey(AssetJobKey),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct MaterializationUpstreamDataVersion {
    pub asset_key: AssetKey,
    pub downstream_asset_key: AssetKey,
    pub timestamp: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ReportRunlessAssetEventsParams {
    pub event_type: AssetEventType,
    pub asset_key: AssetKeyInput,
    pub partition_keys: Option<Vec<Option<String>>>,
    pub description: Option<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ReportRunlessAssetEventsResult {
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
    ReportRunlessAssetEventsSuccess(ReportRunlessAssetEventsSuccess),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ReportRunlessAssetEventsSuccess {
    pub asset_key: AssetKey,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct StorageAddress {
    pub storage_kind: Option<String>,
    pub table_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TeamDefinitionOwner {
    pub team: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct UserDefinitionOwner {
    pub email: String,
}

// ---------------------------------------------------------------------------------------------
// Resolvers

use dagster_core::domain::{
    AssetKey as DomainKey, EventData, EventType, LogLevel as DomainLevel, Materialization,
    MetadataEntry as DomainEntry, NewEvent,
};

/// `assetRecordsOrError`: one page of asset keys; `id` as Dagster's (`escaped user string`).
pub async fn asset_records_or_error(
    ctx: &Ctx,
    prefix: Option<Vec<String>>,
    cursor: Option<String>,
    limit: Option<i32>,
) -> AssetRecordsOrError {
    match asset_keys_page(ctx, prefix, None, cursor, limit).await {
        Ok(keys) => AssetRecordsOrError::AssetRecordConnection(AssetRecordConnection {
            cursor: keys.last().map(DomainKey::to_db_string),
            assets: keys
                .iter()
                .map(|k| AssetRecord {
                    id: escaped_user_string(k),
                    key: AssetKey::from(k),
                })
                .collect(),
        }),
        Err(e) => AssetRecordsOrError::PythonError(e),
    }
}

/// Keys defined by more than one loaded code location.
pub fn asset_node_definition_collisions(
    ctx: &Ctx,
    asset_keys: Vec<AssetKeyInput>,
) -> Vec<AssetNodeDefinitionCollision> {
    let locations: Vec<_> = ctx
        .state
        .locations()
        .into_iter()
        .filter_map(|e| e.defs.ok().map(|d| (e.name, d)))
        .collect();
    asset_keys
        .into_iter()
        .filter_map(|k| {
            let key = DomainKey(k.path);
            let repos: Vec<Repository> = locations
                .iter()
                .filter(|(_, d)| d.assets.contains_key(&key))
                .map(|(name, d)| Repository {
                    location: name.clone(),
                    defs: d.clone(),
                })
                .collect();
            (repos.len() > 1).then(|| AssetNodeDefinitionCollision {
                asset_key: AssetKey::from(&key),
                repositories: repos,
            })
        })
        .collect()
}

/// `wipeAssets`: removes each asset's materialization index (its runs' logs stay). Assets
/// are unpartitioned, so a partition range cannot be wiped on its own.
pub async fn wipe_assets(
    ctx: &Ctx,
    ranges: Vec<PartitionsByAssetSelector>,
) -> AssetWipeMutationResult {
    if ctx.state.read_only {
        return AssetWipeMutationResult::UnauthorizedError(UnauthorizedError::new());
    }
    if let Some(r) = ranges.iter().find(|r| r.partitions.is_some()) {
        return AssetWipeMutationResult::UnsupportedOperationError(UnsupportedOperationError {
            message: format!(
                "Asset {} is not partitioned: wipe the whole asset instead of a partition range",
                DomainKey(r.asset_key.path.clone()).to_user_string()
            ),
        });
    }
    let keys: Vec<DomainKey> = ranges
        .iter()
        .map(|r| DomainKey(r.asset_key.path.clone()))
        .collect();
    let st = ctx.state.clone();
    let wiped = keys.clone();
    let res = blocking(move || {
        for k in &wiped {
            st.instance
                .storage
                .wipe_asset(k)
                .map_err(|e| PythonError::from_error(&e))?;
        }
        Ok(())
    })
    .await;
    match res {
        Ok(()) => AssetWipeMutationResult::AssetWipeSuccess(AssetWipeSuccess {
            asset_partition_ranges: keys
                .iter()
                .map(|k| AssetPartitionRange {
                    asset_key: AssetKey::from(k),
                    partition_range: None,
                })
                .collect(),
        }),
        Err(e) => AssetWipeMutationResult::PythonError(e),
    }
}

/// A materialization or observation recorded outside any run (Dagster's runless events:
/// run id `""`), as `reportRunlessAssetEvents` and `POST /report_asset_*` record them.
pub fn runless_event(
    key: &DomainKey,
    observation: bool,
    partition: Option<String>,
    description: Option<String>,
    metadata: Vec<DomainEntry>,
) -> NewEvent {
    let (event_type, what) = if observation {
        (EventType::AssetObservation, "observed")
    } else {
        (EventType::AssetMaterialization, "materialized")
    };
    let mut e = NewEvent::new(
        "",
        "",
        Some(event_type),
        format!("Asset {} {what} (reported)", key.to_user_string()),
    );
    e.level = DomainLevel::Info;
    e.data = EventData::Asset(Materialization {
        asset_key: key.clone(),
        description,
        metadata,
        partition,
        tags: Default::default(),
    });
    e
}

pub async fn report_runless_asset_events(
    ctx: &Ctx,
    params: ReportRunlessAssetEventsParams,
) -> ReportRunlessAssetEventsResult {
    if ctx.state.read_only {
        return ReportRunlessAssetEventsResult::UnauthorizedError(UnauthorizedError::new());
    }
    let key = DomainKey(params.asset_key.path.clone());
    let observation = params.event_type == AssetEventType::AssetObservation;
    let partitions: Vec<Option<String>> = match params.partition_keys {
        Some(p) if !p.is_empty() => p,
        _ => vec![None],
    };
    let events: Vec<NewEvent> = partitions
        .into_iter()
        .map(|p| runless_event(&key, observation, p, params.description.clone(), Vec::new()))
        .collect();
    let st = ctx.state.clone();
    let res = blocking(move || {
        st.instance
            .storage
            .store_events(&events)
            .map(|_| ())
            .map_err(|e| PythonError::from_error(&e))
    })
    .await;
    match res {
        Ok(()) => ReportRunlessAssetEventsResult::ReportRunlessAssetEventsSuccess(
            ReportRunlessAssetEventsSuccess {
                asset_key: AssetKey::from(&key),
            },
        ),
        Err(e) => ReportRunlessAssetEventsResult::PythonError(e),
    }
}
