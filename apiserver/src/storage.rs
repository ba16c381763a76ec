//! Reads and writes of objects in the store, with resourceVersion handling.

use serde_json::Value;
use skiff_store::Revision;

use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::registry::Resource;
use crate::state::AppState;

/// Reads one object with its resourceVersion, or 404.
pub async fn get(
    state: &AppState,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult<(Value, Revision)> {
    let key = resource.key(namespace, name);
    let kv = state
        .store
        .get(&key)
        .await
        .map_err(|e| ApiError::from_store(e, resource, name))?
        .ok_or_else(|| ApiError::not_found(resource, name))?;
    let value = object::decode(&kv).map_err(|error| {
        ApiError::internal(format!("stored object {key} is not valid JSON: {error}"))
    })?;
    let mut value = convert::from_storage(resource, value);
    object::set_type_meta(&mut value, resource);
    Ok((value, kv.mod_revision))
}

/// Stores a new object and returns it with its resourceVersion.
pub async fn create(state: &AppState, resource: &Resource, object: Value) -> ApiResult<Value> {
    let name = object::name(&object).to_string();
    let key = resource.key(object::meta_str(&object, "namespace"), &name);
    let kv = state
        .store
        .create(&key, encode(resource, &object))
        .await
        .map_err(|e| ApiError::from_store(e, resource, &name))?;
    let mut stored = object;
    object::set_resource_version(&mut stored, kv.mod_revision);
    Ok(stored)
}

/// Replaces an object if its mod revision is still `expected`.
pub async fn update(
    state: &AppState,
    resource: &Resource,
    object: Value,
    expected: Revision,
) -> ApiResult<Value> {
    let name = object::name(&object).to_string();
    let key = resource.key(object::meta_str(&object, "namespace"), &name);
    let kv = state
        .store
        .update(&key, encode(resource, &object), expected)
        .await
        .map_err(|e| ApiError::from_store(e, resource, &name))?;
    let mut stored = object;
    object::set_resource_version(&mut stored, kv.mod_revision);
    Ok(stored)
}

/// Removes an object if its mod revision is still `expected`, returning its
/// last state with the deletion's resourceVersion.
pub async fn delete(
    state: &AppState,
    resource: &Resource,
    object: &Value,
    expected: Revision,
) -> ApiResult<Value> {
    let name = object::name(object).to_string();
    let key = resource.key(object::meta_str(object, "namespace"), &name);
    let kv = state
        .store
        .delete(&key, Some(expected))
        .await
        .map_err(|e| ApiError::from_store(e, resource, &name))?;
    let mut gone = object.clone();
    object::set_resource_version(&mut gone, kv.mod_revision);
    Ok(gone)
}

/// Returns whether an error is a lost race that a retry may win.
pub fn is_conflict(error: &ApiError) -> bool {
    error.reason == "Conflict"
}

fn encode(resource: &Resource, object: &Value) -> bytes::Bytes {
    object::encode(&convert::to_storage(resource, object.clone()))
}
