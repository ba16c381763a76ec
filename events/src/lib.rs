//! Records core/v1 Events about objects, as the event recorders of
//! Kubernetes components do, so `kubectl describe` and `kubectl get events`
//! show them. Repeats of one event within ten minutes raise its count
//! instead of adding another Event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

/// Repeats of the same event within this window increment its count
/// instead of creating a new Event, like client-go's event correlator.
const AGGREGATION_WINDOW: Duration = Duration::from_secs(600);

/// The type of an Event.
#[derive(Clone, Copy, Debug)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

#[derive(Clone, Hash, PartialEq, Eq)]
struct EventKey {
    uid: String,
    field_path: String,
    reason: String,
    message: String,
}

struct Recorded {
    name: String,
    count: i32,
    at: Instant,
}

/// Posts Events on behalf of one component (`source.component`), and for
/// node agents one host (`source.host`).
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    component: &'static str,
    host: Option<String>,
    recent: Arc<Mutex<HashMap<EventKey, Recorded>>>,
}

impl Recorder {
    pub fn new(client: Client, component: &'static str) -> Self {
        Self {
            client,
            component,
            host: None,
            recent: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Names the node the events come from, as the kubelet's events do.
    pub fn with_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self
    }

    /// Records an event about `object` in the background; failures are
    /// logged, never returned, because events are best effort.
    pub fn record<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        self.record_at(object, None, event_type, reason, message);
    }

    /// Like [`Recorder::record`], about a part of `object` named by a field
    /// path, such as `spec.containers{web}` for one container of a pod.
    pub fn record_at<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        field_path: Option<String>,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let reference = ObjectReference {
            api_version: Some(K::api_version(&()).to_string()),
            kind: Some(K::kind(&()).to_string()),
            name: Some(object.name_any()),
            namespace: object.namespace(),
            uid: object.uid(),
            resource_version: object.resource_version(),
            field_path,
        };
        let recorder = self.clone();
        let reason = reason.to_string();
        tokio::spawn(async move {
            recorder.post(reference, event_type, reason, message).await;
        });
    }

    async fn post(
        &self,
        reference: ObjectReference,
        event_type: EventType,
        reason: String,
        message: String,
    ) {
        let namespace = reference
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let key = EventKey {
            uid: reference.uid.clone().unwrap_or_default(),
            field_path: reference.field_path.clone().unwrap_or_default(),
            reason: reason.clone(),
            message: message.clone(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Some((name, count)) = self.repeat_of(&key) {
            let patch = json!({"count": count, "lastTimestamp": now()});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return,
                Err(error) => {
                    tracing::debug!(event = %name, error = %error, "failed to update event, creating a new one");
                }
            }
        }
        let now = now();
        let object_name = reference.name.clone().unwrap_or_default();
        let nanos = k8s_openapi::jiff::Timestamp::now().as_nanosecond();
        let name = format!("{object_name}.{nanos:x}");
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: reference,
            reason: Some(reason),
            message: Some(message),
            type_: Some(event_type.as_str().to_string()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            source: Some(EventSource {
                component: Some(self.component.to_string()),
                host: self.host.clone(),
            }),
            reporting_component: Some(self.component.to_string()),
            reporting_instance: Some(
                self.host
                    .clone()
                    .unwrap_or_else(|| self.component.to_string()),
            ),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => self.remember(key, name),
            Err(error) => {
                tracing::warn!(event = %name, error = %error, "failed to create event");
            }
        }
    }

    /// Returns the name and the next count of a recent identical event.
    fn repeat_of(&self, key: &EventKey) -> Option<(String, i32)> {
        let mut recent = self.recent.lock().ok()?;
        recent.retain(|_, recorded| recorded.at.elapsed() < AGGREGATION_WINDOW);
        let recorded = recent.get_mut(key)?;
        recorded.count += 1;
        recorded.at = Instant::now();
        Some((recorded.name.clone(), recorded.count))
    }

    fn remember(&self, key: EventKey, name: String) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.insert(
                key,
                Recorded {
                    name,
                    count: 1,
                    at: Instant::now(),
                },
            );
        }
    }
}

/// Returns the current time, truncated to whole seconds as the API stores it.
fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now),
    )
}
