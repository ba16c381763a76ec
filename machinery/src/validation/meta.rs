//! `metadata` checks shared by every kind (`ValidateObjectMeta`,
//! `ValidateObjectMetaUpdate`, `ValidateLabels`, `ValidateAnnotations`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::FieldCause;
use super::field_error::{forbidden, invalid, invalid_string, required, too_long};
use super::names;

/// Kubernetes' limit on the summed size of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Name syntax a kind requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// An RFC 1123 subdomain, as most kinds use.
    Subdomain,
    /// An RFC 1123 label, as namespaces use.
    Label,
}

impl NameRule {
    /// Returns the error strings for a name, or for a `generateName` prefix
    /// when `prefix` is true, whose trailing dash is allowed.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && name.len() > 1 && name.ends_with('-') {
            masked = format!("{}a", &name[..name.len() - 1]);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Subdomain => names::dns1123_subdomain(name),
            NameRule::Label => names::dns1123_label(name),
        }
    }
}

/// Reads a string field, treating a missing or non-string value as empty.
pub fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Reads a string map (labels, annotations, selectors) as a sorted map.
pub fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(key, value)| (key.clone(), value.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks an object's `metadata` on create and update.
pub fn validate_object_meta(
    metadata: &Value,
    namespaced: bool,
    rule: NameRule,
    path: &str,
) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let name = text(metadata, "name");
    let generate_name = text(metadata, "generateName");
    if !generate_name.is_empty() {
        for message in rule.check(generate_name, true) {
            causes.push(invalid_string(
                &format!("{path}.generateName"),
                generate_name,
                &message,
            ));
        }
    }
    if name.is_empty() {
        if generate_name.is_empty() {
            causes.push(required(
                &format!("{path}.name"),
                "name or generateName is required",
            ));
        }
    } else {
        for message in rule.check(name, false) {
            causes.push(invalid_string(&format!("{path}.name"), name, &message));
        }
    }
    let namespace = text(metadata, "namespace");
    if namespaced {
        if namespace.is_empty() {
            causes.push(required(&format!("{path}.namespace"), ""));
        } else {
            for message in names::dns1123_label(namespace) {
                causes.push(invalid_string(
                    &format!("{path}.namespace"),
                    namespace,
                    &message,
                ));
            }
        }
    } else if !namespace.is_empty() {
        causes.push(forbidden(
            &format!("{path}.namespace"),
            "not allowed on this type",
        ));
    }
    causes.extend(validate_labels(
        &metadata["labels"],
        &format!("{path}.labels"),
    ));
    causes.extend(validate_annotations(
        &metadata["annotations"],
        &format!("{path}.annotations"),
    ));
    causes.extend(validate_finalizers(
        &metadata["finalizers"],
        &format!("{path}.finalizers"),
    ));
    causes.extend(validate_owner_references(
        &metadata["ownerReferences"],
        &format!("{path}.ownerReferences"),
    ));
    causes
}

/// Checks that each owner reference names its owner fully and that at most
/// one is the controller. Kubernetes reports these without a list index.
fn validate_owner_references(references: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut controllers = Vec::new();
    for reference in references.as_array().into_iter().flatten() {
        for (key, what) in [
            ("apiVersion", "version"),
            ("kind", "kind"),
            ("name", "name"),
            ("uid", "uid"),
        ] {
            if text(reference, key).is_empty() {
                causes.push(invalid_string(
                    &format!("{path}.{key}"),
                    "",
                    &format!("{what} must not be empty"),
                ));
            }
        }
        if reference["controller"].as_bool() == Some(true) {
            controllers.push(format!(
                "{}/{}",
                text(reference, "kind"),
                text(reference, "name")
            ));
        }
    }
    // NOTE: Kubernetes prints the references with Go's `%#v`; this prints
    // them as JSON.
    if controllers.len() > 1 {
        causes.push(invalid(
            path,
            &references.to_string(),
            &format!(
                "Only one reference can have Controller set to true. Found \"true\" in references for {}",
                controllers.join(" and ")
            ),
        ));
    }
    causes
}

/// Checks label keys (qualified names) and values.
pub fn validate_labels(labels: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (key, value) in string_map(labels) {
        for message in names::qualified_name(&key) {
            causes.push(invalid_string(path, &key, &message));
        }
        for message in names::label_value(&value) {
            causes.push(invalid_string(path, &value, &message));
        }
    }
    causes
}

/// Checks annotation keys and their total size.
pub fn validate_annotations(annotations: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut total_size = 0;
    for (key, value) in string_map(annotations) {
        for message in names::qualified_name(&key.to_lowercase()) {
            causes.push(invalid_string(path, &key, &message));
        }
        total_size += key.len() + value.len();
    }
    if total_size > TOTAL_ANNOTATION_SIZE_LIMIT {
        causes.push(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    causes
}

fn validate_finalizers(finalizers: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for finalizer in finalizers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        for message in names::qualified_name(finalizer) {
            causes.push(invalid_string(path, finalizer, &message));
        }
    }
    causes
}

/// Checks that an update keeps `metadata.name`, `namespace`, `uid` and
/// `creationTimestamp`.
pub fn validate_object_meta_update(new: &Value, old: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for key in ["name", "namespace", "uid", "creationTimestamp"] {
        let old_value = text(old, key);
        let new_value = text(new, key);
        if old_value != new_value && !(key != "name" && key != "namespace" && new_value.is_empty())
        {
            causes.push(invalid_string(
                &format!("{path}.{key}"),
                new_value,
                "field is immutable",
            ));
        }
    }
    causes
}
