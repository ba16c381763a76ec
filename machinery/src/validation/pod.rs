//! Pod spec checks (`ValidatePodSpec`) for pods and pod templates, and the
//! rules for which pod fields an update may change (`ValidatePodUpdate`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::FieldCause;
use super::container::validate_containers;
use super::field_error::{duplicate, forbidden, invalid, invalid_string, not_supported, required};
use super::meta::{text, validate_labels};
use super::names;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const TAINT_EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];

/// Keys of a volume that are not its source.
const VOLUME_NON_SOURCE_KEYS: &[&str] = &["name"];

/// Checks a pod's or pod template's spec, with field paths under `path`.
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let (volume_names, volume_causes) =
        validate_volumes(&spec["volumes"], &format!("{path}.volumes"));
    causes.extend(volume_causes);
    let mut container_names = BTreeSet::new();
    causes.extend(validate_containers(
        &spec["initContainers"],
        &volume_names,
        &mut container_names,
        &format!("{path}.initContainers"),
    ));
    if spec["containers"].as_array().is_none_or(Vec::is_empty) {
        causes.push(required(&format!("{path}.containers"), ""));
    } else {
        causes.extend(validate_containers(
            &spec["containers"],
            &volume_names,
            &mut container_names,
            &format!("{path}.containers"),
        ));
    }
    causes.extend(validate_policies(spec, path));
    causes.extend(validate_labels(
        &spec["nodeSelector"],
        &format!("{path}.nodeSelector"),
    ));
    if let Some(seconds) = spec["activeDeadlineSeconds"].as_i64()
        && !(1..=i64::from(i32::MAX)).contains(&seconds)
    {
        causes.push(invalid(
            &format!("{path}.activeDeadlineSeconds"),
            &seconds.to_string(),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    for key in ["hostname", "subdomain"] {
        let value = text(spec, key);
        if !value.is_empty() {
            for message in names::dns1123_label(value) {
                causes.push(invalid_string(&format!("{path}.{key}"), value, &message));
            }
        }
    }
    causes.extend(validate_tolerations(
        &spec["tolerations"],
        &format!("{path}.tolerations"),
    ));
    causes
}

/// Checks `restartPolicy` and `dnsPolicy`, which defaulting always sets.
fn validate_policies(spec: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let restart_policy = text(spec, "restartPolicy");
    if restart_policy.is_empty() {
        causes.push(required(&format!("{path}.restartPolicy"), ""));
    } else if !RESTART_POLICIES.contains(&restart_policy) {
        causes.push(not_supported(
            &format!("{path}.restartPolicy"),
            restart_policy,
            RESTART_POLICIES,
        ));
    }
    let dns_policy = text(spec, "dnsPolicy");
    if dns_policy.is_empty() {
        causes.push(required(&format!("{path}.dnsPolicy"), ""));
    } else if !DNS_POLICIES.contains(&dns_policy) {
        causes.push(not_supported(
            &format!("{path}.dnsPolicy"),
            dns_policy,
            DNS_POLICIES,
        ));
    }
    causes
}

/// Checks a workload's `spec.template`: its labels and its pod spec.
pub fn validate_pod_template(template: &Value, path: &str) -> Vec<FieldCause> {
    if !template.is_object() {
        return vec![required(path, "")];
    }
    let mut causes = validate_labels(
        &template["metadata"]["labels"],
        &format!("{path}.metadata.labels"),
    );
    causes.extend(validate_pod_spec(
        &template["spec"],
        &format!("{path}.spec"),
    ));
    causes
}

/// Returns the volume names and the problems with the volume list.
fn validate_volumes(volumes: &Value, path: &str) -> (BTreeSet<String>, Vec<FieldCause>) {
    let mut names_seen = BTreeSet::new();
    let mut causes = Vec::new();
    for (index, volume) in volumes.as_array().into_iter().flatten().enumerate() {
        let volume_path = format!("{path}[{index}]");
        let name = text(volume, "name");
        if name.is_empty() {
            causes.push(required(&format!("{volume_path}.name"), ""));
        } else {
            for message in names::dns1123_label(name) {
                causes.push(invalid_string(
                    &format!("{volume_path}.name"),
                    name,
                    &message,
                ));
            }
            if !names_seen.insert(name.to_string()) {
                causes.push(duplicate(&format!("{volume_path}.name"), name));
            }
        }
        let sources: Vec<&String> = volume
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, value)| {
                !VOLUME_NON_SOURCE_KEYS.contains(&key.as_str()) && !value.is_null()
            })
            .map(|(key, _)| key)
            .collect();
        match sources.as_slice() {
            [] => causes.push(required(&volume_path, "must specify a volume type")),
            [_] => {}
            [_, extra, ..] => causes.push(forbidden(
                &format!("{volume_path}.{extra}"),
                "may not specify more than 1 volume type",
            )),
        }
    }
    (names_seen, causes)
}

