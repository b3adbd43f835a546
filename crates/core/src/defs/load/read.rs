//! Small readers of the pipeline config: cron strings, asset keys, names and "did you mean", tags, statuses, durations.

use super::*;

/// Checks a cron string the way Dagster does: exactly 5 fields (minute hour day-of-month month
/// day-of-week; the aliases `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`,
/// `@annually` are expanded), every value in range, and at least one date that matches (so
/// `0 0 30 2 *` is rejected). Returns the normalized 5-field string or a message.
pub fn validate_cron(cron: &str) -> Result<String, String> {
    let given = cron.trim();
    let expanded = match given.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        _ if given.starts_with('@') => {
            return Err(format!(
                "unknown cron alias `{given}` (use @hourly, @daily, @weekly, @monthly, @yearly or 5 fields)"
            ))
        }
        _ => given,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "cron `{given}` has {} field{}; a schedule needs exactly 5: minute hour day-of-month month day-of-week",
            fields.len(),
            if fields.len() == 1 { "" } else { "s" }
        ));
    }
    let normalized = fields.join(" ");
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    check_cron_ranges(given, &fields)?;
    let parsed = parser
        .parse(&normalized)
        .map_err(|e| format!("invalid cron `{given}`: {e}"))?;
    // The search from a leap year covers February 29; a pattern with no matching date fails.
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
    if parsed.find_next_occurrence(&start, false).is_err() {
        return Err(format!(
            "cron `{given}` never fires: no date matches its day-of-month and month (e.g. February 30)"
        ));
    }
    Ok(normalized)
}

/// Names the first plain number out of its field's range (croner only says "out of bounds").
pub(super) fn check_cron_ranges(given: &str, fields: &[&str]) -> Result<(), String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    for (field, (name, min, max)) in fields.iter().zip(FIELDS) {
        for part in field.split(',') {
            // `a-b/step`: check a and b, not the step.
            let range = part.split('/').next().unwrap_or("");
            for n in range.split('-') {
                if let Ok(v) = n.parse::<u32>() {
                    if v < min || v > max {
                        return Err(format!(
                            "invalid cron `{given}`: {name} {v} is out of range {min}-{max}"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Parses an asset key in user form (`a/b/c`).
pub(super) fn parse_asset_key(text: &str) -> Result<AssetKey, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an asset key cannot be empty".into());
    }
    let key = AssetKey::from_user_string(t);
    if key.0.iter().any(|c| c.is_empty()) {
        return Err(format!(
            "invalid asset key `{t}`: empty component (keys look like `a/b/c`)"
        ));
    }
    if key
        .0
        .iter()
        .any(|c| c.chars().any(|ch| ch.is_whitespace() || ch.is_control()))
    {
        return Err(format!(
            "invalid asset key `{t}`: components cannot contain spaces"
        ));
    }
    Ok(key)
}

/// Dagster's name rule for jobs, schedules, sensors, groups and resources: `^[A-Za-z0-9_]+$`.
pub(super) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn check_name(v: &Value<'_>, what: &str, name: &str) {
    if !is_valid_name(name) {
        v.error(format!(
            "invalid {what} name `{name}`: use only letters, digits and underscores"
        ));
    }
}

pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate by edit distance, if close enough to be a likely typo.
pub(super) fn closest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d > 0 && *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn did_you_mean(word: &str, candidates: &[String]) -> String {
    closest(word, candidates.iter().map(String::as_str))
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

pub(super) fn list_or_none(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Items of a list; a single scalar counts as a one-item list.
pub(super) fn list_items<'a>(v: &Value<'a>) -> Vec<Value<'a>> {
    if v.is_seq() || v.is_map() {
        v.as_seq()
    } else {
        vec![v.clone()]
    }
}

pub(super) fn json_to_metadata(v: serde_json::Value) -> MetadataValue {
    match v {
        serde_json::Value::String(s) => MetadataValue::Text(s),
        serde_json::Value::Bool(b) => MetadataValue::Bool(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => MetadataValue::Int(i),
            (None, Some(f)) => MetadataValue::Float(f),
            (None, None) => MetadataValue::Json(serde_json::Value::Number(n)),
        },
        other => MetadataValue::Json(other),
    }
}

/// A mapping of string values (`tags:`, command `env:`).
pub(crate) fn read_str_map(v: &Value<'_>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(m) = v.as_map() {
        for (k, item) in m.entries() {
            if let Some(s) = item.as_str() {
                out.insert(k, s);
            }
        }
    }
    out
}

/// A `tags:` mapping of a job or schedule; the values of the tags the daemon acts on
/// (`dagster/priority`, `dagster/max_retries`, …) are checked where they are written.
pub(super) fn read_tags(v: &Value<'_>) -> BTreeMap<String, String> {
    let tags = read_str_map(v);
    if let Some(m) = v.as_map() {
        for (key, value) in &tags {
            if let Err(expected) = crate::domain::tags::check(key, value) {
                if let Some(item) = m.get(key) {
                    item.error(format!("tag `{key}`: expected {expected}, found `{value}`"));
                }
            }
        }
    }
    tags
}

/// The choice the string `v` names (ASCII case ignored); otherwise `None` after an error
/// saying what was `expected`.
pub(super) fn read_choice<T: Copy>(
    v: &Value<'_>,
    choices: &[(&str, T)],
    expected: &str,
) -> Option<T> {
    let s = v.as_str()?;
    let found = choices
        .iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c);
    if found.is_none() {
        v.error(format!("expected {expected}, found `{s}`"));
    }
    found
}

pub(super) fn read_status(v: &Value<'_>) -> Option<DefaultStatus> {
    let choices = [
        ("RUNNING", DefaultStatus::Running),
        ("STOPPED", DefaultStatus::Stopped),
    ];
    read_choice(v, &choices, "RUNNING or STOPPED")
}

pub(super) fn positive_int(v: &Value<'_>, min: i64) -> Option<i64> {
    let n = v.as_int()?;
    if n < min {
        v.error(format!("must be at least {min}, found {n}"));
        return None;
    }
    Some(n)
}

pub(super) fn non_negative_duration(v: &Value<'_>, allow_zero: bool) -> Option<Duration> {
    let secs = v.as_float()?;
    if secs < 0.0 || (!allow_zero && secs == 0.0) {
        v.error(format!(
            "must be {} seconds, found {secs}",
            if allow_zero {
                "zero or more"
            } else {
                "more than zero"
            }
        ));
        return None;
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) => Some(d),
        Err(_) => {
            v.error(format!("{secs} seconds is too long"));
            None
        }
    }
}
