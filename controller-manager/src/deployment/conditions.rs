//! Deployment conditions and their reasons, as kube-controller-manager
//! sets them.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition};

use crate::time;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const MINIMUM_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// Builds a condition stamped now.
pub fn new(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = time::now();
    DeploymentCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// Returns the condition of `type_`.
pub fn get<'a>(deployment: &'a Deployment, type_: &str) -> Option<&'a DeploymentCondition> {
    find(deployment.status.as_ref()?.conditions.as_deref()?, type_)
}

pub fn find<'a>(
    conditions: &'a [DeploymentCondition],
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    conditions.iter().find(|condition| condition.type_ == type_)
}

/// Sets a condition in a list. An unchanged status and reason keeps the
/// current one; an unchanged status keeps the transition time.
pub fn set_in(conditions: &mut Vec<DeploymentCondition>, mut condition: DeploymentCondition) {
    if let Some(current) = find(conditions, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    conditions.retain(|existing| existing.type_ != condition.type_);
    conditions.push(condition);
}

/// Sets a condition on the Deployment's status.
pub fn set(deployment: &mut Deployment, condition: DeploymentCondition) {
    let status = deployment.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    set_in(conditions, condition);
}

/// Removes the condition of `type_` from a list.
pub fn remove_in(conditions: &mut Vec<DeploymentCondition>, type_: &str) {
    conditions.retain(|condition| condition.type_ != type_);
}

/// Returns whether progress is tracked: progressDeadlineSeconds is set and
/// not the maximum int32, which disables it.
pub fn has_progress_deadline(deployment: &Deployment) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.progress_deadline_seconds)
        .is_some_and(|seconds| seconds != i32::MAX)
}
