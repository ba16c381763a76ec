//! One sync of a ReplicaSet: claim pods, create or delete pods towards
//! `spec.replicas`, then report the status.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::status::{self, SyncFailure};
use super::{Context, ranking, template};
use crate::error::{Error, is_api_status};
use crate::events::EventType;
use crate::owner::{self, Claim};
use crate::{podutil, selector};

/// Pods created in the first batch of a slow-start scale-up; each later
/// batch doubles, and a failing batch stops the sync.
const SLOW_START_INITIAL_BATCH: usize = 1;

/// Brings one ReplicaSet to its desired pod count and updates its status.
pub async fn reconcile(
    replicaset: Arc<ReplicaSet>,
    context: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = replicaset.namespace().unwrap_or_default();
    let key = format!("{namespace}/{}", replicaset.name_any());
    let pending = context.expectations.pending(&key);

    let pods = claim_pods(&replicaset, &context).await?;
    let pod_refs: Vec<&Pod> = pods.iter().collect();

    let mut failure = None;
    if pending.is_none() && !owner::is_deleting(replicaset.as_ref()) {
        failure = manage_replicas(&replicaset, &key, &pod_refs, &context).await;
    }
    let new_status = status::calculate(&replicaset, &pod_refs, failure.as_ref());
    update_status(&replicaset, new_status, &context).await?;

    if let Some(failure) = failure {
        return Err(Error::Sync {
            object: key,
            message: failure.message,
        });
    }
    let min_ready_seconds = replicaset
        .spec
        .as_ref()
        .and_then(|spec| spec.min_ready_seconds)
        .unwrap_or(0);
    let requeue = [
        pending,
        status::next_availability(&pod_refs, min_ready_seconds),
    ]
    .into_iter()
    .flatten()
    .min();
    Ok(match requeue {
        Some(after) => Action::requeue(after + Duration::from_millis(100)),
        None => Action::await_change(),
    })
}

/// Returns the active pods the ReplicaSet owns after adopting matching
/// orphans and releasing owned pods that no longer match.
async fn claim_pods(replicaset: &ReplicaSet, context: &Context) -> Result<Vec<Pod>, Error> {
    let namespace = replicaset.namespace();
    let selector = replicaset.spec.as_ref().map(|spec| &spec.selector);
    let api: Api<Pod> = Api::namespaced(
        context.client.clone(),
        namespace.as_deref().unwrap_or_default(),
    );
    let uid = replicaset.uid().unwrap_or_default();
    let mut owned = Vec::new();
    let mut may_adopt = None;
    for pod in context.pods.state() {
        if pod.namespace() != namespace || !podutil::is_active(&pod) {
            continue;
        }
        let matches =
            selector::matches(selector, pod.metadata.labels.as_ref()).map_err(|error| {
                Error::InvalidSelector {
                    object: format!("replicaset {}", replicaset.name_any()),
                    message: error.to_string(),
                }
            })?;
        match owner::decide(replicaset, pod.as_ref(), matches) {
            Claim::Owned => owned.push(pod.as_ref().clone()),
            Claim::Adopt => {
                if may_adopt.is_none() {
                    may_adopt = Some(still_exists(replicaset, context).await?);
                }
                if may_adopt == Some(true)
                    && owner::adopt(&api, &pod, &owner::new_controller_ref(replicaset)).await?
                {
                    tracing::info!(replicaset = %replicaset.name_any(), pod = %pod.name_any(), "adopted pod");
                    owned.push(pod.as_ref().clone());
                }
            }
            Claim::Release => {
                owner::release(&api, &pod, &uid).await?;
                tracing::info!(replicaset = %replicaset.name_any(), pod = %pod.name_any(), "released pod");
            }
            Claim::Ignore => {}
        }
    }
    Ok(owned)
}

