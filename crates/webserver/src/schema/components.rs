//! Components and definitions state (Dagster's `dg` components): not part of this project; every
//! code location answers with none.

#![allow(dead_code)]

use super::prelude::*;

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AppManagedComponent {
    pub component_id: String,
    pub component_type: String,
    pub attributes: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AppManagedComponentValidationError {
    pub message: String,
    pub errors: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AppManagedComponents {
    pub location_name: String,
    pub components: Vec<AppManagedComponent>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AppManagedComponentsOrError {
    AppManagedComponents(AppManagedComponents),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct Component {
    pub component_id: String,
    pub component_type: String,
    pub is_app_managed: bool,
    pub attributes: Option<String>,
    pub defs_state_key: Option<String>,
    pub defs_state_management_type: Option<DefsStateManagementType>,
    pub defs_state_info: Option<DefsKeyStateInfo>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ComponentFormSchema {
    pub data_schema: JsonSchema,
    pub ui_schema: JsonSchema,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ComponentTypeInfo {
    pub name: String,
    pub namespace: String,
    pub example: String,
    pub schema: Option<JsonSchema>,
    pub form_schema: Option<ComponentFormSchema>,
    pub description: Option<String>,
    pub owners: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub is_app_managed: bool,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ComponentTypes {
    pub location_name: String,
    pub component_types: Vec<ComponentTypeInfo>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ComponentTypesOrError {
    ComponentTypes(ComponentTypes),
    RepositoryLocationNotFound(RepositoryLocationNotFound),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct Components {
    pub location_name: String,
    pub components: Vec<Component>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ComponentsOrError {
    Components(Components),
    PythonError(PythonError),
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum DefinitionsSource {
    #[graphql(name = "CODE_SERVER")]
    CodeServer,
    #[graphql(name = "CONNECTION")]
    Connection,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DefsKeyStateInfo {
    pub version: String,
    pub create_timestamp: f64,
    pub management_type: DefsStateManagementType,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DefsStateInfo {
    pub key_state_info: Vec<DefsStateInfoEntry>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DefsStateInfoEntry {
    pub name: String,
    pub info: Option<DefsKeyStateInfo>,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum DefsStateManagementType {
    #[graphql(name = "VERSIONED_STATE_STORAGE")]
    VersionedStateStorage,
    #[graphql(name = "LOCAL_FILESYSTEM")]
    LocalFilesystem,
    #[graphql(name = "LEGACY_CODE_SERVER_SNAPSHOTS")]
    LegacyCodeServerSnapshots,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum DeleteAppManagedComponentResult {
    DeleteAppManagedComponentSuccess(DeleteAppManagedComponentSuccess),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DeleteAppManagedComponentSuccess {
    pub location_name: String,
    pub component_id: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct FeatureFlag {
    pub name: String,
    pub enabled: bool,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct RefreshComponentStateAccepted {
    pub location_name: String,
    pub defs_state_key: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct RefreshComponentStateError {
    pub location_name: String,
    pub defs_state_key: String,
    pub message: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum RefreshComponentStateResult {
    RefreshComponentStateSuccess(RefreshComponentStateSuccess),
    RefreshComponentStateAccepted(RefreshComponentStateAccepted),
    RefreshComponentStateError(RefreshComponentStateError),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct RefreshComponentStateSuccess {
    pub component: Component,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum SetAppManagedComponentResult {
    SetAppManagedComponentSuccess(SetAppManagedComponentSuccess),
    AppManagedComponentValidationError(AppManagedComponentValidationError),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct SetAppManagedComponentSuccess {
    pub component: AppManagedComponent,
}

/// What a component mutation answers: no code location here is built from components.
pub fn unsupported(location: &str, component_id: &str) -> PythonError {
    PythonError::new(format!(
        "Code location {location} has no component {component_id}: components are not supported by this deployment"
    ))
}
