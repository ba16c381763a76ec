//! Pod state helpers shared by the ReplicaSet and Deployment controllers.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use kube::ResourceExt;

use crate::time;

/// Returns `namespace/name`, the key of a pod in expectations.
pub fn key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

/// Returns the pod's phase, `Pending` when unset.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or("Pending")
}

/// Returns whether the pod still counts as a replica: not terminated and
/// not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    let phase = phase(pod);
    phase != "Succeeded" && phase != "Failed" && pod.metadata.deletion_timestamp.is_none()
}

/// Returns the pod's Ready condition.
pub fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")
}

/// Returns whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|condition| condition.status == "True")
}

/// Returns how long until a ready pod becomes available under
/// `min_ready_seconds`: `Some(ZERO)` when it already is, `None` when it is
/// not ready.
pub fn until_available(pod: &Pod, min_ready_seconds: i32) -> Option<Duration> {
    let condition = ready_condition(pod).filter(|condition| condition.status == "True")?;
    if min_ready_seconds <= 0 {
        return Some(Duration::ZERO);
    }
    let minimum = Duration::from_secs(min_ready_seconds.unsigned_abs().into());
    let Some(since) = condition.last_transition_time.as_ref() else {
        return Some(minimum);
    };
    Some(time::until(&time::add(since, minimum)))
}

/// Returns whether the pod has been ready for at least `min_ready_seconds`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32) -> bool {
    until_available(pod, min_ready_seconds) == Some(Duration::ZERO)
}

/// Returns the node the pod is bound to, if any.
pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .filter(|name| !name.is_empty())
}
