//! Dagster types and a job's modes (`DagsterType` and its implementations, `Mode`, `Resource`,
//! `Logger`, `PipelinePreset`), moved out of [`super::pipelines`], which re-exports them.

#![allow(dead_code)] // error members of Dagster's unions that these lookups never produce

#[allow(unused_imports)]
use super::prelude::*;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Dagster types

interface! {
    pub enum DagsterTypeValue: "DagsterType" {
        fields {
            "key": String,
            "name": Option<String>,
            "displayName": String,
            "description": Option<String>,
            "isNullable": bool,
            "isList": bool,
            "isBuiltin": bool,
            "isNothing": bool,
            "inputSchemaType": Option<ConfigTypeValue>,
            "outputSchemaType": Option<ConfigTypeValue>,
            "innerTypes": Vec<DagsterTypeValue>,
            "metadataEntries": Vec<MetadataEntryValue>,
        }
        for [ListDagsterType, NullableDagsterType, RegularDagsterType]
    }
}

/// A plain (built-in) Dagster type: here only `Nothing`.
#[derive(Debug, Clone)]
pub struct RegularDagsterType {
    pub key: String,
    pub name: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    pub is_nothing: bool,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = DagsterTypeValue)]
impl RegularDagsterType {
    fn key(&self) -> &str {
        &self.key
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn display_name(&self) -> &str {
        &self.display_name
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn is_nullable(&self) -> bool {
        false
    }
    fn is_list(&self) -> bool {
        false
    }
    fn is_builtin(&self) -> bool {
        true
    }
    fn is_nothing(&self) -> bool {
        self.is_nothing
    }
    fn input_schema_type(&self) -> Option<ConfigTypeValue> {
        None
    }
    fn output_schema_type(&self) -> Option<ConfigTypeValue> {
        None
    }
    fn inner_types(&self) -> Vec<DagsterTypeValue> {
        Vec::new()
    }
    fn metadata_entries(&self) -> Vec<MetadataEntryValue> {
        Vec::new()
    }
}

/// List and nullable Dagster types exist in the schema; no op here has one.
macro_rules! wrapping_dagster_type {
    ($name:ident) => {
        #[derive(Debug, Clone)]
        pub struct $name(pub std::convert::Infallible);

        #[graphql_object]
        #[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [DagsterTypeValue, WrappingDagsterTypeValue])]
        impl $name {
            fn key(&self) -> String {
                match self.0 {}
            }
            fn name(&self) -> Option<String> {
                match self.0 {}
            }
            fn display_name(&self) -> String {
                match self.0 {}
            }
            fn description(&self) -> Option<String> {
                match self.0 {}
            }
            fn is_nullable(&self) -> bool {
                match self.0 {}
            }
            fn is_list(&self) -> bool {
                match self.0 {}
            }
            fn is_builtin(&self) -> bool {
                match self.0 {}
            }
            fn is_nothing(&self) -> bool {
                match self.0 {}
            }
            fn input_schema_type(&self) -> Option<ConfigTypeValue> {
                match self.0 {}
            }
            fn output_schema_type(&self) -> Option<ConfigTypeValue> {
                match self.0 {}
            }
            fn inner_types(&self) -> Vec<DagsterTypeValue> {
                match self.0 {}
            }
            fn metadata_entries(&self) -> Vec<MetadataEntryValue> {
                match self.0 {}
            }
            fn of_type(&self) -> DagsterTypeValue {
                match self.0 {}
            }
        }
    };
}

wrapping_dagster_type!(ListDagsterType);
wrapping_dagster_type!(NullableDagsterType);

interface! {
    pub enum WrappingDagsterTypeValue: "WrappingDagsterType" {
        fields {
            "ofType": DagsterTypeValue,
        }
        for [ListDagsterType, NullableDagsterType]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct DagsterTypeNotFoundError {
    pub message: String,
    pub dagster_type_name: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum DagsterTypeOrError {
    RegularDagsterType(RegularDagsterType),
    PipelineNotFoundError(PipelineNotFoundError),
    DagsterTypeNotFoundError(DagsterTypeNotFoundError),
    PythonError(PythonError),
}

// ---------------------------------------------------------------------------------------------
// Modes, resources, loggers, presets

/// The job's one mode, `default`.
#[derive(Debug, Clone)]
pub struct Mode {
    pub graph: Arc<JobGraph>,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl Mode {
    fn id(&self) -> String {
        format!("{}-default", self.graph.job.name)
    }
    fn name(&self) -> &str {
        "default"
    }
    fn description(&self) -> Option<String> {
        None
    }
    /// The resources the job's assets require.
    fn resources(&self) -> Vec<Resource> {
        job_resources(&self.graph)
    }
    /// Run logs go to the event log; there are no configurable loggers.
    fn loggers(&self) -> Vec<Logger> {
        Vec::new()
    }
}

/// The resources a job's assets require. Their config is set in the pipeline config, not in
/// run config, so they have no config field.
pub fn job_resources(graph: &JobGraph) -> Vec<Resource> {
    graph
        .required_resources()
        .into_iter()
        .map(|name| Resource {
            description: graph
                .defs
                .resources
                .get(&name)
                .and_then(|r| r.description.clone()),
            name,
            config_field: None,
        })
        .collect()
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct Resource {
    pub name: String,
    pub description: Option<String>,
    pub config_field: Option<ConfigTypeField>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct Logger {
    pub name: String,
    pub description: Option<String>,
    pub config_field: Option<ConfigTypeField>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PipelinePreset {
    pub name: String,
    pub solid_selection: Option<Vec<String>>,
    pub run_config_yaml: String,
    pub mode: String,
    pub tags: Vec<PipelineTag>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct ModeNotFoundError {
    pub message: String,
    pub mode: String,
}
