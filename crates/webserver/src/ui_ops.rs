//! The GraphQL documents of the embedded UI, and the check that every one of them validates
//! against this server's schema.
//!
//! Dagster's UI defines its operations with Apollo's `gql` template tag; in the built chunks
//! (`_next/static/chunks/*.js`) each template's text is a string literal starting with a newline
//! and `query`, `mutation`, `subscription` or `fragment`, and fragments are appended to an
//! operation by interpolation. So every definition is found by scanning the literals, and an
//! operation's document is its text plus the fragments it spreads, transitively. This is what
//! keeps the schema and the pinned UI in step when the UI version is raised.

use std::collections::{BTreeMap, BTreeSet};

/// One definition (operation or fragment) of the UI's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// `query`, `mutation`, `subscription` or `fragment`.
    pub kind: String,
    pub name: String,
    pub text: String,
}

/// Every operation and fragment of the UI's chunks, by name.
#[derive(Debug, Default)]
pub struct UiDocuments {
    pub operations: BTreeMap<String, Definition>,
    pub fragments: BTreeMap<String, Definition>,
}

impl UiDocuments {
    /// Scans the embedded chunks.
    pub fn from_bundle() -> std::io::Result<UiDocuments> {
        let mut docs = UiDocuments::default();
        for f in crate::ui::FILES
            .iter()
            .filter(|f| f.path.starts_with("_next/static/chunks/") && f.path.ends_with(".js"))
        {
            let text = crate::ui::text(f)?;
            for literal in gql_literals(&text) {
                for d in split_definitions(&literal) {
                    let map = if d.kind == "fragment" {
                        &mut docs.fragments
                    } else {
                        &mut docs.operations
                    };
                    map.insert(d.name.clone(), d);
                }
            }
        }
        Ok(docs)
    }

    /// The operation's text followed by every fragment it spreads, transitively.
    pub fn document(&self, operation: &str) -> Option<String> {
        let op = self.operations.get(operation)?;
        let mut seen = BTreeSet::new();
        let mut todo = vec![op.text.as_str()];
        while let Some(t) = todo.pop() {
            for name in spreads(t) {
                if let Some(f) = self.fragments.get(&name) {
                    if seen.insert(name) {
                        todo.push(&f.text);
                    }
                }
            }
        }
        let mut doc = op.text.clone();
        for name in seen {
            if let Some(f) = self.fragments.get(&name) {
                doc.push('\n');
                doc.push_str(&f.text);
            }
        }
        Some(doc)
    }
}

const KEYWORDS: [&str; 4] = ["query", "mutation", "subscription", "fragment"];

