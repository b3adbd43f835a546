//! The `storage` section (and the legacy per-store keys): SQLite or Postgres, the Postgres URL.

use super::*;

// ---------------------------------------------------------------------------------------
// storage
// ---------------------------------------------------------------------------------------

pub(super) const LEGACY_STORAGE_KEYS: [&str; 3] =
    ["run_storage", "event_log_storage", "schedule_storage"];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

pub(super) struct LegacyClass {
    class: &'static str,
    backend: Backend,
    /// Legacy keys this class may appear under.
    slots: &'static [&'static str],
    modules: &'static [&'static str],
}

pub(super) const ALL_SLOTS: &[&str] = &LEGACY_STORAGE_KEYS;

pub(super) const LEGACY_CLASSES: &[LegacyClass] = &[
    LegacyClass {
        class: "SqliteRunStorage",
        backend: Backend::Sqlite,
        slots: &["run_storage"],
        modules: &[
            "dagster._core.storage.runs",
            "dagster._core.storage.runs.sqlite",
            "dagster._core.storage.runs.sqlite.sqlite_run_storage",
            "dagster.core.storage.runs",
            "dagster.core.storage.runs.sqlite",
            "dagster.core.storage.runs.sqlite.sqlite_run_storage",
        ],
    },
    LegacyClass {
        class: "SqliteEventLogStorage",
        backend: Backend::Sqlite,
        slots: &["event_log_storage"],
        modules: &[
            "dagster._core.storage.event_log",
            "dagster._core.storage.event_log.sqlite",
            "dagster._core.storage.event_log.sqlite.sqlite_event_log",
            "dagster.core.storage.event_log",
            "dagster.core.storage.event_log.sqlite",
            "dagster.core.storage.event_log.sqlite.sqlite_event_log",
        ],
    },
    LegacyClass {
        class: "ConsolidatedSqliteEventLogStorage",
        backend: Backend::Sqlite,
        slots: &["event_log_storage"],
        modules: &[
            "dagster._core.storage.event_log",
            "dagster._core.storage.event_log.sqlite",
            "dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log",
            "dagster.core.storage.event_log",
            "dagster.core.storage.event_log.sqlite",
            "dagster.core.storage.event_log.sqlite.consolidated_sqlite_event_log",
        ],
    },
    LegacyClass {
        class: "SqliteScheduleStorage",
        backend: Backend::Sqlite,
        slots: &["schedule_storage"],
        modules: &[
            "dagster._core.storage.schedules",
            "dagster._core.storage.schedules.sqlite",
            "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
            "dagster.core.storage.schedules",
            "dagster.core.storage.schedules.sqlite",
            "dagster.core.storage.schedules.sqlite.sqlite_schedule_storage",
        ],
    },
    LegacyClass {
        class: "DagsterSqliteStorage",
        backend: Backend::Sqlite,
        slots: ALL_SLOTS,
        modules: &[
            "dagster._core.storage.sqlite_storage",
            "dagster.core.storage.sqlite_storage",
        ],
    },
    LegacyClass {
        class: "PostgresRunStorage",
        backend: Backend::Postgres,
        slots: &["run_storage"],
        modules: &[
            "dagster_postgres",
            "dagster_postgres.run_storage",
            "dagster_postgres.run_storage.run_storage",
        ],
    },
    LegacyClass {
        class: "PostgresEventLogStorage",
        backend: Backend::Postgres,
        slots: &["event_log_storage"],
        modules: &[
            "dagster_postgres",
            "dagster_postgres.event_log",
            "dagster_postgres.event_log.event_log",
        ],
    },
    LegacyClass {
        class: "PostgresScheduleStorage",
        backend: Backend::Postgres,
        slots: &["schedule_storage"],
        modules: &[
            "dagster_postgres",
            "dagster_postgres.schedule_storage",
            "dagster_postgres.schedule_storage.schedule_storage",
        ],
    },
    LegacyClass {
        class: "DagsterPostgresStorage",
        backend: Backend::Postgres,
        slots: ALL_SLOTS,
        modules: &["dagster_postgres", "dagster_postgres.storage"],
    },
];

