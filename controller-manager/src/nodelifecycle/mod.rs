//! Node lifecycle: marks nodes that stop renewing their Lease unreachable
//! and evicts pods that do not tolerate the resulting NoExecute taints.

mod eviction;
mod health;
mod taints;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::Error;
use crate::events::Recorder;
use crate::informer::{Change, Informer};
use crate::podutil;

/// Runs both controllers until `shutdown` is cancelled.
pub async fn run(
    client: Client,
    config: Config,
    nodes: Informer<Node>,
    leases: Informer<Lease>,
    pods: Informer<Pod>,
    shutdown: CancellationToken,
) {
    let health = Arc::new(health::Context::new(
        client.clone(),
        config.clone(),
        leases.store(),
    ));
    let forget = health.clone();
    nodes.observe(move |change| {
        if let Change::Deleted(node) = change {
            forget.forget(&node.name_any());
        }
    });
    let lease_namespace = config.node_lease_namespace.clone();
    let health_controller = Controller::for_stream(nodes.subscribe(), nodes.store())
        .watches_stream(leases.subscribe(), move |lease: Lease| {
            (lease.namespace().as_deref() == Some(lease_namespace.as_str()))
                .then(|| ObjectRef::<Node>::new(&lease.name_any()))
        })
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(
            health::reconcile,
            |node, error, _| retry("node", &node.name_any(), error),
            health,
        )
        .for_each(|_| async {});

    let eviction = Arc::new(eviction::Context {
        client: client.clone(),
        nodes: nodes.store(),
        recorder: Recorder::new(client, "taint-eviction-controller"),
    });
    let pod_store = pods.store();
    let eviction_controller = Controller::for_stream(pods.subscribe(), pods.store())
        .watches_stream(nodes.subscribe(), move |node: Node| {
            pods_on(&pod_store, &node.name_any())
        })
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(
            eviction::reconcile,
            |pod, error, _| retry("pod", &pod.name_any(), error),
            eviction,
        )
        .for_each(|_| async {});
    tokio::join!(health_controller, eviction_controller);
}

fn retry(kind: &str, name: &str, error: &Error) -> Action {
    tracing::warn!(kind, name, error = %error, "node lifecycle sync failed, retrying");
    Action::requeue(Duration::from_secs(2))
}

fn pods_on(store: &Store<Pod>, node: &str) -> Vec<ObjectRef<Pod>> {
    store
        .state()
        .into_iter()
        .filter(|pod| podutil::node_name(pod) == Some(node))
        .map(|pod| ObjectRef::from_obj(pod.as_ref()))
        .collect()
}
