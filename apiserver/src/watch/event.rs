//! Watch events as the apiserver keeps and sends them.

use std::sync::Arc;

use serde_json::Value;
use skiff_store::{Event, EventKind, KeyValue, Revision};

use crate::object;

/// The `type` of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change of one object, decoded from the store.
#[derive(Clone, Debug)]
pub struct ObjectEvent {
    pub event_type: EventType,
    pub revision: Revision,
    pub key: String,
    /// The object after the change; for deletions, its last state with the
    /// deletion's resourceVersion.
    pub object: Arc<Value>,
    /// The object before the change, if it existed.
    pub prev: Option<Arc<Value>>,
}

/// Decodes a store event, or returns `None` if the stored value is not JSON.
pub fn decode(event: &Event) -> Option<ObjectEvent> {
    let object = decode_kv(&event.kv)?;
    let prev = event.prev.as_ref().and_then(decode_kv).map(Arc::new);
    let event_type = match (event.kind, &prev) {
        (EventKind::Delete, _) => EventType::Deleted,
        (EventKind::Put, None) => EventType::Added,
        (EventKind::Put, Some(_)) => EventType::Modified,
    };
    Some(ObjectEvent {
        event_type,
        revision: event.kv.mod_revision,
        key: event.kv.key.clone(),
        object: Arc::new(object),
        prev,
    })
}

fn decode_kv(kv: &KeyValue) -> Option<Value> {
    match object::decode(kv) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(key = %kv.key, %error, "skipping a stored value that is not valid JSON");
            None
        }
    }
}