pub(super) fn parse_storage(root: &Map<'_>, home: &DagsterHome) -> StorageConfig {
    let default = StorageConfig::Sqlite {
        base_dir: home.storage_dir(),
    };
    let storage = root.has("storage").then(|| root.get("storage"));
    let legacy: Vec<(&str, Value<'_>)> = LEGACY_STORAGE_KEYS
        .iter()
        .filter_map(|k| root.get(k).map(|v| (*k, v)))
        .collect();
    if let Some(storage) = storage {
        if !legacy.is_empty() {
            for (k, v) in &legacy {
                v.error(format!(
                    "`{k}` cannot be used together with `storage`: use either `storage` or the legacy \
                     `run_storage`/`event_log_storage`/`schedule_storage` keys"
                ));
            }
        }
        let Some(v) = storage else {
            root.error("`storage` is empty: expected one of `postgres`, `sqlite`");
            return default;
        };
        return parse_storage_selector(&v, home).unwrap_or(default);
    }
    if legacy.is_empty() {
        return default;
    }
    parse_legacy_storage(&legacy, home).unwrap_or(default)
}

pub(super) fn parse_storage_selector(v: &Value<'_>, home: &DagsterHome) -> Option<StorageConfig> {
    let m = v.as_map()?;
    let mut found = 0;
    let mut result = None;
    for key in ["postgres", "mysql", "sqlite", "custom"] {
        if !m.has(key) {
            continue;
        }
        found += 1;
        let value = m.get(key);
        match key {
            "postgres" => {
                result = match &value {
                    Some(pv) => parse_pg(pv).map(pg_storage),
                    None => {
                        m.error("`postgres` needs `postgres_url` or `postgres_db`");
                        None
                    }
                };
            }
            "sqlite" => {
                let mut base_dir = home.storage_dir();
                if let Some(sm) = value.as_ref().and_then(|sv| sv.as_map()) {
                    if let Some(dir) = sm.str("base_dir") {
                        base_dir = home.resolve(&dir);
                    }
                    sm.finish();
                }
                result = Some(StorageConfig::Sqlite { base_dir });
            }
            other => {
                let msg = format!("`storage.{other}` is not supported (use sqlite or postgres)");
                match &value {
                    Some(x) => x.error(msg),
                    None => m.error(msg),
                }
            }
        }
    }
    m.finish();
    if found != 1 {
        m.error(format!(
            "`storage` must have exactly one of `postgres`, `sqlite` (found {found})"
        ));
        return None;
    }
    result
}

pub(super) fn pg_storage((url, should_autocreate_tables): (String, bool)) -> StorageConfig {
    StorageConfig::Postgres {
        display_url: redact_url(&url, None),
        url,
        should_autocreate_tables,
    }
}

/// One legacy storage key, resolved.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::Sqlite(dir) => format!("SQLite at {}", dir.join(SQLITE_DB_FILE).display()),
            Target::Postgres(url) => format!("PostgreSQL at {}", redact_url(url, None)),
        }
    }
}

