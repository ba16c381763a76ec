//! Apply conflicts and Kubernetes' wording for them.

use std::collections::BTreeMap;

use super::fieldpath::FieldPath;
use super::managed::{Manager, UPDATE};

/// A field owned by another manager that an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldConflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The field path as Kubernetes prints it, e.g. `.spec.replicas`.
    pub field: String,
    /// The owner's operation: `Apply` or `Update`.
    pub operation: String,
    /// The API version the owner wrote with, e.g. `apps/v1`.
    pub api_version: String,
    /// The subresource the owner wrote through; empty for the main resource.
    pub subresource: String,
}

impl FieldConflict {
    pub(super) fn new(owner: &Manager, path: &FieldPath) -> Self {
        Self {
            manager: owner.name.clone(),
            field: path.to_string(),
            operation: owner.operation.clone(),
            api_version: owner.api_version.clone(),
            subresource: owner.subresource.clone(),
        }
    }

    /// Names the owner as Kubernetes does: `"kubectl-client-side-apply" using
    /// apps/v1` for an Update manager, just the quoted name for an Apply one.
    pub fn describe_manager(&self) -> String {
        let mut description = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            description.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == UPDATE {
            description.push_str(&format!(" using {}", self.api_version));
        }
        description
    }

    /// Returns the message of this conflict's `StatusCause` (type `FieldManagerConflict`).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.describe_manager())
    }
}

/// Formats conflicts as the Kubernetes apiserver's 409 message, e.g.
/// `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply"
/// using apps/v1: .spec.replicas`.
pub fn conflicts_message(conflicts: &[FieldConflict]) -> String {
    if let [conflict] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            conflict.describe_manager(),
            conflict.field
        );
    }
    let mut by_manager: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for conflict in conflicts {
        by_manager
            .entry(conflict.describe_manager())
            .or_default()
            .push(&conflict.field);
    }
    let mut lines = Vec::new();
    for (manager, fields) in by_manager {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(fields.iter().map(|field| format!("- {field}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}