fn validate_tolerations(tolerations: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (index, toleration) in tolerations.as_array().into_iter().flatten().enumerate() {
        let toleration_path = format!("{path}[{index}]");
        let key = text(toleration, "key");
        if !key.is_empty() {
            for message in names::qualified_name(key) {
                causes.push(invalid_string(
                    &format!("{toleration_path}.key"),
                    key,
                    &message,
                ));
            }
        }
        let operator = text(toleration, "operator");
        match operator {
            "" | "Equal" => {
                if key.is_empty() {
                    causes.push(invalid_string(
                        &format!("{toleration_path}.operator"),
                        operator,
                        "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                    ));
                }
            }
            "Exists" => {
                let value = text(toleration, "value");
                if !value.is_empty() {
                    causes.push(invalid_string(
                        &format!("{toleration_path}.operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => causes.push(not_supported(
                &format!("{toleration_path}.operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        let effect = text(toleration, "effect");
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            causes.push(not_supported(
                &format!("{toleration_path}.effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
        if toleration["tolerationSeconds"].is_i64() && effect != "NoExecute" {
            causes.push(invalid_string(
                &format!("{toleration_path}.effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
    }
    causes
}

/// The fields a pod update may change, as Kubernetes 1.33 lists them.
const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Rejects changes to a pod's spec other than container images, a new or
/// lower `activeDeadlineSeconds`, added tolerations and a node name set once.
pub fn validate_pod_update(new_spec: &Value, old_spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let old_deadline = old_spec["activeDeadlineSeconds"].as_i64();
    let new_deadline = new_spec["activeDeadlineSeconds"].as_i64();
    if let (Some(old), new) = (old_deadline, new_deadline)
        && new.is_none_or(|new| new > old)
    {
        let new_value = new.map_or("null".to_string(), |value| value.to_string());
        causes.push(invalid(
            "spec.activeDeadlineSeconds",
            &new_value,
            "must be less than or equal to previous value",
        ));
    }
    let old_tolerations = old_spec["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let new_tolerations = new_spec["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for toleration in &old_tolerations {
        if !new_tolerations.contains(toleration) {
            causes.push(forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    let mut munged = new_spec.clone();
    copy_mutable_fields(&mut munged, old_spec);
    let changed = changed_paths(old_spec, &munged, "spec");
    if !changed.is_empty() {
        causes.push(forbidden(
            "spec",
            &format!(
                "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\nchanged: {}",
                changed.join(", ")
            ),
        ));
    }
    causes
}

/// Overwrites the fields an update may change with their old values, so
/// whatever still differs is forbidden.
fn copy_mutable_fields(new_spec: &mut Value, old_spec: &Value) {
    for key in ["containers", "initContainers"] {
        let (Some(new_list), Some(old_list)) =
            (new_spec[key].as_array_mut(), old_spec[key].as_array())
        else {
            continue;
        };
        if new_list.len() != old_list.len() {
            continue;
        }
        for (new_container, old_container) in new_list.iter_mut().zip(old_list) {
            if let Some(map) = new_container.as_object_mut() {
                map.insert("image".into(), old_container["image"].clone());
            }
        }
    }
    let Some(map) = new_spec.as_object_mut() else {
        return;
    };
    for key in ["activeDeadlineSeconds", "tolerations"] {
        match old_spec.get(key) {
            Some(value) => map.insert(key.into(), value.clone()),
            None => map.remove(key),
        };
    }
    let old_node = text(old_spec, "nodeName");
    if old_node.is_empty() {
        match old_spec.get("nodeName") {
            Some(value) => map.insert("nodeName".into(), value.clone()),
            None => map.remove("nodeName"),
        };
    }
    if old_spec["terminationGracePeriodSeconds"]
        .as_i64()
        .is_some_and(|seconds| seconds < 0)
        && map
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            == Some(1)
    {
        map.insert(
            "terminationGracePeriodSeconds".into(),
            old_spec["terminationGracePeriodSeconds"].clone(),
        );
    }
}

/// Lists the dotted paths at which two JSON values differ.
fn changed_paths(old: &Value, new: &Value, path: &str) -> Vec<String> {
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            let keys: BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
            keys.into_iter()
                .flat_map(|key| {
                    let child = format!("{path}.{key}");
                    changed_paths(&old[key.as_str()], &new[key.as_str()], &child)
                })
                .collect()
        }
        (Value::Array(old_items), Value::Array(new_items))
            if old_items.len() == new_items.len() =>
        {
            old_items
                .iter()
                .zip(new_items)
                .enumerate()
                .flat_map(|(index, (old_item, new_item))| {
                    changed_paths(old_item, new_item, &format!("{path}[{index}]"))
                })
                .collect()
        }
        _ if old == new => Vec::new(),
        _ => vec![path.to_string()],
    }
}
