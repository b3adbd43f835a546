//! The GraphQL input types and the `RunConfigData` scalar that the queries and mutations of
//! several areas take (selectors, execution params, asset keys).

use juniper::{GraphQLInputObject, GraphQLScalar, Scalar, ScalarValue};

/// `scalar RunConfigData`: a YAML (or JSON) string. The HTTP layer turns an object given for
/// `runConfigData` in the variables into its JSON text first (juniper scalars only take
/// scalar input), so both the UI's YAML string and the Python client's object work.
#[derive(GraphQLScalar, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(name = "RunConfigData", with = Self, parse_token(String))]
pub struct RunConfigData(pub String);

impl RunConfigData {
    fn to_output<S: ScalarValue>(&self) -> S {
        S::from_displayable(&self.0)
    }
    fn from_input(v: &Scalar<impl ScalarValue>) -> Result<Self, Box<str>> {
        v.try_to_string()
            .map(RunConfigData)
            .ok_or_else(|| format!("Expected a YAML string or an object, found: {v}").into())
    }
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct AssetKeyInput {
    pub path: Vec<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct AssetCheckHandleInput {
    pub asset_key: AssetKeyInput,
    pub name: String,
}

/// `JobOrPipelineSelector`; location and repository names are optional here (Dagster requires
/// them): the job is then looked up in every loaded location.
#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct JobOrPipelineSelector {
    pub pipeline_name: Option<String>,
    pub job_name: Option<String>,
    pub repository_name: Option<String>,
    pub repository_location_name: Option<String>,
    pub solid_selection: Option<Vec<String>>,
    pub asset_selection: Option<Vec<AssetKeyInput>>,
    pub asset_check_selection: Option<Vec<AssetCheckHandleInput>>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ExecutionTag {
    pub key: String,
    pub value: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ExecutionMetadata {
    pub tags: Option<Vec<ExecutionTag>>,
    pub root_run_id: Option<String>,
    pub parent_run_id: Option<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ExecutionParams {
    pub selector: JobOrPipelineSelector,
    pub run_config_data: Option<RunConfigData>,
    pub mode: Option<String>,
    pub execution_metadata: Option<ExecutionMetadata>,
    pub step_keys: Option<Vec<String>>,
    pub preset: Option<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct RepositorySelector {
    pub repository_name: String,
    pub repository_location_name: String,
}
