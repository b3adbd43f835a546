//! The cost limits of a GraphQL request (issue 14).
//!
//! juniper builds a request's whole response (`Value` tree) in memory before it is serialized,
//! so memory grows with fields resolved × list sizes × aliases. Every request — HTTP `POST`/`GET
//! /graphql` and websocket `start` — is therefore measured on juniper's parsed document BEFORE it
//! runs ([`analyze`]):
//!
//! * `fields`: the fields of the operation, fragments expanded; a field with a `limit:` or
//!   `first:` argument multiplies the fields under it by that number, and a list of the
//!   introspection schema (`__Schema.types`, `__Type.fields`, …) by the schema's own average
//!   size (so a full `__schema` introspection counts what it returns);
//! * `aliases`: aliased fields, fragments expanded;
//! * `depth`: the deepest field nesting, fragments expanded;
//! * `list limit`: the largest `limit:`/`first:` argument.
//!
//! While it runs, two hard bounds hold: the serialized response is written into a buffer that
//! refuses to grow past `max_response_bytes` ([`serialize_bounded`]: an error, never a truncated
//! body), and the estimated fields of all requests in flight share one weighted semaphore
//! ([`InFlight`]): a request waits for room, and only one heavier than the whole budget fails.
//!
//! A request over a limit is answered with a GraphQL error whose message names the limit, the
//! value and the flag, with `extensions.code = "QUERY_COST_LIMIT"` ([`LimitError`]).

use juniper::meta::MetaType;
use juniper::{DefaultScalarValue, Definition, InputValue, OperationType, Selection, Variables};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `extensions.code` of a request refused by a cost limit.
pub const CODE: &str = "QUERY_COST_LIMIT";

/// Log target of the per-request cost lines (debug level): `--log-level
/// info,dagster_webserver::cost=debug` shows them.
pub const LOG_TARGET: &str = "dagster_webserver::cost";

/// The limits (flags `--max-query-*` / `DAGSTER_WEBSERVER_MAX_*`; defaults in `main.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_fields: u64,
    pub max_aliases: u64,
    pub max_depth: u64,
    pub max_list_limit: u64,
    pub max_response_bytes: u64,
    pub max_fields_in_flight: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_fields: DEFAULT_MAX_FIELDS,
            max_aliases: DEFAULT_MAX_ALIASES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_list_limit: DEFAULT_MAX_LIST_LIMIT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_fields_in_flight: DEFAULT_MAX_FIELDS_IN_FLIGHT,
        }
    }
}

// The defaults: each at least four times the largest value Dagster's own UI sends. Measured on
// the 192 operations of the embedded UI (`ui_ops::tests`, variables unknown): fields 50,012
// (AssetPartitionDetailQuery: `assetEventHistory(limit: 1000)`), aliases 4 (RunsFeedQuery),
// depth 11 (AssetChecksQuery), list limit 1000; and on the requests it really sends with their
// variables over every page and flow (tests/ui_browser.rs, see docs/BENCHMARKS.md "GraphQL cost
// limits"). A full introspection query (GraphiQL) is estimated at ~83,000 fields and passes.
pub const DEFAULT_MAX_FIELDS: u64 = 250_000;
pub const DEFAULT_MAX_ALIASES: u64 = 50;
pub const DEFAULT_MAX_DEPTH: u64 = 48;
pub const DEFAULT_MAX_LIST_LIMIT: u64 = 10_000;
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// Two of the largest requests at once; memory under 16 concurrent expensive requests stays
/// under 100 MB with it (scripts/bench_webserver_memory.sh).
pub const DEFAULT_MAX_FIELDS_IN_FLIGHT: u64 = 500_000;

/// Which limit; its name in messages, its flag and its environment variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Fields,
    Aliases,
    Depth,
    ListArgument,
    ResponseBytes,
    FieldsInFlight,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::Fields => "query fields",
            Limit::Aliases => "query aliases",
            Limit::Depth => "query depth",
            Limit::ListArgument => "list limit",
            Limit::ResponseBytes => "response bytes",
            Limit::FieldsInFlight => "fields in flight",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Limit::Fields => "--max-query-fields",
            Limit::Aliases => "--max-query-aliases",
            Limit::Depth => "--max-query-depth",
            Limit::ListArgument => "--max-query-list-limit",
            Limit::ResponseBytes => "--max-response-bytes",
            Limit::FieldsInFlight => "--max-fields-in-flight",
        }
    }

    pub fn env(self) -> &'static str {
        match self {
            Limit::Fields => "DAGSTER_WEBSERVER_MAX_QUERY_FIELDS",
            Limit::Aliases => "DAGSTER_WEBSERVER_MAX_QUERY_ALIASES",
            Limit::Depth => "DAGSTER_WEBSERVER_MAX_QUERY_DEPTH",
            Limit::ListArgument => "DAGSTER_WEBSERVER_MAX_QUERY_LIST_LIMIT",
            Limit::ResponseBytes => "DAGSTER_WEBSERVER_MAX_RESPONSE_BYTES",
            Limit::FieldsInFlight => "DAGSTER_WEBSERVER_MAX_FIELDS_IN_FLIGHT",
        }
    }
}

