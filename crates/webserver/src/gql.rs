//! The GraphQL request handling that `/graphql` over HTTP ([`crate::http`]) and over websocket
//! ([`crate::ws`]) share: the server's state, the request size and nesting limits, the inline
//! `runConfigData` rewrite, variables, and the cost limits of [`crate::cost`] (admission before a
//! request runs, the fields-in-flight budget, the bounded serialization of its answer).

use crate::cost::{self, Analysis, InFlight, LimitError, Limits, SchemaSizes};
use crate::schema::Schema;
use crate::state::AppState;
use juniper::{DefaultScalarValue, InputValue, Variables};
use std::sync::Arc;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Deepest accepted nesting of `{`, `[` and `(` in a query document.
pub const MAX_QUERY_DEPTH: usize = 40;

pub struct Server {
    pub state: Arc<AppState>,
    /// Built once, shared by the workers.
    pub schema: Arc<Schema>,
    /// `DAGSTER_WEBSERVER_TOKEN`, if set.
    pub token: Option<String>,
    /// The cost limits, shared by the workers.
    pub costs: Arc<Costs>,
}

/// The cost limits of one server and what they need: the schema's introspection sizes and the
/// fields-in-flight budget shared by every request.
pub struct Costs {
    pub limits: Limits,
    pub sizes: SchemaSizes,
    pub in_flight: InFlight,
}

impl Costs {
    pub fn new(schema: &Schema, limits: Limits) -> Self {
        Self {
            sizes: SchemaSizes::of(&schema.schema),
            in_flight: InFlight::new(limits.max_fields_in_flight),
            limits,
        }
    }

    /// Measures a request before it runs (see [`cost::analyze`]) and checks the static limits.
    /// `Ok(None)`: the document does not parse; juniper answers with its own error.
    pub fn admit(
        &self,
        schema: &Schema,
        query: &str,
        operation_name: Option<&str>,
        variables: &Variables<DefaultScalarValue>,
    ) -> Result<Option<Analysis>, LimitError> {
        let analysis = cost::analyze(
            schema,
            &self.sizes,
            query,
            operation_name,
            variables,
            &self.limits,
        )?;
        if let Some(a) = &analysis {
            if let Err(e) = a.cost.check(&self.limits) {
                tracing::debug!(
                    target: cost::LOG_TARGET,
                    op = a.operation_name.as_deref().unwrap_or(""),
                    limit = e.limit.name(),
                    value = e.value,
                    "graphql request refused"
                );
                return Err(e);
            }
        }
        Ok(analysis)
    }

    /// Logs what a request cost (debug level, target [`cost::LOG_TARGET`]); the browser test
    /// reads these lines to measure Dagster's UI against the defaults.
    pub fn record(&self, a: &Analysis, resolved: u64, response_bytes: u64) {
        tracing::debug!(
            target: cost::LOG_TARGET,
            op = a.operation_name.as_deref().unwrap_or(""),
            fields = a.cost.fields,
            resolved,
            aliases = a.cost.aliases,
            depth = a.cost.depth,
            list_limit = a.cost.list_limit,
            response_bytes,
            "graphql request cost"
        );
    }
}