/// Reads the ReplicaSet from the apiserver to confirm it exists, with the
/// same UID and no deletion pending, before adopting: the cache may lag.
async fn still_exists(replicaset: &ReplicaSet, context: &Context) -> Result<bool, Error> {
    let api: Api<ReplicaSet> = Api::namespaced(
        context.client.clone(),
        replicaset.namespace().as_deref().unwrap_or_default(),
    );
    let fresh = api.get_opt(&replicaset.name_any()).await?;
    Ok(fresh.is_some_and(|fresh| fresh.uid() == replicaset.uid() && !owner::is_deleting(&fresh)))
}

/// Creates or deletes pods; returns what failed, if anything.
async fn manage_replicas(
    replicaset: &ReplicaSet,
    key: &str,
    pods: &[&Pod],
    context: &Context,
) -> Option<SyncFailure> {
    let desired = replicaset
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
        .max(0);
    let desired = usize::try_from(desired).unwrap_or(0);
    if pods.len() < desired {
        let count = (desired - pods.len()).min(context.config.burst_replicas);
        tracing::debug!(replicaset = %key, need = desired, creating = count, "too few replicas");
        create_pods(replicaset, key, count, context).await
    } else if pods.len() > desired {
        let count = (pods.len() - desired).min(context.config.burst_replicas);
        tracing::debug!(replicaset = %key, need = desired, deleting = count, "too many replicas");
        delete_pods(replicaset, key, pods, count, context).await
    } else {
        None
    }
}

async fn create_pods(
    replicaset: &ReplicaSet,
    key: &str,
    count: usize,
    context: &Context,
) -> Option<SyncFailure> {
    context.expectations.expect_creations(key, count);
    let namespace = replicaset.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let pod = template::pod_from_template(replicaset);
    let mut remaining = count;
    let mut batch = SLOW_START_INITIAL_BATCH.min(remaining);
    let mut failure = None;
    while batch > 0 {
        let params = PostParams::default();
        let results = join_all((0..batch).map(|_| api.create(&params, &pod))).await;
        remaining -= batch;
        for result in results {
            match result {
                Ok(created) => {
                    let message = format!("Created pod: {}", created.name_any());
                    context.recorder.record(
                        replicaset,
                        EventType::Normal,
                        "SuccessfulCreate",
                        message,
                    );
                }
                Err(error) => {
                    context.expectations.creation_observed(key);
                    if failure.is_none() {
                        failure = Some(creation_failure(replicaset, &error, context));
                    }
                }
            }
        }
        if failure.is_some() {
            break;
        }
        batch = (batch * 2).min(remaining);
    }
    // Pods never attempted will not show up in the cache.
    for _ in 0..remaining {
        context.expectations.creation_observed(key);
    }
    failure.flatten()
}

/// Records a failed creation. A namespace being deleted is not a failure:
/// every creation in it is rejected until it is gone.
fn creation_failure(
    replicaset: &ReplicaSet,
    error: &kube::Error,
    context: &Context,
) -> Option<SyncFailure> {
    if let kube::Error::Api(status) = error
        && status.code == 403
        && status.message.contains("terminat")
    {
        return None;
    }
    let message = match error {
        kube::Error::Api(status) => format!("Error creating: {}", status.message),
        other => format!("Error creating: {other}"),
    };
    context.recorder.record(
        replicaset,
        EventType::Warning,
        "FailedCreate",
        message.clone(),
    );
    tracing::warn!(replicaset = %replicaset.name_any(), error = %error, "failed to create pod");
    Some(SyncFailure {
        reason: "FailedCreate",
        message,
    })
}

