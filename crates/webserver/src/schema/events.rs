//! Event types that this project's runs do not produce (hooks, alerts, object store operations,
//! health changes); they exist so the UI's event fragments validate.

#![allow(dead_code)]

use super::prelude::*;

absent_event!(AlertFailureEvent [RunEventValue] { pipeline_name: String });
absent_event!(AlertStartEvent [RunEventValue] { pipeline_name: String });
absent_event!(AlertSuccessEvent [RunEventValue] { pipeline_name: String });
absent_event!(HealthChangedEvent [StepEventValue, DisplayableEventValue] {
    label: Option<String>,
    description: Option<String>,
    metadata_entries: Vec<MetadataEntryValue>,
    asset_key: Option<AssetKey>,
    partition: Option<String>,
});
absent_event!(HookCompletedEvent [StepEventValue] {});
absent_event!(HookErroredEvent [StepEventValue, ErrorEventValue] { error: Option<PythonError> });
absent_event!(HookSkippedEvent [StepEventValue] {});
absent_event!(ObjectStoreOperationEvent [StepEventValue] { operation_result: ObjectStoreOperationResult });
absent_event!(StepExpectationResultEvent [StepEventValue] { expectation_result: ExpectationResult });

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
