//! What one GraphQL request may cost, so that no request (and no burst of them) can make the
//! webserver hold unbounded memory.
//!
//! Before a query runs, its document (as juniper parsed it) is measured with every fragment
//! expanded at each spread (a fragment's measure is computed once and reused; a spread of a
//! fragment that is being expanded, a cycle, counts nothing: validation refuses it anyway):
//!
//! * **fields**: the fields the query resolves. A field under a field with a `limit: n`
//!   argument counts `n` times (it is resolved once per item of that page), and inside
//!   introspection (`__schema`, `__type`) the lists count with the schema's own sizes (`types`
//!   as many times as the schema has types, `fields` as many as a type has on average, ...).
//!   Lists without a `limit` argument count once: their size is the data's, which the response
//!   cap below bounds.
//! * **aliases**: fields given an alias (`a1: runsOrError`), the way one request asks for the
//!   same large field many times.
//! * **depth**: the deepest nesting of selections.
//! * **list size**: the largest `limit` argument (literal or variable).
//!
//! A request over a limit is answered with a GraphQL error naming the limit (`query cost limit:
//! 1234 fields exceeds max_fields 1000 ...`), status 400, before anything runs. While it runs,
//! the estimated fields of every request running at once are bounded too
//! ([`Limits::max_fields_in_flight`]: one more waits for others to finish). Its answer is then
//! written into a buffer bounded by [`Limits::max_response_bytes`]; a larger answer is dropped
//! and replaced by the same kind of error.

use juniper::{DefaultScalarValue, Definition, InputValue, Selection, Spanning, Variables};
use std::collections::HashMap;

/// The request limits (flags and `DAGSTER_WEBSERVER_*` variables of the same names, see
/// `main.rs`). The defaults leave ample room over Dagster's own UI (docs/BENCHMARKS.md, the
/// webserver memory section, has the UI's largest request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_fields: u64,
    pub max_aliases: u64,
    pub max_depth: u64,
    pub max_list_size: u64,
    pub max_response_bytes: usize,
    /// The estimated fields of all the HTTP requests executing at once; a request that would
    /// pass it waits until others finish (one request alone always runs).
    pub max_fields_in_flight: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_fields: DEFAULT_MAX_FIELDS,
            max_aliases: DEFAULT_MAX_ALIASES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_list_size: DEFAULT_MAX_LIST_SIZE,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_fields_in_flight: DEFAULT_MAX_FIELDS_IN_FLIGHT,
        }
    }
}

pub const DEFAULT_MAX_FIELDS: u64 = 250_000;
pub const DEFAULT_MAX_ALIASES: u64 = 200;
pub const DEFAULT_MAX_DEPTH: u64 = 30;
pub const DEFAULT_MAX_LIST_SIZE: u64 = 10_000;
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
pub const DEFAULT_MAX_FIELDS_IN_FLIGHT: u64 = 500_000;

/// The measure of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub fields: u64,
    pub aliases: u64,
    pub depth: u64,
    pub list_size: u64,
}

/// A limit a request went over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// The limit's name, as in the message (`max_fields`, ...).
    pub limit: &'static str,
    pub value: u64,
    pub max: u64,
    message: String,
}

impl Exceeded {
    fn new(limit: &'static str, what: &str, value: u64, max: u64, flag: &str) -> Exceeded {
        Exceeded {
            limit,
            value,
            max,
            message: format!(
                "query cost limit: {value} {what} exceeds {limit} {max} (the webserver's --{flag} / DAGSTER_WEBSERVER_{})",
                flag.replace('-', "_").to_ascii_uppercase()
            ),
        }
    }

    /// The answer's body was larger than `max` bytes.
    pub fn response_bytes(max: usize) -> Exceeded {
        let mut e = Exceeded::new(
            "max_response_bytes",
            "bytes of response",
            max as u64 + 1,
            max as u64,
            "max-response-bytes",
        );
        e.message = format!(
            "query cost limit: the response is larger than max_response_bytes {max} (the webserver's --max-response-bytes / DAGSTER_WEBSERVER_MAX_RESPONSE_BYTES); ask for fewer fields or smaller pages"
        );
        e
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// `{"data": null, "errors": [...]}` with the limit in the error's `extensions`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "data": null,
            "errors": [self.error_json()],
        })
    }

    /// One GraphQL error object.
    pub fn error_json(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message,
            "extensions": {
                "code": "QUERY_COST_LIMIT",
                "limit": self.limit,
                "value": self.value,
                "max": self.max,
            },
        })
    }
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Limits {
    /// The first limit `cost` goes over, if any.
    pub fn check(&self, cost: &Cost) -> Result<(), Exceeded> {
        let checks = [
            (
                cost.fields,
                self.max_fields,
                "max_fields",
                "fields",
                "max-query-fields",
            ),
            (
                cost.aliases,
                self.max_aliases,
                "max_aliases",
                "aliases",
                "max-query-aliases",
            ),
            (
                cost.depth,
                self.max_depth,
                "max_depth",
                "levels of nesting",
                "max-query-depth",
            ),
            (
                cost.list_size,
                self.max_list_size,
                "max_list_size",
                "items asked for by a `limit` argument",
                "max-query-list-size",
            ),
        ];
        for (value, max, limit, what, flag) in checks {
            if value > max {
                return Err(Exceeded::new(limit, what, value, max, flag));
            }
        }
        Ok(())
    }
}