async fn delete_pods(
    replicaset: &ReplicaSet,
    key: &str,
    pods: &[&Pod],
    count: usize,
    context: &Context,
) -> Option<SyncFailure> {
    let related = related_pods(replicaset, context);
    let related: Vec<&Pod> = related.iter().map(Arc::as_ref).collect();
    let victims = ranking::pods_to_delete(pods, &related, count);
    context
        .expectations
        .expect_deletions(key, victims.iter().map(|pod| podutil::key(pod)));
    let namespace = replicaset.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let results = join_all(victims.iter().map(|pod| {
        let api = api.clone();
        let name = pod.name_any();
        async move { (api.delete(&name, &DeleteParams::default()).await, name) }
    }))
    .await;
    let mut failure = None;
    for ((result, name), pod) in results.into_iter().zip(&victims) {
        match result {
            Ok(_) => {
                let message = format!("Deleted pod: {name}");
                context
                    .recorder
                    .record(replicaset, EventType::Normal, "SuccessfulDelete", message);
            }
            Err(error) => {
                context
                    .expectations
                    .deletion_observed(key, &podutil::key(pod));
                if is_api_status(&error, 404) {
                    continue;
                }
                let message = format!("Error deleting: {error}");
                context.recorder.record(
                    replicaset,
                    EventType::Warning,
                    "FailedDelete",
                    message.clone(),
                );
                tracing::warn!(replicaset = %key, pod = %name, error = %error, "failed to delete pod");
                failure.get_or_insert(SyncFailure {
                    reason: "FailedDelete",
                    message,
                });
            }
        }
    }
    failure
}

/// Returns the pods of every ReplicaSet with the same controller as
/// `replicaset` (its Deployment's other ReplicaSets), or its own pods when
/// it has no controller.
fn related_pods(replicaset: &ReplicaSet, context: &Context) -> Vec<Arc<Pod>> {
    let namespace = replicaset.namespace();
    let siblings: Vec<String> = match owner::controller_of(replicaset) {
        Some(parent) => context
            .replicasets
            .state()
            .into_iter()
            .filter(|other| {
                other.namespace() == namespace
                    && owner::is_controlled_by(other.as_ref(), &parent.uid)
            })
            .filter_map(|other| other.uid())
            .collect(),
        None => replicaset.uid().into_iter().collect(),
    };
    context
        .pods
        .state()
        .into_iter()
        .filter(|pod| pod.namespace() == namespace)
        .filter(|pod| {
            owner::controller_of(pod.as_ref())
                .is_some_and(|reference| siblings.contains(&reference.uid))
        })
        .collect()
}

/// Writes the status when it changed, retrying once on a conflict with a
/// fresh copy, like kube-controller-manager.
async fn update_status(
    replicaset: &ReplicaSet,
    status: ReplicaSetStatus,
    context: &Context,
) -> Result<(), Error> {
    if replicaset
        .status
        .as_ref()
        .is_some_and(|current| same_status(current, &status))
    {
        return Ok(());
    }
    let api: Api<ReplicaSet> = Api::namespaced(
        context.client.clone(),
        replicaset.namespace().as_deref().unwrap_or_default(),
    );
    let mut updated = replicaset.clone();
    updated.status = Some(status.clone());
    match api
        .replace_status(&replicaset.name_any(), &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if is_api_status(&error, 409) => {
            let Some(mut fresh) = api.get_opt(&replicaset.name_any()).await? else {
                return Ok(());
            };
            fresh.status = Some(status);
            api.replace_status(&replicaset.name_any(), &PostParams::default(), &fresh)
                .await?;
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

/// Compares statuses treating missing counters as zero, as the API omits
/// zero values.
fn same_status(a: &ReplicaSetStatus, b: &ReplicaSetStatus) -> bool {
    let zero = |value: Option<i32>| value.unwrap_or(0);
    a.replicas == b.replicas
        && zero(a.fully_labeled_replicas) == zero(b.fully_labeled_replicas)
        && zero(a.ready_replicas) == zero(b.ready_replicas)
        && zero(a.available_replicas) == zero(b.available_replicas)
        && a.observed_generation.unwrap_or(0) == b.observed_generation.unwrap_or(0)
        && a.conditions.as_deref().unwrap_or_default()
            == b.conditions.as_deref().unwrap_or_default()
}
