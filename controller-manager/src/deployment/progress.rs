//! The Deployment's status: replica counts from its ReplicaSets, the
//! Available condition, and the Progressing condition that tracks rollouts
//! against progressDeadlineSeconds.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use kube::ResourceExt;

use super::conditions::{self, AVAILABLE, PROGRESSING, REPLICA_FAILURE};
use super::replicasets;
use super::rollout::Rollout;
use crate::error::Error;
use crate::time;

impl Rollout<'_> {
    /// Computes the status from the ReplicaSets, without Progressing logic.
    fn calculate_status(
        &self,
        all: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<DeploymentStatus, Error> {
        let desired = self.desired();
        let available = replicasets::total_available(all);
        let total = replicasets::total_spec(all);
        let current = self.deployment.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: self.deployment.metadata.generation,
            replicas: Some(replicasets::total_actual(all)),
            updated_replicas: Some(replicasets::total_actual(new)),
            ready_replicas: Some(replicasets::total_ready(all)),
            available_replicas: Some(available),
            unavailable_replicas: Some((total - available).max(0)),
            collision_count: current.collision_count,
            conditions: current.conditions.clone(),
            terminating_replicas: current.terminating_replicas,
        };
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        if available >= desired - self.max_unavailable()? {
            let condition = conditions::new(
                AVAILABLE,
                "True",
                conditions::MINIMUM_AVAILABLE,
                "Deployment has minimum availability.".to_string(),
            );
            conditions::set_in(conditions, condition);
        } else {
            let condition = conditions::new(
                AVAILABLE,
                "False",
                conditions::MINIMUM_UNAVAILABLE,
                "Deployment does not have minimum availability.".to_string(),
            );
            conditions::set_in(conditions, condition);
        }
        Ok(status)
    }

    /// Writes the status computed from the ReplicaSets when it changed.
    pub async fn sync_status(&mut self) -> Result<(), Error> {
        let all = self.all_replicasets();
        let new = self.new_replicaset();
        let status = self.calculate_status(&all, new.as_ref())?;
        self.write_if_changed(status).await
    }

    /// Writes the status including the Progressing condition; returns when
    /// the deadline should be checked again.
    pub async fn sync_rollout_status(&mut self) -> Result<Option<Duration>, Error> {
        let all = self.all_replicasets();
        let new = self.new_replicaset();
        let mut status = self.calculate_status(&all, new.as_ref())?;
        let deployment = &self.deployment;
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        if !conditions::has_progress_deadline(deployment) {
            conditions::remove_in(conditions, PROGRESSING);
        }
        let current = conditions::get(deployment, PROGRESSING).cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current.as_ref().is_some_and(|condition| {
                condition.reason.as_deref() == Some(conditions::NEW_RS_AVAILABLE)
            });
        let subject = match &new {
            Some(new) => format!("ReplicaSet \"{}\"", new.name_any()),
            None => format!("Deployment \"{}\"", deployment.name_any()),
        };
        if conditions::has_progress_deadline(deployment) && !complete_before {
            if is_complete(deployment, &status) {
                let message = format!("{subject} has successfully progressed.");
                let condition =
                    conditions::new(PROGRESSING, "True", conditions::NEW_RS_AVAILABLE, message);
                conditions::set_in(status.conditions.get_or_insert_with(Vec::new), condition);
            } else if is_progressing(deployment, &status) {
                let message = format!("{subject} is progressing.");
                let mut condition =
                    conditions::new(PROGRESSING, "True", conditions::RS_UPDATED, message);
                let conditions = status.conditions.get_or_insert_with(Vec::new);
                if let Some(current) = &current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    conditions::remove_in(conditions, PROGRESSING);
                }
                conditions::set_in(conditions, condition);
            } else if timed_out(deployment, &status) {
                let message = format!("{subject} has timed out progressing.");
                let condition =
                    conditions::new(PROGRESSING, "False", conditions::TIMED_OUT, message);
                conditions::set_in(status.conditions.get_or_insert_with(Vec::new), condition);
            }
        }
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        match replica_failure(&all, new.as_ref()) {
            Some(condition) => conditions::set_in(conditions, condition),
            None => conditions::remove_in(conditions, REPLICA_FAILURE),
        }
        let recheck = deadline_recheck(deployment, &status);
        self.write_if_changed(status).await?;
        Ok(recheck)
    }

    async fn write_if_changed(&mut self, mut status: DeploymentStatus) -> Result<(), Error> {
        if status.conditions.as_ref().is_some_and(Vec::is_empty) {
            status.conditions = None;
        }
        let current = self.deployment.status.clone().unwrap_or_default();
        if same_status(&current, &status) {
            return Ok(());
        }
        self.deployment.status = Some(status);
        self.write_status().await
    }
}

