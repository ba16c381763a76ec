//! Pod rows: READY, STATUS and RESTARTS computed as Kubernetes' `printPod`
//! does, and the IP, NODE, NOMINATED NODE and READINESS GATES wide columns.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::duration::{human_duration, parse_rfc3339};
use super::{AGE, Column, NAME, age_of, column, count, name_of, text};

/// Pod status reason the node lifecycle controller sets on pods of an
/// unreachable node.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

pub(super) fn columns() -> Vec<Column> {
    vec![
        NAME,
        column(
            "Ready",
            "string",
            0,
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        column(
            "Status",
            "string",
            0,
            "The aggregate status of the containers in this pod.",
        ),
        column(
            "Restarts",
            "string",
            0,
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        AGE,
        column("IP", "string", 1, "The IP address assigned to the pod."),
        column(
            "Node",
            "string",
            1,
            "The name of the node to which the pod is assigned.",
        ),
        column(
            "Nominated Node",
            "string",
            1,
            "The name of the node where the pod is nominated to run, while it waits for preemption of other pods.",
        ),
        column(
            "Readiness Gates",
            "string",
            1,
            "The number of readiness gates whose condition is true, over all of the pod's readiness gates.",
        ),
    ]
}

/// Running totals while walking container statuses.
#[derive(Default)]
struct Summary {
    reason: String,
    ready: i64,
    restarts: i64,
    /// Latest `lastState.terminated.finishedAt`, seconds since the epoch.
    last_restart: Option<i64>,
}

impl Summary {
    fn note_restarts(&mut self, status: &Value) {
        self.restarts += count(&status["restartCount"]);
        let finished = status["lastState"]["terminated"]["finishedAt"]
            .as_str()
            .and_then(parse_rfc3339);
        if let Some(finished) = finished {
            self.last_restart = Some(
                self.last_restart
                    .map_or(finished, |last| last.max(finished)),
            );
        }
    }
}

pub(super) fn cells(pod: &Value, now: i64) -> Vec<Value> {
    let spec = &pod["spec"];
    let status = &pod["status"];
    let init_containers = spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let restartable_init: BTreeSet<&str> = init_containers
        .iter()
        .filter(|container| text(&container["restartPolicy"]) == "Always")
        .map(|container| text(&container["name"]))
        .collect();
    let total = spec["containers"].as_array().map_or(0, Vec::len) + restartable_init.len();

    let mut summary = Summary {
        reason: initial_reason(status),
        ..Summary::default()
    };
    let mut sidecars = Summary::default();
    let initializing = walk_init_containers(
        status,
        &init_containers,
        &restartable_init,
        &mut summary,
        &mut sidecars,
    );
    if !initializing || condition_is_true(status, "Initialized") {
        summary.restarts = sidecars.restarts;
        summary.last_restart = sidecars.last_restart;
        walk_containers(status, &mut summary);
    }
    let phase = text(&status["phase"]);
    let deleting = !pod["metadata"]["deletionTimestamp"].is_null();
    if deleting && text(&status["reason"]) == NODE_UNREACHABLE_REASON {
        summary.reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        summary.reason = "Terminating".to_string();
    }

    let restarts = match summary.last_restart {
        Some(last) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, human_duration(now - last))
        }
        _ => summary.restarts.to_string(),
    };
    vec![
        name_of(pod),
        json!(format!("{}/{total}", summary.ready)),
        json!(summary.reason),
        json!(restarts),
        age_of(pod, now),
        json!(or_none(pod_ip(status))),
        json!(or_none(text(&spec["nodeName"]))),
        json!(or_none(text(&status["nominatedNodeName"]))),
        json!(readiness_gates(spec, status)),
    ]
}

fn initial_reason(status: &Value) -> String {
    let mut reason = match text(&status["reason"]) {
        "" => text(&status["phase"]).to_string(),
        reason => reason.to_string(),
    };
    for condition in status["conditions"].as_array().into_iter().flatten() {
        if text(&condition["type"]) == "PodScheduled"
            && text(&condition["reason"]) == "SchedulingGated"
        {
            reason = "SchedulingGated".to_string();
        }
    }
    reason
}

