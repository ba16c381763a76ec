//! Counting, sorting and classifying a Deployment's ReplicaSets.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::annotations;
use super::hash;

/// Returns `spec.replicas` of a ReplicaSet.
pub fn spec_replicas(replicaset: &ReplicaSet) -> i32 {
    replicaset
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(0)
}

fn status_of(
    replicaset: &ReplicaSet,
    field: fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> i32,
) -> i32 {
    replicaset.status.as_ref().map(field).unwrap_or(0)
}

/// Sum of `spec.replicas`.
pub fn total_spec<'a>(replicasets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    replicasets.into_iter().map(spec_replicas).sum()
}

/// Sum of `status.replicas`.
pub fn total_actual<'a>(replicasets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    replicasets
        .into_iter()
        .map(|rs| status_of(rs, |status| status.replicas))
        .sum()
}

/// Sum of `status.readyReplicas`.
pub fn total_ready<'a>(replicasets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    replicasets
        .into_iter()
        .map(|rs| status_of(rs, |status| status.ready_replicas.unwrap_or(0)))
        .sum()
}

/// Sum of `status.availableReplicas`.
pub fn total_available<'a>(replicasets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    replicasets.into_iter().map(available).sum()
}

/// `status.availableReplicas` of one ReplicaSet.
pub fn available(replicaset: &ReplicaSet) -> i32 {
    status_of(replicaset, |status| status.available_replicas.unwrap_or(0))
}

/// Orders by creation time, then by name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Orders by revision, then by creation time.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    annotations::revision(a)
        .cmp(&annotations::revision(b))
        .then_with(|| by_creation(a, b))
}

/// Larger first, then newer first: the order of proportional scale-ups.
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b)
        .cmp(&spec_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// Larger first, then older first: the order of proportional scale-downs.
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b)
        .cmp(&spec_replicas(a))
        .then_with(|| by_creation(a, b))
}

/// Returns the index of the oldest ReplicaSet whose template equals the
/// Deployment's, ignoring the pod-template-hash label.
pub fn find_new(deployment: &Deployment, replicasets: &[ReplicaSet]) -> Option<usize> {
    let template = deployment.spec.as_ref().map(|spec| &spec.template)?;
    let mut candidates: Vec<usize> = (0..replicasets.len())
        .filter(|index| {
            replicasets[*index]
                .spec
                .as_ref()
                .and_then(|spec| spec.template.as_ref())
                .is_some_and(|candidate| hash::equal_ignore_hash(candidate, template))
        })
        .collect();
    candidates.sort_by(|a, b| by_creation(&replicasets[*a], &replicasets[*b]));
    candidates.first().copied()
}
