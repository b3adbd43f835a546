use serde::{Deserialize, Serialize};
use std::fmt;

/// An asset key: a path of string components, e.g. `["reporting", "customers"]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetKey(pub Vec<String>);

impl AssetKey {
    /// Parses the user form `a/b/c` (also accepts a single component).
    pub fn from_user_string(s: &str) -> Self {
        AssetKey(s.split('/').map(str::to_string).collect())
    }

    /// The user-facing form: components joined with `/`.
    pub fn to_user_string(&self) -> String {
        self.0.join("/")
    }

    /// The storage form Dagster uses in `asset_key` columns: a JSON array with Python's default
    /// separators, e.g. `["a", "b"]`.
    pub fn to_db_string(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| serde_json::Value::String(p.clone()).to_string())
            .collect();
        format!("[{}]", parts.join(", "))
    }

    /// Parses the storage form produced by [`AssetKey::to_db_string`].
    pub fn from_db_string(s: &str) -> Option<Self> {
        serde_json::from_str::<Vec<String>>(s).ok().map(AssetKey)
    }

    /// The step key Dagster derives for an asset: components joined with `__`.
    pub fn to_step_key(&self) -> String {
        self.0.join("__")
    }
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_user_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_string_matches_python_json() {
        let k = AssetKey(vec!["a".into(), "b".into()]);
        assert_eq!(k.to_db_string(), r#"["a", "b"]"#);
        assert_eq!(AssetKey::from_db_string(&k.to_db_string()), Some(k.clone()));
        assert_eq!(AssetKey::from_user_string("a/b"), k);
        assert_eq!(k.to_step_key(), "a__b");
    }
}
