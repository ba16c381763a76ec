//! The scheduling loop: one thread that owns the cache and the queue,
//! applies watch events and binding outcomes, and decides one pod at a time.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::algorithm::{Algorithm, Decision};
use crate::binder::Binder;
use crate::cache::Cache;
use crate::framework::pod_info::pod_key;
use crate::framework::{PodInfo, PodUsage};
use crate::queue::{Backoff, Queue};

/// How long the loop sleeps at most before checking for shutdown.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// Input of the scheduling loop.
#[derive(Debug)]
pub enum Message {
    PodApplied(Arc<Pod>),
    PodDeleted(Arc<Pod>),
    /// Every pod, after the watch (re)listed them.
    PodsResynced(Vec<Arc<Pod>>),
    NodeApplied(Arc<Node>),
    NodeDeleted(Arc<Node>),
    NodesResynced(Vec<Arc<Node>>),
    BindSucceeded {
        key: String,
    },
    /// `gone` is set when the pod was deleted or already bound (404, 409).
    BindFailed {
        key: String,
        uid: String,
        gone: bool,
    },
}

pub struct SchedulingLoop {
    config: Config,
    cache: Cache,
    queue: Queue,
    algorithm: Algorithm,
    binder: Binder,
    messages: Receiver<Message>,
    shutdown: CancellationToken,
    pods_synced: bool,
    nodes_synced: bool,
}

impl SchedulingLoop {
    pub fn new(
        config: Config,
        binder: Binder,
        messages: Receiver<Message>,
        shutdown: CancellationToken,
    ) -> Self {
        let backoff = Backoff {
            initial: config.initial_backoff,
            max: config.max_backoff,
        };
        Self {
            algorithm: Algorithm::new(config.search.clone()),
            config,
            cache: Cache::default(),
            queue: Queue::new(backoff),
            binder,
            messages,
            shutdown,
            pods_synced: false,
            nodes_synced: false,
        }
    }

    /// Runs until shutdown or until every sender is gone.
    pub fn run(mut self) {
        tracing::info!(scheduler = %self.config.scheduler_name, "scheduling loop started");
        while !self.shutdown.is_cancelled() {
            if !self.drain_messages() {
                break;
            }
            if self.pods_synced
                && self.nodes_synced
                && let Some(pod) = self.queue.pop(Instant::now())
            {
                self.schedule_one(pod);
                continue;
            }
            let now = Instant::now();
            let wait = self
                .queue
                .next_deadline()
                .map_or(IDLE_WAIT, |deadline| {
                    deadline.saturating_duration_since(now)
                })
                .min(IDLE_WAIT);
            match self.messages.recv_timeout(wait) {
                Ok(message) => self.handle(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::info!("scheduling loop stopped");
    }

    /// Applies every message already received; returns false once every
    /// sender is gone.
    fn drain_messages(&mut self) -> bool {
        loop {
            match self.messages.try_recv() {
                Ok(message) => self.handle(message),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::NodeApplied(node) => {
                if self.cache.upsert_node(&node) {
                    self.cluster_changed("node added or updated");
                }
            }
            Message::NodeDeleted(node) => {
                self.cache
                    .remove_node(node.metadata.name.as_deref().unwrap_or_default());
            }
            Message::NodesResynced(nodes) => {
                self.cache.replace_nodes(&nodes);
                self.nodes_synced = true;
                tracing::info!(nodes = nodes.len(), "node list synced");
                self.cluster_changed("nodes listed");
            }
            Message::PodApplied(pod) => self.apply_pod(pod),
            Message::PodDeleted(pod) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                self.queue.remove(&pod_key(&pod));
                if self.cache.remove_pod(&uid) {
                    self.cluster_changed("pod deleted");
                }
            }
            Message::PodsResynced(pods) => self.resync_pods(pods),
            Message::BindSucceeded { key } => {
                tracing::trace!(pod = %key, "binding confirmed by the apiserver");
            }
            Message::BindFailed { key, uid, gone } => {
                self.cache.forget_assumed(&uid);
                if gone {
                    self.queue.remove(&key);
                } else {
                    self.queue
                        .requeue_after_failure(&key, false, Instant::now());
                }
            }
        }
    }

    fn apply_pod(&mut self, pod: Arc<Pod>) {
        let key = pod_key(&pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if is_terminated(&pod) {
            self.queue.remove(&key);
            if self.cache.remove_pod(&uid) {
                self.cluster_changed("pod finished");
            }
            return;
        }
        if let Some(node) = assigned_node(&pod) {
            let usage = PodUsage::from_pod(&pod);
            self.cache.place_pod(&uid, node, usage, false);
            self.queue.remove(&key);
            return;
        }
        if self.is_responsible_for(&pod) && pod.metadata.deletion_timestamp.is_none() {
            self.queue.add_or_update(&key, pod);
        } else {
            self.queue.remove(&key);
        }
    }

    /// Rebuilds the pod side of the cache and the queue from a full list.
    fn resync_pods(&mut self, pods: Vec<Arc<Pod>>) {
        let mut bound = Vec::new();
        let mut pending_uids = HashSet::new();
        let mut pending_keys = HashSet::new();
        for pod in &pods {
            if is_terminated(pod) {
                continue;
            }
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            match assigned_node(pod) {
                Some(node) => bound.push((uid, node.to_string(), PodUsage::from_pod(pod))),
                None => {
                    pending_uids.insert(uid);
                    pending_keys.insert(pod_key(pod));
                }
            }
        }
        self.cache
            .replace_pods(bound, &|uid| pending_uids.contains(uid));
        // Bound, finished and deleted pods leave the queue.
        self.queue.retain(|key| pending_keys.contains(key));
        for pod in pods {
            if assigned_node(&pod).is_none() && !is_terminated(&pod) {
                self.apply_pod(pod);
            }
        }
        self.pods_synced = true;
        tracing::info!(pending = self.queue.len(), "pod list synced");
        self.cluster_changed("pods listed");
    }

    fn schedule_one(&mut self, pod: Arc<Pod>) {
        let info = PodInfo::new(pod.clone());
        match self.algorithm.schedule(&info, self.cache.nodes()) {
            Decision::Node(node) => {
                self.cache
                    .place_pod(&info.uid, &node, info.usage.clone(), true);
                self.queue.mark_binding(&info.key);
                self.binder.bind(pod, node);
            }
            Decision::Unschedulable(error) => {
                let message = error.message();
                tracing::info!(pod = %info.key, reason = %message, "pod is unschedulable");
                let now = Instant::now();
                self.queue.requeue_after_failure(&info.key, true, now);
                let interval = self.config.failure_event_interval;
                let emit = self
                    .queue
                    .failure_event_due(&info.key, &message, now, interval);
                self.binder.report_unschedulable(pod, message, emit);
            }
        }
    }

    /// Retries pods that failed to fit, because the change may make room.
    fn cluster_changed(&mut self, cause: &str) {
        let moved = self.queue.activate_unschedulable();
        if moved > 0 {
            tracing::debug!(cause, pods = moved, "retrying unschedulable pods");
        }
    }

    fn is_responsible_for(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.scheduler_name.as_deref());
        match name {
            None | Some("") => self.config.scheduler_name == crate::DEFAULT_SCHEDULER_NAME,
            Some(name) => name == self.config.scheduler_name,
        }
    }
}

fn assigned_node(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .filter(|name| !name.is_empty())
}

/// Succeeded and Failed pods hold no resources.
fn is_terminated(pod: &Pod) -> bool {
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}
