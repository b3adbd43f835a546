//! Loading and validating a pipeline config file into [`Definitions`](super::Definitions).
//!
//! # File format
//!
//! Every key is optional unless marked *required*; every scalar may be written `{env: VAR}`.
//!
//! ```yaml
//! location_name: dagster-pipeline        # default: the file name (as Dagster names a python_file location)
//! resources:
//!   demo_db:
//!     type: sqlite                       # required: a registered ResourceType
//!     description: The demo database
//!     config: {path: demo/demo.db}       # required: read by the resource type
//! pipeline_configs:                      # one asset per entry
//!   demo_raw_orders:
//!     kind: sql                          # required (or `asset:`): a registered AssetKind
//!     key: demo/raw_orders               # default: the entry name
//!     group: demo                        # default: `default`
//!     description: Raw orders
//!     deps: [demo/other]                 # asset keys (`a/b` form)
//!     kinds: [sqlite]                    # extra UI kinds, added to the asset kind's defaults
//!     owners: [team:data, me@example.com]
//!     metadata: {owner_note: x}          # text/int/float/bool/JSON by YAML type
//!     config: {}                         # default step config
//!     retry: {max_retries: 2, delay_seconds: 1, backoff: constant}   # or exponential
//!     timeout_seconds: 600
//!     resource: demo_db                  # kind-specific keys sit in the same mapping
//!     statements: ["CREATE TABLE ..."]
//!   demo_summary:
//!     asset: demo/summary                # a code-defined asset (Registry::assets) joins the
//!                                        # location only through such an entry, which may set
//!                                        # group, description, owners, metadata, config, retry...
//! jobs:
//!   demo_job:
//!     description: ...
//!     selection: ["group:demo"]          # "a/b", "group:<name>", "*", "+a/b" (a/b and all upstream);
//!                                        # default: every asset
//!     tags: {team: data}
//!     max_concurrent_steps: 4
//! schedules:
//!   demo_hourly:
//!     job: demo_job                      # required (a job above, or __ASSET_JOB)
//!     cron: "0 * * * *"                  # required: 5 fields (or @hourly/@daily/@weekly/@monthly/@yearly)
//!     execution_timezone: UTC            # IANA name
//!     default_status: STOPPED            # or RUNNING
//!     catchup: latest                    # or none, or {all: 10}
//!     tags: {}
//!     run_config: {}
//!     description: ...
//! sensors:
//!   orders_sensor:
//!     job: demo_job                      # required
//!     kind: table_rows                   # required: table_rows | run_status | asset_materialized
//!     minimum_interval_seconds: 30
//!     default_status: STOPPED
//!     description: ...
//!     table: orders                      # any other key is kind-specific, kept in SensorDef.config
//! ```
//!
//! Validation reports every problem at once, each with `file:line:col` and key path: unknown
//! keys, unknown asset kind or resource type, a resource an asset needs that `resources:` does
//! not define, a dependency on an unknown asset, dependency cycles (named `a → b → a`), unknown
//! assets or groups in job selections, schedules and sensors naming an unknown job, bad cron
//! strings (wrong field count, out-of-range values, dates that never occur such as February 30),
//! unknown time zones, unset environment variables, duplicate YAML keys, duplicate asset keys
//! (between entries or with code-defined assets), invalid names and the reserved `__ASSET_JOB`.
//! Problems in code-defined assets (from [`Registry::assets`]) are reported at the
//! `pipeline_configs:` (dependencies) or `resources:` (resources) section of the file.

use super::{
    AssetCompute, AssetDef, Backoff, CatchupPolicy, DefaultStatus, Definitions, JobDef, Registry,
    ResourceDef, RetryPolicy, ScheduleDef, SensorDef, ASSET_JOB_NAME, DEFAULT_GROUP,
};
use crate::config::yaml::{
    ConfigErrors, Ctx, Diagnostic, Diagnostics, Document, EnvLookup, Loc, Map, Severity, Value,
};
use crate::domain::{AssetKey, MetadataEntry, MetadataValue};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod read;
pub use read::validate_cron;
use read::*;
mod selection;
use selection::*;
#[cfg(test)]
mod tests;

/// Built-in sensor kinds accepted in `sensors.<name>.kind`.
pub const SENSOR_KINDS: &[&str] = &["table_rows", "run_status", "asset_materialized"];