/// Deepest nesting of `{`, `[`, `(` outside strings and comments.
pub fn nesting_depth(query: &str) -> usize {
    let b = query.as_bytes();
    let (mut i, mut depth, mut max) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i = skip_string(b, i);
                continue;
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// Objects given for `runConfigData` become their JSON text (see `RunConfigData`).
pub fn normalize_variables(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if k == "runConfigData" && (val.is_object() || val.is_array()) {
                    *val = serde_json::Value::String(val.to_string());
                } else {
                    normalize_variables(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalize_variables),
        _ => {}
    }
}

/// `RunConfigData` is a string scalar and juniper refuses object literals for scalars, so an
/// object or list literal written inline for a `runConfigData:` argument field
/// (`runConfigData: {ops: {a: {config: {x: 1}}}}`) is rewritten into the equivalent JSON string
/// literal before parsing. Strings, block strings and comments are skipped; a variable inside
/// such a literal is an error (pass the whole config as a variable instead).
pub fn inline_run_config_literals(query: &str) -> Result<String, String> {
    const KEY: &[u8] = b"runConfigData";
    let b = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut i = 0usize;
    let mut copied = 0usize;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => i = skip_string(b, i),
            c if (c.is_ascii_alphabetic() || c == b'_')
                && b[i..].starts_with(KEY)
                && (i == 0 || !is_name_byte(b[i - 1]))
                && !b.get(i + KEY.len()).is_some_and(|c| is_name_byte(*c)) =>
            {
                let mut j = skip_ignored(b, i + KEY.len());
                if b.get(j) == Some(&b':') {
                    j = skip_ignored(b, j + 1);
                    if matches!(b.get(j), Some(b'{') | Some(b'[')) {
                        let mut p = LiteralParser { b, i: j };
                        let value = p.value(0)?;
                        let text = serde_json::Value::String(value.to_string()).to_string();
                        out.push_str(&query[copied..j]);
                        out.push_str(&text);
                        copied = p.i;
                        i = p.i;
                        continue;
                    }
                }
                i += KEY.len();
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&query[copied..]);
    Ok(out)
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Index just past the string (or block string) starting at `i`.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    if b[i..].starts_with(b"\"\"\"") {
        i += 3;
        while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        return (i + 3).min(b.len());
    }
    i += 1;
    while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(b.len())
}

/// Skips whitespace, commas and comments.
fn skip_ignored(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

/// A GraphQL value literal parser producing JSON (enum values become strings).
struct LiteralParser<'a> {
    b: &'a [u8],
    i: usize,
}

impl LiteralParser<'_> {
    fn err(&self, what: &str) -> String {
        format!("runConfigData literal: {what} at byte {}", self.i)
    }

    fn value(&mut self, depth: usize) -> Result<serde_json::Value, String> {
        if depth > MAX_QUERY_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.i = skip_ignored(self.b, self.i);
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.err("unexpected end of the query"));
        };
        match c {
            b'{' => {
                self.i += 1;
                let mut map = serde_json::Map::new();
                loop {
                    self.i = skip_ignored(self.b, self.i);
                    match self.b.get(self.i) {
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(serde_json::Value::Object(map));
                        }
                        Some(_) => {
                            let name = self.name()?;
                            self.i = skip_ignored(self.b, self.i);
                            if self.b.get(self.i) != Some(&b':') {
                                return Err(self.err("expected `:`"));
                            }
                            self.i += 1;
                            let v = self.value(depth + 1)?;
                            map.insert(name, v);
                        }
                        None => return Err(self.err("unterminated object")),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.i = skip_ignored(self.b, self.i);
                    match self.b.get(self.i) {
                        Some(b']') => {
                            self.i += 1;
                            return Ok(serde_json::Value::Array(items));
                        }
                        Some(_) => items.push(self.value(depth + 1)?),
                        None => return Err(self.err("unterminated list")),
                    }
                }
            }
            b'"' => {
                let start = self.i;
                let end = skip_string(self.b, start);
                self.i = end;
                let raw = std::str::from_utf8(&self.b[start..end])
                    .map_err(|_| self.err("invalid UTF-8"))?;
                if raw.starts_with("\"\"\"") {
                    let inner = raw
                        .get(3..raw.len().saturating_sub(3))
                        .ok_or_else(|| self.err("unterminated block string"))?;
                    return Ok(serde_json::Value::String(inner.replace("\\\"\"\"", "\"\"\"")));
                }
                serde_json::from_str::<String>(raw)
                    .map(serde_json::Value::String)
                    .map_err(|_| self.err("invalid string"))
            }
            b'$' => Err(self.err(
                "variables inside an inline runConfigData literal are not supported; pass the whole config as a variable",
            )),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.b.len()
                    && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                serde_json::from_str::<serde_json::Number>(text)
                    .map(serde_json::Value::Number)
                    .map_err(|_| self.err("invalid number"))
            }
            _ => {
                let name = self.name()?;
                Ok(match name.as_str() {
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    "null" => serde_json::Value::Null,
                    _ => serde_json::Value::String(name),
                })
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.b.len() && is_name_byte(self.b[self.i]) {
            self.i += 1;
        }
        if start == self.i || self.b[start].is_ascii_digit() {
            return Err(self.err("expected a name"));
        }
        Ok(String::from_utf8_lossy(&self.b[start..self.i]).into_owned())
    }
}