/// The sizes introspection lists have in this schema (computed once, [`IntrospectionSizes::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntrospectionSizes {
    /// `__Schema.types`.
    pub types: u64,
    /// `__Type.fields` / `inputFields` / `enumValues` / `possibleTypes` / `interfaces`: the
    /// largest average over the types (rounded up).
    pub per_type: u64,
    /// `__Field.args`: the average per field (rounded up).
    pub args: u64,
}

impl Default for IntrospectionSizes {
    fn default() -> Self {
        IntrospectionSizes {
            types: 1,
            per_type: 1,
            args: 1,
        }
    }
}

impl IntrospectionSizes {
    pub fn of<S>(schema: &juniper::SchemaType<S>) -> IntrospectionSizes {
        use juniper::meta::MetaType;
        let types = schema.concrete_type_list();
        let (mut fields, mut inputs, mut values, mut members, mut args) = (0u64, 0, 0, 0, 0);
        for t in &types {
            match t {
                MetaType::Object(o) => {
                    fields += o.fields.len() as u64;
                    members += o.interface_names.len() as u64;
                    args += o
                        .fields
                        .iter()
                        .map(|f| f.arguments.as_ref().map_or(0, Vec::len) as u64)
                        .sum::<u64>();
                }
                MetaType::Interface(i) => {
                    fields += i.fields.len() as u64;
                    members += i.interface_names.len() as u64;
                    args += i
                        .fields
                        .iter()
                        .map(|f| f.arguments.as_ref().map_or(0, Vec::len) as u64)
                        .sum::<u64>();
                }
                MetaType::InputObject(o) => inputs += o.input_fields.len() as u64,
                MetaType::Enum(e) => values += e.values.len() as u64,
                MetaType::Union(u) => members += u.of_type_names.len() as u64,
                _ => {}
            }
        }
        let n = (types.len() as u64).max(1);
        let per_type = [fields, inputs, values, members]
            .iter()
            .map(|total| total.div_ceil(n))
            .max()
            .unwrap_or(1)
            .max(1);
        IntrospectionSizes {
            types: n,
            per_type,
            args: args.div_ceil(fields.max(1)).max(1),
        }
    }
}

/// Measures the operation `operation_name` (or the document's only operation) of `query`,
/// parsed as juniper parses it for `schema`. `None` when the document does not parse or names
/// no such operation: juniper then answers with its own error, and nothing runs.
pub fn analyze(
    query: &str,
    operation_name: Option<&str>,
    variables: &Variables<DefaultScalarValue>,
    schema: &juniper::SchemaType<DefaultScalarValue>,
    sizes: IntrospectionSizes,
) -> Option<Cost> {
    let document = juniper::parser::parse_document_source(query, schema).ok()?;
    measure(&document, operation_name, variables, schema, sizes)
}

