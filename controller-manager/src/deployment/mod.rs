//! The Deployment controller: rolls pod templates out through ReplicaSets
//! named `<deployment>-<pod-template-hash>`.

mod annotations;
mod conditions;
mod fenceposts;
mod hash;
mod progress;
mod recreate;
mod replicasets;
mod rolling;
mod rollout;
mod scale;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::events::Recorder;
use crate::informer::{Change, Informer};
use crate::{owner, selector};

const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);

/// What every Deployment sync shares.
pub struct Context {
    client: Client,
    replicasets: Store<ReplicaSet>,
    pods: Store<Pod>,
    recorder: Recorder,
}

/// Runs the controller until `shutdown` is cancelled.
pub async fn run(
    client: Client,
    deployments: Informer<Deployment>,
    replicasets: Informer<ReplicaSet>,
    pods: Informer<Pod>,
    shutdown: CancellationToken,
) {
    let context = Arc::new(Context {
        client: client.clone(),
        replicasets: replicasets.store(),
        pods: pods.store(),
        recorder: Recorder::new(client, "deployment-controller"),
    });
    let deployment_store = deployments.store();
    let replicaset_store = replicasets.store();
    let for_replicasets = deployment_store.clone();
    // Pod deletions matter to Recreate rollouts, which wait for old pods.
    let deleted_pods = pods.subscribe_filtered(|change| matches!(change, Change::Deleted(_)));
    Controller::for_stream(deployments.subscribe(), deployments.store())
        .watches_stream(replicasets.subscribe(), move |rs: ReplicaSet| {
            deployments_for_replicaset(&for_replicasets, &rs)
        })
        .watches_stream(deleted_pods, move |pod: Pod| {
            deployment_for_pod(&replicaset_store, &pod)
        })
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(sync::reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(error = %error, "deployment sync failed");
            }
        })
        .await;
}

fn error_policy(deployment: Arc<Deployment>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(deployment = %deployment.name_any(), error = %error, "deployment sync failed, retrying");
    Action::requeue(RETRY_AFTER_ERROR)
}

/// Returns the Deployments a ReplicaSet change concerns: its controller,
/// or for an orphan every Deployment whose selector matches it.
fn deployments_for_replicaset(
    store: &Store<Deployment>,
    replicaset: &ReplicaSet,
) -> Vec<ObjectRef<Deployment>> {
    let namespace = replicaset.namespace().unwrap_or_default();
    if let Some(reference) = owner::controller_of(replicaset) {
        if reference.kind != "Deployment" {
            return Vec::new();
        }
        return vec![ObjectRef::new(&reference.name).within(&namespace)];
    }
    store
        .state()
        .into_iter()
        .filter(|deployment| deployment.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|deployment| {
            let selector = deployment.spec.as_ref().map(|spec| &spec.selector);
            selector::matches(selector, replicaset.metadata.labels.as_ref()).unwrap_or(false)
        })
        .map(|deployment| ObjectRef::from_obj(deployment.as_ref()))
        .collect()
}

/// Returns the Deployment that controls the pod's ReplicaSet.
fn deployment_for_pod(store: &Store<ReplicaSet>, pod: &Pod) -> Option<ObjectRef<Deployment>> {
    let namespace = pod.namespace().unwrap_or_default();
    let reference = owner::controller_of(pod).filter(|reference| reference.kind == "ReplicaSet")?;
    let replicaset = store.get(&ObjectRef::new(&reference.name).within(&namespace))?;
    let parent =
        owner::controller_of(replicaset.as_ref()).filter(|parent| parent.kind == "Deployment")?;
    Some(ObjectRef::new(&parent.name).within(&namespace))
}
