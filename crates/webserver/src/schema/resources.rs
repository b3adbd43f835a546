//! Resources: a job's resources (`resourcesOrError`), one resource's details
//! (`topLevelResourceDetailsOrError`), and what uses each resource (the resource page's
//! "Uses" tab: jobs and their ops, sensors).

#![allow(dead_code)] // error members of Dagster's unions that these lookups never produce

use super::prelude::*;
use dagster_core::defs::Definitions;
use std::sync::Arc;

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum NestedResourceType {
    #[graphql(name = "ANONYMOUS")]
    Anonymous,
    #[graphql(name = "TOP_LEVEL")]
    TopLevel,
}

/// Resources here do not nest, so no entry is ever listed.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct NestedResourceEntry {
    pub name: String,
    pub r#type: NestedResourceType,
    pub resource: Option<ResourceDetails>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ResourceConnection {
    pub resources: Vec<Resource>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ResourceDetailsOrError {
    ResourceDetails(ResourceDetails),
    ResourceNotFoundError(ResourceNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct ResourceNotFoundError {
    pub message: String,
    pub resource_name: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ResourceSelector {
    pub repository_name: String,
    pub repository_location_name: String,
    pub resource_name: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ResourcesOrError {
    ResourceConnection(ResourceConnection),
    PipelineNotFoundError(PipelineNotFoundError),
    InvalidSubsetError(InvalidSubsetError),
    PythonError(PythonError),
}

/// A job and the ops (step keys) in it that use a resource.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct JobWithOps {
    pub job_name: String,
    #[graphql(name = "opHandleIDs")]
    pub op_handle_ids: Vec<String>,
}

/// `resourcesOrError(pipelineSelector)`: the resources of the job's mode.
pub fn resources_or_error(ctx: &Ctx, sel: &PipelineSelector) -> ResourcesOrError {
    match find_job(
        ctx,
        &sel.repository_location_name,
        &sel.repository_name,
        &sel.pipeline_name,
    ) {
        Ok(g) => ResourcesOrError::ResourceConnection(ResourceConnection {
            resources: job_resources(&g),
        }),
        Err(e) => ResourcesOrError::PipelineNotFoundError(e),
    }
}

pub fn top_level_resource_details_or_error(
    ctx: &Ctx,
    sel: ResourceSelector,
) -> ResourceDetailsOrError {
    let defs = location_defs(ctx, &sel.repository_name, &sel.repository_location_name);
    match defs
        .as_ref()
        .and_then(|d| d.resources.get(&sel.resource_name))
    {
        Some(def) => ResourceDetailsOrError::ResourceDetails(ResourceDetails {
            location: sel.repository_location_name.clone(),
            def: def.clone(),
        }),
        None => ResourceDetailsOrError::ResourceNotFoundError(ResourceNotFoundError {
            message: format!(
                "Could not find resource {} in {}.{}",
                sel.resource_name, sel.repository_location_name, sel.repository_name
            ),
            resource_name: sel.resource_name,
        }),
    }
}

/// The jobs of `defs` whose assets require `resource`, with those assets' ops.
pub fn jobs_using(location: &str, defs: &Arc<Definitions>, resource: &str) -> Vec<JobWithOps> {
    job_graphs(location, defs)
        .iter()
        .filter_map(|g| {
            let ops: Vec<String> = g
                .ops
                .iter()
                .filter(|o| {
                    defs.assets
                        .get(&o.asset)
                        .is_some_and(|a| a.required_resources.iter().any(|r| r == resource))
                })
                .map(|o| o.name.clone())
                .collect();
            (!ops.is_empty()).then(|| JobWithOps {
                job_name: g.job.name.clone(),
                op_handle_ids: ops,
            })
        })
        .collect()
}

/// The sensors of `defs` that read `resource` (`table_rows` sensors name theirs).
pub fn sensors_using(defs: &Definitions, resource: &str) -> Vec<String> {
    defs.sensors
        .values()
        .filter(|s| s.config.get("resource").and_then(|v| v.as_str()) == Some(resource))
        .map(|s| s.name.clone())
        .collect()
}
