//! Event rows (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE and the wide
//! columns) for core/v1 and events.k8s.io/v1 Events, which Kubernetes
//! prints with the same printer.

use serde_json::{Value, json};

use super::duration::{parse_rfc3339, since};
use super::{Column, NAME_DESCRIPTION, column, count, name_of, text};

pub(super) fn columns() -> Vec<Column> {
    vec![
        column(
            "Last Seen",
            "string",
            0,
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        column(
            "Type",
            "string",
            0,
            "Type of this event (Normal, Warning), new types could be added in the future.",
        ),
        column(
            "Reason",
            "string",
            0,
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        column(
            "Object",
            "string",
            0,
            "The object that this event is about.",
        ),
        column(
            "Subobject",
            "string",
            1,
            "The object that this event is about.",
        ),
        column("Source", "string", 1, "The component reporting this event."),
        column(
            "Message",
            "string",
            0,
            "A human-readable description of the status of this operation.",
        ),
        column(
            "First Seen",
            "string",
            1,
            "The time at which the event was first recorded.",
        ),
        column(
            "Count",
            "string",
            1,
            "The number of times this event has occurred.",
        ),
        column("Name", "string", 1, NAME_DESCRIPTION),
    ]
}

/// Accessors for the printed fields, which differ between Event API versions.
pub(super) trait EventFields {
    fn involved_object<'a>(&self, event: &'a Value) -> &'a Value;
    fn message<'a>(&self, event: &'a Value) -> &'a str;
    fn first_timestamp<'a>(&self, event: &'a Value) -> &'a Value;
    fn last_timestamp<'a>(&self, event: &'a Value) -> &'a Value;
    fn count(&self, event: &Value) -> i64;
    fn source<'a>(&self, event: &'a Value) -> &'a Value;
}

pub(super) struct CoreFields;
pub(super) struct EventsV1Fields;

impl EventFields for CoreFields {
    fn involved_object<'a>(&self, event: &'a Value) -> &'a Value {
        &event["involvedObject"]
    }
    fn message<'a>(&self, event: &'a Value) -> &'a str {
        text(&event["message"])
    }
    fn first_timestamp<'a>(&self, event: &'a Value) -> &'a Value {
        &event["firstTimestamp"]
    }
    fn last_timestamp<'a>(&self, event: &'a Value) -> &'a Value {
        &event["lastTimestamp"]
    }
    fn count(&self, event: &Value) -> i64 {
        count(&event["count"])
    }
    fn source<'a>(&self, event: &'a Value) -> &'a Value {
        &event["source"]
    }
}

impl EventFields for EventsV1Fields {
    fn involved_object<'a>(&self, event: &'a Value) -> &'a Value {
        &event["regarding"]
    }
    fn message<'a>(&self, event: &'a Value) -> &'a str {
        text(&event["note"])
    }
    fn first_timestamp<'a>(&self, event: &'a Value) -> &'a Value {
        &event["deprecatedFirstTimestamp"]
    }
    fn last_timestamp<'a>(&self, event: &'a Value) -> &'a Value {
        &event["deprecatedLastTimestamp"]
    }
    fn count(&self, event: &Value) -> i64 {
        count(&event["deprecatedCount"])
    }
    fn source<'a>(&self, event: &'a Value) -> &'a Value {
        &event["deprecatedSource"]
    }
}

fn has_time(value: &Value) -> bool {
    value.as_str().and_then(parse_rfc3339).is_some()
}

pub(super) fn cells(fields: &dyn EventFields, event: &Value, now: i64) -> Vec<Value> {
    let first_value = fields.first_timestamp(event);
    let first_seen = if has_time(first_value) {
        since(first_value.as_str(), now)
    } else {
        since(event["eventTime"].as_str(), now)
    };
    let last_value = fields.last_timestamp(event);
    let mut last_seen = if has_time(last_value) {
        since(last_value.as_str(), now)
    } else {
        first_seen.clone()
    };
    let mut occurrences = fields.count(event);
    if event["series"].is_object() {
        last_seen = since(event["series"]["lastObservedTime"].as_str(), now);
        occurrences = count(&event["series"]["count"]);
    } else if occurrences == 0 {
        occurrences = 1;
    }
    let involved = fields.involved_object(event);
    let kind = text(&involved["kind"]).to_lowercase();
    let name = text(&involved["name"]);
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    vec![
        json!(last_seen),
        json!(text(&event["type"])),
        json!(text(&event["reason"])),
        json!(target),
        json!(text(&involved["fieldPath"])),
        json!(source(fields.source(event), event)),
        json!(fields.message(event).trim()),
        json!(first_seen),
        json!(occurrences),
        name_of(event),
    ]
}

/// `component, host`, falling back to the reporting controller (named
/// `reportingComponent` in core/v1) and instance.
fn source(source: &Value, event: &Value) -> String {
    let first_non_empty = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            a.to_string()
        }
    };
    let controller = first_non_empty(
        text(&event["reportingComponent"]),
        text(&event["reportingController"]),
    );
    let component = first_non_empty(text(&source["component"]), &controller);
    let instance = first_non_empty(text(&source["host"]), text(&event["reportingInstance"]));
    if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    }
}
