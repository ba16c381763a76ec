//! Object semantics applied before a write: identity and timestamps,
//! generation, status handling, defaulting, validation and managed fields.

use serde_json::{Map, Value};
use skiff_machinery::validation::FieldCause;
use skiff_machinery::{apply, defaults, validation};

use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::registry::Resource;

/// Which part of an object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The main resource: everything but `status` when a status subresource exists.
    Main,
    /// The status subresource: only `status`.
    Status,
    /// A write the handler already assembled from the old object (scale,
    /// binding, finalize, deletion): taken as is.
    Internal,
}

/// How managed fields are recorded for a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership<'a> {
    /// A create, update or non-apply patch by this manager.
    Update(&'a str),
    /// An update or non-apply patch by this manager through a subresource
    /// (`status`, `scale`), recorded under its own managedFields entry.
    Subresource(&'a str, &'static str),
    /// Server-side apply already set `managedFields`.
    Applied,
}

/// Fills identity, timestamps and defaults of a new object, validates it and
/// records its managed fields.
pub fn prepare_create(
    resource: &Resource,
    object: &mut Value,
    ownership: Ownership<'_>,
) -> ApiResult<()> {
    object::set_type_meta(object, resource);
    let metadata = object::metadata_mut(object);
    let name = metadata.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        let base = metadata
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if base.is_empty() {
            return Err(ApiError::invalid(
                resource,
                "",
                vec![FieldCause {
                    reason: "FieldValueRequired".to_string(),
                    message: "Required value: name or generateName is required".to_string(),
                    field: "metadata.name".to_string(),
                }],
            ));
        }
        metadata.insert(
            "name".to_string(),
            Value::String(object::generate_name(&base)),
        );
    }
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        metadata.remove(field);
    }
    metadata.insert(
        "uid".to_string(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    metadata.insert(
        "creationTimestamp".to_string(),
        Value::String(object::now_rfc3339()),
    );
    if resource.tracks_generation {
        metadata.insert("generation".to_string(), Value::from(1));
    } else {
        metadata.remove("generation");
    }
    reset_status_on_create(resource, object);
    fold_string_data(resource, object);
    defaults::apply_defaults(&resource.gvk(), object);
    if resource.group.is_empty() && resource.kind == "Pod" {
        defaults::pod_status_on_create(object);
    }
    check_valid(resource, object, None)?;
    if let Ownership::Update(manager) = ownership {
        apply::record_update(
            &resource.gvk(),
            None,
            object,
            manager,
            &object::now_rfc3339(),
        );
    }
    Ok(())
}

/// Kubernetes clears client-set status on create for the kinds whose status
/// belongs to controllers, and starts namespaces as Active with the
/// `kubernetes` finalizer.
fn reset_status_on_create(resource: &Resource, object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match resource.kind {
        "Pod" => {
            map.insert(
                "status".to_string(),
                serde_json::json!({"phase": "Pending"}),
            );
        }
        "Deployment" | "ReplicaSet" => {
            map.insert("status".to_string(), Value::Object(Map::new()));
        }
        "Namespace" => {
            map.insert("status".to_string(), serde_json::json!({"phase": "Active"}));
            let spec = map
                .entry("spec")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(spec) = spec.as_object_mut() {
                spec.insert("finalizers".to_string(), serde_json::json!(["kubernetes"]));
            }
        }
        _ => {}
    }
}

/// Merges a requested object into the stored `old` one according to `scope`,
/// bumps the generation, defaults, validates and records managed fields.
pub fn prepare_update(
    resource: &Resource,
    old: &Value,
    requested: Value,
    scope: Scope,
    ownership: Ownership<'_>,
) -> ApiResult<Value> {
    let mut new = match scope {
        Scope::Main => {
            let mut new = requested;
            if resource.has_status_subresource() {
                copy_field(old, &mut new, "status");
            }
            new
        }
        Scope::Status => {
            let mut new = old.clone();
            copy_field(&requested, &mut new, "status");
            if let Ownership::Applied = ownership {
                copy_managed_fields(&requested, &mut new);
            }
            new
        }
        Scope::Internal => requested,
    };
    object::set_type_meta(&mut new, resource);
    keep_system_metadata(old, &mut new);
    if resource.tracks_generation {
        let generation = old
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let bumped = if old.get("spec") != new.get("spec") {
            generation + 1
        } else {
            generation
        };
        object::metadata_mut(&mut new).insert("generation".to_string(), Value::from(bumped));
    }
    fold_string_data(resource, &mut new);
    defaults::apply_defaults(&resource.gvk(), &mut new);
    check_valid(resource, &new, Some(old))?;
    match ownership {
        Ownership::Update(manager) => apply::record_update(
            &resource.gvk(),
            Some(old),
            &mut new,
            manager,
            &object::now_rfc3339(),
        ),
        Ownership::Subresource(manager, subresource) => apply::record_subresource_update(
            &resource.gvk(),
            Some(old),
            &mut new,
            manager,
            subresource,
            &object::now_rfc3339(),
        ),
        Ownership::Applied => {}
    }
    Ok(new)
}

/// Keeps the metadata only the server sets: identity, creation and deletion.
fn keep_system_metadata(old: &Value, new: &mut Value) {
    let old_metadata = old.get("metadata").and_then(Value::as_object);
    let new_metadata = object::metadata_mut(new);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_metadata.and_then(|m| m.get(field)) {
            Some(value) => {
                new_metadata.insert(field.to_string(), value.clone());
            }
            None => {
                new_metadata.remove(field);
            }
        }
    }
}

