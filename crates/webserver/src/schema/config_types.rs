//! The run config schema of a job (the launchpad's editor, its autocompletion and validation)
//! and the config types it is made of.
//!
//! A job's run config here is `{ops: {<step key>: {config: {...}}}}`: each step's `config`
//! is laid over the asset's own config from the pipeline config (`exec::run`). So the schema is
//! three strict shapes (root → `ops` → one optional field per step → `config`) ending in a
//! permissive shape whose known fields are the asset's config keys, typed `Any`, with the
//! configured values as their defaults. [`validate`] checks a document against such a tree and
//! reports errors as Dagster does (path, evaluation stack, reason).

#![allow(dead_code)]

use super::prelude::*;
use dagster_core::defs::{Definitions, JobDef};
use dagster_core::exec::run::json_kind;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One config type of a schema.
#[derive(Debug)]
pub struct CfgType {
    pub key: String,
    pub description: Option<String>,
    pub kind: CfgKind,
}

#[derive(Debug)]
pub enum CfgKind {
    /// `Any`, `String`, `Int`, `Float`, `Bool`.
    Regular(&'static str),
    /// A shape: strict (unknown keys are errors) or permissive (unknown keys pass).
    Shape {
        fields: Vec<CfgField>,
        permissive: bool,
    },
    Enum {
        name: String,
        values: Vec<(String, Option<String>)>,
    },
    Array(Arc<CfgType>),
    Nullable(Arc<CfgType>),
    Map {
        key: Arc<CfgType>,
        value: Arc<CfgType>,
    },
    ScalarUnion {
        scalar: Arc<CfgType>,
        non_scalar: Arc<CfgType>,
    },
}

#[derive(Debug)]
pub struct CfgField {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub ty: Arc<CfgType>,
    pub default: Option<serde_json::Value>,
}

impl CfgType {
    fn regular(name: &'static str) -> Arc<CfgType> {
        Arc::new(CfgType {
            key: name.to_string(),
            description: None,
            kind: CfgKind::Regular(name),
        })
    }

    /// The types directly inside this one.
    fn children(&self) -> Vec<Arc<CfgType>> {
        match &self.kind {
            CfgKind::Regular(_) | CfgKind::Enum { .. } => Vec::new(),
            CfgKind::Shape { fields, .. } => fields.iter().map(|f| f.ty.clone()).collect(),
            CfgKind::Array(t) | CfgKind::Nullable(t) => vec![t.clone()],
            CfgKind::Map { key, value } => vec![key.clone(), value.clone()],
            CfgKind::ScalarUnion { scalar, non_scalar } => vec![scalar.clone(), non_scalar.clone()],
        }
    }

