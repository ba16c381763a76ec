//! Writes scheduling results to the apiserver: bindings, the PodScheduled
//! condition of pods that fit nowhere, and Events.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use crate::events::EventRecorder;
use crate::framework::pod_info::pod_key;
use crate::scheduling_loop::Message;

/// Runs binding requests on the tokio runtime, at most `limit` at a time,
/// and reports each outcome back to the scheduling loop.
#[derive(Clone)]
pub struct Binder {
    client: kube::Client,
    runtime: Handle,
    messages: Sender<Message>,
    events: EventRecorder,
    permits: Arc<Semaphore>,
    field_manager: String,
}

impl Binder {
    pub fn new(
        client: kube::Client,
        runtime: Handle,
        messages: Sender<Message>,
        events: EventRecorder,
        limit: usize,
        field_manager: &str,
    ) -> Self {
        Self {
            client,
            runtime,
            messages,
            events,
            permits: Arc::new(Semaphore::new(limit.max(1))),
            field_manager: field_manager.to_string(),
        }
    }

    /// Binds `pod` to `node` in the background.
    pub fn bind(&self, pod: Arc<Pod>, node: String) {
        let binder = self.clone();
        self.runtime.spawn(async move {
            let Ok(_permit) = binder.permits.clone().acquire_owned().await else {
                return;
            };
            let key = pod_key(&pod);
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let message = match binder.post_binding(&pod, &node).await {
                Ok(()) => {
                    tracing::debug!(pod = %key, node = %node, "bound pod");
                    let text = format!("Successfully assigned {key} to {node}");
                    binder
                        .events
                        .pod_event(&pod, "Normal", "Scheduled", "Binding", text);
                    Message::BindSucceeded { key }
                }
                Err(error) => {
                    let gone = is_status(&error, 404) || is_status(&error, 409);
                    tracing::warn!(pod = %key, node = %node, error = %error, "binding failed");
                    if !gone {
                        let text = format!("Binding rejected: {error}");
                        binder.events.pod_event(
                            &pod,
                            "Warning",
                            "FailedScheduling",
                            "Scheduling",
                            text,
                        );
                    }
                    Message::BindFailed { key, uid, gone }
                }
            };
            let _ = binder.messages.send(message);
        });
    }

    async fn post_binding(&self, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            },
            target: ObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("Node".to_string()),
                name: Some(node.to_string()),
                ..Default::default()
            },
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let params = PostParams {
            field_manager: Some(self.field_manager.clone()),
            ..Default::default()
        };
        // The apiserver answers with a Status, which needs no decoding.
        let _: serde_json::Value = api
            .create_subresource("binding", &name, &params, &binding)
            .await?;
        Ok(())
    }

    /// Records that `pod` fits no node: sets PodScheduled=False with reason
    /// Unschedulable unless the pod already carries that exact condition,
    /// and emits a FailedScheduling event when `emit_event` is set.
    pub fn report_unschedulable(&self, pod: Arc<Pod>, message: String, emit_event: bool) {
        let binder = self.clone();
        self.runtime.spawn(async move {
            if emit_event {
                let text = message.clone();
                binder.events.pod_event(&pod, "Warning", "FailedScheduling", "Scheduling", text);
            }
            if has_condition(&pod, &message) {
                return;
            }
            if let Err(error) = binder.patch_condition(&pod, message).await {
                let key = pod_key(&pod);
                tracing::warn!(pod = %key, error = %error, "failed to set the PodScheduled condition");
            }
        });
    }

    async fn patch_condition(&self, pod: &Pod, message: String) -> Result<(), kube::Error> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let condition = PodCondition {
            type_: "PodScheduled".to_string(),
            status: "False".to_string(),
            reason: Some("Unschedulable".to_string()),
            message: Some(message),
            last_transition_time: Some(Time(Timestamp::now())),
            ..Default::default()
        };
        // The patch carries the whole list, so it gives the same result as
        // a merge patch and as a strategic merge patch keyed by type.
        let mut conditions: Vec<PodCondition> = pod
            .status
            .as_ref()
            .and_then(|status| status.conditions.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|existing| existing.type_ != "PodScheduled")
            .collect();
        conditions.push(condition);
        let patch = serde_json::json!({"status": {"conditions": conditions}});
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let params = PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..Default::default()
        };
        api.patch_status(&name, &params, &Patch::Merge(&patch))
            .await?;
        Ok(())
    }
}

fn has_condition(pod: &Pod, message: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|condition| {
            condition.type_ == "PodScheduled"
                && condition.status == "False"
                && condition.reason.as_deref() == Some("Unschedulable")
                && condition.message.as_deref() == Some(message)
        })
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}