/// A request over one limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitError {
    pub limit: Limit,
    pub value: u64,
    pub max: u64,
}

impl LimitError {
    pub fn message(&self) -> String {
        let what = match self.limit {
            Limit::Fields => "the query requests an estimated",
            Limit::Aliases => "the query has",
            Limit::Depth => "the query nests fields",
            Limit::ListArgument => "the query asks for a list limit of",
            Limit::ResponseBytes => "the response would exceed",
            Limit::FieldsInFlight => "the query requests an estimated",
        };
        let unit = match self.limit {
            Limit::Fields | Limit::FieldsInFlight => " fields",
            Limit::Aliases => " aliases",
            Limit::Depth => " levels deep",
            Limit::ListArgument => "",
            Limit::ResponseBytes => " bytes",
        };
        let shown = match self.limit {
            // The response was stopped at the limit: its full size is unknown.
            Limit::ResponseBytes => self.max,
            _ => self.value,
        };
        format!(
            "Query cost limit exceeded ({name}): {what} {shown}{unit}, over the limit of {max} \
             (set by {flag} / {env}).",
            name = self.limit.name(),
            max = self.max,
            flag = self.limit.flag(),
            env = self.limit.env(),
        )
    }

    /// The entry of a GraphQL `errors` list.
    pub fn to_graphql(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message(),
            "extensions": {
                "code": CODE,
                "limit": self.limit.name(),
                "flag": self.limit.flag(),
                "value": self.value,
                "max": self.max,
            },
        })
    }
}

/// What one operation asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub fields: u64,
    pub aliases: u64,
    pub depth: u64,
    pub list_limit: u64,
}

impl Cost {
    fn then(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
            depth: self.depth.max(other.depth),
            list_limit: self.list_limit.max(other.list_limit),
        }
    }

    /// The costliest of two alternatives: fields and depth of the larger, aliases of both (they
    /// are in the document either way).
    fn or(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.max(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
            depth: self.depth.max(other.depth),
            list_limit: self.list_limit.max(other.list_limit),
        }
    }

    /// The first limit this cost exceeds.
    pub fn check(&self, limits: &Limits) -> Result<(), LimitError> {
        let checks = [
            (Limit::Depth, self.depth, limits.max_depth),
            (Limit::Aliases, self.aliases, limits.max_aliases),
            (Limit::ListArgument, self.list_limit, limits.max_list_limit),
            (Limit::Fields, self.fields, limits.max_fields),
            (
                Limit::FieldsInFlight,
                self.fields,
                limits.max_fields_in_flight,
            ),
        ];
        for (limit, value, max) in checks {
            if value > max {
                return Err(LimitError { limit, value, max });
            }
        }
        Ok(())
    }
}

/// The analysis of one request.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub cost: Cost,
    pub operation_name: Option<String>,
    pub operation_type: Option<OperationType>,
}

/// Average sizes of the introspection lists of one schema (see the module doc).
#[derive(Clone, Debug)]
pub struct SchemaSizes {
    /// (parent type, list field) → (items in all such lists, number of such lists): the
    /// average, kept as a fraction (most types have no arguments, enum values, interfaces…).
    list_sizes: HashMap<(&'static str, &'static str), (u64, u64)>,
}

