//! Taint-based eviction: pods on a node with NoExecute taints are deleted
//! once their tolerations run out, measured from when each taint was added.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::taints::{self, NO_EXECUTE, Tolerance};
use crate::error::{Error, is_api_status};
use crate::events::{EventType, Recorder};
use crate::{podutil, time};

pub struct Context {
    pub client: Client,
    pub nodes: Store<Node>,
    pub recorder: Recorder,
}

/// Deletes the pod when its node's NoExecute taints are no longer
/// tolerated; otherwise checks again when the shortest toleration ends.
pub async fn reconcile(pod: Arc<Pod>, context: Arc<Context>) -> Result<Action, Error> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(node_name) = podutil::node_name(&pod) else {
        return Ok(Action::await_change());
    };
    let Some(node) = context.nodes.get(&ObjectRef::new(node_name)) else {
        return Ok(Action::await_change());
    };
    let no_execute: Vec<&Taint> = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|taint| taint.effect == NO_EXECUTE)
        .collect();
    if no_execute.is_empty() {
        return Ok(Action::await_change());
    }
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.tolerations.clone())
        .unwrap_or_default();
    let remaining = match taints::tolerance(&tolerations, &no_execute) {
        Tolerance::Forever => return Ok(Action::await_change()),
        Tolerance::None => Duration::ZERO,
        Tolerance::For(tolerated) => no_execute
            .iter()
            .map(|taint| match &taint.time_added {
                Some(added) => time::until(&time::add(added, tolerated)),
                None => tolerated,
            })
            .min()
            .unwrap_or(Duration::ZERO),
    };
    if !remaining.is_zero() {
        return Ok(Action::requeue(remaining + Duration::from_millis(100)));
    }
    evict(&pod, &context).await?;
    Ok(Action::await_change())
}

async fn evict(pod: &Pod, context: &Context) -> Result<(), Error> {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    tracing::info!(pod = %name, namespace = %namespace, "evicting pod from tainted node");
    context.recorder.record(
        pod,
        EventType::Normal,
        "TaintManagerEviction",
        format!("Marking for deletion Pod {namespace}/{name}"),
    );
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": time::now(),
    }]}});
    // The condition is informational; the deletion matters.
    if let Err(error) = api
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Strategic(&condition),
        )
        .await
    {
        tracing::debug!(pod = %name, error = %error, "failed to add the DisruptionTarget condition");
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(error) if is_api_status(&error, 404) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
