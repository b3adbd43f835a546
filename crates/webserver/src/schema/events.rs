//! Event types that this project's runs do not produce (hooks, alerts, object store operations,
//! asset check evaluations); they exist so the UI's event fragments validate.

#![allow(dead_code)]

use super::prelude::*;

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, RunEventValue])]
pub struct AlertFailureEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
    pub pipeline_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, RunEventValue])]
pub struct AlertStartEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
    pub pipeline_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, RunEventValue])]
pub struct AlertSuccessEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
    pub pipeline_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, StepEventValue, DisplayableEventValue])]
pub struct HealthChangedEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
    pub label: Option<String>,
    pub description: Option<String>,
    pub metadata_entries: Vec<MetadataEntryValue>,
    pub asset_key: Option<AssetKey>,
    pub partition: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, StepEventValue])]
pub struct HookCompletedEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, StepEventValue, ErrorEventValue])]
pub struct HookErroredEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
    pub error: Option<PythonError>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, StepEventValue])]
pub struct HookSkippedEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, StepEventValue])]
pub struct ObjectStoreOperationEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
    pub operation_result: ObjectStoreOperationResult,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [DisplayableEventValue])]
pub struct ObjectStoreOperationResult {
    pub label: Option<String>,
    pub description: Option<String>,
    pub metadata_entries: Vec<MetadataEntryValue>,
    pub op: ObjectStoreOperationType,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum ObjectStoreOperationType {
    #[graphql(name = "SET_OBJECT")]
    SetObject,
    #[graphql(name = "GET_OBJECT")]
    GetObject,
    #[graphql(name = "RM_OBJECT")]
    RmObject,
    #[graphql(name = "CP_OBJECT")]
    CpObject,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MessageEventValue, StepEventValue])]
pub struct StepExpectationResultEvent {
    pub run_id: String,
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
    pub step_key: Option<String>,
    #[graphql(name = "solidHandleID")]
    pub solid_handle_id: Option<String>,
    pub event_type: Option<DagsterEventType>,
    pub expectation_result: ExpectationResult,
}
