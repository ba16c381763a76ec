//! Validation of objects before they are stored, reported as Kubernetes
//! `StatusCause`s with field paths and Kubernetes' message wording.

mod container;
mod core;
pub mod field_error;
mod go_format;
pub mod meta;
pub mod names;
mod pod;
mod resources;
mod workloads;

use serde_json::Value;

use crate::Gvk;
use meta::NameRule;

/// One invalid field, as it appears in a 422 `Status`'s `details.causes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldCause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`,
    /// `FieldValueDuplicate`, `FieldValueForbidden`, `FieldValueTooLong`
    /// or `FieldValueNotFound`.
    pub reason: String,
    /// Human-readable text in Kubernetes' wording.
    pub message: String,
    /// The field path, e.g. `spec.template.spec.containers[0].name`.
    pub field: String,
}

/// Validation rules of one kind.
struct KindRules {
    namespaced: bool,
    name_rule: NameRule,
    validate: fn(&Value) -> Vec<FieldCause>,
    validate_update: fn(&Value, &Value) -> Vec<FieldCause>,
}

fn no_checks(_: &Value) -> Vec<FieldCause> {
    Vec::new()
}

fn no_update_checks(_: &Value, _: &Value) -> Vec<FieldCause> {
    Vec::new()
}

fn rules_for(gvk: &Gvk) -> Option<KindRules> {
    let rules = |namespaced, validate: fn(&Value) -> Vec<FieldCause>, validate_update| KindRules {
        namespaced,
        name_rule: NameRule::Subdomain,
        validate,
        validate_update,
    };
    Some(match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Namespace") => KindRules {
            name_rule: NameRule::Label,
            ..rules(false, no_checks, no_update_checks)
        },
        ("", "Pod") => rules(
            true,
            |pod| pod::validate_pod_spec(&pod["spec"], "spec"),
            |new, old| pod::validate_pod_update(&new["spec"], &old["spec"]),
        ),
        ("", "Node") => rules(false, core::validate_node, no_update_checks),
        ("", "ConfigMap") => rules(true, core::validate_config_map, |new, old| {
            core::validate_data_update(new, old, &["data", "binaryData"])
        }),
        ("", "Secret") => rules(true, core::validate_secret, |new, old| {
            let mut causes = core::validate_secret_type_update(new, old);
            causes.extend(core::validate_data_update(new, old, &["data"]));
            causes
        }),
        ("", "Event") => rules(true, core::validate_core_event, no_update_checks),
        ("events.k8s.io", "Event") => rules(true, core::validate_events_v1_event, no_update_checks),
        ("", "ServiceAccount") => rules(true, no_checks, no_update_checks),
        ("apps", "Deployment") => rules(
            true,
            |deployment| workloads::validate_deployment_spec(&deployment["spec"]),
            |new, old| workloads::validate_selector_update(&new["spec"], &old["spec"]),
        ),
        ("apps", "ReplicaSet") => rules(
            true,
            |replica_set| workloads::validate_replica_set_spec(&replica_set["spec"]),
            |new, old| workloads::validate_selector_update(&new["spec"], &old["spec"]),
        ),
        ("coordination.k8s.io", "Lease") => rules(true, core::validate_lease, no_update_checks),
        _ => return None,
    })
}

/// Checks an object about to be created (`old` is `None`) or updated. The
/// object should already carry its defaults (see
/// [`crate::defaults::apply_defaults`]); kinds this crate does not know get
/// no checks.
pub fn validate(gvk: &Gvk, object: &Value, old: Option<&Value>) -> Vec<FieldCause> {
    let Some(rules) = rules_for(gvk) else {
        return Vec::new();
    };
    let mut causes = meta::validate_object_meta(
        &object["metadata"],
        rules.namespaced,
        rules.name_rule,
        "metadata",
    );
    if let Some(old) = old {
        causes.extend(meta::validate_object_meta_update(
            &object["metadata"],
            &old["metadata"],
            "metadata",
        ));
    }
    causes.extend((rules.validate)(object));
    if let Some(old) = old {
        causes.extend((rules.validate_update)(object, old));
    }
    causes
}

/// Builds the message of a 422 Invalid `Status` as Kubernetes does:
/// `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: ...`,
/// with several causes listed inside brackets.
pub fn invalid_message(gvk: &Gvk, name: &str, causes: &[FieldCause]) -> String {
    let qualified_kind = if gvk.group.is_empty() {
        gvk.kind.clone()
    } else {
        format!("{}.{}", gvk.kind, gvk.group)
    };
    let mut errors: Vec<String> = Vec::new();
    for cause in causes {
        let text = format!("{}: {}", cause.field, cause.message);
        if !errors.contains(&text) {
            errors.push(text);
        }
    }
    let aggregate = match errors.as_slice() {
        [single] => single.clone(),
        _ => format!("[{}]", errors.join(", ")),
    };
    format!(
        "{qualified_kind} {} is invalid: {aggregate}",
        field_error::go_string(name)
    )
}

#[cfg(test)]
mod tests;
