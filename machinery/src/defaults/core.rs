//! core/v1 defaults for Namespaces, Secrets and Nodes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{child, set_default, set_default_string};

/// Label Kubernetes puts on every namespace, holding its name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub(super) fn default_namespace(namespace: &mut Value) {
    let name = namespace["metadata"]["name"].as_str().map(str::to_string);
    if let (Some(name), Some(metadata)) = (name, child(namespace, "metadata"))
        && let Some(labels) = child_map(metadata, "labels")
    {
        labels.insert(NAMESPACE_NAME_LABEL.into(), json!(name));
    }
    if let Some(spec) = child(namespace, "spec") {
        set_default(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = child(namespace, "status") {
        set_default_string(status, "phase", "Active");
    }
}

fn child_map<'a>(
    map: &'a mut serde_json::Map<String, Value>,
    key: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let entry = map.entry(key.to_string()).or_insert(Value::Null);
    if entry.is_null() {
        *entry = json!({});
    }
    entry.as_object_mut()
}

/// Sets type `Opaque` and folds `stringData` into base64 `data`, where a
/// `stringData` key wins over the same `data` key, as Kubernetes does.
pub(super) fn default_secret(secret: &mut Value) {
    let Some(map) = secret.as_object_mut() else {
        return;
    };
    set_default_string(map, "type", "Opaque");
    let Some(string_data) = map.get("stringData").and_then(Value::as_object).cloned() else {
        return;
    };
    map.remove("stringData");
    if string_data.is_empty() {
        return;
    }
    let Some(data) = child_map(map, "data") else {
        return;
    };
    for (key, value) in &string_data {
        let text = value.as_str().unwrap_or_default();
        data.insert(key.clone(), json!(STANDARD.encode(text)));
    }
}

/// Copies `status.capacity` into a missing `status.allocatable`.
pub(super) fn default_node(node: &mut Value) {
    let Some(status) = node.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(capacity) = status.get("capacity").cloned() {
        set_default(status, "allocatable", capacity);
    }
}