    fn type_param_keys(&self) -> Vec<String> {
        match &self.kind {
            CfgKind::Array(t) | CfgKind::Nullable(t) => vec![t.key.clone()],
            CfgKind::Map { key, value } => vec![key.key.clone(), value.key.clone()],
            CfgKind::ScalarUnion { scalar, non_scalar } => {
                vec![scalar.key.clone(), non_scalar.key.clone()]
            }
            _ => Vec::new(),
        }
    }
}

/// Every type reachable from `root` (itself excluded), each key once, in a stable order.
fn reachable(root: &Arc<CfgType>) -> Vec<Arc<CfgType>> {
    let mut seen = BTreeMap::new();
    let mut stack = root.children();
    while let Some(t) = stack.pop() {
        if seen.contains_key(&t.key) {
            continue;
        }
        stack.extend(t.children());
        seen.insert(t.key.clone(), t);
    }
    seen.into_values().collect()
}

/// The GraphQL value of a config type.
pub fn config_type_value(t: &Arc<CfgType>) -> ConfigTypeValue {
    let t = t.clone();
    match &t.kind {
        CfgKind::Regular(_) => ConfigTypeValue::RegularConfigType(RegularConfigType(t)),
        CfgKind::Shape { .. } => ConfigTypeValue::CompositeConfigType(CompositeConfigType(t)),
        CfgKind::Enum { .. } => ConfigTypeValue::EnumConfigType(EnumConfigType(t)),
        CfgKind::Array(_) => ConfigTypeValue::ArrayConfigType(ArrayConfigType(t)),
        CfgKind::Nullable(_) => ConfigTypeValue::NullableConfigType(NullableConfigType(t)),
        CfgKind::Map { .. } => ConfigTypeValue::MapConfigType(MapConfigType(t)),
        CfgKind::ScalarUnion { .. } => {
            ConfigTypeValue::ScalarUnionConfigType(ScalarUnionConfigType(t))
        }
    }
}

interface! {
    pub enum ConfigTypeValue: "ConfigType" {
        fields {
            "key": String,
            "description": Option<String>,
            "recursiveConfigTypes": Vec<ConfigTypeValue>,
            "typeParamKeys": Vec<String>,
            "isSelector": bool,
        }
        for [
            ArrayConfigType,
            CompositeConfigType,
            EnumConfigType,
            MapConfigType,
            NullableConfigType,
            RegularConfigType,
            ScalarUnionConfigType,
        ]
    }
}

interface! {
    pub enum WrappingConfigTypeValue: "WrappingConfigType" {
        fields {
            "ofType": ConfigTypeValue,
        }
        for [ArrayConfigType, NullableConfigType]
    }
}

/// The fields every config type has (`interface ConfigType`), plus its own.
macro_rules! config_type_object {
    ($name:ident [$($iface:ty),*] { $($extra:tt)* }) => {
        #[derive(Debug, Clone)]
        pub struct $name(pub Arc<CfgType>);

        #[graphql_object]
        #[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [$($iface),*])]
        impl $name {
            fn key(&self) -> &str {
                &self.0.key
            }
            fn description(&self) -> Option<&str> {
                self.0.description.as_deref()
            }
            fn recursive_config_types(&self) -> Vec<ConfigTypeValue> {
                reachable(&self.0).iter().map(config_type_value).collect()
            }
            fn type_param_keys(&self) -> Vec<String> {
                self.0.type_param_keys()
            }
            fn is_selector(&self) -> bool {
                false
            }
            $($extra)*
        }
    };
}

fn inner(t: &CfgType) -> Option<&Arc<CfgType>> {
    match &t.kind {
        CfgKind::Array(i) | CfgKind::Nullable(i) => Some(i),
        _ => None,
    }
}

config_type_object!(RegularConfigType [ConfigTypeValue] {
    fn given_name(&self) -> &str {
        match &self.0.kind {
            CfgKind::Regular(n) => n,
            _ => &self.0.key,
        }
    }
});

config_type_object!(CompositeConfigType [ConfigTypeValue] {
    fn fields(&self) -> Vec<ConfigTypeField> {
        match &self.0.kind {
            CfgKind::Shape { fields, .. } => (0..fields.len())
                .map(|i| ConfigTypeField { shape: self.0.clone(), index: i })
                .collect(),
            _ => Vec::new(),
        }
    }
});

config_type_object!(EnumConfigType [ConfigTypeValue] {
    fn given_name(&self) -> &str {
        match &self.0.kind {
            CfgKind::Enum { name, .. } => name,
            _ => &self.0.key,
        }
    }
    fn values(&self) -> Vec<EnumConfigValue> {
        match &self.0.kind {
            CfgKind::Enum { values, .. } => values
                .iter()
                .map(|(v, d)| EnumConfigValue { value: v.clone(), description: d.clone() })
                .collect(),
            _ => Vec::new(),
        }
    }
});

config_type_object!(ArrayConfigType [ConfigTypeValue, WrappingConfigTypeValue] {
    fn of_type(&self) -> ConfigTypeValue {
        config_type_value(inner(&self.0).unwrap_or(&self.0))
    }
});

config_type_object!(NullableConfigType [ConfigTypeValue, WrappingConfigTypeValue] {
    fn of_type(&self) -> ConfigTypeValue {
        config_type_value(inner(&self.0).unwrap_or(&self.0))
    }
});

config_type_object!(MapConfigType [ConfigTypeValue] {
    fn key_type(&self) -> ConfigTypeValue {
        match &self.0.kind {
            CfgKind::Map { key, .. } => config_type_value(key),
            _ => config_type_value(&self.0),
        }
    }
    fn value_type(&self) -> ConfigTypeValue {
        match &self.0.kind {
            CfgKind::Map { value, .. } => config_type_value(value),
            _ => config_type_value(&self.0),
        }
    }
    fn key_label_name(&self) -> Option<String> {
        None
    }
});

config_type_object!(ScalarUnionConfigType [ConfigTypeValue] {
    fn scalar_type(&self) -> ConfigTypeValue {
        match &self.0.kind {
            CfgKind::ScalarUnion { scalar, .. } => config_type_value(scalar),
            _ => config_type_value(&self.0),
        }
    }
    fn non_scalar_type(&self) -> ConfigTypeValue {
        match &self.0.kind {
            CfgKind::ScalarUnion { non_scalar, .. } => config_type_value(non_scalar),
            _ => config_type_value(&self.0),
        }
    }
    fn scalar_type_key(&self) -> String {
        match &self.0.kind {
            CfgKind::ScalarUnion { scalar, .. } => scalar.key.clone(),
            _ => self.0.key.clone(),
        }
    }
    fn non_scalar_type_key(&self) -> String {
        match &self.0.kind {
            CfgKind::ScalarUnion { non_scalar, .. } => non_scalar.key.clone(),
            _ => self.0.key.clone(),
        }
    }
});

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct EnumConfigValue {
    pub value: String,
    pub description: Option<String>,
}

/// `ConfigTypeField`: field `index` of a shape.
#[derive(Debug, Clone)]
pub struct ConfigTypeField {
    pub shape: Arc<CfgType>,
    pub index: usize,
}

impl ConfigTypeField {
    fn field(&self) -> Option<&CfgField> {
        match &self.shape.kind {
            CfgKind::Shape { fields, .. } => fields.get(self.index),
            _ => None,
        }
    }

