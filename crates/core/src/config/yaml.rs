//! A YAML reader that knows where every value came from.
//!
//! All configuration files (`dagster.yaml`, `workspace.yaml`, `pipeline-config/*.yaml`) are
//! read through [`Map`] and [`Value`] views over a position-marked tree (`marked-yaml`). Each
//! problem is recorded in a shared [`Diagnostics`] with `file:line:column` and the key path
//! (`storage.postgres.postgres_db.port`) and reading goes on, so a user sees every problem
//! at once. Rules applied everywhere:
//!
//! * every scalar may be written `{env: VAR}` (Dagster's `StringSource`/`IntSource`/
//!   `BoolSource`); an unset variable is an error naming the variable, never its value;
//! * a key that no reader asked for is an error ("unknown key"), listing the known keys;
//! * a known key that is parsed but not acted on yet is a warning ([`Map::not_acted_on`]);
//! * duplicate keys are an error.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoaderOptions, Node};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Severity of a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `storage.postgres.postgres_db.port` or `jobs.demo.selection[1]`.
    pub key_path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: ",
            self.file.display(),
            self.line,
            self.column
        )?;
        if !self.key_path.is_empty() {
            write!(f, "{}: ", self.key_path)?;
        }
        f.write_str(&self.message)
    }
}

/// A set of diagnostics, shared by all readers of one load.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: RefCell<Vec<Diagnostic>>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&self, d: Diagnostic) {
        self.items.borrow_mut().push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.items
            .borrow()
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
    pub fn errors(&self) -> Vec<Diagnostic> {
        self.items
            .borrow()
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
            .collect()
    }
    pub fn warnings(&self) -> Vec<Diagnostic> {
        self.items
            .borrow()
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .cloned()
            .collect()
    }
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items.into_inner()
    }
}

/// The error of a failed load: every problem found (errors and warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl ConfigErrors {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        writeln!(
            f,
            "{n} configuration error{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Where environment variables come from (tests inject their own).
pub type EnvLookup = dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A parsed YAML document.
pub struct Document {
    pub path: PathBuf,
    root: Node,
}

impl Document {
    /// Reads and parses a file. Parse errors (including duplicate keys) become one diagnostic.
    pub fn load(path: &Path) -> Result<Document, Diagnostic> {
        let text = std::fs::read_to_string(path).map_err(|e| Diagnostic {
            severity: Severity::Error,
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key_path: String::new(),
            message: format!("cannot read file: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses text; `path` is used for positions only. An empty document is an empty mapping.
    pub fn parse(path: &Path, text: &str) -> Result<Document, Diagnostic> {
        let is_empty = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
        if is_empty {
            let root = Node::Mapping(MarkedMappingNode::new_empty(marked_yaml::Span::new_blank()));
            return Ok(Document {
                path: path.to_path_buf(),
                root,
            });
        }
        let opts = LoaderOptions::default()
            .error_on_duplicate_keys(true)
            .prevent_coercion(true);
        let root = marked_yaml::parse_yaml_with_options(0, text, opts).map_err(|e| {
            let (line, column, message) = describe_load_error(&e);
            Diagnostic {
                severity: Severity::Error,
                file: path.to_path_buf(),
                line,
                column,
                key_path: String::new(),
                message,
            }
        })?;
        Ok(Document {
            path: path.to_path_buf(),
            root,
        })
    }

    /// A reader over the top-level mapping.
    pub fn root<'a>(&'a self, ctx: &'a Ctx<'a>) -> Map<'a> {
        let node = match &self.root {
            Node::Mapping(m) => m,
            // parse_yaml enforces a top-level mapping
            _ => unreachable_mapping(),
        };
        Map::new(node, String::new(), ctx, &self.path)
    }
}

fn unreachable_mapping() -> &'static MarkedMappingNode {
    static EMPTY: std::sync::OnceLock<MarkedMappingNode> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| MarkedMappingNode::new_empty(marked_yaml::Span::new_blank()))
}

