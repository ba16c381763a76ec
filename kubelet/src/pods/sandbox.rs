//! The pod sandbox: its CRI configuration and creation.

use std::collections::HashMap;
use std::path::PathBuf;

use k8s_cri::v1::{
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption,
    PodSandboxConfig, PodSandboxMetadata, PortMapping, Protocol, RunPodSandboxRequest,
};
use k8s_openapi::api::core::v1::Pod;

use crate::context::Context;
use crate::cri::{CriError, labels};

/// Directory of the pod's container logs.
pub fn log_directory(ctx: &Context, pod: &Pod) -> PathBuf {
    let meta = &pod.metadata;
    ctx.config.root_dir.join("logs").join(format!(
        "{}_{}_{}",
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default(),
        meta.uid.as_deref().unwrap_or_default()
    ))
}

/// Labels that tie a CRI object to its pod and node.
pub fn pod_labels(ctx: &Context, pod: &Pod) -> HashMap<String, String> {
    let meta = &pod.metadata;
    let mut out: HashMap<String, String> = meta
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    out.insert(
        labels::POD_NAME.into(),
        meta.name.clone().unwrap_or_default(),
    );
    out.insert(
        labels::POD_NAMESPACE.into(),
        meta.namespace.clone().unwrap_or_else(|| "default".into()),
    );
    out.insert(labels::POD_UID.into(), meta.uid.clone().unwrap_or_default());
    out.insert(labels::NODE.into(), ctx.config.node_name.clone());
    out
}

fn host_network(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.host_network) == Some(true)
}

/// Namespace options shared by the sandbox and its containers.
pub fn namespace_options(pod: &Pod) -> NamespaceOption {
    let spec = pod.spec.as_ref();
    let node_or_pod = |host: Option<bool>| {
        if host == Some(true) {
            NamespaceMode::Node
        } else {
            NamespaceMode::Pod
        }
    };
    let pid = if spec.and_then(|s| s.host_pid) == Some(true) {
        NamespaceMode::Node
    } else if spec.and_then(|s| s.share_process_namespace) == Some(true) {
        NamespaceMode::Pod
    } else {
        NamespaceMode::Container
    };
    NamespaceOption {
        network: node_or_pod(spec.and_then(|s| s.host_network)) as i32,
        pid: pid as i32,
        ipc: node_or_pod(spec.and_then(|s| s.host_ipc)) as i32,
        ..Default::default()
    }
}

/// The sandbox configuration of `pod` for the given attempt.
pub fn config(ctx: &Context, pod: &Pod, attempt: u32) -> PodSandboxConfig {
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let hostname = if host_network(pod) {
        String::new()
    } else {
        let mut h = spec.hostname.clone().unwrap_or_else(|| name.clone());
        h.truncate(63);
        h
    };
    let port_mappings = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.is_some_and(|h| h > 0))
        .map(|p| PortMapping {
            protocol: match p.protocol.as_deref() {
                Some("UDP") => Protocol::Udp as i32,
                Some("SCTP") => Protocol::Sctp as i32,
                _ => Protocol::Tcp as i32,
            },
            container_port: p.container_port,
            host_port: p.host_port.unwrap_or_default(),
            host_ip: p.host_ip.clone().unwrap_or_default(),
        })
        .collect();
    let sysctls = spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name,
            uid: meta.uid.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
            attempt,
        }),
        hostname,
        log_directory: log_directory(ctx, pod).to_string_lossy().into_owned(),
        dns_config: None,
        port_mappings,
        labels: pod_labels(ctx, pod),
        annotations: meta
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(ctx, pod),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(pod)),
                ..Default::default()
            }),
            sysctls,
            ..Default::default()
        }),
        windows: None,
    }
}

/// The pod's cgroup (cgroupfs layout, absolute).
pub fn cgroup_parent(ctx: &Context, pod: &Pod) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    format!(
        "{}/pod{}",
        ctx.config.cgroup_parent.trim_end_matches('/'),
        uid
    )
}

/// Creates and starts a sandbox. Returns its id.
pub async fn run(ctx: &Context, config: PodSandboxConfig) -> Result<String, CriError> {
    std::fs::create_dir_all(&config.log_directory).ok();
    let mut rt = ctx.runtime.runtime.clone();
    let response = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        })
        .await
        .map_err(CriError::call("RunPodSandbox"))?;
    Ok(response.into_inner().pod_sandbox_id)
}
