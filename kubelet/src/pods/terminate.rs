//! Stopping a pod: preStop hooks, stopping containers within the grace
//! period, removing the sandbox and the pod's files on the node.

use std::time::{Duration, Instant};

use futures::future::join_all;
use k8s_cri::v1::{ExecSyncRequest, RemovePodSandboxRequest, StopPodSandboxRequest};
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};

use super::container;
use super::snapshot::{Ctr, Snapshot};
use crate::context::Context;
use crate::cri::CriError;

/// The grace period of a pod being deleted, in seconds.
pub fn grace_seconds(pod: &Pod) -> i64 {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30)
        .max(0)
}

/// Runs preStop hooks and stops every running container within `grace`.
pub async fn stop_containers(ctx: &Context, pod: &Pod, snapshot: &Snapshot, grace: i64) {
    let deadline = Instant::now() + Duration::from_secs(grace as u64);
    let running = snapshot
        .containers
        .iter()
        .filter(|c| c.running() || !c.exited());
    let stops = running.map(|c| async move {
        let spec = pod
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .find(|s| s.name == c.name);
        if c.running() {
            ctx.container_event(
                pod,
                &c.name,
                skiff_events::EventType::Normal,
                "Killing",
                format!("Stopping container {}", c.name),
            );
        }
        if let Some(spec) = spec {
            pre_stop(ctx, spec, c, snapshot.pod_ip.as_deref(), deadline).await;
        }
        let left = deadline.saturating_duration_since(Instant::now()).as_secs() as i64;
        if let Err(error) = container::stop(ctx, &c.id, left).await {
            tracing::warn!(container = %c.name, %error, "failed to stop container");
        }
    });
    join_all(stops).await;
}

async fn pre_stop(
    ctx: &Context,
    spec: &Container,
    c: &Ctr,
    pod_ip: Option<&str>,
    deadline: Instant,
) {
    let Some(hook) = spec.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) else {
        return;
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    let run = run_hook(ctx, hook, &c.id, pod_ip, left);
    if tokio::time::timeout(left, run).await.is_err() {
        tracing::info!(container = %c.name, "preStop hook did not finish within the grace period");
    }
}

/// Runs a lifecycle hook (exec, httpGet or sleep).
pub async fn run_hook(
    ctx: &Context,
    hook: &LifecycleHandler,
    id: &str,
    pod_ip: Option<&str>,
    timeout: Duration,
) {
    if let Some(exec) = &hook.exec {
        let mut rt = ctx.runtime.runtime.clone();
        let request = ExecSyncRequest {
            container_id: id.to_string(),
            cmd: exec.command.clone().unwrap_or_default(),
            timeout: timeout.as_secs() as i64,
        };
        if let Err(status) = rt.exec_sync(request).await {
            tracing::info!(id, error = %status.message(), "lifecycle hook failed");
        }
    } else if let Some(sleep) = &hook.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64)).await;
    } else if let Some(http) = &hook.http_get {
        let host = http
            .host
            .clone()
            .or_else(|| pod_ip.map(String::from))
            .unwrap_or_default();
        let port = match &http.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => *n as u16,
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                s.parse().unwrap_or(80)
            }
        };
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        let _ = super::hook_http::get(&host, port, &path).await;
    }
}

/// Stops and removes every sandbox of the pod (their containers go too).
pub async fn remove_sandboxes(ctx: &Context, snapshot: &Snapshot) -> Result<(), CriError> {
    let mut rt = ctx.runtime.runtime.clone();
    for sandbox in &snapshot.sandboxes {
        let id = sandbox.id.clone();
        rt.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: id.clone(),
        })
        .await
        .map_err(CriError::call("StopPodSandbox"))?;
        rt.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
            .await
            .map_err(CriError::call("RemovePodSandbox"))?;
    }
    // Containers a failed sandbox left behind.
    for c in &snapshot.containers {
        match container::remove(ctx, &c.id).await {
            Err(e) if !e.is_not_found() => {
                tracing::warn!(container = %c.name, error = %e, "failed to remove container")
            }
            _ => {}
        }
    }
    Ok(())
}

/// Stops the pod's sandboxes but keeps its containers, for finished pods.
pub async fn stop_sandboxes(ctx: &Context, snapshot: &Snapshot) -> Result<(), CriError> {
    let mut rt = ctx.runtime.runtime.clone();
    for sandbox in snapshot
        .sandboxes
        .iter()
        .filter(|s| s.state == k8s_cri::v1::PodSandboxState::SandboxReady as i32)
    {
        rt.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: sandbox.id.clone(),
        })
        .await
        .map_err(CriError::call("StopPodSandbox"))?;
    }
    Ok(())
}

/// Removes the pod's volumes, logs and cgroup directories from the node.
pub fn remove_files(ctx: &Context, uid: &str, log_dir: &std::path::Path) {
    if let Err(error) = crate::volumes::teardown(&ctx.config.root_dir, uid) {
        tracing::warn!(pod = %uid, %error, "failed to remove pod volumes");
    }
    let _ = std::fs::remove_dir_all(log_dir);
    let cgroup = format!(
        "{}/pod{}",
        ctx.config.cgroup_parent.trim_end_matches('/'),
        uid
    );
    remove_cgroup(&cgroup);
}

/// Removes an (empty) cgroup in every v1 hierarchy and the unified one.
pub fn remove_cgroup(path: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let relative = path.trim_start_matches('/');
    for h in hierarchies.flatten() {
        let dir = h.path().join(relative);
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
    let unified = std::path::Path::new("/sys/fs/cgroup").join(relative);
    if unified.is_dir() {
        let _ = std::fs::remove_dir(&unified);
    }
}