impl SchemaSizes {
    pub fn of(schema: &juniper::SchemaType<DefaultScalarValue>) -> Self {
        let types = schema.concrete_type_list();
        let n_types = types.len().max(1) as u64;
        let (mut fields, mut args, mut input_fields, mut enum_values) = (0u64, 0u64, 0u64, 0u64);
        let (mut possible, mut interfaces) = (0u64, 0u64);
        for t in &types {
            match t {
                MetaType::Object(o) => {
                    fields += o.fields.len() as u64;
                    interfaces += o.interface_names.len() as u64;
                    args += o
                        .fields
                        .iter()
                        .map(|f| f.arguments.as_ref().map_or(0, |a| a.len() as u64))
                        .sum::<u64>();
                }
                MetaType::Interface(i) => {
                    fields += i.fields.len() as u64;
                    interfaces += i.interface_names.len() as u64;
                    possible += schema.possible_types(t).len() as u64;
                    args += i
                        .fields
                        .iter()
                        .map(|f| f.arguments.as_ref().map_or(0, |a| a.len() as u64))
                        .sum::<u64>();
                }
                MetaType::Union(u) => possible += u.of_type_names.len() as u64,
                MetaType::Enum(e) => enum_values += e.values.len() as u64,
                MetaType::InputObject(i) => input_fields += i.input_fields.len() as u64,
                _ => {}
            }
        }
        let avg = |total: u64, over: u64| (total, over.max(1));
        let directives = schema.directive_list();
        let directive_args = directives
            .iter()
            .map(|d| d.arguments.len() as u64)
            .max()
            .unwrap_or(1);
        let list_sizes = HashMap::from([
            (("__Schema", "types"), (n_types, 1)),
            (
                ("__Schema", "directives"),
                (directives.len().max(1) as u64, 1),
            ),
            (("__Type", "fields"), avg(fields, n_types)),
            (("__Type", "inputFields"), avg(input_fields, n_types)),
            (("__Type", "enumValues"), avg(enum_values, n_types)),
            (("__Type", "possibleTypes"), avg(possible, n_types)),
            (("__Type", "interfaces"), avg(interfaces, n_types)),
            (("__Field", "args"), avg(args, fields)),
            (("__Directive", "args"), (directive_args.max(1), 1)),
        ]);
        Self { list_sizes }
    }

    /// The average length of list `field` of type `parent`: 1 for the lists of the schema
    /// itself (runs, events, assets… have `limit:` arguments where they are long).
    fn list_size(&self, parent: &str, field: &str) -> (u64, u64) {
        self.list_sizes
            .iter()
            .find(|((p, f), _)| *p == parent && *f == field)
            .map_or((1, 1), |(_, n)| *n)
    }
}

type Doc<'a> = [Definition<'a, DefaultScalarValue>];
type Sel<'a> = [Selection<'a, DefaultScalarValue>];

