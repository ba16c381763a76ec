//! Server-side apply: merging an applied configuration into the live object
//! and tracking field ownership in `metadata.managedFields`.

use serde_json::Value;

use crate::Gvk;

/// A field owned by another manager that an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldConflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The field path as Kubernetes prints it, e.g. `.spec.replicas`.
    pub field: String,
}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("invalid apply configuration: {0}")]
    Invalid(String),
    /// Other managers own fields this apply changes; retry with `force=true`.
    #[error("apply conflicts with {} field(s) owned by other managers", .0.len())]
    Conflicts(Vec<FieldConflict>),
}

/// Merges `applied` (an apply configuration) into `live` (absent on create)
/// for `manager` and returns the new object with updated `managedFields`.
/// `now` is the RFC 3339 time recorded in the managed-fields entry.
pub fn server_side_apply(
    gvk: &Gvk,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    // NOTE: placeholder until the field-ownership implementation lands; it merges
    // without tracking ownership and never reports conflicts.
    let _ = (gvk, manager, force, now);
    let mut result = live
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    json_patch::merge(&mut result, applied);
    Ok(result)
}

/// Records a non-apply write (create, update, patch) by `manager` in the
/// `managedFields` of `new`, taking ownership of the fields it changed from `old`.
pub fn record_update(gvk: &Gvk, old: Option<&Value>, new: &mut Value, manager: &str, now: &str) {
    let _ = (gvk, old, new, manager, now);
}
