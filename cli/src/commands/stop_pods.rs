//! Stopping every pod of a node through its runtime, for
//! `--stop-pods-on-exit`.

use std::path::Path;

use k8s_cri::v1::{ListPodSandboxRequest, RemovePodSandboxRequest, StopPodSandboxRequest};
use skiff_kubelet::cri::Runtime;

/// Stops and removes every pod sandbox (and with it its containers) of the
/// runtime at `socket`. Failures are logged, because the process is exiting.
pub async fn stop_all(socket: &Path) {
    let mut runtime = match Runtime::connect(socket).await {
        Ok(runtime) => runtime.runtime,
        Err(error) => {
            tracing::error!(%error, "failed to stop the pods: the runtime is unreachable");
            return;
        }
    };
    let sandboxes = match runtime
        .list_pod_sandbox(ListPodSandboxRequest { filter: None })
        .await
    {
        Ok(response) => response.into_inner().items,
        Err(status) => {
            tracing::error!(error = %status.message(), "failed to list the pod sandboxes");
            return;
        }
    };
    for sandbox in sandboxes {
        let pod = sandbox
            .metadata
            .as_ref()
            .map(|metadata| format!("{}/{}", metadata.namespace, metadata.name))
            .unwrap_or_default();
        let stopped = runtime
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            })
            .await;
        if let Err(status) = stopped {
            tracing::error!(pod = %pod, sandbox = %sandbox.id, error = %status.message(), "failed to stop the pod");
            continue;
        }
        let removed = runtime
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            })
            .await;
        match removed {
            Ok(_) => tracing::info!(pod = %pod, sandbox = %sandbox.id, "pod stopped on exit"),
            Err(status) => {
                tracing::error!(pod = %pod, sandbox = %sandbox.id, error = %status.message(), "failed to remove the pod");
            }
        }
    }
}