    /// A field that stands alone (an op's `config` field outside a schema).
    pub fn standalone(field: CfgField) -> Self {
        ConfigTypeField {
            shape: Arc::new(CfgType {
                key: format!("Field.{}", field.name),
                description: None,
                kind: CfgKind::Shape {
                    fields: vec![field],
                    permissive: false,
                },
            }),
            index: 0,
        }
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl ConfigTypeField {
    fn name(&self) -> &str {
        self.field().map_or("", |f| f.name.as_str())
    }
    fn description(&self) -> Option<&str> {
        self.field().and_then(|f| f.description.as_deref())
    }
    fn config_type(&self) -> ConfigTypeValue {
        config_type_value(self.field().map_or(&self.shape, |f| &f.ty))
    }
    fn config_type_key(&self) -> &str {
        self.field().map_or("", |f| f.ty.key.as_str())
    }
    fn is_required(&self) -> bool {
        self.field().is_some_and(|f| f.required)
    }
    fn is_secret(&self) -> bool {
        false
    }
    fn default_value_as_json(&self) -> Option<String> {
        self.field()
            .and_then(|f| f.default.as_ref())
            .map(|v| v.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// A job's run config schema

/// The run config schema of `job`: `ops.<step>.config` over each asset's configured config.
pub fn job_config_schema(defs: &Definitions, job: &JobDef) -> Arc<CfgType> {
    let any = CfgType::regular("Any");
    let mut steps = Vec::new();
    for key in &job.assets {
        let Some(asset) = defs.assets.get(key) else {
            continue;
        };
        let step = key.to_step_key();
        let config_fields = match &asset.config {
            serde_json::Value::Object(o) => o
                .iter()
                .map(|(k, v)| CfgField {
                    name: k.clone(),
                    description: None,
                    required: false,
                    ty: any.clone(),
                    default: Some(v.clone()),
                })
                .collect(),
            _ => Vec::new(),
        };
        let config = Arc::new(CfgType {
            key: format!("Permissive.{}.{step}.config", job.name),
            description: Some(format!(
                "Laid over the configuration of asset {} for this run",
                key.to_user_string()
            )),
            kind: CfgKind::Shape {
                fields: config_fields,
                permissive: true,
            },
        });
        let op = Arc::new(CfgType {
            key: format!("Shape.{}.ops.{step}", job.name),
            description: None,
            kind: CfgKind::Shape {
                fields: vec![CfgField {
                    name: "config".into(),
                    description: None,
                    required: false,
                    ty: config,
                    default: None,
                }],
                permissive: false,
            },
        });
        steps.push(CfgField {
            name: step,
            description: asset.description.clone(),
            required: false,
            ty: op,
            default: None,
        });
    }
    let ops = Arc::new(CfgType {
        key: format!("Shape.{}.ops", job.name),
        description: None,
        kind: CfgKind::Shape {
            fields: steps,
            permissive: false,
        },
    });
    Arc::new(CfgType {
        key: format!("Shape.{}", job.name),
        description: None,
        kind: CfgKind::Shape {
            fields: vec![CfgField {
                name: "ops".into(),
                description: Some("Configure runtime parameters for ops or assets.".into()),
                required: false,
                ty: ops,
                default: None,
            }],
            permissive: false,
        },
    })
}

/// One problem found by [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub path: Vec<String>,
    pub message: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    Mismatch { value_rep: String },
    FieldNotDefined(String),
    FieldsNotDefined(Vec<String>),
    MissingField { shape: usize },
}

fn path_str(path: &[String]) -> String {
    if path.is_empty() {
        "root".into()
    } else {
        format!("root:{}", path.join(":"))
    }
}

/// Checks `value` against `ty`, collecting every problem (not just the first).
pub fn validate(ty: &CfgType, value: &serde_json::Value) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    check(ty, value, &mut Vec::new(), &mut out);
    out
}

fn check(
    ty: &CfgType,
    v: &serde_json::Value,
    path: &mut Vec<String>,
    out: &mut Vec<ConfigProblem>,
) {
    use serde_json::Value as J;
    let mismatch = |expected: &str, path: &[String], out: &mut Vec<ConfigProblem>| {
        out.push(ConfigProblem {
            path: path.to_vec(),
            message: format!(
                "Invalid scalar at path {}. Value \"{}\" of type \"{}\" is not valid for expected type \"{expected}\".",
                path_str(path),
                v,
                json_kind(v)
            ),
            kind: ProblemKind::Mismatch { value_rep: v.to_string() },
        })
    };
    match &ty.kind {
        CfgKind::Regular("Any") => {}
        CfgKind::Regular("String") if !v.is_string() => mismatch("String", path, out),
        CfgKind::Regular("Int") if !(v.is_i64() || v.is_u64()) => mismatch("Int", path, out),
        CfgKind::Regular("Float") if !v.is_number() => mismatch("Float", path, out),
        CfgKind::Regular("Bool") if !v.is_boolean() => mismatch("Bool", path, out),
        CfgKind::Regular(_) => {}
        CfgKind::Nullable(inner) => {
            if !v.is_null() {
                check(inner, v, path, out)
            }
        }
        CfgKind::Array(inner) => match v {
            J::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    check(inner, item, path, out);
                    path.pop();
                }
            }
            _ => mismatch("Array", path, out),
        },
        CfgKind::Map { value, .. } => match v {
            J::Object(o) => {
                for (k, item) in o {
                    path.push(k.clone());
                    check(value, item, path, out);
                    path.pop();
                }
            }
            _ => mismatch("Map", path, out),
        },
        CfgKind::Enum { values, name } => {
            if !v
                .as_str()
                .is_some_and(|s| values.iter().any(|(x, _)| x == s))
            {
                mismatch(name, path, out)
            }
        }
        CfgKind::ScalarUnion { scalar, non_scalar } => {
            if v.is_object() || v.is_array() {
                check(non_scalar, v, path, out)
            } else {
                check(scalar, v, path, out)
            }
        }
        CfgKind::Shape { fields, permissive } => {
            // A missing or null shape value counts as empty.
            let empty = serde_json::Map::new();
            let obj = match v {
                J::Object(o) => o,
                J::Null => &empty,
                _ => {
                    out.push(ConfigProblem {
                        path: path.clone(),
                        message: format!(
                            "Value at path {} must be dict. Expected: \"{{ {} }}\".",
                            path_str(path),
                            fields
                                .iter()
                                .map(|f| f.name.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        kind: ProblemKind::Mismatch {
                            value_rep: v.to_string(),
                        },
                    });
                    return;
                }
            };
            if !permissive {
                let unknown: Vec<String> = obj
                    .keys()
                    .filter(|k| !fields.iter().any(|f| &f.name == *k))
                    .cloned()
                    .collect();
                let at = path_str(path);
                match unknown.len() {
                    0 => {}
                    1 => out.push(ConfigProblem {
                        path: path.clone(),
                        message: format!(
                            "Received unexpected config entry \"{}\" at path {at}. Expected: \"{{ {} }}\".",
                            unknown[0],
                            fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(" ")
                        ),
                        kind: ProblemKind::FieldNotDefined(unknown[0].clone()),
                    }),
                    _ => out.push(ConfigProblem {
                        path: path.clone(),
                        message: format!(
                            "Received unexpected config entries \"{unknown:?}\" at path {at}."
                        ),
                        kind: ProblemKind::FieldsNotDefined(unknown),
                    }),
                }
            }
            for (i, f) in fields.iter().enumerate() {
                match obj.get(&f.name) {
                    Some(fv) => {
                        path.push(f.name.clone());
                        check(&f.ty, fv, path, out);
                        path.pop();
                    }
                    None if f.required => out.push(ConfigProblem {
                        path: path.clone(),
                        message: format!(
                            "Missing required config entry \"{}\" at path {}.",
                            f.name,
                            path_str(path)
                        ),
                        kind: ProblemKind::MissingField { shape: i },
                    }),
                    None => {}
                }
            }
        }
    }
}

/// Parses run config as the UI sends it (a YAML or JSON string).
pub fn parse_run_config(text: &str) -> Result<serde_json::Value, String> {
    if text.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_yaml::from_str::<serde_json::Value>(text)
        .map_err(|e| format!("Run config is not valid YAML: {e}"))
}

/// The problems as `PipelineConfigValidationError` values (a missing field needs the shape it
/// is missing from, found again by path).
pub fn problems_to_errors(
    root: &Arc<CfgType>,
    problems: Vec<ConfigProblem>,
) -> Vec<PipelineConfigValidationErrorValue> {
    problems
        .into_iter()
        .map(|p| {
            let stack = EvaluationStack {
                entries: p
                    .path
                    .iter()
                    .map(|s| match s.parse::<i32>() {
                        Ok(i) => EvaluationStackEntry::EvaluationStackListItemEntry(
                            EvaluationStackListItemEntry { list_index: i },
                        ),
                        Err(_) => EvaluationStackEntry::EvaluationStackPathEntry(
                            EvaluationStackPathEntry {
                                field_name: s.clone(),
                            },
                        ),
                    })
                    .collect(),
            };
            let (message, path) = (p.message, p.path);
            match p.kind {
                ProblemKind::Mismatch { value_rep } => {
                    PipelineConfigValidationErrorValue::RuntimeMismatchConfigError(
                        RuntimeMismatchConfigError {
                            message,
                            path,
                            stack,
                            reason: EvaluationErrorReason::RuntimeTypeMismatch,
                            value_rep: Some(value_rep),
                        },
                    )
                }
                ProblemKind::FieldNotDefined(field_name) => {
                    PipelineConfigValidationErrorValue::FieldNotDefinedConfigError(
                        FieldNotDefinedConfigError {
                            message,
                            path,
                            stack,
                            reason: EvaluationErrorReason::FieldNotDefined,
                            field_name,
                        },
                    )
                }
                ProblemKind::FieldsNotDefined(field_names) => {
                    PipelineConfigValidationErrorValue::FieldsNotDefinedConfigError(
                        FieldsNotDefinedConfigError {
                            message,
                            path,
                            stack,
                            reason: EvaluationErrorReason::FieldsNotDefined,
                            field_names,
                        },
                    )
                }
                ProblemKind::MissingField { shape } => {
                    let owner = shape_at(root, &path).unwrap_or_else(|| root.clone());
                    PipelineConfigValidationErrorValue::MissingFieldConfigError(
                        MissingFieldConfigError {
                            message,
                            path,
                            stack,
                            reason: EvaluationErrorReason::MissingRequiredField,
                            field: ConfigTypeField {
                                shape: owner,
                                index: shape,
                            },
                        },
                    )
                }
            }
        })
        .collect()
}

fn shape_at(root: &Arc<CfgType>, path: &[String]) -> Option<Arc<CfgType>> {
    let mut t = root.clone();
    for p in path {
        let next = match &t.kind {
            CfgKind::Shape { fields, .. } => fields.iter().find(|f| &f.name == p)?.ty.clone(),
            CfgKind::Array(i) | CfgKind::Nullable(i) => i.clone(),
            CfgKind::Map { value, .. } => value.clone(),
            _ => return None,
        };
        t = next;
    }
    Some(t)
}

/// Validates `run_config` for `job` against its schema.
pub fn validate_job_config(
    defs: &Definitions,
    job: &JobDef,
    run_config: Option<&RunConfigData>,
) -> PipelineConfigValidationResult {
    let schema = job_config_schema(defs, job);
    let value = match parse_run_config(run_config.map_or("", |r| r.0.as_str())) {
        Ok(v) => v,
        Err(message) => {
            return PipelineConfigValidationResult::RunConfigValidationInvalid(
                RunConfigValidationInvalid {
                    pipeline_name: job.name.clone(),
                    errors: vec![
                        PipelineConfigValidationErrorValue::RuntimeMismatchConfigError(
                            RuntimeMismatchConfigError {
                                message,
                                path: Vec::new(),
                                stack: EvaluationStack::default(),
                                reason: EvaluationErrorReason::RuntimeTypeMismatch,
                                value_rep: None,
                            },
                        ),
                    ],
                },
            )
        }
    };
    let problems = validate(&schema, &value);
    if problems.is_empty() {
        PipelineConfigValidationResult::PipelineConfigValidationValid(
            PipelineConfigValidationValid {
                pipeline_name: job.name.clone(),
            },
        )
    } else {
        PipelineConfigValidationResult::RunConfigValidationInvalid(RunConfigValidationInvalid {
            pipeline_name: job.name.clone(),
            errors: problems_to_errors(&schema, problems),
        })
    }
}

/// `RunConfigSchema` of a job.
#[derive(Clone)]
pub struct RunConfigSchema {
    pub defs: Arc<Definitions>,
    pub job: JobDef,
    pub root: Arc<CfgType>,
}

impl std::fmt::Debug for RunConfigSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfigSchema")
            .field("job", &self.job.name)
            .finish()
    }
}

impl RunConfigSchema {
    pub fn new(defs: Arc<Definitions>, job: JobDef) -> Self {
        let root = job_config_schema(&defs, &job);
        RunConfigSchema { defs, job, root }
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl RunConfigSchema {
    fn root_config_type(&self) -> ConfigTypeValue {
        config_type_value(&self.root)
    }
    fn all_config_types(&self) -> Vec<ConfigTypeValue> {
        let mut all = vec![self.root.clone()];
        all.extend(reachable(&self.root));
        all.iter().map(config_type_value).collect()
    }
    fn is_run_config_valid(
        &self,
        run_config_data: Option<RunConfigData>,
    ) -> PipelineConfigValidationResult {
        validate_job_config(&self.defs, &self.job, run_config_data.as_ref())
    }
    /// Nothing is required, so the default run config is empty.
    fn root_default_yaml(&self) -> &str {
        "{}\n"
    }
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum RunConfigSchemaOrError {
    RunConfigSchema(RunConfigSchema),
    PipelineNotFoundError(PipelineNotFoundError),
    InvalidSubsetError(InvalidSubsetError),
    ModeNotFoundError(ModeNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PipelineConfigValidationResult {
    InvalidSubsetError(InvalidSubsetError),
    PipelineConfigValidationValid(PipelineConfigValidationValid),
    RunConfigValidationInvalid(RunConfigValidationInvalid),
    PipelineNotFoundError(PipelineNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PipelineConfigValidationValid {
    pub pipeline_name: String,
}

macro_rules! config_error {
    ($name:ident { $($field:ident : $ty:ty),* }) => {
        #[derive(GraphQLObject, Debug, Clone)]
        #[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = PipelineConfigValidationErrorValue)]
        pub struct $name {
            pub message: String,
            pub path: Vec<String>,
            pub stack: EvaluationStack,
            pub reason: EvaluationErrorReason,
            $(pub $field: $ty),*
        }
    };
}

config_error!(FieldsNotDefinedConfigError { field_names: Vec<String> });
config_error!(MissingFieldConfigError {
    field: ConfigTypeField
});
config_error!(MissingFieldsConfigError { fields: Vec<ConfigTypeField> });
config_error!(SelectorTypeConfigError { incoming_fields: Vec<String> });

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct EvaluationStackMapKeyEntry {
    pub map_key: GenericScalar,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct EvaluationStackMapValueEntry {
    pub map_key: GenericScalar,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(fields: Vec<CfgField>, permissive: bool) -> Arc<CfgType> {
        Arc::new(CfgType {
            key: "S".into(),
            description: None,
            kind: CfgKind::Shape { fields, permissive },
        })
    }

    fn field(name: &str, ty: Arc<CfgType>, required: bool) -> CfgField {
        CfgField {
            name: name.into(),
            description: None,
            required,
            ty,
            default: None,
        }
    }

    #[test]
    fn strict_shapes_report_unknown_missing_and_mismatched_entries() {
        let t = shape(
            vec![
                field("a", CfgType::regular("Int"), true),
                field(
                    "b",
                    shape(vec![field("c", CfgType::regular("String"), false)], false),
                    false,
                ),
            ],
            false,
        );
        assert!(validate(&t, &serde_json::json!({"a": 1, "b": {"c": "x"}})).is_empty());
        let p = validate(&t, &serde_json::json!({"b": {"c": 3, "d": 1}, "zz": 1}));
        let kinds: Vec<_> = p
            .iter()
            .map(|p| (p.path.join("."), p.kind.clone()))
            .collect();
        assert!(kinds.contains(&(String::new(), ProblemKind::FieldNotDefined("zz".into()))));
        assert!(kinds.contains(&(String::new(), ProblemKind::MissingField { shape: 0 })));
        assert!(kinds.contains(&("b".into(), ProblemKind::FieldNotDefined("d".into()))));
        assert!(kinds.contains(&(
            "b.c".into(),
            ProblemKind::Mismatch {
                value_rep: "3".into()
            }
        )));
    }

    #[test]
    fn permissive_shapes_take_any_key() {
        let t = shape(vec![field("known", CfgType::regular("Any"), false)], true);
        assert!(validate(&t, &serde_json::json!({"other": [1, 2]})).is_empty());
        assert_eq!(validate(&t, &serde_json::json!(3)).len(), 1);
    }

    #[test]
    fn run_config_text_is_yaml_or_json() {
        assert_eq!(parse_run_config("").ok(), Some(serde_json::json!({})));
        assert_eq!(
            parse_run_config("ops:\n  a:\n    config: {x: 1}\n").ok(),
            Some(serde_json::json!({"ops": {"a": {"config": {"x": 1}}}}))
        );
        assert!(parse_run_config("{").is_err());
    }
}
