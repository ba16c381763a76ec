//! Deployment and ReplicaSet rows, with the containers, images and selector
//! of their pod template in the wide columns.

use serde_json::{Value, json};

use super::{AGE, Column, NAME, age_of, column, count, name_of, text};
use crate::selector::LabelSelector;

const CONTAINERS: Column = column(
    "Containers",
    "string",
    1,
    "Names of each container in the template.",
);
const IMAGES: Column = column(
    "Images",
    "string",
    1,
    "Images referenced by each container in the template.",
);
const SELECTOR: Column = column(
    "Selector",
    "string",
    1,
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
);

pub(super) fn deployment_columns() -> Vec<Column> {
    vec![
        NAME,
        column("Ready", "string", 0, "Number of the pod with ready state"),
        column(
            "Up-to-date",
            "integer",
            0,
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        column(
            "Available",
            "integer",
            0,
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ]
}

pub(super) fn deployment_cells(deployment: &Value, now: i64) -> Vec<Value> {
    let spec = &deployment["spec"];
    let status = &deployment["status"];
    let ready = format!(
        "{}/{}",
        count(&status["readyReplicas"]),
        count(&spec["replicas"])
    );
    let mut cells = vec![
        name_of(deployment),
        json!(ready),
        json!(count(&status["updatedReplicas"])),
        json!(count(&status["availableReplicas"])),
        age_of(deployment, now),
    ];
    cells.extend(template_cells(spec));
    cells
}

pub(super) fn replica_set_columns() -> Vec<Column> {
    vec![
        NAME,
        column(
            "Desired",
            "integer",
            0,
            "Replicas is the number of desired pods.",
        ),
        column(
            "Current",
            "integer",
            0,
            "Replicas is the most recently observed number of non-terminating pods.",
        ),
        column(
            "Ready",
            "integer",
            0,
            "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ]
}

pub(super) fn replica_set_cells(replica_set: &Value, now: i64) -> Vec<Value> {
    let spec = &replica_set["spec"];
    let status = &replica_set["status"];
    let mut cells = vec![
        name_of(replica_set),
        json!(count(&spec["replicas"])),
        json!(count(&status["replicas"])),
        json!(count(&status["readyReplicas"])),
        age_of(replica_set, now),
    ];
    cells.extend(template_cells(spec));
    cells
}

/// Builds the CONTAINERS, IMAGES and SELECTOR cells of a workload spec.
fn template_cells(spec: &Value) -> [Value; 3] {
    let containers = spec["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .map(|container| text(&container["name"]))
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|container| text(&container["image"]))
        .collect();
    let selector = match &spec["selector"] {
        Value::Null => String::new(),
        selector => LabelSelector::from_label_selector_json(selector)
            .map_or_else(|_| "<invalid>".to_string(), |parsed| parsed.to_string()),
    };
    [
        json!(names.join(",")),
        json!(images.join(",")),
        json!(selector),
    ]
}