/// Default `minimum_interval_seconds` of a sensor (Dagster's default).
pub const DEFAULT_SENSOR_INTERVAL_SECONDS: u64 = 30;

/// Keys every sensor accepts; any other key is kind-specific.
const SENSOR_COMMON_KEYS: &[&str] = &[
    "job",
    "kind",
    "minimum_interval_seconds",
    "default_status",
    "description",
];

/// Loads a pipeline config file with the process environment.
pub fn load_definitions(
    registry: &Registry,
    path: &Path,
) -> Result<(Definitions, Vec<Diagnostic>), ConfigErrors> {
    load_definitions_with_env(registry, path, &crate::config::yaml::process_env)
}

/// Loads a pipeline config file; returns the definitions and warnings, or every problem found
/// (errors and warnings) as [`ConfigErrors`].
pub fn load_definitions_with_env(
    registry: &Registry,
    path: &Path,
    env: &EnvLookup,
) -> Result<(Definitions, Vec<Diagnostic>), ConfigErrors> {
    let doc = Document::load(path).map_err(|d| ConfigErrors(vec![d]))?;
    let diags = Diagnostics::new();
    let ctx = Ctx::new(&diags, env);
    let root = doc.root(&ctx);
    let defs = Loader {
        registry,
        root: &root,
        path,
    }
    .load();
    root.finish();
    if diags.has_errors() {
        // In file order, as a reader goes through the file.
        let mut all = diags.into_vec();
        all.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        return Err(ConfigErrors(all));
    }
    match defs {
        Some(defs) => Ok((defs, diags.warnings())),
        None => Err(ConfigErrors(vec![Diagnostic {
            severity: Severity::Error,
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            key_path: String::new(),
            message: "the definitions could not be built (an asset kind rejected an entry without saying why)".into(),
        }])),
    }
}

/// One asset while loading: a pipeline config entry or a code-defined asset.
struct AssetEntry<'a> {
    key: AssetKey,
    /// The entry mapping in the file (`None` for a code asset).
    map: Option<Map<'a>>,
    /// The `key:` value, if given.
    key_value: Option<Value<'a>>,
    /// Dependencies with their position in the file (code assets have none).
    deps: Vec<(AssetKey, Option<Value<'a>>)>,
    group: String,
    required: Vec<String>,
    /// The definition, when the entry could be built.
    def: Option<AssetDef>,
}

impl AssetEntry<'_> {
    fn describe(&self) -> String {
        match &self.map {
            Some(m) => format!("`{}` (line {})", m.path(), m.loc().line),
            None => "a code-defined asset".into(),
        }
    }
}

struct Loader<'r, 'a> {
    registry: &'r Registry,
    root: &'r Map<'a>,
    path: &'r Path,
}

