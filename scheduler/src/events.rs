//! core/v1 Events about pods, written in the background so that a slow
//! apiserver never holds up scheduling.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events waiting to be written; beyond this, new events are dropped, as
/// client-go's event broadcaster drops them when its queue is full.
const QUEUE_LENGTH: usize = 1000;
/// Events written at the same time.
const CONCURRENT_WRITES: usize = 8;

/// Sends Events on behalf of one component.
#[derive(Clone)]
pub struct EventRecorder {
    queue: mpsc::Sender<Event>,
    component: String,
    instance: String,
    dropped: Arc<AtomicU64>,
}

impl EventRecorder {
    /// Starts the writer task, which stops at `shutdown`.
    pub fn spawn(client: kube::Client, component: &str, shutdown: CancellationToken) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_LENGTH);
        tokio::spawn(write_events(client, receiver, shutdown));
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string());
        Self {
            queue,
            component: component.to_string(),
            instance: format!("{component}-{host}"),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queues an Event about `pod`; `type_` is `Normal` or `Warning`.
    pub fn pod_event(&self, pod: &Pod, type_: &str, reason: &str, action: &str, message: String) {
        let event = self.build(pod, type_, reason, action, message);
        if self.queue.try_send(event).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped.is_multiple_of(1000) {
                tracing::warn!(dropped, "event queue full; dropping events");
            }
        }
    }

    fn build(&self, pod: &Pod, type_: &str, reason: &str, action: &str, message: String) -> Event {
        let now = Timestamp::now();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        Event {
            metadata: ObjectMeta {
                // client-go names events `<object>.<unix nanoseconds in hex>`.
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("Pod".to_string()),
                name: Some(name),
                namespace: Some(namespace),
                uid: pod.metadata.uid.clone(),
                resource_version: pod.metadata.resource_version.clone(),
                ..Default::default()
            },
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(type_.to_string()),
            action: Some(action.to_string()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        }
    }
}

async fn write_events(
    client: kube::Client,
    mut receiver: mpsc::Receiver<Event>,
    shutdown: CancellationToken,
) {
    let events = futures::stream::poll_fn(move |context| receiver.poll_recv(context));
    let writes = events.for_each_concurrent(CONCURRENT_WRITES, |event| {
        let client = client.clone();
        async move {
            let namespace = event.metadata.namespace.clone().unwrap_or_default();
            let api: Api<Event> = Api::namespaced(client, &namespace);
            if let Err(error) = api.create(&PostParams::default(), &event).await {
                tracing::warn!(
                    reason = event.reason.as_deref().unwrap_or_default(),
                    object = event.involved_object.name.as_deref().unwrap_or_default(),
                    error = %error,
                    "failed to write event"
                );
            }
        }
    });
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = writes => {}
    }
}