/// Parses `query` with the schema's parser and measures the operation that will run
/// (`operation_name`, or every operation when none is named). `Ok(None)`: the document does
/// not parse; juniper will answer with its own parse error.
pub fn analyze(
    schema: &crate::schema::Schema,
    sizes: &SchemaSizes,
    query: &str,
    operation_name: Option<&str>,
    variables: &Variables<DefaultScalarValue>,
    limits: &Limits,
) -> Result<Option<Analysis>, LimitError> {
    let doc = match juniper::parser::parse_document_source(query, &schema.schema) {
        Ok(d) => d,
        // juniper's own limits are at least ours (see `main.rs`): its counts (fields without
        // list multipliers; nesting of selection sets and fragments) are never below ours.
        Err(e) => {
            return match e.item {
                juniper::ParseError::FieldLimitExceeded(n) => Err(LimitError {
                    limit: Limit::Fields,
                    value: (n as u64).saturating_add(1),
                    max: limits.max_fields,
                }),
                juniper::ParseError::DepthLimitExceeded(n) => Err(LimitError {
                    limit: Limit::Depth,
                    value: (n as u64).saturating_add(1),
                    max: limits.max_depth,
                }),
                _ => Ok(None),
            };
        }
    };
    let mut walker = Walker {
        schema: &schema.schema,
        sizes,
        doc: &doc,
        variables,
        var_defaults: HashMap::new(),
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    let mut total = Cost::default();
    let mut op_type = None;
    let mut op_name = None;
    for def in doc.iter() {
        let Definition::Operation(op) = def else {
            continue;
        };
        let op = &op.item;
        let name = op.name.as_ref().map(|n| n.item);
        if operation_name.is_some_and(|want| Some(want) != name) {
            continue;
        }
        walker.var_defaults.clear();
        if let Some(defs) = &op.variables_definition {
            for (var, def) in defs.item.iter() {
                if let Some(default) = &def.default_value {
                    walker
                        .var_defaults
                        .insert(var.item.to_string(), default.item.clone());
                }
            }
        }
        let root = match op.operation_type {
            OperationType::Query => Some(schema.schema.concrete_query_type()),
            OperationType::Mutation => schema.schema.concrete_mutation_type(),
            OperationType::Subscription => schema.schema.concrete_subscription_type(),
        };
        let root_name = root.and_then(|t| t.name()).map(|n| n.to_string());
        let cost = walker.selections(&op.selection_set, root_name.as_deref());
        total = total.then(cost);
        op_type = Some(op.operation_type);
        op_name = name.map(str::to_string);
    }
    Ok(Some(Analysis {
        cost: total,
        operation_name: op_name,
        operation_type: op_type,
    }))
}

struct Walker<'a, 'd> {
    schema: &'d juniper::SchemaType<DefaultScalarValue>,
    sizes: &'d SchemaSizes,
    doc: &'d Doc<'a>,
    variables: &'d Variables<DefaultScalarValue>,
    var_defaults: HashMap<String, InputValue<DefaultScalarValue>>,
    /// Fragment costs, by name (a fragment's cost does not depend on where it is spread).
    memo: HashMap<&'a str, Cost>,
    /// Fragments being expanded: a cycle counts nothing (validation refuses it anyway).
    visiting: Vec<&'a str>,
}

impl<'a> Walker<'a, '_> {
    /// The cost of a selection set on type `parent`. Fragments on another type than `parent`
    /// (the members of a union or interface) apply to the items of that type only: they are
    /// grouped by type, and the costliest group counts (as the fields of the largest member).
    fn selections(&mut self, set: &Sel<'a>, parent: Option<&str>) -> Cost {
        let mut common = Cost::default();
        let mut by_type: Vec<(&'a str, Cost)> = Vec::new();
        for sel in set {
            let (condition, c) = match sel {
                Selection::Field(f) => {
                    let f = &f.item;
                    let arg = |n: &str| {
                        f.arguments
                            .as_ref()
                            .and_then(|a| a.item.get(n))
                            .map(|v| &v.item)
                    };
                    let c = self.field(
                        f.name.item,
                        f.alias.is_some(),
                        [arg("limit"), arg("first")],
                        f.selection_set.as_deref(),
                        parent,
                    );
                    (None, c)
                }
                Selection::InlineFragment(f) => {
                    let condition = f.item.type_condition.as_ref().map(|t| t.item);
                    let ty = condition.or(parent).map(str::to_string);
                    (
                        condition,
                        self.selections(&f.item.selection_set, ty.as_deref()),
                    )
                }
                Selection::FragmentSpread(s) => {
                    let name = s.item.name.item;
                    (self.fragment_type(name), self.fragment(name))
                }
            };
            match condition {
                Some(t) if Some(t) != parent => match by_type.iter_mut().find(|(n, _)| *n == t) {
                    Some((_, group)) => *group = group.then(c),
                    None => by_type.push((t, c)),
                },
                _ => common = common.then(c),
            }
        }
        let costliest = by_type
            .into_iter()
            .fold(Cost::default(), |acc, (_, group)| acc.or(group));
        common.then(costliest)
    }

    fn fragment_type(&self, name: &str) -> Option<&'a str> {
        self.doc.iter().find_map(|d| match d {
            Definition::Fragment(f) if f.item.name.item == name => Some(f.item.type_condition.item),
            _ => None,
        })
    }

    fn fragment(&mut self, name: &'a str) -> Cost {
        if let Some(c) = self.memo.get(name) {
            return *c;
        }
        if self.visiting.contains(&name) {
            return Cost::default();
        }
        let doc = self.doc;
        let Some(frag) = doc.iter().find_map(|d| match d {
            Definition::Fragment(f) if f.item.name.item == name => Some(&f.item),
            _ => None,
        }) else {
            return Cost::default();
        };
        self.visiting.push(name);
        let c = self.selections(&frag.selection_set, Some(frag.type_condition.item));
        self.visiting.pop();
        self.memo.insert(name, c);
        c
    }

    /// The integer value of an argument, literal or variable.
    fn int_value(&self, v: Option<&InputValue<DefaultScalarValue>>) -> Option<u64> {
        let v = match v? {
            InputValue::Variable(var) => self
                .variables
                .get(var.as_str())
                .or_else(|| self.var_defaults.get(var.as_str()))?,
            other => other,
        };
        match v.as_scalar()? {
            DefaultScalarValue::Int(i) => Some((*i).max(0) as u64),
            DefaultScalarValue::Float(f) if f.is_finite() && *f > 0.0 => Some(*f as u64),
            _ => None,
        }
    }

    fn field(
        &mut self,
        name: &str,
        aliased: bool,
        limit_args: [Option<&InputValue<DefaultScalarValue>>; 2],
        set: Option<&Sel<'a>>,
        parent: Option<&str>,
    ) -> Cost {
        let meta = match name {
            "__schema" | "__type" => None,
            _ => parent
                .and_then(|p| self.schema.concrete_type_by_name(p))
                .and_then(|t| t.field_by_name(name)),
        };
        let (child_type, is_list) = match name {
            "__schema" => (Some("__Schema".to_string()), false),
            "__type" => (Some("__Type".to_string()), false),
            _ => (
                meta.map(|m| m.field_type.innermost_name().to_string()),
                // (`Type::is_list` of juniper 0.18 misses a non-null list: `[T!]!`.)
                meta.is_some_and(|m| m.field_type.to_string().starts_with('[')),
            ),
        };
        let explicit = limit_args
            .into_iter()
            .filter_map(|a| self.int_value(a))
            .max();
        let children = match set {
            Some(set) => self.selections(set, child_type.as_deref()),
            None => Cost::default(),
        };
        let (times, over) = match explicit {
            Some(n) => (n.max(1), 1),
            None if is_list => parent.map_or((1, 1), |p| self.sizes.list_size(p, name)),
            None => (1, 1),
        };
        // Each item of a list of leaves is a value too.
        let items = if is_list || explicit.is_some() {
            children.fields.max(1)
        } else {
            children.fields
        };
        Cost {
            fields: 1u64.saturating_add(items.saturating_mul(times).div_ceil(over)),
            aliases: children.aliases.saturating_add(u64::from(aliased)),
            depth: children.depth.saturating_add(1),
            list_limit: children.list_limit.max(explicit.unwrap_or(0)),
        }
    }
}

