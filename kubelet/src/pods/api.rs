//! The kubelet's writes to pods: status through the status subresource and
//! the final delete.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};

use crate::context::Context;

/// Top-level status fields the kubelet owns; when absent from a new status
/// they are cleared, because a merge patch otherwise keeps the old value.
const OWNED: [&str; 6] = [
    "podIP",
    "podIPs",
    "initContainerStatuses",
    "message",
    "reason",
    "startTime",
];

fn api(ctx: &Context, pod: &Pod) -> Api<Pod> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    Api::namespaced(ctx.client.clone(), namespace)
}

/// Writes `status` (a serialized PodStatus) with a JSON merge patch.
pub async fn write_status(
    ctx: &Context,
    pod: &Pod,
    status: &serde_json::Value,
) -> Result<Pod, kube::Error> {
    let mut status = status.clone();
    if let Some(map) = status.as_object_mut() {
        for key in OWNED {
            map.entry(key).or_insert(serde_json::Value::Null);
        }
    }
    let patch = serde_json::json!({ "status": status });
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    api(ctx, pod)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

/// Deletes the pod with grace 0 once its containers are gone; a pod already
/// deleted counts as success.
pub async fn delete_now(ctx: &Context, pod: &Pod) -> Result<(), kube::Error> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api(ctx, pod).delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => Ok(()),
        Err(error) => Err(error),
    }
}