fn copy_field(from: &Value, to: &mut Value, field: &str) {
    let Some(map) = to.as_object_mut() else {
        return;
    };
    match from.get(field) {
        Some(value) => {
            map.insert(field.to_string(), value.clone());
        }
        None => {
            map.remove(field);
        }
    }
}

fn copy_managed_fields(from: &Value, to: &mut Value) {
    if let Some(fields) = from.get("metadata").and_then(|m| m.get("managedFields")) {
        object::metadata_mut(to).insert("managedFields".to_string(), fields.clone());
    }
}

fn check_valid(resource: &Resource, object: &Value, old: Option<&Value>) -> ApiResult<()> {
    let causes = validation::validate(&resource.gvk(), object, old);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(resource, object::name(object), causes))
    }
}

/// Returns whether two versions of an object differ in more than resourceVersion and
/// managed-field timestamps, so that a write is needed.
pub fn changed(old: &Value, new: &Value) -> bool {
    normalized(old) != normalized(new)
}

fn normalized(object: &Value) -> Value {
    let mut copy = object.clone();
    let metadata = object::metadata_mut(&mut copy);
    metadata.remove("resourceVersion");
    if let Some(Value::Array(entries)) = metadata.get_mut("managedFields") {
        for entry in entries {
            if let Some(entry) = entry.as_object_mut() {
                entry.remove("time");
            }
        }
    }
    copy
}

/// Returns whether a deleting object has nothing left blocking it, so that the store
/// can drop it: no finalizers, for namespaces no `spec.finalizers`, and for
/// pods a finished grace period (the kubelet deletes with grace 0).
pub fn ready_to_remove(resource: &Resource, object: &Value) -> bool {
    if !object::is_deleting(object) || !object::finalizers(object).is_empty() {
        return false;
    }
    match resource.kind {
        "Namespace" => object
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty),
        "Pod" => object
            .get("metadata")
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .is_none_or(|grace| grace == 0),
        _ => true,
    }
}

/// Moves a Secret's write-only `stringData` into `data` as base64, where it
/// wins over a `data` entry with the same key, as Kubernetes does.
fn fold_string_data(resource: &Resource, object: &mut Value) {
    use base64::Engine;
    if resource.kind != "Secret" {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            data.insert(key, Value::String(encoded));
        }
    }
}
