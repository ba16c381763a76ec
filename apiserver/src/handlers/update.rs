//! PUT and PATCH of an object or of its status, scale or finalize
//! subresource, with optimistic concurrency.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusCause;
use serde_json::Value;
use skiff_machinery::apply::{self, ApplyError};
use skiff_machinery::patch::{self, PatchError, PatchType};

use super::Ctx;
use super::create::{self, check_strict, set_namespace};
use super::subresource::{self, scale_of};
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::semantics::{self, Ownership, Scope};
use crate::storage;

/// The part of an object a PUT or PATCH addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Main,
    Status,
    Scale,
    Finalize,
}

impl Target {
    /// Returns how a non-apply write by `manager` through this target is recorded.
    fn ownership(self, manager: &str) -> Ownership<'_> {
        match self {
            Target::Main | Target::Finalize => Ownership::Update(manager),
            Target::Status => Ownership::Subresource(manager, "status"),
            Target::Scale => Ownership::Subresource(manager, "scale"),
        }
    }
}

/// Attempts of a read-modify-write before giving up on a busy object.
const MAX_ATTEMPTS: usize = 10;

pub async fn update(
    ctx: &Ctx,
    name: &str,
    request_body: Body,
    target: Target,
) -> ApiResult<Response> {
    let bytes = body::read(&ctx.headers, request_body).await?;
    if target == Target::Scale {
        return update_scale(ctx, name, &bytes).await;
    }
    let (mut requested, json) = body::decode_object(&ctx.headers, &bytes, ctx.resource)?;
    body::check_type(
        &requested,
        &ctx.resource.api_version(),
        ctx.resource.kind,
        ctx.resource,
    )?;
    check_strict(ctx, &json)?;
    let body_name = object::name(&requested);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    object::metadata_mut(&mut requested)
        .insert("name".to_string(), Value::String(name.to_string()));
    set_namespace(ctx, &mut requested)?;
    let precondition = precondition(ctx, name, &requested)?;
    let manager = ctx.manager();
    let stored = guaranteed_update(ctx, name, target.ownership(&manager), |current| {
        check_precondition(ctx, name, current, precondition)?;
        Ok(match target {
            Target::Main => (requested.clone(), Scope::Main),
            Target::Status => (requested.clone(), Scope::Status),
            Target::Finalize => (with_spec_finalizers(current, &requested), Scope::Internal),
            Target::Scale => unreachable_scale(),
        })
    })
    .await?;
    Ok(super::reply(ctx, StatusCode::OK, &stored))
}

fn unreachable_scale() -> (Value, Scope) {
    (Value::Null, Scope::Internal)
}

async fn update_scale(ctx: &Ctx, name: &str, bytes: &[u8]) -> ApiResult<Response> {
    let scale: Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request(format!("the body is not a valid Scale: {error}"))
    })?;
    let replicas = scale
        .get("spec")
        .and_then(|s| s.get("replicas"))
        .cloned()
        .unwrap_or(Value::from(0));
    let precondition = precondition(ctx, name, &scale)?;
    let manager = ctx.manager();
    let stored = guaranteed_update(ctx, name, Target::Scale.ownership(&manager), |current| {
        check_precondition(ctx, name, current, precondition)?;
        Ok((
            subresource::with_replicas(current, replicas.clone()),
            Scope::Internal,
        ))
    })
    .await?;
    Ok(crate::output::json_response(
        StatusCode::OK,
        &scale_of(ctx.resource, &stored),
    ))
}

fn with_spec_finalizers(current: &Value, requested: &Value) -> Value {
    let mut new = current.clone();
    let finalizers = requested
        .get("spec")
        .and_then(|s| s.get("finalizers"))
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if let Some(map) = new.as_object_mut() {
        let spec = map
            .entry("spec")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        spec["finalizers"] = finalizers;
    }
    new
}

fn precondition(ctx: &Ctx, name: &str, requested: &Value) -> ApiResult<Option<i64>> {
    object::resource_version(requested).map_err(|text| {
        ApiError::invalid_field(
            ctx.resource,
            name,
            "metadata.resourceVersion",
            &format!("Invalid value: {text:?}: must be a number"),
        )
    })
}

