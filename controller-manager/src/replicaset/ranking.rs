//! The order in which a ReplicaSet deletes surplus pods, following
//! kube-controller-manager's `ActivePodsWithRanks`: unscheduled before
//! scheduled, Pending before Unknown before Running, not ready before ready,
//! lower `controller.kubernetes.io/pod-deletion-cost` first, pods doubled up
//! on a node first, shorter ready time first, more restarts first, and
//! finally newest first.

use std::cmp::Ordering;
use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::podutil;

const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Returns the `count` pods of `pods` to delete first. `related` are the
/// active pods of the same owner family (the ReplicaSet's and its siblings'),
/// used to prefer nodes that run several of them.
pub fn pods_to_delete<'a>(pods: &[&'a Pod], related: &[&Pod], count: usize) -> Vec<&'a Pod> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|pod| podutil::is_active(pod)) {
        *per_node
            .entry(podutil::node_name(pod).unwrap_or(""))
            .or_default() += 1;
    }
    let mut ranked: Vec<(&Pod, usize)> = pods
        .iter()
        .map(|pod| {
            let rank = per_node
                .get(podutil::node_name(pod).unwrap_or(""))
                .copied()
                .unwrap_or(0);
            (*pod, rank)
        })
        .collect();
    ranked.sort_by(|(a, rank_a), (b, rank_b)| compare(a, *rank_a, b, *rank_b));
    ranked.into_iter().take(count).map(|(pod, _)| pod).collect()
}

/// Orders `a` before `b` when `a` should be deleted first.
fn compare(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize) -> Ordering {
    let assigned_a = podutil::node_name(a).is_some();
    let assigned_b = podutil::node_name(b).is_some();
    assigned_a
        .cmp(&assigned_b)
        .then_with(|| phase_ordinal(a).cmp(&phase_ordinal(b)))
        .then_with(|| podutil::is_ready(a).cmp(&podutil::is_ready(b)))
        .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
        .then_with(|| rank_b.cmp(&rank_a))
        .then_with(|| compare_ready_time(a, b))
        .then_with(|| max_restarts(b).cmp(&max_restarts(a)))
        .then_with(|| newer_first(creation_time(a), creation_time(b)))
        .then_with(|| a.metadata.uid.cmp(&b.metadata.uid))
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match podutil::phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(DELETION_COST_ANNOTATION))
        .and_then(|cost| cost.parse().ok())
        .unwrap_or(0)
}

/// Between two ready pods, the one ready for less time goes first.
fn compare_ready_time(a: &Pod, b: &Pod) -> Ordering {
    if !(podutil::is_ready(a) && podutil::is_ready(b)) {
        return Ordering::Equal;
    }
    let ready_since = |pod: &Pod| {
        podutil::ready_condition(pod)
            .and_then(|condition| condition.last_transition_time.as_ref())
            .map(|time| time.0)
    };
    newer_first(ready_since(a), ready_since(b))
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|status| status.container_statuses.as_ref())
        .and_then(|statuses| statuses.iter().map(|status| status.restart_count).max())
        .unwrap_or(0)
}

fn creation_time(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|time| time.0)
}

/// Missing times first, then later before earlier.
fn newer_first(a: Option<Timestamp>, b: Option<Timestamp>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: bool, created: i64) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.to_string());
        pod.metadata.uid = Some(name.to_string());
        pod.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
        pod.spec = Some(PodSpec {
            node_name: node.map(str::to_string),
            ..Default::default()
        });
        pod.status = Some(PodStatus {
            phase: Some(phase.to_string()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".to_string(),
                status: if ready { "True" } else { "False" }.to_string(),
                last_transition_time: Some(Time(Timestamp::from_second(created + 10).unwrap())),
                ..Default::default()
            }]),
            ..Default::default()
        });
        pod
    }

    fn names(pods: Vec<&Pod>) -> Vec<String> {
        pods.iter()
            .map(|pod| pod.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn kube_scale_down_order() {
        let running_old = pod("running-old", Some("n1"), "Running", true, 100);
        let running_new = pod("running-new", Some("n2"), "Running", true, 200);
        let running_not_ready = pod("not-ready", Some("n3"), "Running", false, 50);
        let pending = pod("pending", Some("n4"), "Pending", false, 10);
        let unscheduled = pod("unscheduled", None, "Pending", false, 5);
        let all = [
            &running_old,
            &running_new,
            &running_not_ready,
            &pending,
            &unscheduled,
        ];
        let order = names(pods_to_delete(&all, &all, 5));
        assert_eq!(
            order,
            [
                "unscheduled",
                "pending",
                "not-ready",
                "running-new",
                "running-old"
            ]
        );
    }

    #[test]
    fn doubled_up_nodes_go_first() {
        let alone = pod("alone", Some("n1"), "Running", true, 300);
        let shared_a = pod("shared-a", Some("n2"), "Running", true, 100);
        let shared_b = pod("shared-b", Some("n2"), "Running", true, 100);
        let all = [&alone, &shared_a, &shared_b];
        let order = names(pods_to_delete(&all, &all, 1));
        assert_eq!(order, ["shared-a"]);
    }

    #[test]
    fn deletion_cost_wins_over_age() {
        let mut cheap = pod("cheap", Some("n1"), "Running", true, 100);
        cheap.metadata.annotations = Some(
            [(DELETION_COST_ANNOTATION.to_string(), "-5".to_string())]
                .into_iter()
                .collect(),
        );
        let newer = pod("newer", Some("n2"), "Running", true, 500);
        let all = [&newer, &cheap];
        assert_eq!(names(pods_to_delete(&all, &all, 1)), ["cheap"]);
    }
}
