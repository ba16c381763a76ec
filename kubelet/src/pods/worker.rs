//! One worker per pod: brings the runtime in line with the pod spec and
//! reports the pod status, so a slow pull never blocks another pod.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use k8s_cri::v1::PodSandboxConfig;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use skiff_events::EventType;

use super::backoff::Backoff;
use super::container::{self, Spec, StartError};
use super::env::{self, Sources};
use super::probe::Prober;
use super::snapshot::{Ctr, Snapshot};
use super::status::{self, Inputs, Waiting};
use super::{api, images, sandbox, terminate};
use crate::context::Context;

/// How often a pod is looked at when nothing happens.
const STEADY: Duration = Duration::from_secs(3);
/// How often a pod that is still starting is looked at.
const BUSY: Duration = Duration::from_secs(1);
/// How often volume contents (ConfigMaps, Secrets) are refreshed.
const VOLUME_REFRESH: Duration = Duration::from_secs(10);
/// Exited containers kept per container name (for `logs --previous`).
const KEEP_ATTEMPTS: usize = 2;

/// The state of one pod's worker.
pub struct Worker {
    ctx: Arc<Context>,
    uid: String,
    pod: Pod,
    restarts: Backoff,
    pulls: Backoff,
    /// Per image, when its last pull failed and the error it failed with.
    pull_failed_at: HashMap<String, (Instant, String)>,
    waiting: Waiting,
    prober: Prober,
    last_written: Option<serde_json::Value>,
    terminated: bool,
    volumes: HashMap<String, PathBuf>,
    volumes_at: Option<Instant>,
    allocatable: BTreeMap<String, Quantity>,
    memory_capacity: i128,
    /// Sooner wake-up asked for by a back-off.
    wake: Option<Duration>,
}

/// Runs the worker of `pod` until the pod is gone from both the API and
/// the runtime, or until shutdown.
pub async fn run(
    ctx: Arc<Context>,
    pod: Pod,
    mut updates: watch::Receiver<Option<Pod>>,
    done: mpsc::UnboundedSender<String>,
    shutdown: CancellationToken,
) {
    let mut worker = Worker::new(ctx, pod);
    loop {
        let current = updates.borrow_and_update().clone();
        match current {
            Some(pod) => {
                worker.ctx.remember_pod(&pod);
                worker.pod = pod;
            }
            None => {
                worker.remove().await;
                break;
            }
        }
        // A sync cut short here is finished by the next kubelet, which
        // adopts the pod's containers from the runtime.
        let wait = tokio::select! {
            _ = shutdown.cancelled() => return,
            wait = worker.sync() => wait,
        };
        let changed = worker.prober.changed.clone();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            result = updates.changed() => if result.is_err() { return },
            _ = tokio::time::sleep(wait) => {}
            _ = changed.notified() => {}
        }
    }
    let _ = done.send(worker.uid.clone());
}

