//! Metadata entry types besides the ones events carry today (tables, code references, pools, ...).

#![allow(dead_code)]

use super::prelude::*;

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct AssetMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub asset_key: AssetKey,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct CodeReferencesMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub code_references: Vec<SourceLocation>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct JobMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub job_name: String,
    pub repository_name: Option<String>,
    pub location_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct LocalFileCodeReference {
    pub file_path: String,
    pub line_number: Option<i32>,
    pub label: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct NotebookMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub path: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct NullMetadataEntry {
    pub label: String,
    pub description: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct PipelineRunMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub run_id: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct PoolMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub pool: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct PythonArtifactMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub module: String,
    pub name: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum SourceLocation {
    LocalFileCodeReference(LocalFileCodeReference),
    UrlCodeReference(UrlCodeReference),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct Table {
    pub schema: TableSchema,
    pub records: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TableColumn {
    pub name: String,
    pub r#type: String,
    pub description: Option<String>,
    pub constraints: TableColumnConstraints,
    pub tags: Vec<DefinitionTag>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TableColumnConstraints {
    pub nullable: bool,
    pub unique: bool,
    pub other: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TableColumnDep {
    pub asset_key: AssetKey,
    pub column_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TableColumnLineageEntry {
    pub column_name: String,
    pub column_deps: Vec<TableColumnDep>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct TableColumnLineageMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub lineage: Vec<TableColumnLineageEntry>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TableConstraints {
    pub other: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct TableMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub table: Table,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TableSchema {
    pub constraints: Option<TableConstraints>,
    pub columns: Vec<TableColumn>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [MetadataEntryValue])]
pub struct TableSchemaMetadataEntry {
    pub label: String,
    pub description: Option<String>,
    pub schema: TableSchema,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct UrlCodeReference {
    pub url: String,
    pub label: Option<String>,
}
