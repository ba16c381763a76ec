//! The scale and binding subresources.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::Ctx;
use super::update::guaranteed_update;
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::output;
use crate::registry::Resource;
use crate::semantics::{Ownership, Scope};
use crate::storage;

pub async fn get_scale(ctx: &Ctx, name: &str) -> ApiResult<Response> {
    let (value, _) = storage::get(&ctx.state, ctx.resource, ctx.namespace(), name).await?;
    Ok(output::json_response(
        StatusCode::OK,
        &scale_of(ctx.resource, &value),
    ))
}

/// Returns the `autoscaling/v1` Scale view of a Deployment or ReplicaSet.
pub fn scale_of(resource: &Resource, value: &Value) -> Value {
    let metadata = value.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let pick = |field: &str| metadata.get(field).cloned().unwrap_or(Value::Null);
    let mut scale_metadata = json!({});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if !pick(field).is_null() {
            scale_metadata[field] = pick(field);
        }
    }
    let replicas = value
        .get("spec")
        .and_then(|s| s.get("replicas"))
        .cloned()
        .unwrap_or(Value::from(1));
    let status_replicas = value
        .get("status")
        .and_then(|s| s.get("replicas"))
        .cloned()
        .unwrap_or(Value::from(0));
    let _ = resource;
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_metadata,
        "spec": { "replicas": replicas },
        "status": {
            "replicas": status_replicas,
            "selector": selector_string(value),
        },
    })
}

/// Renders `spec.selector.matchLabels` as a label selector string.
fn selector_string(value: &Value) -> String {
    value
        .get("spec")
        .and_then(|s| s.get("selector"))
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

pub fn with_replicas(current: &Value, replicas: Value) -> Value {
    let mut new = current.clone();
    if let Some(map) = new.as_object_mut() {
        let spec = map
            .entry("spec")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        spec["replicas"] = replicas;
    }
    new
}

/// POST pods/NAME/binding: assigns the pod to a node once.
pub async fn bind(ctx: &Ctx, name: &str, request_body: Body) -> ApiResult<Response> {
    let bytes = body::read(&ctx.headers, request_body).await?;
    let binding: Value = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::bad_request(format!("the body is not a valid Binding: {error}"))
    })?;
    let node = binding
        .get("target")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        return Err(ApiError::invalid_field(
            ctx.resource,
            name,
            "target.name",
            "Required value: the binding must name a node",
        ));
    }
    let conflict = |why: String| {
        let mut error = ApiError::conflict(ctx.resource, name, &why);
        error.message = format!("Operation cannot be fulfilled on pods/binding \"{name}\": {why}");
        error
    };
    let manager = ctx.manager();
    guaranteed_update(ctx, name, Ownership::Update(&manager), |current| {
        if object::is_deleting(current) {
            return Err(conflict(format!(
                "pod {name} is being deleted, cannot be assigned to a host"
            )));
        }
        let assigned = current
            .get("spec")
            .and_then(|s| s.get("nodeName"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !assigned.is_empty() {
            return Err(conflict(format!(
                "pod {name} is already assigned to node \"{assigned}\""
            )));
        }
        Ok((bound(current, &node), Scope::Internal))
    })
    .await?;
    Ok(output::json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

fn bound(current: &Value, node: &str) -> Value {
    let mut new = current.clone();
    new["spec"]["nodeName"] = Value::String(node.to_string());
    let condition = json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": object::now_rfc3339(),
    });
    let status = &mut new["status"];
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = &mut status["conditions"];
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    if let Some(list) = conditions.as_array_mut() {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
        list.push(condition);
    }
    new
}