fn describe_load_error(e: &marked_yaml::LoadError) -> (usize, usize, String) {
    use marked_yaml::LoadError as L;
    match e {
        L::TopLevelMustBeMapping(m) => (
            m.line(),
            m.column(),
            "the top level must be a mapping".into(),
        ),
        L::TopLevelMustBeSequence(m) => (
            m.line(),
            m.column(),
            "the top level must be a sequence".into(),
        ),
        L::UnexpectedAnchor(m) => (
            m.line(),
            m.column(),
            "YAML anchors are not supported".into(),
        ),
        L::MappingKeyMustBeScalar(m) => {
            (m.line(), m.column(), "mapping keys must be scalars".into())
        }
        L::UnexpectedTag(m) => (m.line(), m.column(), "YAML tags are not supported".into()),
        L::ScanError(m, se) => (m.line(), m.column(), format!("invalid YAML: {}", se.info())),
        L::DuplicateKey(inner) => {
            let key = inner.key.as_str();
            let (line, col) = inner
                .key
                .span()
                .start()
                .map(|m| (m.line(), m.column()))
                .unwrap_or((0, 0));
            let prev = inner
                .prev_key
                .span()
                .start()
                .map(|m| format!(" (first defined at line {})", m.line()))
                .unwrap_or_default();
            (line, col, format!("duplicate key `{key}`{prev}"))
        }
        #[allow(unreachable_patterns)]
        other => (0, 0, other.to_string()),
    }
}

/// Shared state of one load: diagnostics and the environment.
pub struct Ctx<'a> {
    pub diags: &'a Diagnostics,
    pub env: &'a EnvLookup,
}

impl<'a> Ctx<'a> {
    pub fn new(diags: &'a Diagnostics, env: &'a EnvLookup) -> Self {
        Ctx { diags, env }
    }
}

/// A position in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

fn loc_of(node: &Node, file: &Path) -> Loc {
    let (line, column) = node
        .span()
        .start()
        .map(|m| (m.line(), m.column()))
        .unwrap_or((0, 0));
    Loc {
        file: file.to_path_buf(),
        line,
        column,
    }
}

fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A value with its key path.
#[derive(Clone)]
pub struct Value<'a> {
    node: &'a Node,
    path: String,
    ctx: &'a Ctx<'a>,
    file: &'a Path,
}

impl<'a> Value<'a> {
    fn new(node: &'a Node, path: String, ctx: &'a Ctx<'a>, file: &'a Path) -> Self {
        Value {
            node,
            path,
            ctx,
            file,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn loc(&self) -> Loc {
        loc_of(self.node, self.file)
    }
    pub fn file(&self) -> &'a Path {
        self.file
    }
    pub fn ctx(&self) -> &'a Ctx<'a> {
        self.ctx
    }

    /// Records an error at this value.
    pub fn error(&self, message: impl Into<String>) {
        self.report(Severity::Error, message.into());
    }
    /// Records a warning at this value.
    pub fn warn(&self, message: impl Into<String>) {
        self.report(Severity::Warning, message.into());
    }
    fn report(&self, severity: Severity, message: String) {
        let l = self.loc();
        self.ctx.diags.push(Diagnostic {
            severity,
            file: l.file,
            line: l.line,
            column: l.column,
            key_path: self.path.clone(),
            message,
        });
    }

    fn scalar(&self) -> Option<&'a MarkedScalarNode> {
        self.node.as_scalar()
    }

    /// True for `~`, `null`, an empty value.
    pub fn is_null(&self) -> bool {
        self.scalar().is_some_and(|s| {
            s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
        })
    }