fn check_precondition(
    ctx: &Ctx,
    name: &str,
    current: &Value,
    expected: Option<i64>,
) -> ApiResult<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let actual = object::resource_version(current).ok().flatten();
    if actual == Some(expected) {
        Ok(())
    } else {
        Err(ApiError::stale(ctx.resource, name))
    }
}

pub async fn patch(
    ctx: &Ctx,
    name: &str,
    request_body: Body,
    target: Target,
) -> ApiResult<Response> {
    let content_type = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let patch_type = PatchType::from_content_type(content_type).ok_or_else(|| {
        ApiError::unsupported_media_type(
            content_type,
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml",
        )
    })?;
    let bytes = body::read(&ctx.headers, request_body).await?;
    if patch_type == PatchType::Apply {
        return apply_patch(ctx, name, &bytes, target).await;
    }
    let manager = ctx.manager();
    let gvk = ctx.resource.gvk();
    let stored = guaranteed_update(ctx, name, target.ownership(&manager), |current| {
        let base = if target == Target::Scale {
            scale_of(ctx.resource, current)
        } else {
            current.clone()
        };
        let scale_gvk = skiff_machinery::Gvk::new("autoscaling", "v1", "Scale");
        let patch_gvk = if target == Target::Scale {
            &scale_gvk
        } else {
            &gvk
        };
        let patched = patch::apply_patch(patch_gvk, &base, patch_type, &bytes)
            .map_err(|error| patch_error(ctx, name, error))?;
        if object::meta_str(&patched, "resourceVersion")
            != object::meta_str(&base, "resourceVersion")
        {
            return Err(ApiError::stale(ctx.resource, name));
        }
        if target != Target::Scale {
            let json = serde_json::to_vec(&patched).unwrap_or_default();
            check_strict(ctx, &json)?;
        }
        Ok(requested_from(ctx, current, patched, target))
    })
    .await?;
    Ok(patch_reply(ctx, target, &stored, StatusCode::OK))
}

/// Maps a patched object (or Scale) to what the update pipeline writes.
fn requested_from(ctx: &Ctx, current: &Value, patched: Value, target: Target) -> (Value, Scope) {
    match target {
        Target::Main => (patched, Scope::Main),
        Target::Status => (patched, Scope::Status),
        Target::Finalize => (with_spec_finalizers(current, &patched), Scope::Internal),
        Target::Scale => {
            let replicas = patched
                .get("spec")
                .and_then(|s| s.get("replicas"))
                .cloned()
                .unwrap_or(Value::from(0));
            let _ = ctx;
            (
                subresource::with_replicas(current, replicas),
                Scope::Internal,
            )
        }
    }
}

fn patch_reply(ctx: &Ctx, target: Target, stored: &Value, code: StatusCode) -> Response {
    if target == Target::Scale {
        crate::output::json_response(code, &scale_of(ctx.resource, stored))
    } else {
        super::reply(ctx, code, stored)
    }
}

fn patch_error(ctx: &Ctx, name: &str, error: PatchError) -> ApiError {
    match error {
        PatchError::InvalidBody(message) => {
            ApiError::bad_request(format!("the patch body is invalid: {message}"))
        }
        PatchError::Failed(message) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!(
                "{} \"{name}\" could not be patched: {message}",
                ctx.resource.qualified_name()
            ),
        ),
    }
}

