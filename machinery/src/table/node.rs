//! Node rows: the Ready condition and scheduling state as STATUS, roles from
//! `node-role.kubernetes.io/*` labels, and addresses and versions.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{AGE, Column, NAME, age_of, column, name_of, text};

pub(super) fn columns() -> Vec<Column> {
    vec![
        NAME,
        column("Status", "string", 0, "The status of the node"),
        column("Roles", "string", 0, "The roles of the node"),
        AGE,
        column(
            "Version",
            "string",
            0,
            "Kubelet Version reported by the node.",
        ),
        column(
            "Internal-IP",
            "string",
            1,
            "List of addresses reachable to the node.",
        ),
        column(
            "External-IP",
            "string",
            1,
            "List of addresses reachable to the node.",
        ),
        column(
            "OS-Image",
            "string",
            1,
            "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        ),
        column(
            "Kernel-Version",
            "string",
            1,
            "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        ),
        column(
            "Container-Runtime",
            "string",
            1,
            "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
        ),
    ]
}

pub(super) fn cells(node: &Value, now: i64) -> Vec<Value> {
    let status = &node["status"];
    let info = &status["nodeInfo"];
    let roles = roles(&node["metadata"]["labels"]);
    let unknown_if_empty = |value: &str| {
        if value.is_empty() {
            "<unknown>".to_string()
        } else {
            value.to_string()
        }
    };
    vec![
        name_of(node),
        json!(node_status(node)),
        json!(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles
        }),
        age_of(node, now),
        json!(text(&info["kubeletVersion"])),
        json!(address(status, "InternalIP")),
        json!(address(status, "ExternalIP")),
        json!(unknown_if_empty(text(&info["osImage"]))),
        json!(unknown_if_empty(text(&info["kernelVersion"]))),
        json!(unknown_if_empty(text(&info["containerRuntimeVersion"]))),
    ]
}

fn node_status(node: &Value) -> String {
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|condition| text(&condition["type"]) == "Ready");
    let mut parts = vec![match ready {
        Some(condition) if text(&condition["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node["spec"]["unschedulable"].as_bool() == Some(true) {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

/// Sorted roles from `node-role.kubernetes.io/<role>` keys and the legacy
/// `kubernetes.io/role` label.
fn roles(labels: &Value) -> String {
    let mut roles = BTreeSet::new();
    for (key, value) in labels.as_object().into_iter().flatten() {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == "kubernetes.io/role" {
            let role = text(value);
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        }
    }
    roles.into_iter().collect::<Vec<_>>().join(",")
}

fn address(status: &Value, address_type: &str) -> String {
    status["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|address| text(&address["type"]) == address_type)
        .map_or_else(
            || "<none>".to_string(),
            |address| text(&address["address"]).to_string(),
        )
}
