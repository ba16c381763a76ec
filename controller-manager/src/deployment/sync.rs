//! One sync of a Deployment: claim ReplicaSets, then pause handling,
//! proportional scaling or one step of the rollout strategy.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::Context;
use super::conditions::{self, PROGRESSING};
use super::fenceposts;
use super::rollout::Rollout;
use crate::error::Error;
use crate::events::EventType;
use crate::owner::{self, Claim};
use crate::selector;

/// Brings one Deployment one step closer to its desired state.
pub async fn reconcile(
    deployment: Arc<Deployment>,
    context: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = deployment.namespace().unwrap_or_default();
    let spec_selector = deployment.spec.as_ref().map(|spec| &spec.selector);
    let mut rollout = Rollout {
        context: &context,
        deployment: deployment.as_ref().clone(),
        replicasets: Vec::new(),
        replicaset_api: Api::namespaced(context.client.clone(), &namespace),
        deployment_api: Api::namespaced(context.client.clone(), &namespace),
    };
    if spec_selector.is_none_or(selector::is_empty) {
        return select_all(&mut rollout).await;
    }
    rollout.replicasets = claim_replicasets(&deployment, &context, &rollout.replicaset_api).await?;

    if owner::is_deleting(deployment.as_ref()) {
        rollout.sync_status().await?;
        return Ok(Action::await_change());
    }
    check_paused_conditions(&mut rollout).await?;
    if rollout.paused() || rollout.is_scaling_event().await? {
        rollout.sync_scale().await?;
        return Ok(Action::await_change());
    }
    let recheck = match fenceposts::strategy_type(&rollout.deployment) {
        "Recreate" => rollout.rollout_recreate().await?,
        _ => rollout.rollout_rolling().await?,
    };
    Ok(match recheck {
        Some(after) => Action::requeue(after.max(Duration::from_secs(1))),
        None => Action::await_change(),
    })
}

/// Handles a Deployment whose empty selector would select every pod: it is
/// left alone apart from a warning and its observedGeneration.
async fn select_all(rollout: &mut Rollout<'_>) -> Result<Action, Error> {
    rollout.context.recorder.record(
        &rollout.deployment,
        EventType::Warning,
        "SelectingAll",
        "This deployment is selecting all pods. A non-empty selector is required.".to_string(),
    );
    let generation = rollout.deployment.metadata.generation;
    let status = rollout
        .deployment
        .status
        .get_or_insert_with(Default::default);
    if status.observed_generation < generation {
        status.observed_generation = generation;
        rollout.write_status().await?;
    }
    Ok(Action::await_change())
}

/// Records on the Progressing condition that the Deployment was paused or
/// resumed, unless it already timed out.
async fn check_paused_conditions(rollout: &mut Rollout<'_>) -> Result<(), Error> {
    if !conditions::has_progress_deadline(&rollout.deployment) {
        return Ok(());
    }
    let current = conditions::get(&rollout.deployment, PROGRESSING);
    let reason = current.and_then(|condition| condition.reason.as_deref());
    if reason == Some(conditions::TIMED_OUT) {
        return Ok(());
    }
    let paused_recorded = reason == Some(conditions::PAUSED);
    let condition = match (rollout.paused(), paused_recorded) {
        (true, false) => conditions::new(
            PROGRESSING,
            "Unknown",
            conditions::PAUSED,
            "Deployment is paused".to_string(),
        ),
        (false, true) => conditions::new(
            PROGRESSING,
            "Unknown",
            conditions::RESUMED,
            "Deployment is resumed".to_string(),
        ),
        _ => return Ok(()),
    };
    conditions::set(&mut rollout.deployment, condition);
    rollout.write_status().await
}

/// Returns the ReplicaSets the Deployment owns after adopting matching
/// orphans and releasing owned ones that no longer match.
async fn claim_replicasets(
    deployment: &Deployment,
    context: &Context,
    api: &Api<ReplicaSet>,
) -> Result<Vec<ReplicaSet>, Error> {
    let namespace = deployment.namespace();
    let spec_selector = deployment.spec.as_ref().map(|spec| &spec.selector);
    let uid = deployment.uid().unwrap_or_default();
    let mut owned = Vec::new();
    let mut may_adopt = None;
    for replicaset in context.replicasets.state() {
        if replicaset.namespace() != namespace {
            continue;
        }
        let matches = selector::matches(spec_selector, replicaset.metadata.labels.as_ref())
            .map_err(|error| Error::InvalidSelector {
                object: format!("deployment {}", deployment.name_any()),
                message: error.to_string(),
            })?;
        match owner::decide(deployment, replicaset.as_ref(), matches) {
            Claim::Owned => owned.push(replicaset.as_ref().clone()),
            Claim::Adopt => {
                if may_adopt.is_none() {
                    may_adopt = Some(still_exists(deployment, context).await?);
                }
                if may_adopt == Some(true)
                    && owner::adopt(api, &replicaset, &owner::new_controller_ref(deployment))
                        .await?
                {
                    tracing::info!(deployment = %deployment.name_any(), replicaset = %replicaset.name_any(), "adopted replica set");
                    owned.push(replicaset.as_ref().clone());
                }
            }
            Claim::Release => {
                owner::release(api, &replicaset, &uid).await?;
            }
            Claim::Ignore => {}
        }
    }
    Ok(owned)
}

async fn still_exists(deployment: &Deployment, context: &Context) -> Result<bool, Error> {
    let api: Api<Deployment> = Api::namespaced(
        context.client.clone(),
        deployment.namespace().as_deref().unwrap_or_default(),
    );
    let fresh = api.get_opt(&deployment.name_any()).await?;
    Ok(fresh.is_some_and(|fresh| fresh.uid() == deployment.uid() && !owner::is_deleting(&fresh)))
}
