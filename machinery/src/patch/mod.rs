//! JSON patch, JSON merge patch and strategic merge patch.

use serde_json::Value;

use crate::Gvk;

pub mod schema;
mod strategic;
#[cfg(test)]
mod tests;

use schema::Ty;

/// The patch formats of a Kubernetes PATCH request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply); see [`crate::apply`].
    Apply,
}

impl PatchType {
    /// Maps a request's Content-Type (parameters ignored) to a patch type.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Why a patch could not be applied. The apiserver maps these to 400 or 422.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("invalid patch body: {0}")]
    InvalidBody(String),
    #[error("the patch could not be applied: {0}")]
    Failed(String),
}

/// Applies a JSON, merge or strategic merge patch to `current` and returns the
/// patched object. `PatchType::Apply` is handled by [`crate::apply`] instead.
pub fn apply_patch(
    gvk: &Gvk,
    current: &Value,
    patch_type: PatchType,
    patch: &[u8],
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => {
            let operations: json_patch::Patch = serde_json::from_slice(patch)
                .map_err(|error| PatchError::InvalidBody(error.to_string()))?;
            let mut result = current.clone();
            json_patch::patch(&mut result, &operations)
                .map_err(|error| PatchError::Failed(error.to_string()))?;
            Ok(result)
        }
        PatchType::Merge => {
            let merge = parse_object_patch(patch)?;
            let mut result = current.clone();
            json_patch::merge(&mut result, &merge);
            Ok(result)
        }
        PatchType::StrategicMerge => {
            let merge = parse_object_patch(patch)?;
            strategic::strategic_merge(current, &merge, Ty::of_kind(gvk))
        }
        PatchType::Apply => Err(PatchError::Failed(
            "apply patches go through server-side apply".to_string(),
        )),
    }
}

/// Parses a merge or strategic merge patch body, which must be a JSON object.
fn parse_object_patch(patch: &[u8]) -> Result<Value, PatchError> {
    let value: Value = serde_json::from_slice(patch)
        .map_err(|error| PatchError::InvalidBody(error.to_string()))?;
    if !value.is_object() {
        return Err(PatchError::InvalidBody(format!(
            "the patch must be a JSON object, got {}",
            kind_of(&value)
        )));
    }
    Ok(value)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