pub(super) fn parse_legacy_storage(
    given: &[(&str, Value<'_>)],
    home: &DagsterHome,
) -> Option<StorageConfig> {
    let mut resolved: Vec<(&str, Option<&Value<'_>>, Target)> = Vec::new();
    let mut autocreate = true;
    let mut ok = true;
    for (slot, v) in given {
        match parse_legacy_slot(slot, v, home) {
            Some((target, ac)) => {
                autocreate &= ac;
                resolved.push((*slot, Some(v), target));
            }
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    for slot in LEGACY_STORAGE_KEYS {
        if !given.iter().any(|(k, _)| *k == slot) {
            resolved.push((slot, None, Target::Sqlite(home.storage_dir())));
        }
    }
    let (first_slot, first_v, first_target) = resolved.first()?.clone();
    for (slot, v, target) in &resolved[1..] {
        if *target == first_target {
            continue;
        }
        let other = match v {
            Some(_) => format!("`{slot}` uses {}", target.describe()),
            None => format!("`{slot}` is not set and defaults to {}", target.describe()),
        };
        let msg = format!(
            "all storage must be in one database: `{first_slot}` uses {} but {other}; use the same backend and \
             database for run_storage, event_log_storage and schedule_storage (or use `storage:` instead)",
            first_target.describe()
        );
        match (first_v, v) {
            (Some(fv), _) => fv.error(msg),
            (None, Some(sv)) => sv.error(msg),
            (None, None) => {}
        }
        return None;
    }
    Some(match first_target {
        Target::Sqlite(base_dir) => StorageConfig::Sqlite { base_dir },
        Target::Postgres(url) => pg_storage((url, autocreate)),
    })
}

pub(super) fn parse_legacy_slot(
    slot: &str,
    v: &Value<'_>,
    home: &DagsterHome,
) -> Option<(Target, bool)> {
    let c = read_class(v)?;
    let accepted: Vec<&LegacyClass> = LEGACY_CLASSES
        .iter()
        .filter(|lc| lc.slots.contains(&slot))
        .collect();
    let Some(lc) = LEGACY_CLASSES.iter().find(|lc| lc.class == c.class) else {
        if c.class.starts_with("MySQL") || c.module.starts_with("dagster_mysql") {
            c.class_v.error(format!(
                "`{}` is not supported (use sqlite or postgres)",
                c.class
            ));
        } else {
            let names: Vec<&str> = accepted.iter().map(|lc| lc.class).collect();
            c.class_v.error(format!(
                "unknown storage class `{}` for `{slot}`; accepted: {}",
                c.class,
                names.join(", ")
            ));
        }
        return None;
    };
    if !lc.slots.contains(&slot) {
        let names: Vec<&str> = accepted.iter().map(|lc| lc.class).collect();
        c.class_v.error(format!(
            "`{}` cannot be used as `{slot}`; accepted: {}",
            c.class,
            names.join(", ")
        ));
        return None;
    }
    if !c.check_module(lc.modules) {
        return None;
    }
    match lc.backend {
        Backend::Sqlite => {
            let Some(m) = c.config_map() else {
                c.class_v.error(format!(
                    "`{}` needs `config: {{base_dir: <directory>}}`",
                    c.class
                ));
                return None;
            };
            let dir = m.req_str("base_dir");
            m.finish();
            Some((Target::Sqlite(home.resolve(&dir?)), true))
        }
        Backend::Postgres => {
            let Some(cv) = &c.config else {
                c.class_v.error(format!(
                    "`{}` needs `config:` with `postgres_url` or `postgres_db`",
                    c.class
                ));
                return None;
            };
            let (url, ac) = parse_pg(cv)?;
            Some((Target::Postgres(url), ac))
        }
    }
}

/// Reads a Postgres block (`postgres_url` | `postgres_db`, `should_autocreate_tables`):
/// returns the URL (password included) and `should_autocreate_tables`.
pub(super) fn parse_pg(v: &Value<'_>) -> Option<(String, bool)> {
    let m = v.as_map()?;
    let url_v = m.get("postgres_url");
    let db_v = m.get("postgres_db");
    let autocreate = m.bool("should_autocreate_tables").unwrap_or(true);
    if let Some(ap) = m.get("auth_provider") {
        ap.error(
            "`auth_provider` (cloud workload identity) is not supported by this implementation; \
             give the credentials in `postgres_url` or `postgres_db`",
        );
    }
    m.finish();
    let url = match (url_v, db_v) {
        (Some(_), Some(d)) => {
            d.error("set either `postgres_url` or `postgres_db`, not both");
            None
        }
        (None, None) => {
            m.error("missing `postgres_url` or `postgres_db`");
            None
        }
        (Some(u), None) => {
            let text = u.as_str()?;
            check_pg_url(&u, &text)
        }
        (None, Some(d)) => build_pg_url(&d.as_map()?),
    }?;
    Some((url, autocreate))
}

/// Normalizes a URL scheme: `postgresql+psycopg2` → `postgresql`. None if not Postgres.
pub(super) fn pg_scheme(scheme: &str) -> Option<String> {
    let lower = scheme.to_ascii_lowercase();
    let base = lower.split('+').next().unwrap_or("");
    matches!(base, "postgresql" | "postgres").then(|| base.to_string())
}

pub(super) fn check_pg_url(v: &Value<'_>, url: &str) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        v.error("expected a URL like `postgresql://user:password@host:5432/dbname`");
        return None;
    };
    match pg_scheme(scheme) {
        Some(s) => Some(format!("{s}://{rest}")),
        None => {
            v.error(format!(
                "unsupported URL scheme `{}` (expected postgresql or postgres)",
                redact_scheme(scheme)
            ));
            None
        }
    }
}

pub(super) fn redact_scheme(s: &str) -> String {
    // A scheme never holds secrets unless the URL is malformed; keep it short anyway.
    s.chars().take(20).collect()
}

pub(super) fn build_pg_url(db: &Map<'_>) -> Option<String> {
    let username = db.req_str("username");
    let password = db.str("password").unwrap_or_default();
    let hostname = db.req_str("hostname");
    let db_name = db.req_str("db_name");
    let port = match db.get("port") {
        None => Some(5432),
        Some(v) => v.as_int().and_then(|p| {
            if (1..=65535).contains(&p) {
                Some(p)
            } else {
                v.error(format!("`port` must be between 1 and 65535, found {p}"));
                None
            }
        }),
    };
    let params: Vec<(String, String)> = db
        .get("params")
        .and_then(|v| v.as_map())
        .map(|pm| {
            pm.entries()
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s)))
                .collect()
        })
        .unwrap_or_default();
    let scheme_v = db.get("scheme");
    let scheme = match &scheme_v {
        None => Some("postgresql".to_string()),
        Some(sv) => sv.as_str().and_then(|s| {
            let n = pg_scheme(&s);
            if n.is_none() {
                sv.error(format!(
                    "unsupported scheme `{}` (expected postgresql or postgres)",
                    redact_scheme(&s)
                ));
            }
            n
        }),
    };
    db.finish();
    let (username, hostname, db_name, port, scheme) =
        (username?, hostname?, db_name?, port?, scheme?);
    let mut url = format!("{scheme}://{}", percent_encode(&username));
    if !password.is_empty() {
        url.push(':');
        url.push_str(&percent_encode(&password));
    }
    let host = if hostname.contains(':') && !hostname.starts_with('[') {
        format!("[{hostname}]")
    } else {
        hostname
    };
    url.push_str(&format!("@{host}:{port}/{}", percent_encode(&db_name)));
    if !params.is_empty() {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        url.push('?');
        url.push_str(&q.join("&"));
    }
    Some(url)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A URL with its password removed (`mask` None) or replaced by `mask`; a `password=`
/// query parameter is treated the same way.
pub fn redact_url(url: &str, mask: Option<&str>) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<url>".to_string();
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _)) => match mask {
                    Some(m) => format!("{user}:{m}"),
                    None => user.to_string(),
                },
                None => userinfo.to_string(),
            };
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let kept: Vec<String> = query
                .split('&')
                .filter_map(|pair| {
                    let key = pair.split('=').next().unwrap_or("");
                    if key.eq_ignore_ascii_case("password") {
                        mask.map(|m| format!("{key}={m}"))
                    } else {
                        Some(pair.to_string())
                    }
                })
                .collect();
            let mut t = path.to_string();
            if !kept.is_empty() {
                t.push('?');
                t.push_str(&kept.join("&"));
            }
            if let Some(f) = fragment {
                t.push('#');
                t.push_str(f);
            }
            t
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}