    /// If this is `{env: VAR}`, the variable name.
    fn env_var(&self) -> Option<Value<'a>> {
        let m = self.node.as_mapping()?;
        if m.len() == 1 {
            let v = m.get_node("env")?;
            return Some(Value::new(
                v,
                join_key(&self.path, "env"),
                self.ctx,
                self.file,
            ));
        }
        None
    }

    /// Resolves a scalar or `{env: VAR}` to its text. Records an error and returns None if it
    /// is neither, or if the variable is unset. `what` describes the expected type.
    fn resolve_text(&self, what: &str) -> Option<(String, bool)> {
        if let Some(var) = self.env_var() {
            let name = match var.scalar() {
                Some(s) if !s.as_str().is_empty() => s.as_str().to_string(),
                _ => {
                    var.error("`env` must name an environment variable");
                    return None;
                }
            };
            return match (self.ctx.env)(&name) {
                Some(v) => Some((v, true)),
                None => {
                    self.error(format!("environment variable `{name}` is not set"));
                    None
                }
            };
        }
        match self.node {
            Node::Scalar(s) => Some((s.as_str().to_string(), !s.may_coerce())),
            Node::Mapping(_) => {
                self.error(format!(
                    "expected {what} (or {{env: VAR}}), found a mapping"
                ));
                None
            }
            Node::Sequence(_) => {
                self.error(format!("expected {what} (or {{env: VAR}}), found a list"));
                None
            }
        }
    }

    /// A string (`StringSource`).
    pub fn as_str(&self) -> Option<String> {
        self.resolve_text("a string").map(|(s, _)| s)
    }

    /// An integer (`IntSource`).
    pub fn as_int(&self) -> Option<i64> {
        let (text, _) = self.resolve_text("an integer")?;
        match text.trim().parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(format!(
                    "expected an integer, found `{}`",
                    redact_if_long(&text)
                ));
                None
            }
        }
    }

    /// A float.
    pub fn as_float(&self) -> Option<f64> {
        let (text, _) = self.resolve_text("a number")?;
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => {
                self.error(format!(
                    "expected a number, found `{}`",
                    redact_if_long(&text)
                ));
                None
            }
        }
    }

    /// A boolean (`BoolSource`): true/false (YAML 1.1 yes/no/on/off also accepted).
    pub fn as_bool(&self) -> Option<bool> {
        let (text, _) = self.resolve_text("a boolean")?;
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => {
                self.error(format!(
                    "expected true or false, found `{}`",
                    redact_if_long(&text)
                ));
                None
            }
        }
    }

    /// A mapping reader (an error if this is not a mapping).
    pub fn as_map(&self) -> Option<Map<'a>> {
        match self.node {
            Node::Mapping(m) => Some(Map::new(m, self.path.clone(), self.ctx, self.file)),
            _ if self.is_null() => Some(Map::new(
                unreachable_mapping(),
                self.path.clone(),
                self.ctx,
                self.file,
            )),
            _ => {
                self.error("expected a mapping");
                None
            }
        }
    }

    /// True if this is a mapping.
    pub fn is_map(&self) -> bool {
        self.node.as_mapping().is_some()
    }
    /// True if this is a list.
    pub fn is_seq(&self) -> bool {
        self.node.as_sequence().is_some()
    }

    /// List items (an error if this is not a list; null is an empty list).
    pub fn as_seq(&self) -> Vec<Value<'a>> {
        match self.node {
            Node::Sequence(s) => seq_items(s, &self.path, self.ctx, self.file),
            _ if self.is_null() => Vec::new(),
            _ => {
                self.error("expected a list");
                Vec::new()
            }
        }
    }

    /// A list of strings; a single string is accepted as a one-item list.
    pub fn as_str_list(&self) -> Vec<String> {
        if self.node.as_scalar().is_some() && !self.is_null() {
            return self.as_str().into_iter().collect();
        }
        self.as_seq().iter().filter_map(|v| v.as_str()).collect()
    }

    /// Converts to JSON (for free-form values: run config, metadata, params). `{env: VAR}`
    /// is resolved anywhere inside; unquoted scalars become numbers/booleans/null.
    pub fn to_json(&self) -> serde_json::Value {
        if self.env_var().is_some() {
            return self
                .as_str()
                .map(serde_json::Value::String)
                .unwrap_or(serde_json::Value::Null);
        }
        match self.node {
            Node::Scalar(s) => scalar_to_json(s),
            Node::Sequence(_) => {
                serde_json::Value::Array(self.as_seq().iter().map(|v| v.to_json()).collect())
            }
            Node::Mapping(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m.iter() {
                    let child =
                        Value::new(v, join_key(&self.path, k.as_str()), self.ctx, self.file);
                    out.insert(k.as_str().to_string(), child.to_json());
                }
                serde_json::Value::Object(out)
            }
        }
    }
}

