//! JSON patch, JSON merge patch and strategic merge patch.

use serde_json::Value;

use crate::Gvk;

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
    // NOTE: placeholder until the strategic merge implementation lands; it
    // treats strategic merge patches as JSON merge patches.
    let _ = gvk;
    let mut result = current.clone();
    match patch_type {
        PatchType::Json => {
            let operations: json_patch::Patch = serde_json::from_slice(patch)
                .map_err(|error| PatchError::InvalidBody(error.to_string()))?;
            json_patch::patch(&mut result, &operations)
                .map_err(|error| PatchError::Failed(error.to_string()))?;
        }
        PatchType::Merge | PatchType::StrategicMerge => {
            let merge: Value = serde_json::from_slice(patch)
                .map_err(|error| PatchError::InvalidBody(error.to_string()))?;
            json_patch::merge(&mut result, &merge);
        }
        PatchType::Apply => {
            return Err(PatchError::Failed(
                "apply patches go through server-side apply".to_string(),
            ));
        }
    }
    Ok(result)
}
