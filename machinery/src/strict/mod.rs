//! `fieldValidation=Strict`: unknown and duplicate fields in a request body,
//! reported in document order with Kubernetes' wording.

mod occurrences;
mod unknown;

use crate::Gvk;

use occurrences::key_occurrences;

/// Returns one message per unknown or duplicate field in the JSON `body`, in
/// Kubernetes' wording (`unknown field "spec.foo"`, `duplicate field "replicas"`).
/// A body that is not JSON yields no messages; the caller reports the parse
/// error. Kinds this crate has no schema for get duplicate checks only.
pub fn field_problems(gvk: &Gvk, body: &[u8]) -> Vec<String> {
    let Ok(occurrences) = key_occurrences(body) else {
        return Vec::new();
    };
    let unknown = serde_json::from_slice(body)
        .map(|value| unknown::unknown_fields(gvk, &value))
        .unwrap_or_default();
    let is_under_unknown = |path: &str| {
        unknown.iter().any(|field| {
            path.strip_prefix(field.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    };
    let mut problems = Vec::new();
    for occurrence in occurrences {
        if is_under_unknown(&occurrence.path) {
            continue;
        }
        if unknown.contains(&occurrence.path) {
            if !occurrence.duplicate {
                problems.push(format!("unknown field \"{}\"", occurrence.path));
            }
        } else if occurrence.duplicate {
            problems.push(format!("duplicate field \"{}\"", occurrence.path));
        }
    }
    problems
}

/// Builds the 400 BadRequest message Kubernetes returns for strict field
/// problems: `Deployment in version "v1" cannot be handled as a Deployment:
/// strict decoding error: unknown field "spec.replica"`.
pub fn strict_error_message(gvk: &Gvk, problems: &[String]) -> String {
    format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
        problems.join(", "),
        kind = gvk.kind,
        version = gvk.version,
    )
}

#[cfg(test)]
mod tests;