fn redact_if_long(s: &str) -> String {
    if s.chars().count() > 40 {
        let head: String = s.chars().take(37).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

fn scalar_to_json(s: &MarkedScalarNode) -> serde_json::Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return serde_json::Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return serde_json::Value::Null,
        "true" | "True" | "TRUE" => return serde_json::Value::Bool(true),
        "false" | "False" | "FALSE" => return serde_json::Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return serde_json::Value::from(i);
    }
    if let Ok(f) = text.parse::<f64>() {
        if f.is_finite() {
            return serde_json::Value::from(f);
        }
    }
    serde_json::Value::String(text.to_string())
}

fn seq_items<'a>(
    s: &'a MarkedSequenceNode,
    path: &str,
    ctx: &'a Ctx<'a>,
    file: &'a Path,
) -> Vec<Value<'a>> {
    s.iter()
        .enumerate()
        .map(|(i, n)| Value::new(n, format!("{path}[{i}]"), ctx, file))
        .collect()
}

/// A mapping reader that remembers which keys were asked for.
pub struct Map<'a> {
    node: &'a MarkedMappingNode,
    path: String,
    ctx: &'a Ctx<'a>,
    file: &'a Path,
    asked: RefCell<BTreeSet<String>>,
}

impl<'a> Map<'a> {
    fn new(node: &'a MarkedMappingNode, path: String, ctx: &'a Ctx<'a>, file: &'a Path) -> Self {
        Map {
            node,
            path,
            ctx,
            file,
            asked: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn file(&self) -> &'a Path {
        self.file
    }
    pub fn ctx(&self) -> &'a Ctx<'a> {
        self.ctx
    }
    pub fn loc(&self) -> Loc {
        let (line, column) = self
            .node
            .span()
            .start()
            .map(|m| (m.line(), m.column()))
            .unwrap_or((1, 1));
        Loc {
            file: self.file.to_path_buf(),
            line,
            column,
        }
    }

    /// Records an error at the mapping itself.
    pub fn error(&self, message: impl Into<String>) {
        let l = self.loc();
        self.ctx.diags.push(Diagnostic {
            severity: Severity::Error,
            file: l.file,
            line: l.line,
            column: l.column,
            key_path: self.path.clone(),
            message: message.into(),
        });
    }

    /// True if the key is present (marks it as known).
    pub fn has(&self, key: &str) -> bool {
        self.asked.borrow_mut().insert(key.to_string());
        self.node.get_node(key).is_some()
    }

    /// The value at `key`, if present and not null (marks the key as known).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.asked.borrow_mut().insert(key.to_string());
        let node = self.node.get_node(key)?;
        let v = Value::new(node, join_key(&self.path, key), self.ctx, self.file);
        if v.is_null() {
            None
        } else {
            Some(v)
        }
    }

    /// Like [`Map::get`] but records "missing required key" when absent.
    pub fn require(&self, key: &str) -> Option<Value<'a>> {
        let v = self.get(key);
        if v.is_none() {
            self.error(format!("missing required key `{key}`"));
        }
        v
    }

    pub fn str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(|v| v.as_str())
    }
    pub fn req_str(&self, key: &str) -> Option<String> {
        self.require(key).and_then(|v| v.as_str())
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.as_int())
    }
    pub fn float(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|v| v.as_float())
    }
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(|v| v.as_bool())
    }
    pub fn map(&self, key: &str) -> Option<Map<'a>> {
        self.get(key).and_then(|v| v.as_map())
    }
    pub fn seq(&self, key: &str) -> Vec<Value<'a>> {
        self.get(key).map(|v| v.as_seq()).unwrap_or_default()
    }
    pub fn str_list(&self, key: &str) -> Vec<String> {
        self.get(key).map(|v| v.as_str_list()).unwrap_or_default()
    }

    /// Marks a known key that is accepted but not acted on yet: a warning naming it.
    pub fn not_acted_on(&self, key: &str, why: &str) {
        if let Some(v) = self.get(key) {
            v.warn(format!("`{key}` is accepted but not acted on yet: {why}"));
        }
    }

    /// Marks keys as known without reading them (read elsewhere).
    pub fn known(&self, keys: &[&str]) {
        let mut asked = self.asked.borrow_mut();
        for k in keys {
            asked.insert((*k).to_string());
        }
    }

    /// All entries, in file order, with their keys (marks every key as known).
    pub fn entries(&self) -> Vec<(String, Value<'a>)> {
        let mut out = Vec::new();
        for (k, v) in self.node.iter() {
            self.asked.borrow_mut().insert(k.as_str().to_string());
            out.push((
                k.as_str().to_string(),
                Value::new(v, join_key(&self.path, k.as_str()), self.ctx, self.file),
            ));
        }
        out
    }

    /// Keys present in the file, in order.
    pub fn keys(&self) -> Vec<String> {
        self.node.keys().map(|k| k.as_str().to_string()).collect()
    }

    /// Reports every key that no reader asked for. Call after reading a mapping.
    pub fn finish(&self) {
        let asked = self.asked.borrow();
        for (k, v) in self.node.iter() {
            if !asked.contains(k.as_str()) {
                let (line, column) = k
                    .span()
                    .start()
                    .map(|m| (m.line(), m.column()))
                    .unwrap_or((0, 0));
                let mut msg = format!("unknown key `{}`", k.as_str());
                if let Some(s) = suggest(k.as_str(), asked.iter()) {
                    msg.push_str(&format!(" (did you mean `{s}`?)"));
                } else if !asked.is_empty() {
                    let known: Vec<&str> = asked.iter().map(String::as_str).collect();
                    msg.push_str(&format!(" (expected one of: {})", known.join(", ")));
                }
                let _ = v;
                self.ctx.diags.push(Diagnostic {
                    severity: Severity::Error,
                    file: self.file.to_path_buf(),
                    line,
                    column,
                    key_path: join_key(&self.path, k.as_str()),
                    message: msg,
                });
            }
        }
    }
}

