//! Conversion between the stored form of an object and the version a
//! request addresses. Only Events have two versions: they are stored as
//! core/v1 Events and served as events.k8s.io/v1 too, as in Kubernetes.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::registry::Resource;

/// events.k8s.io/v1 field names and the core/v1 names they are stored under.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn is_events_v1(resource: &Resource) -> bool {
    resource.group == "events.k8s.io" && resource.kind == "Event"
}

/// Converts an object of `resource`'s version to the stored form.
pub fn to_storage(resource: &Resource, object: Value) -> Value {
    if !is_events_v1(resource) {
        return object;
    }
    let mut stored = rename(object, |external, _| external, |_, internal| internal);
    if let Some(map) = stored.as_object_mut() {
        map.insert("apiVersion".to_string(), Value::String("v1".to_string()));
    }
    stored
}

/// Converts a stored object to `resource`'s version.
pub fn from_storage(resource: &Resource, object: Value) -> Value {
    if !is_events_v1(resource) {
        return object;
    }
    let mut external = rename(object, |_, internal| internal, |external, _| external);
    if let Some(map) = external.as_object_mut() {
        map.insert(
            "apiVersion".to_string(),
            Value::String("events.k8s.io/v1".to_string()),
        );
    }
    external
}

/// Returns the object as `resource`'s version, borrowing it when no
/// conversion is needed.
pub fn external<'a>(resource: &Resource, stored: &'a Value) -> Cow<'a, Value> {
    if is_events_v1(resource) {
        Cow::Owned(from_storage(resource, stored.clone()))
    } else {
        Cow::Borrowed(stored)
    }
}

/// Moves each field named by `from` to the name given by `to`.
fn rename(
    object: Value,
    from: fn(&'static str, &'static str) -> &'static str,
    to: fn(&'static str, &'static str) -> &'static str,
) -> Value {
    let Value::Object(mut map) = object else {
        return object;
    };
    let mut renamed = Map::new();
    for (external, internal) in EVENT_FIELDS {
        if let Some(value) = map.remove(from(external, internal)) {
            renamed.insert(to(external, internal).to_string(), value);
        }
    }
    map.extend(renamed);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry;

    #[test]
    fn events_v1_round_trips_through_core_form() {
        let events = registry::find("events.k8s.io", "v1", "events").expect("registered");
        let event = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"},
            "note": "pulled",
            "reason": "Pulled",
        });
        let stored = to_storage(events, event.clone());
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "pulled");
        assert_eq!(stored["apiVersion"], "v1");
        assert!(stored.get("regarding").is_none());
        assert_eq!(from_storage(events, stored), event);
    }
}
