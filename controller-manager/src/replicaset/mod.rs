//! The ReplicaSet controller: keeps `spec.replicas` pods matching the
//! selector and owned by each ReplicaSet.

mod ranking;
mod status;
mod sync;
mod template;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::Error;
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::{Change, Informer};
use crate::{owner, podutil, selector};

/// How long to wait before retrying a ReplicaSet whose sync failed.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);

/// What every ReplicaSet sync shares.
pub struct Context {
    client: Client,
    pods: Store<Pod>,
    replicasets: Store<ReplicaSet>,
    expectations: Arc<Expectations>,
    recorder: crate::events::Recorder,
    config: Config,
}

/// Runs the controller until `shutdown` is cancelled.
pub async fn run(
    client: Client,
    config: Config,
    replicasets: Informer<ReplicaSet>,
    pods: Informer<Pod>,
    shutdown: CancellationToken,
) {
    let expectations = Arc::new(Expectations::new(config.expectations_timeout));
    let observed = expectations.clone();
    pods.observe(move |change| observe_pod(&observed, change));
    let forgotten = expectations.clone();
    replicasets.observe(move |change| {
        if let Change::Deleted(replicaset) = change {
            forgotten.forget(&key_of(replicaset.namespace(), &replicaset.name_any()));
        }
    });

    let context = Arc::new(Context {
        client: client.clone(),
        pods: pods.store(),
        replicasets: replicasets.store(),
        expectations,
        recorder: Recorder::new(client, "replicaset-controller"),
        config,
    });
    let store = replicasets.store();
    Controller::for_stream(replicasets.subscribe(), replicasets.store())
        .watches_stream(pods.subscribe(), move |pod: Pod| {
            replicasets_for_pod(&store, &pod)
        })
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(sync::reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(error = %error, "replicaset sync failed");
            }
        })
        .await;
}

fn error_policy(replicaset: Arc<ReplicaSet>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(replicaset = %replicaset.name_any(), error = %error, "replicaset sync failed, retrying");
    Action::requeue(RETRY_AFTER_ERROR)
}

fn key_of(namespace: Option<String>, name: &str) -> String {
    format!("{}/{name}", namespace.unwrap_or_default())
}

/// Returns the ReplicaSet key of the pod's controller, if it is a ReplicaSet.
fn owner_key(pod: &Pod) -> Option<String> {
    owner::controller_of(pod)
        .filter(|reference| reference.kind == "ReplicaSet")
        .map(|reference| key_of(pod.namespace(), &reference.name))
}

/// Lowers the expectations of the pod's ReplicaSet as the cache shows pods
/// appear and go away.
fn observe_pod(expectations: &Expectations, change: &Change<Pod>) {
    let pod = change.object();
    let Some(key) = owner_key(pod) else {
        return;
    };
    match change {
        // A pod first seen while being deleted, for example after a restart,
        // is not a creation this controller waits for.
        Change::Applied { new, .. } if new.metadata.deletion_timestamp.is_some() => {
            expectations.deletion_observed(&key, &podutil::key(new));
        }
        Change::Applied { old: None, .. } => expectations.creation_observed(&key),
        Change::Applied { .. } => {}
        Change::Deleted(old) => expectations.deletion_observed(&key, &podutil::key(old)),
    }
}

/// Returns the ReplicaSets a pod change concerns: its controller, or for an
/// orphan every ReplicaSet whose selector matches it.
fn replicasets_for_pod(store: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    let namespace = pod.namespace().unwrap_or_default();
    if let Some(reference) = owner::controller_of(pod) {
        if reference.kind != "ReplicaSet" {
            return Vec::new();
        }
        return vec![ObjectRef::new(&reference.name).within(&namespace)];
    }
    store
        .state()
        .into_iter()
        .filter(|replicaset| replicaset.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|replicaset| {
            let selector = replicaset.spec.as_ref().map(|spec| &spec.selector);
            selector::matches(selector, pod.metadata.labels.as_ref()).unwrap_or(false)
        })
        .map(|replicaset| ObjectRef::from_obj(replicaset.as_ref()))
        .collect()
}
