//! Logging set-up shared by the binaries: the `--log-level` filter and Dagster's
//! `--log-format` (`colored`, the default; `json`, one object per line for log collectors;
//! `rich`, accepted as `colored`). Logs go to stderr; colour only on a terminal.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Colored,
    Json,
    Rich,
}

/// The values `--log-format` accepts, as Dagster's.
pub const LOG_FORMATS: [&str; 3] = ["colored", "json", "rich"];

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "colored" => Ok(LogFormat::Colored),
            "json" => Ok(LogFormat::Json),
            "rich" => Ok(LogFormat::Rich),
            other => Err(format!(
                "unknown log format `{other}`: expected one of {}",
                LOG_FORMATS.join(", ")
            )),
        }
    }
}

/// Installs the global subscriber: `level` is an `EnvFilter` directive (`info`,
/// `warn,dagster_daemon=debug`, …); an invalid one falls back to `fallback`. `with_target`
/// prints the module each line comes from. A second call changes nothing.
pub fn init(level: &str, fallback: &str, format: LogFormat, with_target: bool) {
    let parsed = tracing_subscriber::EnvFilter::try_new(directive(level));
    let invalid = parsed.as_ref().err().map(ToString::to_string);
    let filter = parsed.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(fallback));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(with_target);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Colored | LogFormat::Rich => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    if let Some(e) = invalid {
        tracing::warn!("invalid log level `{level}` ({e}); logging at `{fallback}`");
    }
}

/// Dagster's level names (`--log-level warning`, `critical`, any case) as tracing's; anything
/// else is an `EnvFilter` directive as given.
fn directive(level: &str) -> String {
    match level.trim().to_ascii_lowercase().as_str() {
        "critical" | "fatal" | "error" => "error".into(),
        "warning" | "warn" => "warn".into(),
        "info" => "info".into(),
        "debug" => "debug".into(),
        "trace" => "trace".into(),
        _ => level.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dagsters_level_names_are_accepted() {
        assert_eq!(directive("WARNING"), "warn");
        assert_eq!(directive("critical"), "error");
        assert_eq!(directive("Info"), "info");
        assert_eq!(
            directive("info,dagster_daemon::queue=debug"),
            "info,dagster_daemon::queue=debug"
        );
    }

    #[test]
    fn formats_parse_as_dagsters() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("COLORED".parse(), Ok(LogFormat::Colored));
        assert_eq!("rich".parse(), Ok(LogFormat::Rich));
        assert_eq!(
            "xml".parse::<LogFormat>(),
            Err("unknown log format `xml`: expected one of colored, json, rich".to_string())
        );
    }
}