/// The JS string literals (`"…"`, `'…'`, `` `…` ``) that start with an escaped newline, blanks
/// and a GraphQL definition keyword, unescaped.
pub fn gql_literals(js: &str) -> Vec<String> {
    let b = js.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < b.len() {
        let q = b[i];
        if (q == b'"' || q == b'\'' || q == b'`') && b[i + 1] == b'\\' && b[i + 2] == b'n' {
            let rest = &js[i + 3..];
            let trimmed = rest.trim_start_matches([' ', '\t']);
            let starts_def = KEYWORDS.iter().any(|k| {
                trimmed.starts_with(k)
                    && trimmed[k.len()..].starts_with(|c: char| c.is_whitespace() || c == '{')
            });
            if starts_def {
                let mut j = i + 1;
                let mut raw = String::new();
                while j < b.len() && b[j] != q {
                    if b[j] == b'\\' && j + 1 < b.len() {
                        raw.push_str(&js[j..j + 2]);
                        j += 2;
                    } else {
                        let ch = js[j..].chars().next().unwrap_or(' ');
                        raw.push(ch);
                        j += ch.len_utf8();
                    }
                }
                out.push(unescape(&raw));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Splits a GraphQL document into its top-level definitions (strings, block strings and
/// comments are skipped when counting braces).
pub fn split_definitions(doc: &str) -> Vec<Definition> {
    let b = doc.as_bytes();
    let mut starts = Vec::new();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if doc[i..].starts_with("\"\"\"") => {
                i += 3;
                while i < b.len() && !doc[i..].starts_with("\"\"\"") {
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            c if depth == 0 && c.is_ascii_alphabetic() => {
                let word_end = doc[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(b.len(), |n| i + n);
                if KEYWORDS.contains(&&doc[i..word_end]) {
                    starts.push(i);
                }
                i = word_end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(doc.len());
        let text = doc[s..end].trim().to_string();
        let mut words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        let kind = words.next().unwrap_or_default().to_string();
        let name = words
            .find(|w| !w.is_empty())
            .unwrap_or_default()
            .to_string();
        if !name.is_empty() {
            out.push(Definition { kind, name, text });
        }
    }
    out
}

/// The fragment names spread in `text` (`...Name`, not `... on Type`).
pub fn spreads(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(p) = rest.find("...") {
        rest = &rest[p + 3..];
        let t = rest.trim_start();
        let name: String = t
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && name != "on" {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_definitions_are_found() {
        let js = r#"let a=(0,r._)(["\n  query Foo($id: ID!) {\n    runOrError(runId: $id) {\n      ...Bar\n    }\n  }\n  ","\n"]);let b='\n  fragment Bar on Run {\n    id\n  }\n';"#;
        let lits = gql_literals(js);
        assert_eq!(lits.len(), 2);
        let defs: Vec<_> = lits.iter().flat_map(|l| split_definitions(l)).collect();
        assert_eq!(
            defs.iter()
                .map(|d| (d.kind.as_str(), d.name.as_str()))
                .collect::<Vec<_>>(),
            [("query", "Foo"), ("fragment", "Bar")]
        );
        assert_eq!(spreads(&defs[0].text), ["Bar"]);
        assert!(spreads("{ ... on Run { id } }").is_empty());
    }

    /// Every GraphQL operation of the embedded Dagster UI validates against this server's
    /// schema (juniper's validation, the one every request goes through).
    #[test]
    fn every_ui_operation_validates() {
        assert!(
            crate::ui::available(),
            "this test needs the embedded UI: build with the default `ui` feature"
        );
        let docs = UiDocuments::from_bundle().expect("the embedded chunks decompress");
        let count = |k: &str| docs.operations.values().filter(|d| d.kind == k).count();
        // Dagster 1.13.27's UI: 155 queries, 34 mutations, 3 subscriptions, 200 fragments.
        assert_eq!(
            (count("query"), count("mutation"), count("subscription")),
            (155, 34, 3)
        );
        assert_eq!(docs.fragments.len(), 200);
        let schema = crate::schema::schema();
        let mut failures = Vec::new();
        for name in docs.operations.keys() {
            let Some(doc) = docs.document(name) else {
                continue;
            };
            if let Err(e) = juniper::ValidatedOperation::new(doc.as_str(), Some(name), &schema) {
                failures.push(format!("{name}: {e}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} UI operations do not validate; first ones:\n{}",
            failures.len(),
            docs.operations.len(),
            failures
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// The static cost of every UI operation (variables unknown: a `limit: $var` counts 1):
    /// printed for the record, and each must stay under a quarter of the default limits
    /// (the browser test measures the real requests, with their variables).
    #[test]
    fn ui_operations_cost_far_below_the_default_limits() {
        use crate::cost::{analyze, Limits, SchemaSizes};
        let docs = UiDocuments::from_bundle().expect("the embedded chunks decompress");
        let schema = crate::schema::schema()
            .limit_fields(10_000_000)
            .limit_depth(1000);
        let sizes = SchemaSizes::of(&schema.schema);
        let limits = Limits::default();
        let vars = juniper::Variables::new();
        let mut max = [
            (0u64, String::new()),
            (0, String::new()),
            (0, String::new()),
            (0, String::new()),
        ];
        let mut all = Vec::new();
        for name in docs.operations.keys() {
            let Some(doc) = docs.document(name) else {
                continue;
            };
            let a = analyze(&schema, &sizes, &doc, Some(name), &vars, &limits)
                .expect("no limit reached")
                .expect("parses");
            all.push((a.cost.fields, name.clone()));
            for (i, v) in [
                a.cost.fields,
                a.cost.aliases,
                a.cost.depth,
                a.cost.list_limit,
            ]
            .into_iter()
            .enumerate()
            {
                if v > max[i].0 {
                    max[i] = (v, name.clone());
                }
            }
        }
        all.sort();
        println!(
            "UI operations with the most fields: {:?}",
            &all[all.len().saturating_sub(8)..]
        );
        println!(
            "UI operations, static maxima: fields {:?}, aliases {:?}, depth {:?}, list limit {:?}",
            max[0], max[1], max[2], max[3]
        );
        for (i, limit) in [
            limits.max_fields,
            limits.max_aliases,
            limits.max_depth,
            limits.max_list_limit,
        ]
        .into_iter()
        .enumerate()
        {
            assert!(
                max[i].0 * 4 < limit,
                "{:?} is not under a quarter of {limit}",
                max[i]
            );
        }
    }
}