/// Server-side apply: creates the object when it is missing.
async fn apply_patch(ctx: &Ctx, name: &str, bytes: &[u8], target: Target) -> ApiResult<Response> {
    let mut applied: Value = serde_yaml_ng::from_slice(bytes)
        .map_err(|error| ApiError::bad_request(format!("error decoding YAML: {error}")))?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ));
    }
    let json = serde_json::to_vec(&applied).unwrap_or_default();
    if target != Target::Scale {
        body::check_type(
            &applied,
            &ctx.resource.api_version(),
            ctx.resource.kind,
            ctx.resource,
        )?;
        if applied.get("kind").is_none() || applied.get("apiVersion").is_none() {
            return Err(ApiError::bad_request(
                "apiVersion and kind must be set in an apply configuration",
            ));
        }
        check_strict(ctx, &json)?;
        set_namespace(ctx, &mut applied)?;
        let body_name = object::name(&applied);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        object::metadata_mut(&mut applied)
            .insert("name".to_string(), Value::String(name.to_string()));
    }
    let manager = ctx.manager();
    let gvk = ctx.resource.gvk();
    let now = object::now_rfc3339();
    let force = ctx.params.force;
    let existing = storage::get(&ctx.state, ctx.resource, ctx.namespace(), name).await;
    if let Err(error) = &existing
        && error.reason == "NotFound"
    {
        if target != Target::Main {
            return Err(error.clone());
        }
        let created = apply::server_side_apply(&gvk, None, &applied, &manager, force, &now)
            .map_err(|error| apply_error(ctx, name, error))?;
        let created = create::create_object(
            &ctx.state,
            ctx.resource,
            created,
            Ownership::Applied,
            ctx.params.dry_run,
        )
        .await?;
        return Ok(super::reply(ctx, StatusCode::CREATED, &created));
    }
    existing?;
    let stored = guaranteed_update(ctx, name, Ownership::Applied, |current| {
        if target == Target::Scale {
            let mut scale = scale_of(ctx.resource, current);
            json_patch::merge(&mut scale, &applied);
            return Ok(requested_from(ctx, current, scale, target));
        }
        let result = apply::server_side_apply(&gvk, Some(current), &applied, &manager, force, &now)
            .map_err(|error| apply_error(ctx, name, error))?;
        Ok(requested_from(ctx, current, result, target))
    })
    .await?;
    Ok(patch_reply(ctx, target, &stored, StatusCode::OK))
}

fn apply_error(ctx: &Ctx, name: &str, error: ApplyError) -> ApiError {
    match error {
        ApplyError::Invalid(message) => ApiError::bad_request(message),
        ApplyError::Conflicts(conflicts) => {
            let message = skiff_machinery::apply::conflicts_message(&conflicts);
            let mut error = ApiError::conflict(ctx.resource, name, "");
            error.message = message;
            if let Some(details) = error.details.as_mut() {
                details.causes = Some(
                    conflicts
                        .iter()
                        .map(|c| StatusCause {
                            reason: Some("FieldManagerConflict".to_string()),
                            message: Some(c.cause_message()),
                            field: Some(c.field.clone()),
                        })
                        .collect(),
                );
            }
            error
        }
    }
}

/// Reads the object, lets `mutate` build the requested state, prepares it and
/// writes it if it changed, retrying when another writer got in between.
pub async fn guaranteed_update<F>(
    ctx: &Ctx,
    name: &str,
    ownership: Ownership<'_>,
    mut mutate: F,
) -> ApiResult<Value>
where
    F: FnMut(&Value) -> ApiResult<(Value, Scope)>,
{
    let mut last_error = ApiError::stale(ctx.resource, name);
    for _ in 0..MAX_ATTEMPTS {
        let (current, revision) =
            storage::get(&ctx.state, ctx.resource, ctx.namespace(), name).await?;
        let (requested, scope) = mutate(&current)?;
        let new = semantics::prepare_update(ctx.resource, &current, requested, scope, ownership)?;
        if !semantics::changed(&current, &new) {
            return Ok(current);
        }
        if ctx.params.dry_run {
            return Ok(new);
        }
        match storage::update(&ctx.state, ctx.resource, new, revision).await {
            Ok(stored) => return finish_deletion(ctx, stored).await,
            Err(error) if storage::is_conflict(&error) => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// Removes a deleting object once its last finalizer is gone.
pub async fn finish_deletion(ctx: &Ctx, stored: Value) -> ApiResult<Value> {
    if !semantics::ready_to_remove(ctx.resource, &stored) {
        return Ok(stored);
    }
    let revision = object::resource_version(&stored)
        .ok()
        .flatten()
        .unwrap_or_default();
    match storage::delete(&ctx.state, ctx.resource, &stored, revision).await {
        Ok(gone) => Ok(gone),
        // Another writer changed it meanwhile; that write finishes the deletion.
        Err(error) if storage::is_conflict(&error) || error.reason == "NotFound" => Ok(stored),
        Err(error) => Err(error),
    }
}
