//! A real apiserver process plus the scheduler running in this process,
//! with nodes created as API objects only (no kubelet).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use skiff_e2e::apiserver::ApiServer;
use tokio_util::sync::CancellationToken;

/// How long a test waits for the scheduler to act.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Cluster {
    pub client: kube::Client,
    /// Stopped when the cluster is dropped.
    _apiserver: ApiServer,
    shutdown: CancellationToken,
    scheduler: Option<tokio::task::JoinHandle<()>>,
}

impl Cluster {
    /// Starts the apiserver and a scheduler whose backoff is a minute, so
    /// that a quick retry can only come from a cluster event.
    pub async fn start() -> Result<Self> {
        let apiserver = tokio::task::spawn_blocking(ApiServer::start).await??;
        let client = apiserver.client().await?;

        let mut config = skiff_scheduler::Config {
            initial_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(60),
            ..Default::default()
        };
        config.search.parallelism = 2;
        let shutdown = CancellationToken::new();
        let scheduler = tokio::spawn({
            let client = client.clone();
            let shutdown = shutdown.clone();
            async move {
                if let Err(error) = skiff_scheduler::run(client, config, shutdown).await {
                    eprintln!("scheduler stopped: {error}");
                }
            }
        });
        Ok(Self {
            client,
            _apiserver: apiserver,
            shutdown,
            scheduler: Some(scheduler),
        })
    }

    /// Creates a Ready node with the given allocatable cpu and memory, room
    /// for 110 pods, and `extra` merged into the object (labels, taints).
    pub async fn add_node(&self, name: &str, cpu: &str, memory: &str, extra: Value) -> Result<()> {
        let status = json!({
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        });
        let mut node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name},
            "status": status.clone(),
        });
        merge(&mut node, extra);
        let node: Node = serde_json::from_value(node)?;
        let nodes: Api<Node> = Api::all(self.client.clone());
        nodes.create(&PostParams::default(), &node).await?;
        // Status may be dropped on create; set it through the subresource.
        let patch = json!({"status": status});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Creates a pod in `default` with one container requesting `requests`
    /// and `extra` merged into the object.
    pub async fn add_pod(&self, name: &str, requests: Value, extra: Value) -> Result<()> {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{
                "name": "app", "image": "busybox",
                "resources": {"requests": requests},
            }]},
        });
        merge(&mut pod, extra);
        let pod: Pod = serde_json::from_value(pod)?;
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .with_context(|| format!("failed to create pod {name}"))?;
        Ok(())
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Waits until the pod is bound and returns its node.
    pub async fn wait_for_node(&self, pod: &str) -> Result<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let current = self.pods().get(pod).await?;
            if let Some(node) = current.spec.and_then(|spec| spec.node_name) {
                return Ok(node);
            }
            if Instant::now() > deadline {
                bail!(
                    "pod {pod} still unbound after {PATIENCE:?}: {:?}",
                    current.status
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for PodScheduled=False and returns the condition's reason and
    /// message.
    pub async fn wait_for_unschedulable(&self, pod: &str) -> Result<(String, String)> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let current = self.pods().get(pod).await?;
            let condition = current
                .status
                .and_then(|status| status.conditions)
                .unwrap_or_default()
                .into_iter()
                .find(|condition| condition.type_ == "PodScheduled" && condition.status == "False");
            if let Some(condition) = condition {
                let reason = condition.reason.unwrap_or_default();
                return Ok((reason, condition.message.unwrap_or_default()));
            }
            if Instant::now() > deadline {
                bail!("pod {pod} has no PodScheduled=False condition after {PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an Event with `reason` about the pod and returns its
    /// message.
    pub async fn wait_for_event(&self, pod: &str, reason: &str) -> Result<String> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = events
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .find(|event| {
                    event.involved_object.name.as_deref() == Some(pod)
                        && event.reason.as_deref() == Some(reason)
                });
            if let Some(event) = found {
                return Ok(event.message.unwrap_or_default());
            }
            if Instant::now() > deadline {
                bail!("no {reason} event for pod {pod} after {PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.abort();
        }
    }
}

/// Merges `patch` into `target` as a JSON merge patch does.
pub fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}
