//! Watches the pods bound to this node and keeps one worker per pod.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{cleanup, worker};
use crate::context::Context;

const ORPHAN_SWEEP: Duration = Duration::from_secs(60);

/// How long shutdown waits for the pod workers to return.
const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(10);

struct Workers {
    ctx: Arc<Context>,
    senders: HashMap<String, watch::Sender<Option<Pod>>>,
    done: mpsc::UnboundedSender<String>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Workers {
    fn dispatch(&mut self, pod: Pod) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        if node != Some(self.ctx.config.node_name.as_str()) {
            return;
        }
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        if let Some(sender) = self.senders.get(&uid) {
            let _ = sender.send(Some(pod));
            return;
        }
        self.ctx.remember_pod(&pod);
        let (sender, receiver) = watch::channel(Some(pod.clone()));
        self.senders.insert(uid, sender);
        self.tasks.spawn(worker::run(
            self.ctx.clone(),
            pod,
            receiver,
            self.done.clone(),
            self.shutdown.child_token(),
        ));
    }

    fn gone(&mut self, uid: &str) {
        if let Some(sender) = self.senders.get(uid) {
            let _ = sender.send(None);
        }
    }
}

/// Runs until shutdown, then waits for the pod workers to return so that
/// none of them calls the apiserver or the runtime afterwards. Pods keep
/// running.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let tasks = TaskTracker::new();
    watch_pods(ctx.clone(), shutdown, tasks.clone()).await;
    tasks.close();
    if tokio::time::timeout(WORKER_STOP_TIMEOUT, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            node = %ctx.config.node_name,
            workers = tasks.len(),
            "pod workers did not stop within {WORKER_STOP_TIMEOUT:?}"
        );
    }
}

async fn watch_pods(ctx: Arc<Context>, shutdown: CancellationToken, tasks: TaskTracker) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let selector = format!("spec.nodeName={}", ctx.config.node_name);
    let mut events = watcher::watcher(api, watcher::Config::default().fields(&selector))
        .default_backoff()
        .boxed();
    let (done, mut finished) = mpsc::unbounded_channel();
    let mut workers = Workers {
        ctx: ctx.clone(),
        senders: HashMap::new(),
        done,
        shutdown: shutdown.clone(),
        tasks,
    };
    let mut listed: Option<HashSet<String>> = None;
    let mut synced = false;
    let mut sweep = tokio::time::interval(ORPHAN_SWEEP);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(uid) = finished.recv() => { workers.senders.remove(&uid); }
            _ = sweep.tick(), if synced => {
                let known: HashSet<String> = workers.senders.keys().cloned().collect();
                cleanup::sweep(&ctx, &known).await;
            }
            event = events.next() => match event {
                Some(Ok(Event::Apply(pod))) => workers.dispatch(pod),
                Some(Ok(Event::InitApply(pod))) => {
                    if let (Some(set), Some(uid)) = (listed.as_mut(), pod.metadata.uid.clone()) {
                        set.insert(uid);
                    }
                    workers.dispatch(pod);
                }
                Some(Ok(Event::Delete(pod))) => {
                    if let Some(uid) = pod.metadata.uid.as_deref() {
                        workers.gone(uid);
                    }
                }
                Some(Ok(Event::Init)) => listed = Some(HashSet::new()),
                Some(Ok(Event::InitDone)) => {
                    let present = listed.take().unwrap_or_default();
                    let missing: Vec<String> =
                        workers.senders.keys().filter(|u| !present.contains(*u)).cloned().collect();
                    for uid in missing {
                        workers.gone(&uid);
                    }
                    if !synced {
                        synced = true;
                        let known: HashSet<String> = workers.senders.keys().cloned().collect();
                        cleanup::sweep(&ctx, &known).await;
                    }
                }
                Some(Err(error)) => tracing::warn!(%error, "pod watch failed; retrying"),
                None => return,
            }
        }
    }
}