impl Worker {
    fn new(ctx: Arc<Context>, pod: Pod) -> Worker {
        let capacity = crate::node::capacity::capacity(&ctx.config.root_dir, ctx.config.max_pods);
        let memory_capacity = capacity
            .get("memory")
            .and_then(|q| skiff_machinery::quantity::memory_bytes(&q.0).ok())
            .map(i128::from)
            .unwrap_or(0);
        let allocatable = crate::node::capacity::allocatable(&capacity, &ctx.config.reserved);
        let last_written = pod
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok());
        Worker {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            ctx,
            pod,
            restarts: Backoff::default(),
            pulls: Backoff::default(),
            pull_failed_at: HashMap::new(),
            waiting: Waiting::new(),
            prober: Prober::default(),
            last_written,
            terminated: false,
            volumes: HashMap::new(),
            volumes_at: None,
            allocatable,
            memory_capacity,
            wake: None,
        }
    }

    fn name(&self) -> String {
        format!(
            "{}/{}",
            self.pod.metadata.namespace.as_deref().unwrap_or("default"),
            self.pod.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// One pass; returns how long to wait before the next.
    async fn sync(&mut self) -> Duration {
        self.wake = None;
        if self.pod.metadata.deletion_timestamp.is_some() {
            if !self.terminated {
                self.terminate().await;
            }
            return STEADY;
        }
        let snapshot = match Snapshot::load(&self.ctx.runtime, &self.uid).await {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(pod = %self.name(), %error, "cannot read the pod's containers");
                return BUSY;
            }
        };
        let phase = self
            .pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            self.prober.retain(&[]);
            if let Err(error) = terminate::stop_sandboxes(&self.ctx, &snapshot).await {
                tracing::warn!(pod = %self.name(), %error, "cannot stop the sandbox of a finished pod");
            }
            return STEADY * 10;
        }
        let busy = self.run_pod(&snapshot).await;
        let snapshot = Snapshot::load(&self.ctx.runtime, &self.uid)
            .await
            .unwrap_or(snapshot);
        let phase = self.report(&snapshot).await;
        if phase == "Succeeded" || phase == "Failed" {
            self.prober.retain(&[]);
            let _ = terminate::stop_sandboxes(&self.ctx, &snapshot).await;
        }
        let base = if busy { BUSY } else { STEADY };
        self.wake.map_or(base, |w| w.min(base))
    }

    /// Sandbox, volumes, init containers and app containers. Returns whether
    /// something is still on its way.
    async fn run_pod(&mut self, snapshot: &Snapshot) -> bool {
        let Some((sandbox_id, sandbox_config, pod_ip)) = self.ensure_sandbox(snapshot).await else {
            return true;
        };
        if !self.ensure_volumes(pod_ip.as_deref()).await {
            return true;
        }
        let init_done = self
            .sync_init(snapshot, &sandbox_id, &sandbox_config, pod_ip.as_deref())
            .await;
        if !init_done {
            return true;
        }
        self.sync_app(snapshot, &sandbox_id, &sandbox_config, pod_ip.as_deref())
            .await;
        self.collect_garbage(snapshot).await;
        let spec = self.pod.spec.clone().unwrap_or_default();
        spec.containers.iter().any(|c| {
            let latest = snapshot.latest(&c.name);
            latest.is_none_or(|l| !l.running())
                || latest
                    .and_then(|l| self.prober.results(&l.id))
                    .is_some_and(|r| !r.ready)
        })
    }

    async fn ensure_sandbox(
        &mut self,
        snapshot: &Snapshot,
    ) -> Option<(String, PodSandboxConfig, Option<String>)> {
        if let Some(ready) = snapshot.ready_sandbox() {
            let attempt = ready.metadata.as_ref().map_or(0, |m| m.attempt);
            let config = sandbox::config(&self.ctx, &self.pod, attempt);
            return Some((ready.id.clone(), config, snapshot.pod_ip.clone()));
        }
        let attempt = snapshot
            .sandboxes
            .first()
            .and_then(|s| s.metadata.as_ref())
            .map_or(0, |m| m.attempt + 1);
        if !snapshot.sandboxes.is_empty() {
            tracing::info!(pod = %self.name(), "the pod sandbox is gone; making a new one");
            self.prober.retain(&[]);
            terminate::stop_containers(&self.ctx, &self.pod, snapshot, 0).await;
            let mut rt = self.ctx.runtime.runtime.clone();
            for s in &snapshot.sandboxes {
                let _ = rt
                    .stop_pod_sandbox(k8s_cri::v1::StopPodSandboxRequest {
                        pod_sandbox_id: s.id.clone(),
                    })
                    .await;
            }
        }
        let config = sandbox::config(&self.ctx, &self.pod, attempt);
        match sandbox::run(&self.ctx, config.clone()).await {
            Ok(id) => {
                tracing::info!(pod = %self.name(), sandbox = %id, "started the pod sandbox");
                let fresh = Snapshot::load(&self.ctx.runtime, &self.uid).await.ok();
                Some((id, config, fresh.and_then(|s| s.pod_ip)))
            }
            Err(error) => {
                tracing::warn!(pod = %self.name(), %error, "failed to create the pod sandbox");
                self.set_waiting_all("ContainerCreating", "");
                None
            }
        }
    }

    fn set_waiting_all(&mut self, reason: &str, message: &str) {
        let spec = self.pod.spec.clone().unwrap_or_default();
        for c in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            self.waiting
                .insert(c.name.clone(), (reason.to_string(), message.to_string()));
        }
    }

    async fn ensure_volumes(&mut self, pod_ip: Option<&str>) -> bool {
        if self
            .volumes_at
            .is_some_and(|at| at.elapsed() < VOLUME_REFRESH)
        {
            return true;
        }
        let namespace = self
            .pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let client = self.ctx.client.clone();
        let mut sources = Sources::new(&client, &namespace);
        let host_ip = self.ctx.host_ip.to_string();
        let rt = env::Runtime {
            pod_ip,
            host_ip: &host_ip,
            node_name: &self.ctx.config.node_name,
            allocatable: &self.allocatable,
        };
        match crate::volumes::setup(&self.ctx.config.root_dir, &mut sources, &self.pod, &rt).await {
            Ok(volumes) => {
                self.volumes = volumes;
                self.volumes_at = Some(Instant::now());
                true
            }
            Err(error) => {
                tracing::warn!(pod = %self.name(), %error, "MountVolume.SetUp failed");
                self.set_waiting_all("ContainerCreating", "");
                false
            }
        }
    }

    /// Runs init containers in order; returns whether all completed.
    async fn sync_init(
        &mut self,
        snapshot: &Snapshot,
        sandbox_id: &str,
        config: &PodSandboxConfig,
        ip: Option<&str>,
    ) -> bool {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let started_apps = spec.containers.iter().any(|c| {
            snapshot
                .latest(&c.name)
                .is_some_and(|l| l.sandbox_id == sandbox_id)
        });
        if started_apps {
            return true;
        }
        let never = spec.restart_policy.as_deref() == Some("Never");
        for c in spec.init_containers.iter().flatten() {
            match snapshot.latest(&c.name) {
                Some(l) if l.exited() && l.status.exit_code == 0 => continue,
                Some(l) if l.exited() => {
                    if !never {
                        self.restart(c, l, snapshot, sandbox_id, config, ip, true)
                            .await;
                    }
                    return false;
                }
                Some(_) => return false,
                None => {
                    self.start(c, 0, true, sandbox_id, config, ip).await;
                    return false;
                }
            }
        }
        true
    }

    async fn sync_app(
        &mut self,
        snapshot: &Snapshot,
        sandbox_id: &str,
        config: &PodSandboxConfig,
        ip: Option<&str>,
    ) {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let policy = spec
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".into());
        let mut running = Vec::new();
        for c in &spec.containers {
            let Some(latest) = snapshot.latest(&c.name) else {
                self.start(
                    c,
                    snapshot.next_attempt(&c.name),
                    false,
                    sandbox_id,
                    config,
                    ip,
                )
                .await;
                continue;
            };
            if latest.running() {
                if self.prober.results(&latest.id).is_some_and(|r| r.failed) {
                    tracing::info!(pod = %self.name(), container = %c.name, "container failed its liveness probe, will be restarted");
                    self.ctx.container_event(
                        &self.pod,
                        &c.name,
                        EventType::Normal,
                        "Killing",
                        format!(
                            "Container {} failed liveness probe, will be restarted",
                            c.name
                        ),
                    );
                    let grace = terminate::grace_seconds(&self.pod);
                    let _ = container::stop(&self.ctx, &latest.id, grace).await;
                    continue;
                }
                if let Some(ip) = ip
                    .map(String::from)
                    .or_else(|| Some(self.ctx.host_ip.to_string()))
                {
                    self.prober.ensure(&self.ctx, &self.pod, c, &latest.id, &ip);
                }
                running.push(latest.id.clone());
                continue;
            }
            if !latest.exited() {
                // Created but never started (a crash in between): replace it.
                let _ = container::remove(&self.ctx, &latest.id).await;
                continue;
            }
            let again = match policy.as_str() {
                "Never" => false,
                "OnFailure" => latest.status.exit_code != 0,
                _ => true,
            };
            if again {
                self.restart(c, latest, snapshot, sandbox_id, config, ip, false)
                    .await;
            }
        }
        let ids: Vec<&str> = running.iter().map(String::as_str).collect();
        self.prober.retain(&ids);
    }

    #[allow(clippy::too_many_arguments)]
    async fn restart(
        &mut self,
        c: &Container,
        latest: &Ctr,
        snapshot: &Snapshot,
        sandbox_id: &str,
        config: &PodSandboxConfig,
        ip: Option<&str>,
        init: bool,
    ) {
        let now = Instant::now();
        let event = instant_of(latest.status.finished_at, now);
        if let Some(left) = self.restarts.remaining(&c.name, event, now) {
            let delay = self.restarts.delay(&c.name).unwrap_or_default();
            let message = format!(
                "back-off {} restarting failed container={} pod={}_{}({})",
                go_duration(delay),
                c.name,
                self.pod.metadata.name.as_deref().unwrap_or_default(),
                self.pod.metadata.namespace.as_deref().unwrap_or("default"),
                self.uid
            );
            self.ctx.container_event(
                &self.pod,
                &c.name,
                EventType::Warning,
                "BackOff",
                format!(
                    "Back-off restarting failed container {} in pod {}_{}({})",
                    c.name,
                    self.pod.metadata.name.as_deref().unwrap_or_default(),
                    self.pod.metadata.namespace.as_deref().unwrap_or("default"),
                    self.uid
                ),
            );
            self.waiting
                .insert(c.name.clone(), ("CrashLoopBackOff".into(), message));
            self.wake = Some(self.wake.map_or(left, |w| w.min(left)));
            return;
        }
        self.restarts.next(&c.name, event);
        self.start(
            c,
            snapshot.next_attempt(&c.name),
            init,
            sandbox_id,
            config,
            ip,
        )
        .await;
    }

    async fn start(
        &mut self,
        c: &Container,
        attempt: u32,
        init: bool,
        sandbox_id: &str,
        config: &PodSandboxConfig,
        ip: Option<&str>,
    ) {
        match self
            .try_start(c, attempt, init, sandbox_id, config, ip)
            .await
        {
            Ok(id) => {
                tracing::info!(pod = %self.name(), container = %c.name, id = %id, attempt, "started container");
                self.waiting.remove(&c.name);
            }
            Err(error) => {
                tracing::info!(pod = %self.name(), container = %c.name, reason = error.reason, message = %error.message, "container not started");
                let detail = match error.reason {
                    "ErrImagePull" | "ImagePullBackOff" | "ErrImageNeverPull" => error.reason,
                    _ => error.message.as_str(),
                };
                self.ctx.container_event(
                    &self.pod,
                    &c.name,
                    EventType::Warning,
                    "Failed",
                    format!("Error: {detail}"),
                );
                self.waiting
                    .insert(c.name.clone(), (error.reason.to_string(), error.message));
            }
        }
    }

    async fn try_start(
        &mut self,
        c: &Container,
        attempt: u32,
        init: bool,
        sandbox_id: &str,
        config: &PodSandboxConfig,
        ip: Option<&str>,
    ) -> Result<String, StartError> {
        let namespace = self
            .pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let client = self.ctx.client.clone();
        let mut sources = Sources::new(&client, &namespace);
        let host_ip = self.ctx.host_ip.to_string();
        let rt = env::Runtime {
            pod_ip: ip,
            host_ip: &host_ip,
            node_name: &self.ctx.config.node_name,
            allocatable: &self.allocatable,
        };
        let env = env::build(&mut sources, &self.pod, c, &rt)
            .await
            .map_err(|e| StartError::new("CreateContainerConfigError", e.to_string()))?;
        self.pull(c, config).await?;
        let spec = Spec {
            pod: &self.pod,
            container: c,
            init,
            attempt,
            env,
            volumes: &self.volumes,
            memory_capacity: self.memory_capacity,
        };
        let id = container::create_and_start(&self.ctx, sandbox_id, config, &spec).await?;
        if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            terminate::run_hook(&self.ctx, hook, &id, ip, Duration::from_secs(30)).await;
        }
        Ok(id)
    }

    /// Pulls the image with its own back-off.
    async fn pull(&mut self, c: &Container, config: &PodSandboxConfig) -> Result<(), StartError> {
        let image = c.image.clone().unwrap_or_default();
        let now = Instant::now();
        if let Some((failed, error)) = self.pull_failed_at.get(&image)
            && let Some(left) = self.pulls.remaining(&image, *failed, now)
        {
            self.wake = Some(self.wake.map_or(left, |w| w.min(left)));
            self.ctx.container_event(
                &self.pod,
                &c.name,
                EventType::Normal,
                "BackOff",
                format!("Back-off pulling image \"{image}\""),
            );
            // The back-off message ends with the last pull error, as the
            // upstream kubelet's image manager writes it, so the cause stays
            // in the pod status between attempts.
            return Err(StartError::new(
                "ImagePullBackOff",
                format!("Back-off pulling image \"{image}\": {error}"),
            ));
        }
        self.waiting
            .insert(c.name.clone(), ("ContainerCreating".into(), String::new()));
        match images::ensure(&self.ctx, &self.pod, c, config).await {
            Ok(_) => {
                self.pulls.reset(&image);
                self.pull_failed_at.remove(&image);
                Ok(())
            }
            Err(error) => {
                self.pulls.next(&image, now);
                let reason = error.reason();
                let message = error.to_string();
                self.pull_failed_at
                    .insert(image, (now, format!("{reason}: {message}")));
                Err(StartError::new(reason, message))
            }
        }
    }

    /// Removes old exited attempts beyond the few kept for logs.
    async fn collect_garbage(&self, snapshot: &Snapshot) {
        let spec = self.pod.spec.clone().unwrap_or_default();
        for c in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            for old in snapshot.attempts(&c.name).into_iter().skip(KEEP_ATTEMPTS) {
                if old.exited() {
                    let _ = container::remove(&self.ctx, &old.id).await;
                }
            }
        }
    }

    /// Computes the status and writes it when it changed. Returns the phase.
    async fn report(&mut self, snapshot: &Snapshot) -> String {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let init_done = spec.init_containers.iter().flatten().all(|c| {
            snapshot
                .latest(&c.name)
                .is_some_and(|l| l.exited() && l.status.exit_code == 0)
        }) || spec
            .containers
            .iter()
            .any(|c| snapshot.latest(&c.name).is_some());
        let host_ip = self.ctx.host_ip.to_string();
        let inputs = Inputs {
            pod: &self.pod,
            snapshot,
            waiting: &self.waiting,
            probes: &self.prober,
            host_ip: &host_ip,
            runtime_name: &self.ctx.runtime_name,
            now: Time(k8s_openapi::jiff::Timestamp::now()),
        };
        let computed = status::compute(&inputs, init_done);
        let phase = computed.phase.clone().unwrap_or_default();
        let Ok(value) = serde_json::to_value(&computed) else {
            return phase;
        };
        if self.last_written.as_ref() == Some(&value) {
            return phase;
        }
        match api::write_status(&self.ctx, &self.pod, &value).await {
            Ok(pod) => {
                tracing::info!(pod = %self.name(), phase = %phase, "wrote pod status");
                self.last_written = Some(value);
                self.pod.status = pod.status;
            }
            Err(error) => tracing::warn!(pod = %self.name(), %error, "failed to write pod status"),
        }
        phase
    }

    /// Graceful termination after the pod got a deletionTimestamp, then the
    /// final delete with grace 0.
    async fn terminate(&mut self) {
        let grace = terminate::grace_seconds(&self.pod);
        tracing::info!(pod = %self.name(), grace, "stopping the pod");
        self.kill(grace).await;
        self.terminated = true;
        if let Err(error) = api::delete_now(&self.ctx, &self.pod).await {
            tracing::warn!(pod = %self.name(), %error, "failed to delete the pod");
            self.terminated = false;
        }
    }

    /// The pod left the API: make sure nothing of it is left on the node.
    async fn remove(&mut self) {
        if !self.terminated {
            self.kill(terminate::grace_seconds(&self.pod)).await;
        }
        self.ctx.forget_pod(&self.pod);
        tracing::info!(pod = %self.name(), "pod removed from the node");
    }

    async fn kill(&mut self, grace: i64) {
        self.prober.retain(&[]);
        let snapshot = match Snapshot::load(&self.ctx.runtime, &self.uid).await {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(pod = %self.name(), %error, "cannot read the pod's containers");
                return;
            }
        };
        terminate::stop_containers(&self.ctx, &self.pod, &snapshot, grace).await;
        if let Err(error) = terminate::remove_sandboxes(&self.ctx, &snapshot).await {
            tracing::warn!(pod = %self.name(), %error, "failed to remove the pod sandbox");
        }
        terminate::remove_files(
            &self.ctx,
            &self.uid,
            &sandbox::log_directory(&self.ctx, &self.pod),
        );
    }
}

/// The monotonic instant of a CRI timestamp (nanoseconds since the epoch).
fn instant_of(nanos: i64, now: Instant) -> Instant {
    if nanos <= 0 {
        return now;
    }
    let wall = SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos as u64);
    match SystemTime::now().duration_since(wall) {
        Ok(ago) => now.checked_sub(ago).unwrap_or(now),
        Err(_) => now,
    }
}

/// A duration as Go prints it: `10s`, `1m20s`, `5m0s`.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{}h{}m{}s", secs / 3600, (secs % 3600) / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    }
}
