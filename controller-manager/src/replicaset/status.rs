//! The status a ReplicaSet reports about its pods.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;

use crate::{podutil, time};

/// Type of the condition set when pods cannot be created or deleted.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Failure of the last sync to create or delete pods.
pub struct SyncFailure {
    pub reason: &'static str,
    pub message: String,
}

/// Computes the status from the ReplicaSet's active owned pods.
pub fn calculate(
    replicaset: &ReplicaSet,
    pods: &[&Pod],
    failure: Option<&SyncFailure>,
) -> ReplicaSetStatus {
    let spec = replicaset.spec.as_ref();
    let min_ready_seconds = spec.and_then(|spec| spec.min_ready_seconds).unwrap_or(0);
    let template_labels = spec
        .and_then(|spec| spec.template.as_ref())
        .and_then(|template| template.metadata.as_ref())
        .and_then(|metadata| metadata.labels.clone())
        .unwrap_or_default();
    let fully_labeled = pods
        .iter()
        .filter(|pod| has_labels(pod, &template_labels))
        .count();
    let ready = pods.iter().filter(|pod| podutil::is_ready(pod)).count();
    let available = pods
        .iter()
        .filter(|pod| podutil::is_available(pod, min_ready_seconds))
        .count();

    let mut status = replicaset.status.clone().unwrap_or_default();
    let mut conditions = status.conditions.take().unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match failure {
        Some(failure) if !has_failure => conditions.push(ReplicaSetCondition {
            type_: REPLICA_FAILURE.to_string(),
            status: "True".to_string(),
            reason: Some(failure.reason.to_string()),
            message: Some(failure.message.clone()),
            last_transition_time: Some(time::now()),
        }),
        None => conditions.retain(|c| c.type_ != REPLICA_FAILURE),
        Some(_) => {}
    }
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    status.replicas = count(pods.len());
    status.fully_labeled_replicas = Some(count(fully_labeled));
    status.ready_replicas = Some(count(ready));
    status.available_replicas = Some(count(available));
    status.observed_generation = replicaset.metadata.generation;
    status
}

/// Returns when the next ready-but-not-yet-available pod becomes available.
pub fn next_availability(pods: &[&Pod], min_ready_seconds: i32) -> Option<Duration> {
    pods.iter()
        .filter_map(|pod| podutil::until_available(pod, min_ready_seconds))
        .filter(|remaining| !remaining.is_zero())
        .min()
}

fn has_labels(pod: &Pod, wanted: &BTreeMap<String, String>) -> bool {
    let labels = pod.metadata.labels.as_ref();
    wanted
        .iter()
        .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value))
}

fn count(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