/// Walks init container statuses, stopping at the first one still
/// initializing; returns whether the pod is still initializing.
fn walk_init_containers(
    status: &Value,
    init_containers: &[Value],
    restartable: &BTreeSet<&str>,
    summary: &mut Summary,
    sidecars: &mut Summary,
) -> bool {
    let statuses = status["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (index, container) in statuses.iter().enumerate() {
        summary.note_restarts(container);
        let is_restartable = restartable.contains(text(&container["name"]));
        if is_restartable {
            sidecars.note_restarts(container);
        }
        let terminated = &container["state"]["terminated"];
        let waiting_reason = text(&container["state"]["waiting"]["reason"]);
        if terminated.is_object() && count(&terminated["exitCode"]) == 0 {
            continue;
        }
        if is_restartable && container["started"].as_bool() == Some(true) {
            if container["ready"].as_bool() == Some(true) {
                summary.ready += 1;
            }
            continue;
        }
        summary.reason = if terminated.is_object() {
            match text(&terminated["reason"]) {
                "" if count(&terminated["signal"]) != 0 => {
                    format!("Init:Signal:{}", count(&terminated["signal"]))
                }
                "" => format!("Init:ExitCode:{}", count(&terminated["exitCode"])),
                reason => format!("Init:{reason}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{index}/{}", init_containers.len())
        };
        return true;
    }
    false
}

/// Walks container statuses from last to first, as `printPod` does, so the
/// first container's state decides the reason.
fn walk_containers(status: &Value, summary: &mut Summary) {
    let mut has_running = false;
    let statuses = status["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for container in statuses.iter().rev() {
        summary.note_restarts(container);
        let state = &container["state"];
        let waiting_reason = text(&state["waiting"]["reason"]);
        let terminated = &state["terminated"];
        if !waiting_reason.is_empty() {
            summary.reason = waiting_reason.to_string();
        } else if terminated.is_object() && !text(&terminated["reason"]).is_empty() {
            summary.reason = text(&terminated["reason"]).to_string();
        } else if terminated.is_object() {
            summary.reason = if count(&terminated["signal"]) != 0 {
                format!("Signal:{}", count(&terminated["signal"]))
            } else {
                format!("ExitCode:{}", count(&terminated["exitCode"]))
            };
        } else if container["ready"].as_bool() == Some(true) && state["running"].is_object() {
            has_running = true;
            summary.ready += 1;
        }
    }
    if summary.reason == "Completed" && has_running {
        summary.reason = if condition_is_true(status, "Ready") {
            "Running".to_string()
        } else {
            "NotReady".to_string()
        };
    }
}

fn condition_is_true(status: &Value, condition_type: &str) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|condition| {
            text(&condition["type"]) == condition_type && text(&condition["status"]) == "True"
        })
}

fn pod_ip(status: &Value) -> &str {
    match status["podIPs"].as_array().and_then(|ips| ips.first()) {
        Some(first) => text(&first["ip"]),
        None => text(&status["podIP"]),
    }
}

fn or_none(value: &str) -> &str {
    if value.is_empty() { "<none>" } else { value }
}

fn readiness_gates(spec: &Value, status: &Value) -> String {
    let Some(gates) = spec["readinessGates"]
        .as_array()
        .filter(|gates| !gates.is_empty())
    else {
        return "<none>".to_string();
    };
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let passing = gates
        .iter()
        .filter(|gate| {
            let wanted = text(&gate["conditionType"]);
            conditions
                .iter()
                .find(|condition| text(&condition["type"]) == wanted)
                .is_some_and(|condition| text(&condition["status"]) == "True")
        })
        .count();
    format!("{passing}/{}", gates.len())
}

pub(super) fn conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(&pod["status"]["phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}