pub fn parse_variables(
    v: Option<serde_json::Value>,
) -> Result<Variables<DefaultScalarValue>, String> {
    let mut v = match v {
        None | Some(serde_json::Value::Null) => return Ok(Variables::new()),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => return Ok(Variables::new()),
        Some(serde_json::Value::String(s)) => serde_json::from_str::<serde_json::Value>(&s)
            .map_err(|e| format!("Variables are invalid JSON: {e}"))?,
        Some(other) => other,
    };
    if v.is_null() {
        return Ok(Variables::new());
    }
    if !v.is_object() {
        return Err("Variables must be a JSON object.".into());
    }
    normalize_variables(&mut v);
    let input: InputValue<DefaultScalarValue> =
        serde_json::from_value(v).map_err(|e| format!("Variables are invalid: {e}"))?;
    let mut out = Variables::new();
    if let InputValue::Object(fields) = input {
        for (k, val) in fields {
            out.insert(k.item, val.item);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_strings_and_comments() {
        assert_eq!(nesting_depth("{ a { b } }"), 2);
        assert_eq!(nesting_depth("{ a(x: \"{{{{\") } # {{{{"), 2);
        assert_eq!(nesting_depth("{ a(x: \"\"\"{{{\"\"\") }"), 2);
        assert_eq!(nesting_depth(&"{".repeat(1000)), 1000);
    }

    #[test]
    fn inline_run_config_objects_become_strings() {
        let q = r#"mutation { launchRun(executionParams: {selector: {jobName: "j"}, runConfigData: {ops: {a: {config: {x: 1, y: "s}", z: [true, null, ENUM], w: -1.5e3}}}}}) { __typename } }"#;
        let out = inline_run_config_literals(q).unwrap();
        let expected = serde_json::json!({"ops": {"a": {"config": {"x": 1, "y": "s}", "z": [true, null, "ENUM"], "w": -1500.0}}}});
        let lit = serde_json::Value::String(expected.to_string()).to_string();
        assert!(out.contains(&format!("runConfigData: {lit}")), "{out}");
        assert!(out.ends_with("}) { __typename } }"), "{out}");
        // strings and comments are left alone; strings as values are untouched
        let q =
            "# runConfigData: {a: 1}\n{ f(x: \"runConfigData: {\", runConfigData: \"ops: {}\") }";
        assert_eq!(inline_run_config_literals(q).unwrap(), q);
        assert!(inline_run_config_literals("{ f(runConfigData: {a: $v}) }").is_err());
        assert!(inline_run_config_literals("{ f(runConfigData: {a: ").is_err());
        assert!(inline_run_config_literals(&format!(
            "{{ f(runConfigData: {}) }}",
            "[".repeat(100)
        ))
        .is_err());
    }

    #[test]
    fn run_config_objects_become_text() {
        let mut v = serde_json::json!({"p": {"runConfigData": {"ops": {}}, "x": 1}});
        normalize_variables(&mut v);
        assert_eq!(v["p"]["runConfigData"], "{\"ops\":{}}");
        let vars = parse_variables(Some(serde_json::json!("{\"a\": 1}"))).unwrap();
        assert!(vars.contains_key("a"));
        assert!(parse_variables(Some(serde_json::json!([1]))).is_err());
    }
}