/// The measure of the chosen operation of a parsed document.
pub fn measure<'a: 'd, 'd>(
    document: &'d [Definition<'a, DefaultScalarValue>],
    operation_name: Option<&str>,
    variables: &'d Variables<DefaultScalarValue>,
    schema: &'d juniper::SchemaType<DefaultScalarValue>,
    sizes: IntrospectionSizes,
) -> Option<Cost> {
    let mut operation = None;
    let mut fragments = HashMap::new();
    for d in document {
        match d {
            Definition::Operation(op) => {
                let name = op.item.name.as_ref().map(|n| n.item);
                match operation_name {
                    Some(want) if name == Some(want) => operation = Some(&op.item),
                    Some(_) => {}
                    None if operation.is_some() => return None,
                    None => operation = Some(&op.item),
                }
            }
            Definition::Fragment(f) => {
                fragments.insert(
                    f.item.name.item,
                    (f.item.type_condition.item, &f.item.selection_set[..]),
                );
            }
        }
    }
    let operation = operation?;
    // Variables given, else their defaults.
    let mut values: HashMap<&'d str, &'d InputValue<DefaultScalarValue>> = HashMap::new();
    if let Some(defs) = &operation.variables_definition {
        for (name, def) in &defs.item.items {
            if let Some(default) = &def.default_value {
                values.insert(name.item, &default.item);
            }
        }
    }
    for (name, value) in variables {
        values.insert(name.as_str(), value);
    }
    let mut m = Measurer {
        fragments,
        schema,
        variables: values,
        sizes,
        memo: HashMap::new(),
        open: Vec::new(),
    };
    let root = m.selection_set(&operation.selection_set, false);
    Some(Cost {
        fields: root.fields,
        aliases: root.aliases,
        depth: root.depth,
        list_size: root.list_size,
    })
}

/// The measure of a selection set, relative to where it is (depth 1 = its own fields).
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    fields: u64,
    aliases: u64,
    depth: u64,
    list_size: u64,
}

impl Part {
    fn add(&mut self, other: Part) {
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.depth = self.depth.max(other.depth);
        self.list_size = self.list_size.max(other.list_size);
    }
}

struct Measurer<'a, 'd> {
    /// Each fragment's type condition and selections.
    fragments: HashMap<&'a str, (&'a str, &'d [Selection<'a, DefaultScalarValue>])>,
    schema: &'d juniper::SchemaType<DefaultScalarValue>,
    variables: HashMap<&'d str, &'d InputValue<DefaultScalarValue>>,
    sizes: IntrospectionSizes,
    /// Fragments already measured, by name and by whether they are inside introspection.
    memo: HashMap<(&'a str, bool), Part>,
    /// Fragments being expanded (a spread of one of them is a cycle).
    open: Vec<&'a str>,
}

