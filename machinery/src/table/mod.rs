//! Server-side `Table` conversion with the columns and cell formats that
//! Kubernetes 1.33's printers give each kind. Every column is generated,
//! including the priority 1 columns kubectl shows only with `-o wide`.

mod duration;
mod event;
mod node;
mod pod;
mod simple;
mod workloads;

use serde_json::{Value, json};

use crate::Gvk;

pub use duration::{human_duration, parse_rfc3339, since};

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One column definition: name, type, priority and description.
struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
    description: &'static str,
}

const fn column(
    name: &'static str,
    kind: &'static str,
    priority: u8,
    description: &'static str,
) -> Column {
    Column {
        name,
        kind,
        priority,
        description,
    }
}

const NAME: Column = column("Name", "string", 0, NAME_DESCRIPTION);
const AGE: Column = column("Age", "string", 0, AGE_DESCRIPTION);

fn columns_for(gvk: &Gvk) -> Vec<Column> {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Pod") => pod::columns(),
        ("", "Node") => node::columns(),
        ("", "Event") | ("events.k8s.io", "Event") => event::columns(),
        ("apps", "Deployment") => workloads::deployment_columns(),
        ("apps", "ReplicaSet") => workloads::replica_set_columns(),
        ("", "Namespace") => simple::namespace_columns(),
        ("", "ConfigMap") => simple::config_map_columns(),
        ("", "Secret") => simple::secret_columns(),
        ("", "ServiceAccount") => simple::service_account_columns(),
        ("coordination.k8s.io", "Lease") => simple::lease_columns(),
        _ => simple::default_columns(),
    }
}

/// Returns the `columnDefinitions` of a Table for `gvk`.
pub fn column_definitions(gvk: &Gvk) -> Vec<Value> {
    columns_for(gvk)
        .into_iter()
        .map(|column| {
            let format = match (column.name, column.kind) {
                ("Name", _) => "name",
                (_, "date") => "date",
                _ => "",
            };
            json!({
                "name": column.name,
                "type": column.kind,
                "format": format,
                "description": column.description,
                "priority": column.priority,
            })
        })
        .collect()
}

/// Returns the cells of one object's row, in column order. `now` is the current
/// time in seconds since the Unix epoch, for the AGE column.
pub fn row_cells(gvk: &Gvk, object: &Value, now: i64) -> Vec<Value> {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Pod") => pod::cells(object, now),
        ("", "Node") => node::cells(object, now),
        ("", "Event") => event::cells(&event::CoreFields, object, now),
        ("events.k8s.io", "Event") => event::cells(&event::EventsV1Fields, object, now),
        ("apps", "Deployment") => workloads::deployment_cells(object, now),
        ("apps", "ReplicaSet") => workloads::replica_set_cells(object, now),
        ("", "Namespace") => simple::namespace_cells(object, now),
        ("", "ConfigMap") => simple::config_map_cells(object, now),
        ("", "Secret") => simple::secret_cells(object, now),
        ("", "ServiceAccount") => simple::service_account_cells(object, now),
        ("coordination.k8s.io", "Lease") => simple::lease_cells(object, now),
        _ => simple::default_cells(object),
    }
}

/// Returns a row's `conditions`: Kubernetes marks finished pods with a
/// `Completed` condition, and other rows carry none.
pub fn row_conditions(gvk: &Gvk, object: &Value) -> Option<Value> {
    if gvk.group.is_empty() && gvk.kind == "Pod" {
        return pod::conditions(object);
    }
    None
}

fn name_of(object: &Value) -> Value {
    object["metadata"]["name"]
        .as_str()
        .map_or(Value::String(String::new()), |name| json!(name))
}

fn age_of(object: &Value, now: i64) -> Value {
    json!(since(object["metadata"]["creationTimestamp"].as_str(), now))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn count(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

/// Length of a JSON object or array, 0 for anything else.
fn len_of(value: &Value) -> i64 {
    let length = match value {
        Value::Object(map) => map.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    i64::try_from(length).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
