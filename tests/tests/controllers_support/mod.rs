//! Shared setup of the controller tests: a real apiserver, the controller
//! manager running in-process against it, and polling helpers.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use skiff_e2e::apiserver::ApiServer;
use skiff_e2e::kubectl::Kubectl;
use tokio_util::sync::CancellationToken;

/// Generous bound for anything the controllers do, on a shared machine.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// An apiserver with the controller manager running against it.
pub struct Cluster {
    pub server: ApiServer,
    pub client: Client,
    shutdown: CancellationToken,
    manager: Option<tokio::task::JoinHandle<()>>,
}

impl Cluster {
    /// Starts an apiserver and the controller manager with `config`.
    pub async fn start(config: skiff_controller_manager::Config) -> anyhow::Result<Self> {
        let server = ApiServer::start()?;
        let client = server.client().await?;
        let mut cluster = Self {
            server,
            client,
            shutdown: CancellationToken::new(),
            manager: None,
        };
        cluster.start_manager(config);
        Ok(cluster)
    }

    /// Starts the controller manager (again) with `config`.
    pub fn start_manager(&mut self, config: skiff_controller_manager::Config) {
        self.shutdown = CancellationToken::new();
        let client = self.client.clone();
        let shutdown = self.shutdown.clone();
        self.manager = Some(tokio::spawn(async move {
            if let Err(error) = skiff_controller_manager::run(client, config, shutdown).await {
                eprintln!("controller manager failed: {error}");
            }
        }));
    }

    /// Stops the controller manager and waits until it returned.
    pub async fn stop_manager(&mut self) {
        self.shutdown.cancel();
        if let Some(manager) = self.manager.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), manager).await;
        }
    }

    /// Creates a namespace with a unique name starting with `prefix`.
    pub async fn namespace(&self, prefix: &str) -> anyhow::Result<String> {
        let name = format!("{prefix}-{}", unique_suffix());
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .context("failed to create the test namespace")?;
        Ok(name)
    }

    pub fn kubectl(&self) -> anyhow::Result<Kubectl> {
        Kubectl::new("1.33", &self.server.url())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Returns a short random-enough suffix for names.
pub fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id() % 4096, nanos)
}

/// Polls `check` until it returns `Some`, failing after `TIMEOUT` with the
/// last state `describe` reports.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + TIMEOUT;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}; last error: {last_error:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Returns the active pods of a namespace with `labels`.
pub async fn pods(client: &Client, namespace: &str, selector: &str) -> anyhow::Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = api.list(&ListParams::default().labels(selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .collect())
}

/// Marks a pod Running and Ready, standing in for a kubelet.
pub async fn mark_ready(client: &Client, pod: &Pod) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
    }});
    api.patch_status(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&status),
    )
    .await?;
    Ok(())
}

/// Returns whether the pod reports Ready.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// Builds a Deployment of `replicas` pods labelled `app=<name>`.
pub fn deployment(name: &str, replicas: i32, image: &str) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }))?)
}

/// Builds a ReplicaSet of `replicas` pods labelled `app=<name>`.
pub fn replicaset(name: &str, replicas: i32) -> anyhow::Result<ReplicaSet> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }))?)
}

/// Builds a bare pod with `labels`.
pub fn pod(name: &str, labels: &[(&str, &str)]) -> anyhow::Result<Pod> {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))?)
}

/// Returns the controller owner reference's UID of an object.
pub fn controller_uid<K: kube::Resource>(object: &K) -> Option<String> {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|reference| reference.controller == Some(true))
        .map(|reference| reference.uid.clone())
}

/// Marks every not-yet-ready pod matching `selector` ready until `done`
/// returns true, standing in for kubelets.
pub async fn ready_pods_until<F, Fut>(
    client: &Client,
    namespace: &str,
    selector: &str,
    mut done: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        for pod in pods(client, namespace, selector).await? {
            if !is_ready(&pod) {
                mark_ready(client, &pod).await?;
            }
        }
        if done().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out marking pods ready in {namespace}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
