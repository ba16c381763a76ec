//! Creating (or refreshing) this node's Node object.

use std::collections::BTreeMap;

use k8s_cri::v1::VersionRequest;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::{KUBELET_ADDRESS_ANNOTATION, NodeError, capacity, conditions};
use crate::context::Context;

/// Registers the node, or brings labels, annotations, taints and status of
/// an existing one up to date.
pub async fn register(ctx: &Context) -> Result<(), NodeError> {
    let node = build(ctx).await?;
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let name = &ctx.config.node_name;
    let fail = |source| NodeError::Register {
        node: name.clone(),
        source,
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => tracing::info!(node = %name, "registered the node"),
        Err(kube::Error::Api(status)) if status.is_already_exists() => {
            let patch = serde_json::json!({
                "metadata": {
                    "labels": node.metadata.labels,
                    "annotations": node.metadata.annotations,
                },
                "spec": { "taints": node.spec.as_ref().and_then(|s| s.taints.clone()) },
            });
            nodes
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(fail)?;
            tracing::info!(node = %name, "the node was already registered; refreshed it");
        }
        Err(error) => return Err(fail(error)),
    }
    let status = serde_json::json!({ "status": node.status });
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(fail)?;
    Ok(())
}

/// The Node as this kubelet sees itself right now.
pub async fn build(ctx: &Context) -> Result<Node, NodeError> {
    let config = &ctx.config;
    let mut labels = BTreeMap::new();
    labels.insert(
        "kubernetes.io/hostname".to_string(),
        config.node_name.clone(),
    );
    labels.insert(
        "kubernetes.io/os".to_string(),
        std::env::consts::OS.to_string(),
    );
    labels.insert("kubernetes.io/arch".to_string(), go_arch().to_string());
    labels.insert(
        "beta.kubernetes.io/os".to_string(),
        std::env::consts::OS.to_string(),
    );
    labels.insert("beta.kubernetes.io/arch".to_string(), go_arch().to_string());
    labels.extend(config.node_labels.clone());
    let mut annotations = BTreeMap::new();
    annotations.insert(
        KUBELET_ADDRESS_ANNOTATION.to_string(),
        ctx.kubelet_address(),
    );

    Ok(Node {
        metadata: ObjectMeta {
            name: Some(config.node_name.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!config.taints.is_empty()).then(|| config.taints.clone()),
            pod_cidr: config.pod_cidr.clone(),
            pod_cidrs: config.pod_cidr.clone().map(|c| vec![c]),
            ..Default::default()
        }),
        status: Some(status(ctx).await?),
    })
}

/// The full node status: capacity, addresses, node info and conditions.
pub async fn status(ctx: &Context) -> Result<NodeStatus, NodeError> {
    let capacity = capacity::capacity(&ctx.config.root_dir, ctx.config.max_pods);
    let allocatable = capacity::allocatable(&capacity, &ctx.config.reserved);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let observed = conditions::observe(ctx).await;
    Ok(NodeStatus {
        allocatable: Some(allocatable),
        capacity: Some(capacity),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".to_string(),
                address: ctx.host_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".to_string(),
                address: ctx.config.node_name.clone(),
            },
        ]),
        conditions: Some(conditions::to_conditions(&observed, &[], &now)),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(ctx.port),
            }),
        }),
        node_info: Some(node_info(ctx).await?),
        ..Default::default()
    })
}

async fn node_info(ctx: &Context) -> Result<NodeSystemInfo, NodeError> {
    let mut runtime = ctx.runtime.runtime.clone();
    let version = runtime
        .version(VersionRequest {
            version: String::new(),
        })
        .await
        .map_err(|status| {
            NodeError::Version(crate::cri::CriError::Call {
                call: "Version",
                status,
            })
        })?
        .into_inner();
    let uname = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uname
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let machine_id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    Ok(NodeSystemInfo {
        architecture: go_arch().to_string(),
        boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap_or_default()
            .trim()
            .to_string(),
        container_runtime_version: format!(
            "{}://{}",
            version.runtime_name, version.runtime_version
        ),
        kernel_version: field(|u| u.release()),
        kube_proxy_version: String::new(),
        kubelet_version: format!("v1.33.0-skiff.{}", env!("CARGO_PKG_VERSION")),
        machine_id: machine_id.trim().to_string(),
        operating_system: std::env::consts::OS.to_string(),
        os_image: os_image(),
        system_uuid: machine_id.trim().to_string(),
        ..Default::default()
    })
}

/// PRETTY_NAME from /etc/os-release.
fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".to_string())
}

/// The architecture under Go's names, which Kubernetes uses.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}