/// The estimated fields of every request in flight share this budget
/// (`--max-fields-in-flight`): a request waits until its weight fits.
pub struct InFlight {
    permits: Arc<tokio::sync::Semaphore>,
    cap: u64,
    /// Largest weight in flight at once (for the log and the tests).
    peak: AtomicU64,
    /// Requests admitted so far (the allocator's purge watches it: `alloc.rs`).
    admitted: AtomicU64,
}

impl InFlight {
    pub fn new(cap: u64) -> Self {
        let cap = cap.clamp(1, u64::from(u32::MAX));
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(cap as usize)),
            cap,
            peak: AtomicU64::new(0),
            admitted: AtomicU64::new(0),
        }
    }

    /// How many requests have been admitted so far.
    pub fn admitted(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Waits until `fields` fit in the budget; the permit gives them back when dropped. A
    /// request heavier than the whole budget is refused (it could never run).
    pub async fn acquire(
        &self,
        fields: u64,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, LimitError> {
        let weight = fields.max(1);
        if weight > self.cap {
            return Err(LimitError {
                limit: Limit::FieldsInFlight,
                value: weight,
                max: self.cap,
            });
        }
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(weight as u32)
            .await
            .map_err(|_| LimitError {
                limit: Limit::FieldsInFlight,
                value: weight,
                max: self.cap,
            })?;
        let used = self.cap - self.permits.available_permits() as u64;
        self.peak.fetch_max(used, Ordering::Relaxed);
        self.admitted.fetch_add(1, Ordering::Relaxed);
        Ok(permit)
    }
}

/// A writer into memory that refuses to grow past `max` bytes.
struct BoundedWriter {
    buf: Vec<u8>,
    max: usize,
    over: bool,
}

impl std::io::Write for BoundedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.max {
            self.over = true;
            return Err(std::io::Error::other("response size limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serializes `value` as JSON, stopping with [`Limit::ResponseBytes`] as soon as the text would
/// pass `max_bytes` (the partial text is dropped, never sent).
pub fn serialize_bounded<T: serde::Serialize + ?Sized>(
    value: &T,
    max_bytes: u64,
) -> Result<Vec<u8>, SerializeError> {
    let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let mut w = BoundedWriter {
        buf: Vec::with_capacity(max.min(16 * 1024)),
        max,
        over: false,
    };
    match serde_json::to_writer(&mut w, value) {
        Ok(()) => Ok(w.buf),
        Err(_) if w.over => Err(SerializeError::Limit(LimitError {
            limit: Limit::ResponseBytes,
            value: max_bytes.saturating_add(1),
            max: max_bytes,
        })),
        Err(e) => Err(SerializeError::Json(e)),
    }
}

#[derive(Debug)]
pub enum SerializeError {
    Limit(LimitError),
    Json(serde_json::Error),
}

/// The values of an answer (each field of each object, each list item): what a request really
/// resolved, logged next to its estimate.
pub fn count_values(v: &juniper::Value<DefaultScalarValue>) -> u64 {
    let mut stack = vec![v];
    let mut n = 0u64;
    while let Some(v) = stack.pop() {
        match v {
            juniper::Value::List(items) => {
                n += items.len() as u64;
                stack.extend(items.iter());
            }
            juniper::Value::Object(o) => {
                for (_, child) in o.iter() {
                    n += 1;
                    stack.push(child);
                }
            }
            _ => {}
        }
    }
    n
}
