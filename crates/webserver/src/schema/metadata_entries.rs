//! Typed metadata entries (`MetadataEntry` and its implementations) of events and assets, from
//! the stored [`dagster_core::domain::MetadataEntry`]s.

use super::prelude::*;
use dagster_core::domain::{MetadataEntry as DomainEntry, MetadataValue};

interface! {
    pub enum MetadataEntryValue: "MetadataEntry" {
        fields {
            "label": String,
            "description": Option<String>,
        }
        for [
            AssetMetadataEntry,
            BoolMetadataEntry,
            CodeReferencesMetadataEntry,
            FloatMetadataEntry,
            IntMetadataEntry,
            JobMetadataEntry,
            JsonMetadataEntry,
            MarkdownMetadataEntry,
            NotebookMetadataEntry,
            NullMetadataEntry,
            PathMetadataEntry,
            PipelineRunMetadataEntry,
            PoolMetadataEntry,
            PythonArtifactMetadataEntry,
            TableColumnLineageMetadataEntry,
            TableMetadataEntry,
            TableSchemaMetadataEntry,
            TextMetadataEntry,
            TimestampMetadataEntry,
            UrlMetadataEntry,
        ]
    }
}

macro_rules! metadata_entry {
    ($name:ident { $($field:ident : $ty:ty),* }) => {
        #[derive(GraphQLObject, Debug, Clone)]
        #[graphql(scalar = juniper::DefaultScalarValue)]
        #[graphql(context = Ctx, impl = MetadataEntryValue)]
        pub struct $name {
            pub label: String,
            pub description: Option<String>,
            $(pub $field: $ty),*
        }
    };
}

metadata_entry!(TextMetadataEntry { text: String });
metadata_entry!(IntMetadataEntry {
    int_value: Option<i32>,
    int_repr: String
});
metadata_entry!(FloatMetadataEntry {
    float_value: Option<f64>,
    float_repr: String
});
metadata_entry!(BoolMetadataEntry {
    bool_value: Option<bool>
});
metadata_entry!(JsonMetadataEntry {
    json_string: String
});
metadata_entry!(PathMetadataEntry { path: String });
metadata_entry!(UrlMetadataEntry { url: String });
metadata_entry!(MarkdownMetadataEntry { md_str: String });
metadata_entry!(TimestampMetadataEntry { timestamp: f64 });

/// Our typed metadata as Dagster's `MetadataEntry` implementations.
pub fn metadata_entries(entries: &[DomainEntry]) -> Vec<MetadataEntryValue> {
    entries
        .iter()
        .map(|e| {
            let label = e.label.clone();
            let description = None;
            match &e.value {
                MetadataValue::Text(t) => TextMetadataEntry {
                    label,
                    description,
                    text: t.clone(),
                }
                .into(),
                MetadataValue::Int(v) => IntMetadataEntry {
                    label,
                    description,
                    int_value: i32::try_from(*v).ok(),
                    int_repr: v.to_string(),
                }
                .into(),
                MetadataValue::Float(v) => FloatMetadataEntry {
                    label,
                    description,
                    float_value: v.is_finite().then_some(*v),
                    float_repr: float_repr(*v),
                }
                .into(),
                MetadataValue::Bool(v) => BoolMetadataEntry {
                    label,
                    description,
                    bool_value: Some(*v),
                }
                .into(),
                MetadataValue::Json(v) => JsonMetadataEntry {
                    label,
                    description,
                    json_string: v.to_string(),
                }
                .into(),
                MetadataValue::Path(p) => PathMetadataEntry {
                    label,
                    description,
                    path: p.clone(),
                }
                .into(),
                MetadataValue::Url(u) => UrlMetadataEntry {
                    label,
                    description,
                    url: u.clone(),
                }
                .into(),
                MetadataValue::Markdown(m) => MarkdownMetadataEntry {
                    label,
                    description,
                    md_str: m.clone(),
                }
                .into(),
                MetadataValue::Timestamp(t) => TimestampMetadataEntry {
                    label,
                    description,
                    timestamp: *t,
                }
                .into(),
            }
        })
        .collect()
}

fn float_repr(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:?}")
    }
}
