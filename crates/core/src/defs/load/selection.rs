//! Retry and catch-up policies, and job selections (`group:`, `+key`, `key*`) resolved over the asset graph.

use super::*;

pub(super) fn read_retry(m: &Map<'_>) -> RetryPolicy {
    let max_retries = m
        .get("max_retries")
        .and_then(|v| positive_int(&v, 0))
        .and_then(|n| u32::try_from(n).ok());
    let delay = m
        .get("delay_seconds")
        .and_then(|v| non_negative_duration(&v, true));
    let backoffs = [
        ("constant", Backoff::Constant),
        ("exponential", Backoff::Exponential),
    ];
    let backoff = m
        .get("backoff")
        .and_then(|v| read_choice(&v, &backoffs, "constant or exponential"));
    m.finish();
    RetryPolicy {
        max_retries: max_retries.unwrap_or(0),
        delay: delay.unwrap_or(Duration::ZERO),
        backoff: backoff.unwrap_or_default(),
    }
}

pub(super) fn read_catchup(v: &Value<'_>) -> Option<CatchupPolicy> {
    if v.is_map() {
        let m = v.as_map()?;
        let n = m
            .require("all")
            .and_then(|a| positive_int(&a, 1))
            .and_then(|n| u32::try_from(n).ok());
        m.finish();
        return n.map(CatchupPolicy::All);
    }
    let policies = [
        ("latest", CatchupPolicy::Latest),
        ("none", CatchupPolicy::None),
    ];
    read_choice(v, &policies, "latest, none or {all: N}")
}

/// The asset graph: first entry of each key, and dependency edges (target, dep position).
pub(super) struct Graph {
    pub(super) index: HashMap<AssetKey, usize>,
    pub(super) adj: Vec<Vec<(usize, usize)>>,
}

/// Resolves one selection item to entry indices.
pub(super) fn resolve_selection(
    item: &str,
    entries: &[AssetEntry<'_>],
    graph: &Graph,
    groups: &BTreeSet<&str>,
) -> Result<Vec<usize>, String> {
    if item == "*" {
        return Ok((0..entries.len()).collect());
    }
    if let Some(group) = item.strip_prefix("group:") {
        let group = group.trim();
        if !groups.contains(group) {
            let known: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            return Err(format!(
                "unknown group `{group}`{} (groups: {})",
                did_you_mean(group, &known),
                list_or_none(&known)
            ));
        }
        return Ok(entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.group == group)
            .map(|(i, _)| i)
            .collect());
    }
    let (upstream, key_text) = match item.strip_prefix('+') {
        Some(rest) => (true, rest.trim()),
        None => (false, item),
    };
    let key = parse_asset_key(key_text)?;
    let Some(&start) = graph.index.get(&key) else {
        let known: Vec<String> = entries.iter().map(|e| e.key.to_user_string()).collect();
        return Err(format!(
            "unknown asset `{key}` in selection{} (selection items: an asset key `a/b`, `group:<name>`, `+a/b` or `*`)",
            did_you_mean(&key.to_user_string(), &known)
        ));
    };
    if !upstream {
        return Ok(vec![start]);
    }
    let mut seen = vec![false; entries.len()];
    let mut todo = vec![start];
    seen[start] = true;
    while let Some(n) = todo.pop() {
        for &(d, _) in &graph.adj[n] {
            if !seen[d] {
                seen[d] = true;
                todo.push(d);
            }
        }
    }
    Ok(seen
        .iter()
        .enumerate()
        .filter(|(_, s)| **s)
        .map(|(i, _)| i)
        .collect())
}
