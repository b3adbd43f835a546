//! Dagster types as the UI sees them (`DagsterType` and its members `RegularDagsterType`,
//! `ListDagsterType`, `NullableDagsterType`, `DagsterTypeOrError`). Every input and output here
//! has the `Nothing` type ([`super::pipelines`]).

#![allow(dead_code)] // error members of Dagster's unions that these lookups never produce

use super::prelude::*;
use super::Ctx;

/// The `Nothing` type of every input and output.
pub fn nothing_type() -> DagsterTypeValue {
    DagsterTypeValue::RegularDagsterType(RegularDagsterType {
        key: "Nothing".into(),
        name: Some("Nothing".into()),
        display_name: "Nothing".into(),
        description: Some("A type carrying no value: the dependency only orders the steps.".into()),
        is_nothing: true,
    })
}

pub fn dagster_type_or_error(graph: &JobGraph, name: &str) -> DagsterTypeOrError {
    if name == "Nothing" {
        let DagsterTypeValue::RegularDagsterType(t) = nothing_type();
        return DagsterTypeOrError::RegularDagsterType(t);
    }
    DagsterTypeOrError::DagsterTypeNotFoundError(DagsterTypeNotFoundError {
        message: format!("Dagster type {name} not found in job {}", graph.job.name),
        dagster_type_name: name.to_string(),
    })
}

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
        pub struct $name(std::convert::Infallible);

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
