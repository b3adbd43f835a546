//! Resource types of the pipeline: what `resources.<name>.type` may name in a pipeline config.
//!
//! | type | module | config keys |
//! |------|--------|-------------|
//! | `sqlite` | [`sqlite`] | `path` (required), `busy_timeout_ms` |
//! | `postgres` | [`postgres`] | `host`, `user`, `database` (required), `port`, `password`, `pool_size`, `connect_timeout_seconds`, `sslmode`, `application_name` |
//! | `mysql` | [`mysql`] | `host`, `user`, `database` (required), `port`, `password`, `pool_size`, `connect_timeout_seconds`, `read_timeout_seconds`, `tls` (false only) |
//! | `clickhouse` | [`clickhouse`] | `url`, `database` (required), `user`, `password`, `validation`, `compression` (none, lz4), `timeout_seconds` |
//!
//! All run SQL for the `sql` asset kind ([`Resource::as_sql`](dagster_core::defs::Resource::as_sql))
//! and can be used typed from code assets with
//! [`StepContext::typed_resource`](dagster_core::defs::StepContext::typed_resource).
//! Their calls block: they run on the executor's blocking threads, never on an async worker.

pub mod clickhouse;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

pub use self::clickhouse::{
    ClickhouseResource, ClickhouseResourceError, ClickhouseResourceType, ClickhouseSettings,
};
pub use self::mysql::{MysqlResource, MysqlResourceError, MysqlResourceType, MysqlSettings};

pub use self::postgres::{
    PostgresResource, PostgresResourceError, PostgresResourceType, PostgresSettings,
};
pub use self::sqlite::{SqliteResource, SqliteResourceError, SqliteResourceType};

/// An error and all its causes on one line (`a: b: c`): drivers often keep the useful part
/// (e.g. "Connection refused") in the source chain, not in the top-level message.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

/// A short one-line preview of an SQL statement for error messages.
pub(crate) fn preview(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        let head: String = one_line.chars().take(77).collect();
        format!("{head}...")
    } else {
        one_line
    }
}
