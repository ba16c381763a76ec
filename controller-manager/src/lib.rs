//! Reconcilers: ReplicaSets, Deployments, garbage collection, namespaces and
//! node lifecycle.

mod config;
mod deployment;
mod discovery;
mod error;
use skiff_events as events;
mod expectations;
mod gc;
mod informer;
mod namespace;
mod nodelifecycle;
mod owner;
mod podutil;
mod replicaset;
mod selector;
mod time;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Api;
use kube::runtime::watcher;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::Error;
use informer::Informer;

/// Runs every controller until `shutdown` is cancelled.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let pods = Informer::start(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default(),
        shutdown.clone(),
    );
    let replicasets = Informer::start(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
        shutdown.clone(),
    );
    let deployments = Informer::start(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
        shutdown.clone(),
    );
    let namespaces = Informer::start(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
        shutdown.clone(),
    );
    let nodes = Informer::start(
        Api::<Node>::all(client.clone()),
        watcher::Config::default(),
        shutdown.clone(),
    );
    let leases = Informer::start(
        Api::<Lease>::namespaced(client.clone(), &config.node_lease_namespace),
        watcher::Config::default(),
        shutdown.clone(),
    );
    wait_ready(&namespaces, "namespaces", &shutdown).await?;
    wait_ready(&nodes, "nodes", &shutdown).await?;
    wait_ready(&leases, "leases", &shutdown).await?;
    wait_ready(&pods, "pods", &shutdown).await?;
    wait_ready(&deployments, "deployments", &shutdown).await?;
    wait_ready(&replicasets, "replicasets", &shutdown).await?;
    tracing::info!("caches synced, starting controllers");

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(replicaset::run(
        client.clone(),
        config.clone(),
        replicasets.clone(),
        pods.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(deployment::run(
        client.clone(),
        deployments.clone(),
        replicasets.clone(),
        pods.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(gc::run(client.clone(), config.clone(), shutdown.clone()));
    tasks.spawn(namespace::run(
        client.clone(),
        config.clone(),
        namespaces,
        shutdown.clone(),
    ));
    tasks.spawn(nodelifecycle::run(
        client.clone(),
        config.clone(),
        nodes,
        leases,
        pods.clone(),
        shutdown.clone(),
    ));
    while tasks.join_next().await.is_some() {}
    tracing::info!("controller manager stopped");
    Ok(())
}

async fn wait_ready<K>(
    informer: &Informer<K>,
    resource: &'static str,
    shutdown: &CancellationToken,
) -> Result<(), Error>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    tokio::select! {
        ready = informer.wait_until_ready() => {
            if ready { Ok(()) } else { Err(Error::CacheNotReady(resource)) }
        }
        _ = shutdown.cancelled() => Ok(()),
    }
}
