//! Reading and writing `metadata.managedFields`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};
use serde_json::Value;

use super::fieldpath::FieldSet;

pub const APPLY: &str = "Apply";
pub const UPDATE: &str = "Update";

/// One `managedFields` entry with its decoded field set.
#[derive(Clone, Debug, PartialEq)]
pub struct Manager {
    pub name: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    /// Empty for the main resource.
    pub subresource: String,
    pub time: Option<Time>,
    pub fields: FieldSet,
}

impl Manager {
    pub fn new(name: &str, operation: &str, api_version: &str, subresource: &str) -> Self {
        Self {
            name: name.to_string(),
            operation: operation.to_string(),
            api_version: api_version.to_string(),
            subresource: subresource.to_string(),
            time: None,
            fields: FieldSet::default(),
        }
    }

    /// Returns whether this entry belongs to `name` doing `operation` on `subresource`.
    pub fn is(&self, name: &str, operation: &str, subresource: &str) -> bool {
        self.name == name && self.operation == operation && self.subresource == subresource
    }

    fn from_entry(entry: ManagedFieldsEntry) -> Self {
        let fields = entry
            .fields_v1
            .map(|FieldsV1(fields)| FieldSet::from_fields_v1(&fields))
            .unwrap_or_default();
        Self {
            name: entry.manager.unwrap_or_default(),
            operation: entry.operation.unwrap_or_else(|| UPDATE.to_string()),
            api_version: entry.api_version.unwrap_or_default(),
            subresource: entry.subresource.unwrap_or_default(),
            time: entry.time,
            fields,
        }
    }

    fn to_entry(&self) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            api_version: Some(self.api_version.clone()),
            fields_type: Some("FieldsV1".to_string()),
            fields_v1: Some(FieldsV1(self.fields.to_fields_v1())),
            manager: Some(self.name.clone()),
            operation: Some(self.operation.clone()),
            subresource: (!self.subresource.is_empty()).then(|| self.subresource.clone()),
            time: self.time.clone(),
        }
    }
}

/// Parses an RFC 3339 time; an unparsable time leaves the entry without one.
pub fn parse_time(now: &str) -> Option<Time> {
    now.parse().ok().map(Time)
}

/// Decodes the `managedFields` of `object`. Entries that do not decode are
/// dropped, as Kubernetes resets managed fields it cannot read.
pub fn read_managers(object: &Value) -> Vec<Manager> {
    let Some(entries) = object.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    let Ok(entries) = serde_json::from_value::<Vec<ManagedFieldsEntry>>(entries.clone()) else {
        return Vec::new();
    };
    entries.into_iter().map(Manager::from_entry).collect()
}

/// Returns whether `object` carries a `managedFields` list, even an empty one.
pub fn has_managed_fields(object: &Value) -> bool {
    object
        .pointer("/metadata/managedFields")
        .is_some_and(|entries| !entries.is_null())
}

/// Stores `managers` as the `managedFields` of `object`, leaving out entries
/// that own nothing and sorting them as Kubernetes does: by operation, time,
/// manager, API version and subresource.
pub fn write_managers(object: &mut Value, mut managers: Vec<Manager>) {
    managers.retain(|manager| !manager.fields.is_empty());
    managers.sort_by(|a, b| {
        let seconds = |manager: &Manager| manager.time.as_ref().map(|time| time.0.as_second());
        a.operation
            .cmp(&b.operation)
            .then_with(|| seconds(a).unwrap_or(0).cmp(&seconds(b).unwrap_or(0)))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let entries: Vec<ManagedFieldsEntry> = managers.iter().map(Manager::to_entry).collect();
    let Some(metadata) = object.as_object_mut().map(|fields| {
        fields
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()))
    }) else {
        return;
    };
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        metadata.remove("managedFields");
        return;
    }
    match serde_json::to_value(entries) {
        Ok(value) => {
            metadata.insert("managedFields".to_string(), value);
        }
        Err(error) => {
            tracing::warn!(%error, "could not encode managedFields; leaving them out");
            metadata.remove("managedFields");
        }
    }
}