impl<'a> Loader<'_, 'a> {
    fn diags(&self) -> &'a Diagnostics {
        self.root.ctx().diags
    }

    fn error_at(&self, loc: &Loc, key_path: &str, message: String) {
        self.diags().push(Diagnostic {
            severity: Severity::Error,
            file: loc.file.clone(),
            line: loc.line,
            column: loc.column,
            key_path: key_path.to_string(),
            message,
        });
    }

    /// Where problems of code-defined assets are reported: a top-level section, or the top.
    fn section_loc(&self, section: &str) -> (Loc, String) {
        if self.root.keys().iter().any(|k| k == section) {
            if let Some(v) = self.root.get(section) {
                return (v.loc(), section.to_string());
            }
        }
        (self.root.loc(), String::new())
    }

    fn entry_error(&self, e: &AssetEntry<'_>, section: &str, message: String) {
        match &e.map {
            Some(m) => m.error(message),
            None => {
                let (loc, path) = self.section_loc(section);
                self.error_at(
                    &loc,
                    &path,
                    format!("code-defined asset `{}`: {message}", e.key),
                );
            }
        }
    }

    fn load(&self) -> Option<Definitions> {
        let location_name = match self.root.str("location_name") {
            Some(n) if !n.trim().is_empty() => n,
            _ => self
                .path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".into()),
        };
        let (resources, declared_resources) = self.read_resources();
        let entries = self.read_assets();
        let graph = self.check_assets(&entries, &declared_resources);
        let (jobs, job_names) = self.read_jobs(&entries, &graph);
        let schedules = self.read_schedules(&job_names);
        let sensors = self.read_sensors(&job_names);
        for (name, s) in &schedules {
            if let Some(sensor) = sensors.get(name) {
                if let Some(loc) = &sensor.source {
                    let line = s.source.as_ref().map(|l| l.line).unwrap_or_default();
                    self.error_at(
                        loc,
                        &format!("sensors.{name}"),
                        format!("a schedule is also named `{name}` (line {line}); schedule and sensor names must differ"),
                    );
                }
            }
        }

        let mut assets = BTreeMap::new();
        let mut complete = true;
        for e in entries {
            match e.def {
                Some(mut def) => {
                    def.deps = e.deps.into_iter().map(|(k, _)| k).collect();
                    assets.insert(def.key.clone(), def);
                }
                None => complete = false,
            }
        }
        if !complete {
            return None;
        }
        Some(Definitions {
            location_name,
            source_file: Some(self.path.to_path_buf()),
            assets,
            jobs,
            schedules,
            sensors,
            resources,
            registry: self.registry.clone(),
        })
    }

    /// `resources:`; also returns every declared name (even those with errors).
    fn read_resources(&self) -> (BTreeMap<String, ResourceDef>, BTreeSet<String>) {
        let mut out = BTreeMap::new();
        let mut declared = BTreeSet::new();
        let Some(section) = self.root.get("resources").and_then(|v| v.as_map()) else {
            return (out, declared);
        };
        for (name, v) in section.entries() {
            declared.insert(name.clone());
            check_name(&v, "resource", &name);
            let Some(m) = v.as_map() else { continue };
            let type_value = m.require("type");
            let description = m.str("description");
            let config_value = m.get("config");
            let rtype = type_value.as_ref().and_then(|tv| {
                let t = tv.as_str()?;
                match self.registry.resource_types.get(&t) {
                    Some(rt) => Some(rt.clone()),
                    None => {
                        let known: Vec<String> =
                            self.registry.resource_types.keys().cloned().collect();
                        tv.error(format!(
                            "unknown resource type `{t}`{} (registered: {})",
                            did_you_mean(&t, &known),
                            list_or_none(&known)
                        ));
                        None
                    }
                }
            });
            let mut config = None;
            if let Some(rt) = &rtype {
                match &config_value {
                    Some(cv) => {
                        if let Some(cm) = cv.as_map() {
                            config = rt.read_config(&cm);
                            cm.finish();
                        }
                    }
                    None => m.error(format!(
                        "missing required key `config` (the settings of the `{}` resource type)",
                        rt.type_name()
                    )),
                }
            }
            m.finish();
            if let (Some(rt), Some(config)) = (rtype, config) {
                out.insert(
                    name.clone(),
                    ResourceDef {
                        name,
                        type_name: rt.type_name().to_string(),
                        config,
                        secret_keys: rt.secret_keys().iter().map(|s| s.to_string()).collect(),
                        description,
                        source: Some(v.loc()),
                    },
                );
            }
        }
        (out, declared)
    }

    /// `pipeline_configs:`, one asset per entry.
    fn read_assets(&self) -> Vec<AssetEntry<'a>> {
        let mut out = Vec::new();
        let Some(section) = self.root.get("pipeline_configs").and_then(|v| v.as_map()) else {
            return out;
        };
        for (name, v) in section.entries() {
            let Some(m) = v.as_map() else { continue };
            // Either `kind:` (a YAML asset of a registered kind) or `asset:` (a code-defined
            // asset from the registry, configured by this entry).
            let code_value = m.get("asset");
            let code_asset: Option<AssetDef> = code_value.as_ref().and_then(|cv| {
                let s = cv.as_str()?;
                let k = parse_asset_key(&s).map_err(|e| cv.error(e)).ok()?;
                match self.registry.assets.iter().find(|a| a.key == k) {
                    Some(a) => Some(a.clone()),
                    None => {
                        let known: Vec<String> = self
                            .registry
                            .assets
                            .iter()
                            .map(|a| a.key.to_user_string())
                            .collect();
                        cv.error(format!(
                            "unknown code-defined asset `{s}`{} (registered: {})",
                            did_you_mean(&s, &known),
                            list_or_none(&known)
                        ));
                        None
                    }
                }
            });
            let kind_value = if code_value.is_some() {
                if let Some(kv) = m.get("kind") {
                    kv.error("an entry has either `kind:` (an asset defined here) or `asset:` (a code-defined asset), not both");
                }
                None
            } else {
                if !m.has("kind") {
                    m.error("missing required key `kind` (an asset kind such as `sql` or `command`), or `asset` (a code-defined asset)");
                }
                m.get("kind")
            };
            let kind = kind_value.as_ref().and_then(|kv| {
                let k = kv.as_str()?;
                match self.registry.asset_kinds.get(&k) {
                    Some(kind) => Some(kind.clone()),
                    None => {
                        let known: Vec<String> =
                            self.registry.asset_kinds.keys().cloned().collect();
                        kv.error(format!(
                            "unknown asset kind `{k}`{} (registered: {})",
                            did_you_mean(&k, &known),
                            list_or_none(&known)
                        ));
                        None
                    }
                }
            });
            let key_value = m.get("key");
            let from_key = key_value.as_ref().and_then(|kv| {
                let s = kv.as_str()?;
                parse_asset_key(&s).map_err(|e| kv.error(e)).ok()
            });
            if let (Some(kv), Some(_)) = (&key_value, &code_value) {
                kv.error("a code-defined asset keeps its own key: remove `key:`");
            }
            let key = match (from_key, &code_asset) {
                (_, Some(ca)) => ca.key.clone(),
                (Some(k), None) => k,
                (None, None) => {
                    if key_value.is_none() {
                        if let Err(e) = parse_asset_key(&name) {
                            v.error(format!("the entry name is used as asset key: {e}"));
                        }
                    }
                    AssetKey::from_user_string(&name)
                }
            };
            let default_group = code_asset
                .as_ref()
                .map(|a| a.group.clone())
                .unwrap_or_else(|| DEFAULT_GROUP.to_string());
            let group = match m.get("group") {
                Some(gv) => match gv.as_str() {
                    Some(g) => {
                        check_name(&gv, "group", &g);
                        g
                    }
                    None => default_group,
                },
                None => default_group,
            };
            let description = m.str("description");
            let mut deps = Vec::new();
            if let Some(dv) = m.get("deps") {
                for item in list_items(&dv) {
                    if let Some(s) = item.as_str() {
                        match parse_asset_key(&s) {
                            Ok(k) => deps.push((k, Some(item))),
                            Err(e) => item.error(e),
                        }
                    }
                }
            }
            let extra_kinds = m.str_list("kinds");
            let mut owners = Vec::new();
            if let Some(ov) = m.get("owners") {
                for item in list_items(&ov) {
                    if let Some(o) = item.as_str() {
                        let valid = o.starts_with("team:") && o.len() > 5
                            || (o.contains('@') && !o.starts_with('@') && !o.ends_with('@'));
                        if valid {
                            owners.push(o);
                        } else {
                            item.error(format!(
                                "invalid owner `{o}`: use an email address or a team name prefixed with `team:`"
                            ));
                        }
                    }
                }
            }
            let mut metadata = Vec::new();
            if let Some(mm) = m.map("metadata") {
                for (label, mv) in mm.entries() {
                    metadata.push(MetadataEntry::new(label, json_to_metadata(mv.to_json())));
                }
            }
            let config = match m.get("config") {
                Some(cv) if cv.is_map() => cv.to_json(),
                Some(cv) => {
                    cv.error("expected a mapping (the default step config)");
                    serde_json::Value::Object(Default::default())
                }
                None => serde_json::Value::Object(Default::default()),
            };
            let retry = m.map("retry").map(|rm| read_retry(&rm)).unwrap_or_default();
            let timeout = m
                .get("timeout_seconds")
                .and_then(|tv| non_negative_duration(&tv, false));

            let mut def = None;
            let mut required = Vec::new();
            if let Some(ca) = &code_asset {
                m.finish();
                required = ca.required_resources.clone();
                for d in &ca.deps {
                    if !deps.iter().any(|(k, _)| k == d) {
                        deps.insert(0, (d.clone(), None));
                    }
                }
                let mut kinds = ca.kinds.clone();
                for k in extra_kinds.iter() {
                    if !kinds.contains(k) {
                        kinds.push(k.clone());
                    }
                }
                let mut merged_config = ca.config.clone();
                if let (Some(base), Some(over)) =
                    (merged_config.as_object_mut(), config.as_object())
                {
                    for (k, v) in over {
                        base.insert(k.clone(), v.clone());
                    }
                }
                let mut md = ca.metadata.clone();
                md.extend(metadata.iter().cloned());
                def = Some(AssetDef {
                    key: key.clone(),
                    deps: Vec::new(),
                    group: group.clone(),
                    description: description.clone().or_else(|| ca.description.clone()),
                    kinds,
                    owners: if owners.is_empty() {
                        ca.owners.clone()
                    } else {
                        owners.clone()
                    },
                    metadata: md,
                    required_resources: required.clone(),
                    config: merged_config,
                    retry: if m.has("retry") { retry } else { ca.retry },
                    timeout: timeout.or(ca.timeout),
                    compute: ca.compute.clone(),
                    source: Some(m.loc()),
                });
            } else if let Some(kind) = &kind {
                let built = kind.build(&m);
                // Only with a known kind are its keys known, so only then are others errors.
                m.finish();
                if let Some((compute, req)) = built {
                    required = req;
                    let mut kinds = kind.default_kinds();
                    for k in extra_kinds {
                        if !kinds.contains(&k) {
                            kinds.push(k);
                        }
                    }
                    def = Some(AssetDef {
                        key: key.clone(),
                        deps: Vec::new(),
                        group: group.clone(),
                        description,
                        kinds,
                        owners,
                        metadata,
                        required_resources: required.clone(),
                        config,
                        retry,
                        timeout,
                        compute: compute as Arc<dyn AssetCompute>,
                        source: Some(m.loc()),
                    });
                }
            }
            out.push(AssetEntry {
                key,
                map: Some(m),
                key_value,
                deps,
                group,
                required,
                def,
            });
        }
        out
    }

    /// Duplicate keys, missing resources, unknown dependencies and cycles. Returns the graph.
    fn check_assets(
        &self,
        entries: &[AssetEntry<'a>],
        declared_resources: &BTreeSet<String>,
    ) -> Graph {
        let mut index: HashMap<AssetKey, usize> = HashMap::new();
        let mut step_keys: HashMap<String, usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(&j) = index.get(&e.key) {
                let first = &entries[j];
                if e.map.is_none() && first.map.is_some() {
                    self.entry_error(
                        first,
                        "pipeline_configs",
                        format!("asset key `{}` is also defined in code", e.key),
                    );
                } else {
                    let msg = format!(
                        "asset key `{}` is already defined by {}",
                        e.key,
                        first.describe()
                    );
                    match &e.key_value {
                        Some(kv) => kv.error(msg),
                        None => self.entry_error(e, "pipeline_configs", msg),
                    }
                }
                continue;
            }
            index.insert(e.key.clone(), i);
            let step = e.key.to_step_key();
            if let Some(&j) = step_keys.get(&step) {
                self.entry_error(
                    e,
                    "pipeline_configs",
                    format!(
                        "asset key `{}` has the same step key `{step}` as `{}` ({})",
                        e.key,
                        entries[j].key,
                        entries[j].describe()
                    ),
                );
            } else {
                step_keys.insert(step, i);
            }
        }

        for e in entries {
            for r in &e.required {
                if declared_resources.contains(r) {
                    continue;
                }
                let msg = format!(
                    "requires resource `{r}`, which is not defined in `resources:` (defined: {})",
                    list_or_none(declared_resources)
                );
                // Point at the key naming the resource when there is one.
                let at = e.map.as_ref().and_then(|m| {
                    m.entries().into_iter().map(|(_, v)| v).find(|v| {
                        !v.is_map() && !v.is_seq() && v.as_str().as_deref() == Some(r.as_str())
                    })
                });
                match at {
                    Some(v) => v.error(format!("asset `{}` {msg}", e.key)),
                    None if e.map.is_some() => {
                        self.entry_error(e, "resources", format!("asset `{}` {msg}", e.key))
                    }
                    None => self.entry_error(e, "resources", msg),
                }
            }
        }

        let known_keys: Vec<String> = entries.iter().map(|e| e.key.to_user_string()).collect();
        let mut adj: Vec<Vec<(usize, usize)>> = vec![Vec::new(); entries.len()];
        for (i, e) in entries.iter().enumerate() {
            // Edges only from the first definition of a key; unknown deps of every entry.
            let first = index.get(&e.key) == Some(&i);
            for (di, (d, dv)) in e.deps.iter().enumerate() {
                match index.get(d) {
                    Some(&j) => {
                        if first {
                            adj[i].push((j, di));
                        }
                    }
                    None => {
                        let user = d.to_user_string();
                        let msg = format!(
                            "depends on unknown asset `{user}`{}",
                            did_you_mean(&user, &known_keys)
                        );
                        match dv {
                            Some(v) => v.error(msg),
                            None => self.entry_error(e, "pipeline_configs", msg),
                        }
                    }
                }
            }
        }
        self.check_cycles(entries, &adj);
        Graph { index, adj }
    }

    /// Reports each dependency cycle once, at the dependency that closes it.
    fn check_cycles(&self, entries: &[AssetEntry<'a>], adj: &[Vec<(usize, usize)>]) {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            OnStack,
            Done,
        }
        let mut state = vec![State::New; entries.len()];
        for start in 0..entries.len() {
            if state[start] != State::New {
                continue;
            }
            state[start] = State::OnStack;
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            while let Some(top) = stack.last_mut() {
                let (v, next) = *top;
                if next < adj[v].len() {
                    top.1 += 1;
                    let (w, dep_index) = adj[v][next];
                    match state[w] {
                        State::New => {
                            state[w] = State::OnStack;
                            stack.push((w, 0));
                        }
                        State::OnStack => {
                            let from = stack.iter().position(|(n, _)| *n == w).unwrap_or(0);
                            let mut names: Vec<String> = stack[from..]
                                .iter()
                                .map(|(n, _)| entries[*n].key.to_user_string())
                                .collect();
                            names.push(entries[w].key.to_user_string());
                            let msg = format!("dependency cycle: {}", names.join(" → "));
                            match entries[v]
                                .deps
                                .get(dep_index)
                                .and_then(|(_, dv)| dv.as_ref())
                            {
                                Some(dv) => dv.error(msg),
                                None => self.entry_error(&entries[v], "pipeline_configs", msg),
                            }
                        }
                        State::Done => {}
                    }
                } else {
                    state[v] = State::Done;
                    stack.pop();
                }
            }
        }
    }

    /// `jobs:`; returns the jobs and every declared job name.
    fn read_jobs(
        &self,
        entries: &[AssetEntry<'a>],
        graph: &Graph,
    ) -> (BTreeMap<String, JobDef>, BTreeSet<String>) {
        let mut jobs = BTreeMap::new();
        let mut names = BTreeSet::new();
        let Some(section) = self.root.get("jobs").and_then(|v| v.as_map()) else {
            return (jobs, names);
        };
        let groups: BTreeSet<&str> = entries.iter().map(|e| e.group.as_str()).collect();
        for (name, v) in section.entries() {
            names.insert(name.clone());
            if name == ASSET_JOB_NAME {
                v.error(format!("`{ASSET_JOB_NAME}` is reserved for the implicit job of all assets; choose another name"));
            } else {
                check_name(&v, "job", &name);
            }
            let Some(m) = v.as_map() else { continue };
            let description = m.str("description");
            let tags = m.get("tags").map(|t| read_tags(&t)).unwrap_or_default();
            let max_concurrent_steps = m
                .get("max_concurrent_steps")
                .and_then(|mv| positive_int(&mv, 1))
                .and_then(|n| usize::try_from(n).ok());
            let mut selected = vec![false; entries.len()];
            match m.get("selection") {
                None => selected.iter_mut().for_each(|s| *s = true),
                Some(sv) => {
                    let items = list_items(&sv);
                    if items.is_empty() && (sv.is_seq() || sv.is_map()) {
                        sv.error("the selection is empty: list asset keys, `group:<name>`, `+<key>` or `*`");
                    }
                    for item in items {
                        let Some(text) = item.as_str() else { continue };
                        match resolve_selection(text.trim(), entries, graph, &groups) {
                            Ok(ids) => ids.into_iter().for_each(|i| selected[i] = true),
                            Err(msg) => item.error(msg),
                        }
                    }
                }
            }
            m.finish();
            let assets = entries
                .iter()
                .enumerate()
                .filter(|(i, e)| selected[*i] && graph.index.get(&e.key) == Some(i))
                .map(|(_, e)| e.key.clone())
                .collect();
            jobs.insert(
                name.clone(),
                JobDef {
                    name,
                    description,
                    assets,
                    tags,
                    max_concurrent_steps,
                    source: Some(v.loc()),
                },
            );
        }
        (jobs, names)
    }

    fn check_job_ref(&self, m: &Map<'a>, job_names: &BTreeSet<String>) -> Option<String> {
        let jv = m.require("job")?;
        let job = jv.as_str()?;
        if job != ASSET_JOB_NAME && !job_names.contains(&job) {
            let known: Vec<String> = job_names.iter().cloned().collect();
            jv.error(format!(
                "unknown job `{job}`{} (jobs: {})",
                did_you_mean(&job, &known),
                list_or_none(&known)
            ));
        }
        Some(job)
    }

    fn read_schedules(&self, job_names: &BTreeSet<String>) -> BTreeMap<String, ScheduleDef> {
        let mut out = BTreeMap::new();
        let Some(section) = self.root.get("schedules").and_then(|v| v.as_map()) else {
            return out;
        };
        for (name, v) in section.entries() {
            check_name(&v, "schedule", &name);
            let Some(m) = v.as_map() else { continue };
            let job = self.check_job_ref(&m, job_names);
            let cron = m.require("cron").and_then(|cv| {
                let c = cv.as_str()?;
                validate_cron(&c).map_err(|e| cv.error(e)).ok()
            });
            let timezone = match m.get("execution_timezone") {
                None => Some(chrono_tz::Tz::UTC),
                Some(tv) => tv.as_str().and_then(|t| match t.trim().parse::<chrono_tz::Tz>() {
                    Ok(tz) => Some(tz),
                    Err(_) => {
                        tv.error(format!("unknown time zone `{t}` (use an IANA name such as UTC or Europe/Berlin)"));
                        None
                    }
                }),
            };
            let default_status = m
                .get("default_status")
                .and_then(|s| read_status(&s))
                .unwrap_or_default();
            let catchup = m
                .get("catchup")
                .and_then(|c| read_catchup(&c))
                .unwrap_or_default();
            let tags = m.get("tags").map(|t| read_tags(&t)).unwrap_or_default();
            let run_config = match m.get("run_config") {
                Some(rv) if rv.is_map() => rv.to_json(),
                Some(rv) => {
                    rv.error("expected a mapping (run config)");
                    serde_json::Value::Object(Default::default())
                }
                None => serde_json::Value::Object(Default::default()),
            };
            let description = m.str("description");
            m.finish();
            if let (Some(job), Some(cron), Some(timezone)) = (job, cron, timezone) {
                out.insert(
                    name.clone(),
                    ScheduleDef {
                        name,
                        job,
                        cron,
                        timezone,
                        default_status,
                        catchup,
                        tags,
                        run_config,
                        description,
                        source: Some(v.loc()),
                    },
                );
            }
        }
        out
    }

    fn read_sensors(&self, job_names: &BTreeSet<String>) -> BTreeMap<String, SensorDef> {
        let mut out = BTreeMap::new();
        let Some(section) = self.root.get("sensors").and_then(|v| v.as_map()) else {
            return out;
        };
        for (name, v) in section.entries() {
            check_name(&v, "sensor", &name);
            let Some(m) = v.as_map() else { continue };
            let job = self.check_job_ref(&m, job_names);
            let kind = m.require("kind").and_then(|kv| {
                let k = kv.as_str()?;
                if SENSOR_KINDS.contains(&k.as_str()) {
                    Some(k)
                } else {
                    kv.error(format!(
                        "unknown sensor kind `{k}` (expected one of: {})",
                        SENSOR_KINDS.join(", ")
                    ));
                    None
                }
            });
            let minimum_interval_seconds = m
                .get("minimum_interval_seconds")
                .and_then(|iv| positive_int(&iv, 1))
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(DEFAULT_SENSOR_INTERVAL_SECONDS);
            let default_status = m
                .get("default_status")
                .and_then(|s| read_status(&s))
                .unwrap_or_default();
            let description = m.str("description");
            let mut config = serde_json::Map::new();
            for key in m.keys() {
                if SENSOR_COMMON_KEYS.contains(&key.as_str()) {
                    continue;
                }
                // A near-miss of a common key is a typo, not a kind-specific setting.
                if closest(&key, SENSOR_COMMON_KEYS.iter().copied()).is_some() {
                    continue;
                }
                let value = m
                    .get(&key)
                    .map(|kv| kv.to_json())
                    .unwrap_or(serde_json::Value::Null);
                config.insert(key, value);
            }
            m.finish();
            if let (Some(job), Some(kind)) = (job, kind) {
                out.insert(
                    name.clone(),
                    SensorDef {
                        name,
                        job,
                        kind,
                        minimum_interval_seconds,
                        default_status,
                        config: serde_json::Value::Object(config),
                        description,
                        source: Some(v.loc()),
                    },
                );
            }
        }
        out
    }
}