/// The closest known key by edit distance, if close enough.
fn suggest<'k>(key: &str, known: impl Iterator<Item = &'k String>) -> Option<&'k str> {
    known
        .map(|k| (levenshtein(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SET_VAR").then(|| "42".to_string())
    }

    #[test]
    fn reports_unknown_keys_env_and_types_with_positions() {
        let text =
            "a: 1\nb: {env: SET_VAR}\nc: {env: UNSET_VAR}\nnested:\n  x: notanint\n  typo_key: 1\n";
        let doc = Document::parse(Path::new("f.yaml"), text).unwrap_or_else(|d| panic!("{d}"));
        let diags = Diagnostics::new();
        let ctx = Ctx::new(&diags, &env);
        let root = doc.root(&ctx);
        assert_eq!(root.int("a"), Some(1));
        assert_eq!(root.int("b"), Some(42));
        assert_eq!(root.str("c"), None);
        let nested = root.map("nested").unwrap_or_else(|| panic!("nested"));
        assert_eq!(nested.int("x"), None);
        nested.int("type_key");
        nested.finish();
        root.finish();
        let errs: Vec<String> = diags.errors().iter().map(|d| d.to_string()).collect();
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert!(
            errs[0]
                .starts_with("f.yaml:3:4: error: c: environment variable `UNSET_VAR` is not set"),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].contains("f.yaml:5:6: error: nested.x: expected an integer"),
            "{}",
            errs[1]
        );
        assert!(errs[2].contains("f.yaml:6:3: error: nested.typo_key: unknown key `typo_key` (did you mean `type_key`?)"), "{}", errs[2]);
    }

    #[test]
    fn duplicate_keys_and_empty_files() {
        let err = Document::parse(Path::new("d.yaml"), "a: 1\nb: 2\na: 3\n")
            .err()
            .map(|d| d.to_string());
        assert!(
            err.as_deref()
                .unwrap_or("")
                .contains("d.yaml:3:1: error: duplicate key `a`"),
            "{err:?}"
        );
        assert!(Document::parse(Path::new("e.yaml"), "# only a comment\n").is_ok());
    }

    #[test]
    fn to_json_types_scalars() {
        let doc = Document::parse(
            Path::new("j.yaml"),
            "v: {a: 1, b: '1', c: true, d: ~, e: [x, 2.5]}\n",
        )
        .unwrap_or_else(|d| panic!("{d}"));
        let diags = Diagnostics::new();
        let ctx = Ctx::new(&diags, &env);
        let root = doc.root(&ctx);
        let v = root.get("v").map(|v| v.to_json());
        assert_eq!(
            v,
            Some(serde_json::json!({"a": 1, "b": "1", "c": true, "d": null, "e": ["x", 2.5]}))
        );
    }
}
