//! Checks for the simpler kinds: ConfigMap, Secret, Node, Event and Lease,
//! and the update rules of immutable ConfigMaps and Secrets.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::FieldCause;
use super::field_error::{forbidden, invalid, invalid_string, not_supported, required, too_long};
use super::meta::text;
use super::names;
use super::workloads::nonnegative;

/// Kubernetes' limit on the data of one ConfigMap or Secret (1 MiB).
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

const TAINT_EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];
const EVENT_TYPES: &[&str] = &["Normal", "Warning"];

/// Iterates a data map in key order, so causes come out in a stable order.
fn entries(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    let sorted: BTreeMap<&String, &Value> =
        value.as_object().into_iter().flat_map(Map::iter).collect();
    sorted.into_iter()
}

pub fn validate_config_map(config_map: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let data = &config_map["data"];
    let binary_data = &config_map["binaryData"];
    let mut total_size = 0;
    for (key, value) in entries(data) {
        let path = format!("data[{key}]");
        for message in names::config_map_key(key) {
            causes.push(invalid_string(&path, key, &message));
        }
        if binary_data.get(key).is_some() {
            causes.push(invalid_string(
                &path,
                key,
                "duplicate of key present in binaryData",
            ));
        }
        total_size += value.as_str().map_or(0, str::len);
    }
    for (key, value) in entries(binary_data) {
        let path = format!("binaryData[{key}]");
        for message in names::config_map_key(key) {
            causes.push(invalid_string(&path, key, &message));
        }
        if data.get(key).is_some() {
            causes.push(invalid_string(
                &path,
                key,
                "duplicate of key present in data",
            ));
        }
        total_size += decoded_len(value.as_str().unwrap_or(""));
    }
    if total_size > MAX_DATA_SIZE {
        causes.push(too_long("", MAX_DATA_SIZE));
    }
    causes
}

/// Length of base64 text once decoded.
fn decoded_len(encoded: &str) -> usize {
    let padding = encoded
        .bytes()
        .rev()
        .take_while(|byte| *byte == b'=')
        .count();
    (encoded.len() / 4 * 3).saturating_sub(padding)
}

pub fn validate_secret(secret: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let data = &secret["data"];
    let mut total_size = 0;
    for (key, value) in entries(data) {
        for message in names::config_map_key(key) {
            causes.push(invalid_string(&format!("data[{key}]"), key, &message));
        }
        total_size += decoded_len(value.as_str().unwrap_or(""));
    }
    if total_size > MAX_DATA_SIZE {
        causes.push(too_long("data", MAX_DATA_SIZE));
    }
    let has = |key: &str| data.get(key).is_some();
    let secret_type = text(secret, "type");
    let required_keys: &[&str] = match secret_type {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        _ => &[],
    };
    for key in required_keys {
        if !has(key) {
            causes.push(required(&format!("data[{key}]"), ""));
        }
    }
    if secret_type == "kubernetes.io/basic-auth" && !has("username") && !has("password") {
        causes.push(required("data[username]", ""));
        causes.push(required("data[password]", ""));
    }
    if secret_type == "kubernetes.io/service-account-token"
        && text(
            &secret["metadata"]["annotations"],
            "kubernetes.io/service-account.name",
        )
        .is_empty()
    {
        causes.push(required(
            "metadata.annotations[kubernetes.io/service-account.name]",
            "",
        ));
    }
    causes
}

/// Rejects changes to a ConfigMap's or Secret's data once `immutable` is
/// true, and a Secret's type change.
pub fn validate_data_update(new: &Value, old: &Value, data_keys: &[&str]) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if old["immutable"].as_bool() == Some(true) {
        const MESSAGE: &str = "field is immutable when `immutable` is set";
        if new["immutable"].as_bool() != Some(true) {
            causes.push(forbidden("immutable", MESSAGE));
        }
        for key in data_keys {
            if new[*key] != old[*key] {
                causes.push(forbidden(key, MESSAGE));
            }
        }
    }
    causes
}

pub fn validate_secret_type_update(new: &Value, old: &Value) -> Vec<FieldCause> {
    let (new_type, old_type) = (text(new, "type"), text(old, "type"));
    if new_type != old_type {
        return vec![invalid_string("type", new_type, "field is immutable")];
    }
    Vec::new()
}

pub fn validate_node(node: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (index, taint) in node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("spec.taints[{index}]");
        let key = text(taint, "key");
        if key.is_empty() {
            causes.push(required(&format!("{path}.key"), ""));
        }
        for message in names::qualified_name(key) {
            if !key.is_empty() {
                causes.push(invalid_string(&format!("{path}.key"), key, &message));
            }
        }
        let effect = text(taint, "effect");
        if effect.is_empty() {
            causes.push(required(&format!("{path}.effect"), ""));
        } else if !TAINT_EFFECTS.contains(&effect) {
            causes.push(not_supported(
                &format!("{path}.effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
    }
    causes
}

/// Checks a core/v1 Event: its involved object's namespace must match.
pub fn validate_core_event(event: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let namespace = text(&event["metadata"], "namespace");
    let involved_namespace = text(&event["involvedObject"], "namespace");
    let mismatch = if involved_namespace.is_empty() {
        !namespace.is_empty() && namespace != "default"
    } else {
        namespace != involved_namespace
    };
    if mismatch {
        causes.push(invalid_string(
            "involvedObject.namespace",
            involved_namespace,
            "does not match event.namespace",
        ));
    }
    causes.extend(event_type(event));
    causes
}

/// Checks an events.k8s.io/v1 Event. Kubernetes reports these with the
/// core field names (`involvedObject`, `reportingController`).
pub fn validate_events_v1_event(event: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let namespace = text(&event["metadata"], "namespace");
    if text(&event["regarding"], "namespace").is_empty() && namespace != "kube-system" {
        causes.push(invalid_string(
            "involvedObject.namespace",
            "",
            "does not match event.namespace",
        ));
    }
    if event["eventTime"].as_str().unwrap_or("").is_empty() {
        causes.push(required("eventTime", ""));
    }
    let controller = text(event, "reportingController");
    if controller.is_empty() {
        causes.push(required("reportingController", ""));
    }
    for message in names::qualified_name(controller) {
        causes.push(invalid_string("reportingController", controller, &message));
    }
    for key in ["reportingInstance", "action", "reason"] {
        if text(event, key).is_empty() {
            causes.push(required(key, ""));
        }
    }
    causes.extend(event_type(event));
    causes
}

fn event_type(event: &Value) -> Vec<FieldCause> {
    let event_type = text(event, "type");
    if !event_type.is_empty() && !EVENT_TYPES.contains(&event_type) {
        return vec![not_supported("type", event_type, EVENT_TYPES)];
    }
    Vec::new()
}

pub fn validate_lease(lease: &Value) -> Vec<FieldCause> {
    let spec = &lease["spec"];
    let mut causes = Vec::new();
    if let Some(seconds) = spec["leaseDurationSeconds"].as_i64()
        && seconds <= 0
    {
        causes.push(invalid(
            "spec.leaseDurationSeconds",
            &seconds.to_string(),
            "must be greater than 0",
        ));
    }
    causes.extend(nonnegative(
        &spec["leaseTransitions"],
        "spec.leaseTransitions",
    ));
    causes
}