impl<'a, 'd> Measurer<'a, 'd> {
    /// Fields count for every object, except that of the fragments on object types (`... on
    /// Run`), only the largest type's count: an object is of one type. Fragments on interfaces
    /// and unions count in full.
    fn selection_set(
        &mut self,
        selections: &'d [Selection<'a, DefaultScalarValue>],
        introspection: bool,
    ) -> Part {
        let mut part = Part::default();
        let mut by_type: Vec<(&'a str, Part)> = Vec::new();
        for s in selections {
            match s {
                Selection::Field(f) => {
                    let f = &f.item;
                    let name = f.name.item;
                    let mut own = Part {
                        fields: 1,
                        aliases: u64::from(f.alias.as_ref().is_some_and(|a| a.item != name)),
                        depth: 1,
                        list_size: 0,
                    };
                    let limit = f
                        .arguments
                        .as_ref()
                        .and_then(|a| self.limit_argument(&a.item.items));
                    own.list_size = limit.unwrap_or(0);
                    if let Some(sub) = &f.selection_set {
                        let inner = introspection || name == "__schema" || name == "__type";
                        let items = if introspection {
                            self.introspection_list(name)
                        } else {
                            limit.unwrap_or(1).max(1)
                        };
                        let child = self.selection_set(sub, inner);
                        own.fields = own
                            .fields
                            .saturating_add(child.fields.saturating_mul(items));
                        own.aliases = own.aliases.saturating_add(child.aliases);
                        own.depth = child.depth.saturating_add(1);
                        own.list_size = own.list_size.max(child.list_size);
                    }
                    part.add(own);
                }
                Selection::InlineFragment(f) => {
                    let child = self.selection_set(&f.item.selection_set, introspection);
                    let condition = f.item.type_condition.as_ref().map(|t| t.item);
                    self.add_conditional(&mut part, &mut by_type, condition, child);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.item.name.item;
                    let child = self.fragment(name, introspection);
                    let condition = self.fragments.get(name).map(|(t, _)| *t);
                    self.add_conditional(&mut part, &mut by_type, condition, child);
                }
            }
        }
        let largest = by_type.iter().map(|(_, p)| p.fields).max().unwrap_or(0);
        for (_, p) in by_type {
            part.add(Part { fields: 0, ..p });
        }
        part.fields = part.fields.saturating_add(largest);
        part
    }

    /// Adds a fragment's measure: to the object type's group when its condition is an object
    /// type, else to the selection's own count.
    fn add_conditional(
        &self,
        part: &mut Part,
        by_type: &mut Vec<(&'a str, Part)>,
        condition: Option<&'a str>,
        child: Part,
    ) {
        let object = condition.filter(|t| {
            matches!(
                self.schema.concrete_type_by_name(*t),
                Some(juniper::meta::MetaType::Object(_))
            )
        });
        match object {
            Some(t) => match by_type.iter_mut().find(|(name, _)| *name == t) {
                Some((_, p)) => p.add(child),
                None => by_type.push((t, child)),
            },
            None => part.add(child),
        }
    }

    fn fragment(&mut self, name: &'a str, introspection: bool) -> Part {
        if let Some(p) = self.memo.get(&(name, introspection)) {
            return *p;
        }
        if self.open.contains(&name) {
            return Part::default();
        }
        let Some((_, selections)) = self.fragments.get(name).copied() else {
            return Part::default();
        };
        self.open.push(name);
        let p = self.selection_set(selections, introspection);
        self.open.pop();
        self.memo.insert((name, introspection), p);
        p
    }

    /// The value of the field's `limit` argument (a literal, or a variable given or defaulted);
    /// `None` without one (or null).
    fn limit_argument(
        &self,
        args: &[(Spanning<&str>, Spanning<InputValue<DefaultScalarValue>>)],
    ) -> Option<u64> {
        let (_, value) = args.iter().find(|(k, _)| k.item == "limit")?;
        let value = match &value.item {
            InputValue::Variable(v) => *self.variables.get(v.as_str())?,
            other => other,
        };
        match value {
            InputValue::Scalar(DefaultScalarValue::Int(n)) => Some(u64::try_from(*n).unwrap_or(0)),
            InputValue::Scalar(DefaultScalarValue::Float(n)) if *n >= 0.0 => Some(*n as u64),
            _ => None,
        }
    }

    /// How many items an introspection list has here.
    fn introspection_list(&self, field: &str) -> u64 {
        match field {
            "types" => self.sizes.types,
            "fields" | "inputFields" | "enumValues" | "possibleTypes" | "interfaces" => {
                self.sizes.per_type
            }
            "args" => self.sizes.args,
            _ => 1,
        }
    }
}

/// A `Write` that keeps at most `max` bytes and fails past them (the response buffer).
pub struct BoundedBuffer {
    pub bytes: Vec<u8>,
    max: usize,
    pub overflowed: bool,
}

impl BoundedBuffer {
    pub fn new(max: usize) -> BoundedBuffer {
        BoundedBuffer {
            bytes: Vec::new(),
            max,
            overflowed: false,
        }
    }
}

impl std::io::Write for BoundedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.max {
            self.overflowed = true;
            return Err(std::io::Error::other("response size limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serializes `value` as JSON into at most `max` bytes; `Err` when it does not fit (nothing
/// past `max` bytes is ever held).
pub fn to_json_bounded<T: serde::Serialize>(value: &T, max: usize) -> Result<Vec<u8>, Exceeded> {
    let mut buf = BoundedBuffer::new(max);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => Ok(buf.bytes),
        Err(_) if buf.overflowed => Err(Exceeded::response_bytes(max)),
        // Serializing a juniper value cannot fail otherwise; report it as the same limit
        // rather than send half a body.
        Err(_) => Err(Exceeded::response_bytes(max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str, vars: serde_json::Value) -> Cost {
        cost_in(&crate::schema::schema(), query, vars).unwrap()
    }

    fn cost_in(
        schema: &crate::schema::Schema,
        query: &str,
        vars: serde_json::Value,
    ) -> Option<Cost> {
        let vars: Variables<DefaultScalarValue> = match serde_json::from_value(vars).unwrap() {
            InputValue::Object(fields) => {
                fields.into_iter().map(|(k, v)| (k.item, v.item)).collect()
            }
            _ => Variables::new(),
        };
        analyze(
            query,
            None,
            &vars,
            &schema.schema,
            IntrospectionSizes::of(&schema.schema),
        )
    }

    #[test]
    fn fields_aliases_depth_and_pages() {
        let c = cost("{ version a: version b: version }", serde_json::json!({}));
        assert_eq!((c.fields, c.aliases, c.depth, c.list_size), (3, 2, 1, 0));
        // A page of 30 runs with 3 fields each: 1 + 1 + 30 * 3 (+ __typename).
        let q = "{ runsOrError(limit: 30) { __typename ... on Runs { results { runId status jobName } } } }";
        let c = cost(q, serde_json::json!({}));
        assert_eq!(
            (c.fields, c.depth, c.list_size),
            (1 + 30 * (1 + 1 + 3), 3, 30)
        );
        // The limit from a variable, or from its default.
        let q =
            "query($n: Int = 7) { runsOrError(limit: $n) { ... on Runs { results { runId } } } }";
        assert_eq!(cost(q, serde_json::json!({"n": 100})).fields, 1 + 100 * 2);
        assert_eq!(cost(q, serde_json::json!({})).fields, 1 + 7 * 2);
        assert_eq!(cost(q, serde_json::json!({"n": 100})).list_size, 100);
    }

    #[test]
    fn fragments_are_expanded_at_each_spread_and_cycles_count_nothing() {
        let q = "query { a: runsOrError { ...R } b: runsOrError { ...R } } fragment R on RunsOrError { ... on Runs { results { ...F ...F } } } fragment F on Run { runId status }";
        let c = cost(q, serde_json::json!({}));
        // per alias: runsOrError + results + 2 * (runId status)
        assert_eq!(c.fields, 2 * (1 + 1 + 4));
        assert_eq!((c.aliases, c.depth), (2, 3));
        // A cycle (invalid, refused by validation) is measured without looping.
        let q = "{ runsOrError { ...A } } fragment A on RunsOrError { ...B } fragment B on RunsOrError { ...A __typename }";
        assert_eq!(cost(q, serde_json::json!({})).fields, 2);
        // Exponential expansion is counted, saturating.
        let mut q = String::from("{ runsOrError { ...F0 } }");
        for i in 0..40 {
            q.push_str(&format!(
                " fragment F{i} on RunsOrError {{ ...F{n} ...F{n} }}",
                n = i + 1
            ));
        }
        q.push_str(" fragment F40 on RunsOrError { __typename }");
        // juniper's own parser refuses it (its field limit): juniper answers with its error.
        assert_eq!(
            cost_in(&crate::schema::schema(), &q, serde_json::json!({})),
            None
        );
        let unlimited = crate::schema::schema().limit_fields(usize::MAX);
        let c = cost_in(&unlimited, &q, serde_json::json!({})).unwrap();
        assert_eq!(c.fields, 1 + (1 << 40));
        assert!(Limits::default().check(&c).is_err());
    }

    #[test]
    fn introspection_counts_the_schema() {
        let schema = crate::schema::schema();
        let sizes = IntrospectionSizes::of(&schema.schema);
        assert!(sizes.types > 500, "{sizes:?}");
        let c = cost(
            "{ __schema { types { name fields { name } } } }",
            serde_json::json!({}),
        );
        assert_eq!(c.fields, 2 + sizes.types * (2 + sizes.per_type));
        // Of a union's object-type fragments only the largest counts: an event is of one type.
        let q = "{ logsForRun(runId: \"r\", limit: 10) { ... on EventConnection { events { __typename \
            ... on ExecutionStepFailureEvent { runId message stepKey } ... on RunStartEvent { runId } \
            ... on MessageEvent { timestamp } } } } }";
        // logsForRun + 10 * (events + __typename + MessageEvent's 1 + the failure's 3)
        assert_eq!(
            cost(q, serde_json::json!({})).fields,
            1 + 10 * (1 + 1 + 1 + 3)
        );
    }

    #[test]
    fn limits_name_the_limit() {
        let l = Limits {
            max_fields: 1000,
            ..Limits::default()
        };
        let e = l
            .check(&Cost {
                fields: 1234,
                ..Cost::default()
            })
            .unwrap_err();
        assert!(
            e.message()
                .starts_with("query cost limit: 1234 fields exceeds max_fields 1000"),
            "{e}"
        );
        assert_eq!(
            e.to_json()["errors"][0]["extensions"]["limit"],
            "max_fields"
        );
        let e = l
            .check(&Cost {
                list_size: 1_000_000,
                ..Cost::default()
            })
            .unwrap_err();
        assert_eq!(e.limit, "max_list_size");
        assert!(l.check(&Cost::default()).is_ok());
    }

    #[test]
    fn responses_are_bounded_while_written() {
        let v = serde_json::json!({"a": "x".repeat(100)});
        assert!(to_json_bounded(&v, 1000).is_ok());
        let e = to_json_bounded(&v, 50).unwrap_err();
        assert_eq!(e.limit, "max_response_bytes");
        let mut b = BoundedBuffer::new(10);
        use std::io::Write;
        assert!(b.write_all(b"0123456789").is_ok());
        assert!(b.write_all(b"x").is_err());
        assert_eq!(b.bytes.len(), 10);
    }
}