/// Returns whether every desired replica is updated and available.
pub fn is_complete(deployment: &Deployment, status: &DeploymentStatus) -> bool {
    let desired = super::fenceposts::desired_replicas(deployment);
    status.updated_replicas.unwrap_or(0) == desired
        && status.replicas.unwrap_or(0) == desired
        && status.available_replicas.unwrap_or(0) == desired
        && status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0)
}

/// Returns whether the new status shows progress over the stored one.
fn is_progressing(deployment: &Deployment, new: &DeploymentStatus) -> bool {
    let old = deployment.status.clone().unwrap_or_default();
    let value = |field: Option<i32>| field.unwrap_or(0);
    let old_old_replicas = value(old.replicas) - value(old.updated_replicas);
    let new_old_replicas = value(new.replicas) - value(new.updated_replicas);
    value(new.updated_replicas) > value(old.updated_replicas)
        || new_old_replicas < old_old_replicas
        || value(new.ready_replicas) > value(old.ready_replicas)
        || value(new.available_replicas) > value(old.available_replicas)
}

/// Returns whether the rollout made no progress for progressDeadlineSeconds.
fn timed_out(deployment: &Deployment, status: &DeploymentStatus) -> bool {
    let Some(condition) = status
        .conditions
        .as_deref()
        .and_then(|conditions| conditions::find(conditions, PROGRESSING))
    else {
        return false;
    };
    match condition.reason.as_deref() {
        Some(conditions::NEW_RS_AVAILABLE) => return false,
        Some(conditions::TIMED_OUT) => return true,
        _ => {}
    }
    let Some(deadline) = progress_deadline(deployment, condition) else {
        return false;
    };
    time::until(&deadline).is_zero()
}

fn progress_deadline(
    deployment: &Deployment,
    condition: &k8s_openapi::api::apps::v1::DeploymentCondition,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time> {
    let seconds = deployment.spec.as_ref()?.progress_deadline_seconds?;
    let from = condition.last_update_time.as_ref()?;
    Some(time::add(
        from,
        Duration::from_secs(seconds.max(0).unsigned_abs().into()),
    ))
}

/// Returns when a rollout still in progress reaches its deadline, so the
/// controller syncs again then even if nothing else changes.
fn deadline_recheck(deployment: &Deployment, status: &DeploymentStatus) -> Option<Duration> {
    if !conditions::has_progress_deadline(deployment) || is_complete(deployment, status) {
        return None;
    }
    let condition = conditions::find(status.conditions.as_deref()?, PROGRESSING)?;
    if matches!(
        condition.reason.as_deref(),
        Some(conditions::NEW_RS_AVAILABLE) | Some(conditions::TIMED_OUT)
    ) {
        return None;
    }
    let deadline = progress_deadline(deployment, condition)?;
    Some(time::until(&deadline) + Duration::from_secs(1))
}

/// Returns the ReplicaFailure condition of the ReplicaSets, preferring the
/// new one's, as the Deployment's own.
fn replica_failure(
    all: &[ReplicaSet],
    new: Option<&ReplicaSet>,
) -> Option<k8s_openapi::api::apps::v1::DeploymentCondition> {
    let failure_of = |rs: &ReplicaSet| {
        rs.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|condition| condition.type_ == REPLICA_FAILURE)
            .cloned()
    };
    let condition = new
        .and_then(failure_of)
        .or_else(|| all.iter().find_map(failure_of))?;
    Some(k8s_openapi::api::apps::v1::DeploymentCondition {
        type_: condition.type_,
        status: condition.status,
        reason: condition.reason,
        message: condition.message,
        last_update_time: condition.last_transition_time.clone(),
        last_transition_time: condition.last_transition_time,
    })
}

/// Compares statuses treating missing counters as zero.
fn same_status(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    let value = |field: Option<i32>| field.unwrap_or(0);
    a.observed_generation.unwrap_or(0) == b.observed_generation.unwrap_or(0)
        && value(a.replicas) == value(b.replicas)
        && value(a.updated_replicas) == value(b.updated_replicas)
        && value(a.ready_replicas) == value(b.ready_replicas)
        && value(a.available_replicas) == value(b.available_replicas)
        && value(a.unavailable_replicas) == value(b.unavailable_replicas)
        && a.collision_count == b.collision_count
        && a.conditions.as_deref().unwrap_or_default()
            == b.conditions.as_deref().unwrap_or_default()
}
