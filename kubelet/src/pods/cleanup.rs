//! Removes what the runtime and the disk still hold for pods that are no
//! longer bound to this node (for example deleted while the kubelet was down).

use std::collections::HashSet;

use k8s_cri::v1::{ListPodSandboxRequest, PodSandboxFilter};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::snapshot::Snapshot;
use super::{sandbox, terminate};
use crate::context::Context;
use crate::cri::labels;

/// Removes sandboxes, containers and pod directories of every pod of this
/// node whose uid is not in `known`.
pub async fn sweep(ctx: &Context, known: &HashSet<String>) {
    let mut rt = ctx.runtime.runtime.clone();
    let selector = [(labels::NODE.to_string(), ctx.config.node_name.clone())]
        .into_iter()
        .collect();
    let request = ListPodSandboxRequest {
        filter: Some(PodSandboxFilter {
            label_selector: selector,
            ..Default::default()
        }),
    };
    let sandboxes = match rt.list_pod_sandbox(request).await {
        Ok(r) => r.into_inner().items,
        Err(status) => {
            tracing::warn!(error = %status.message(), "cannot list sandboxes for cleanup");
            return;
        }
    };
    let mut orphans: HashSet<(String, String, String)> = HashSet::new();
    for s in sandboxes {
        let get = |k: &str| s.labels.get(k).cloned().unwrap_or_default();
        let uid = get(labels::POD_UID);
        if !uid.is_empty() && !known.contains(&uid) {
            orphans.insert((uid, get(labels::POD_NAMESPACE), get(labels::POD_NAME)));
        }
    }
    for (uid, namespace, name) in orphans {
        tracing::info!(pod = %format!("{namespace}/{name}"), %uid, "removing a pod that is no longer bound to this node");
        let Ok(snapshot) = Snapshot::load(&ctx.runtime, &uid).await else {
            continue;
        };
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                uid: Some(uid.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        terminate::stop_containers(ctx, &pod, &snapshot, 2).await;
        if let Err(error) = terminate::remove_sandboxes(ctx, &snapshot).await {
            tracing::warn!(%uid, %error, "failed to remove an orphaned sandbox");
        }
        terminate::remove_files(ctx, &uid, &sandbox::log_directory(ctx, &pod));
    }
    sweep_directories(ctx, known);
}

/// Pod directories on disk without a pod.
fn sweep_directories(ctx: &Context, known: &HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(ctx.config.root_dir.join("pods")) else {
        return;
    };
    for entry in entries.flatten() {
        let uid = entry.file_name().to_string_lossy().into_owned();
        if !known.contains(&uid)
            && let Err(error) = crate::volumes::teardown(&ctx.config.root_dir, &uid)
        {
            tracing::warn!(%uid, %error, "failed to remove an orphaned pod directory");
        }
    }
}
