//! The kubelet case: pods created through the API of a `skiff server` (one
//! node, image already pulled), timed from the create request until the watch
//! sees their Ready condition True. The reference is the shim's own sandbox
//! plus container time, measured in the same run.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use super::{Summary, runtime};
use crate::cluster::Cluster;
use crate::images;
use crate::node::RuntimeKind;
use crate::registry::Registry;

/// How long all pods together may take to become Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(600);
/// Label that marks the benchmark's pods.
const LABEL: &str = "skiff-bench";

/// Creates `pods` pods with at most `in_flight` not yet Ready, and returns
/// the Markdown section.
pub async fn run(pods: usize, in_flight: usize, shim_runs: usize) -> anyhow::Result<String> {
    let registry = Registry::start()?;
    let image = images::push_busybox(&registry)?.reference;
    let startup = measure_startup(&image, pods, in_flight).await?;
    let shim = runtime::measure_cri(RuntimeKind::Shim, &registry, &image, shim_runs).await?;
    Ok(report(pods, in_flight, shim_runs, &startup, &shim))
}

async fn measure_startup(image: &str, count: usize, in_flight: usize) -> anyhow::Result<Summary> {
    let cluster = tokio::task::block_in_place(Cluster::start)?;
    let client = kube::Client::try_from(kube::Config::new(cluster.url().parse()?))?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let ready = ReadyTimes::default();
    let watch = tokio::spawn(ready.clone().follow(pods.clone()));

    // One untimed pod pulls the image and warms every component.
    create_and_wait(&pods, &ready, image, "warm-up").await?;
    let begun = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(0..count)
        .map(|index| create_and_wait(&pods, &ready, image, format!("pod-{index}")))
        .buffer_unordered(in_flight.max(1))
        .try_collect()
        .await?;
    let elapsed = begun.elapsed();
    watch.abort();
    tokio::task::block_in_place(|| drop(cluster));
    Ok(Summary::from_latencies(latencies, elapsed))
}

/// Creates pod `bench-NAME` and returns the time until it was seen Ready.
async fn create_and_wait(
    pods: &Api<Pod>,
    ready: &ReadyTimes,
    image: &str,
    name: impl std::fmt::Display,
) -> anyhow::Result<Duration> {
    let name = format!("bench-{name}");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {LABEL: "startup"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "app",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "3600"],
            }],
        },
    }))?;
    let started = Instant::now();
    pods.create(&PostParams::default(), &pod).await?;
    let seen = tokio::time::timeout(READY_TIMEOUT, ready.wait_for(&name))
        .await
        .with_context(|| format!("pod {name} was not Ready within {READY_TIMEOUT:?}"))?;
    Ok(seen.saturating_duration_since(started))
}

/// When the watch first saw each pod Ready.
#[derive(Clone, Default)]
struct ReadyTimes {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl ReadyTimes {
    /// Watches the benchmark's pods and records each one's first Ready time.
    async fn follow(self, pods: Api<Pod>) -> anyhow::Result<()> {
        let config = watcher::Config::default().labels(LABEL);
        let stream = watcher(pods, config).applied_objects();
        let mut stream = std::pin::pin!(stream);
        while let Some(pod) = stream.try_next().await? {
            if !is_ready(&pod) {
                continue;
            }
            let name = pod.metadata.name.unwrap_or_default();
            if let Ok(mut seen) = self.seen.lock() {
                seen.entry(name).or_insert_with(Instant::now);
            }
            self.changed.notify_waiters();
        }
        Ok(())
    }

    async fn wait_for(&self, name: &str) -> Instant {
        loop {
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(at) = self
                .seen
                .lock()
                .ok()
                .and_then(|seen| seen.get(name).copied())
            {
                return at;
            }
            notified.await;
        }
    }
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

fn report(
    pods: usize,
    in_flight: usize,
    shim_runs: usize,
    startup: &Summary,
    shim: &Summary,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Pod startup through the kubelet\n\n\
         {pods} busybox `sleep` pods created through the API of one `skiff server` (scheduler, \
         kubelet and shim in the loop, image already pulled), at most {in_flight} not yet Ready \
         at a time; latency runs from the create request to the pod watch seeing Ready=True. \
         The reference is the shim alone: RunPodSandbox, CreateContainer and StartContainer \
         over CRI ({shim_runs} runs, as in the runtime case), measured in the same run.\n"
    );
    let _ = writeln!(out, "| path | pods/s | p50 ms | p99 ms | p50 / shim p50 |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let reference = shim.p50.as_secs_f64().max(1e-9);
    for (name, summary) in [
        ("create to Ready (skiff server)", startup),
        ("shim sandbox + container (CRI)", shim),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.1} | {:.0} | {:.0} | {:.1} |",
            summary.rate(),
            summary.p50.as_secs_f64() * 1000.0,
            summary.p99.as_secs_f64() * 1000.0,
            summary.p50.as_secs_f64() / reference
        );
    }
    out
}
