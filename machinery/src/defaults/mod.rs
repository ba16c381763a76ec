//! Defaulting of objects as the Kubernetes apiserver does it: the
//! `SetDefaults_*` functions of each API group, plus the admission plugins
//! that fill in pods (ServiceAccount, Priority, DefaultTolerationSeconds).

mod container;
mod core;
mod pod;
mod workloads;

use serde_json::{Map, Value};

use crate::Gvk;

pub use pod::{pod_qos_class, pod_status_on_create};

/// Fills in the defaults Kubernetes sets on `object` before validation.
/// Fields the client set are kept; objects of other kinds are left alone.
pub fn apply_defaults(gvk: &Gvk, object: &mut Value) {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Pod") => pod::default_pod(object),
        ("", "Namespace") => core::default_namespace(object),
        ("", "Secret") => core::default_secret(object),
        ("", "Node") => core::default_node(object),
        ("apps", "Deployment") => workloads::default_deployment(object),
        ("apps", "ReplicaSet") => workloads::default_replica_set(object),
        _ => {}
    }
}

/// Returns `object[key]` as a JSON object, creating it when it is absent or
/// null. Returns `None` when the field holds something else, which
/// validation then reports.
fn child<'a>(object: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = object.as_object_mut()?;
    let entry = map.entry(key.to_string()).or_insert(Value::Null);
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// Sets `map[key]` to `value` when the key is absent or null.
fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    let entry = map.entry(key.to_string()).or_insert(Value::Null);
    if entry.is_null() {
        *entry = value;
    }
}

/// Sets `map[key]` when it is absent, null or the empty string, as Go's
/// defaulting treats an empty string as unset.
fn set_default_string(map: &mut Map<String, Value>, key: &str, value: &str) {
    let entry = map.entry(key.to_string()).or_insert(Value::Null);
    if entry.is_null() || entry.as_str() == Some("") {
        *entry = Value::String(value.to_string());
    }
}

/// Calls `visit` on each object in the array at `map[key]`.
fn for_each_in(
    map: &mut Map<String, Value>,
    key: &str,
    mut visit: impl FnMut(&mut Map<String, Value>),
) {
    if let Some(items) = map.get_mut(key).and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            visit(item);
        }
    }
}

#[cfg(test)]
mod tests;
