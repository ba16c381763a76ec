//! DELETE of one object and of a collection: finalizers, graceful pod
//! deletion and namespace termination.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, Status, StatusDetails};
use serde_json::{Value, json};

use super::Ctx;
use super::list::read_page;
use super::update::finish_deletion;
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::object;
use crate::output;
use crate::semantics;
use crate::storage;

/// Namespaces that always exist.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Attempts of a delete racing with other writers.
const MAX_ATTEMPTS: usize = 10;

pub async fn delete(ctx: &Ctx, name: &str, request_body: Body) -> ApiResult<Response> {
    let bytes = body::read(&ctx.headers, request_body).await?;
    let options = delete_options(ctx, &bytes)?;
    let (value, removed) = delete_one(ctx, name, &options).await?;
    Ok(deleted_reply(ctx, &value, removed))
}

fn delete_options(ctx: &Ctx, bytes: &[u8]) -> ApiResult<DeleteOptions> {
    let invalid = |error: String| {
        ApiError::bad_request(format!("the body is not valid DeleteOptions: {error}"))
    };
    let mut options = if bytes.iter().all(u8::is_ascii_whitespace) {
        DeleteOptions::default()
    } else if crate::body::content_type(&ctx.headers) == crate::protobuf::MEDIA_TYPE {
        let value = crate::protobuf::decode(bytes).map_err(|error| invalid(error.to_string()))?;
        serde_json::from_value::<DeleteOptions>(value)
            .map_err(|error| invalid(error.to_string()))?
    } else {
        serde_json::from_slice::<DeleteOptions>(bytes)
            .map_err(|error| invalid(error.to_string()))?
    };
    if ctx.params.grace_period_seconds.is_some() {
        options.grace_period_seconds = ctx.params.grace_period_seconds;
    }
    if ctx.params.propagation_policy.is_some() {
        options.propagation_policy = ctx.params.propagation_policy.clone();
    }
    if let Some(grace) = options.grace_period_seconds
        && grace < 0
    {
        options.grace_period_seconds = Some(0);
    }
    Ok(options)
}

fn dry_run(ctx: &Ctx, options: &DeleteOptions) -> bool {
    ctx.params.dry_run
        || options
            .dry_run
            .as_ref()
            .is_some_and(|modes| modes.iter().any(|m| m == "All"))
}

/// Deletes or starts deleting one object. Returns its latest state and
/// whether it is gone from the store.
async fn delete_one(ctx: &Ctx, name: &str, options: &DeleteOptions) -> ApiResult<(Value, bool)> {
    if ctx.resource.kind == "Namespace" && PROTECTED_NAMESPACES.contains(&name) {
        return Err(ApiError::forbidden(
            ctx.resource,
            name,
            "this namespace may not be deleted",
        ));
    }
    let mut last_error = ApiError::stale(ctx.resource, name);
    for _ in 0..MAX_ATTEMPTS {
        let (current, revision) =
            storage::get(&ctx.state, ctx.resource, ctx.namespace(), name).await?;
        check_preconditions(ctx, name, &current, options)?;
        let outcome = match pending_state(ctx, &current, options) {
            Some(pending) => {
                if dry_run(ctx, options) {
                    return Ok((pending, false));
                }
                if !semantics::changed(&current, &pending) {
                    return Ok((current, false));
                }
                storage::update(&ctx.state, ctx.resource, pending, revision)
                    .await
                    .map(|stored| (stored, false))
            }
            None => {
                if dry_run(ctx, options) {
                    return Ok((current, true));
                }
                storage::delete(&ctx.state, ctx.resource, &current, revision)
                    .await
                    .map(|gone| (gone, true))
            }
        };
        match outcome {
            Ok((stored, false)) => {
                let stored = finish_deletion(ctx, stored).await?;
                return Ok((stored, false));
            }
            Ok(done) => {
                tracing::debug!(resource = ctx.resource.plural, name, "deleted");
                return Ok(done);
            }
            Err(error) if storage::is_conflict(&error) => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

fn check_preconditions(
    ctx: &Ctx,
    name: &str,
    current: &Value,
    options: &DeleteOptions,
) -> ApiResult<()> {
    let Some(preconditions) = &options.preconditions else {
        return Ok(());
    };
    let failed = |field: &str, wanted: &str, actual: &str| {
        let mut error = ApiError::conflict(ctx.resource, name, "");
        error.message = format!(
            "Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {actual}"
        );
        error
    };
    if let Some(uid) = &preconditions.uid {
        let actual = object::meta_str(current, "uid").unwrap_or("");
        if uid != actual {
            return Err(failed("UID", uid, actual));
        }
    }
    if let Some(version) = &preconditions.resource_version {
        let actual = object::meta_str(current, "resourceVersion").unwrap_or("");
        if version != actual {
            return Err(failed("ResourceVersion", version, actual));
        }
    }
    Ok(())
}

/// Returns the object marked for deletion when it has to wait (finalizers,
/// a running pod's grace period or namespace termination), or `None` when
/// it can be removed at once.
fn pending_state(ctx: &Ctx, current: &Value, options: &DeleteOptions) -> Option<Value> {
    let mut pending = current.clone();
    let mut finalizers = object::finalizers(current);
    let policy = options.propagation_policy.as_deref();
    let orphan = policy == Some("Orphan") || options.orphan_dependents == Some(true);
    if !object::is_deleting(current) {
        if policy == Some("Foreground") && !finalizers.iter().any(|f| f == "foregroundDeletion") {
            finalizers.push("foregroundDeletion".to_string());
        } else if orphan && !finalizers.iter().any(|f| f == "orphan") {
            finalizers.push("orphan".to_string());
        }
    }
    let now = object::unix_now();
    let grace = match ctx.resource.kind {
        "Pod" => pod_grace(current, options),
        _ => 0,
    };
    let must_wait = !finalizers.is_empty() || grace > 0 || ctx.resource.kind == "Namespace";
    if !must_wait {
        return None;
    }
    let metadata = object::metadata_mut(&mut pending);
    if !finalizers.is_empty() {
        metadata.insert("finalizers".to_string(), json!(finalizers));
    }
    let deleting_since = metadata.get("deletionTimestamp").cloned();
    let current_grace = metadata
        .get("deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    // A repeated delete may shorten a grace period but never extend it.
    if deleting_since.is_none() || current_grace.is_some_and(|g| grace < g) {
        metadata.insert(
            "deletionTimestamp".to_string(),
            Value::String(object::format_rfc3339(now + grace)),
        );
        metadata.insert("deletionGracePeriodSeconds".to_string(), json!(grace));
    }
    if ctx.resource.kind == "Namespace" {
        pending["status"]["phase"] = Value::String("Terminating".to_string());
        if semantics::ready_to_remove(ctx.resource, &pending) {
            return None;
        }
    }
    Some(pending)
}

/// The grace period of a pod deletion: immediate for pods that never ran
/// on a node or have finished, otherwise the requested or the pod's own.
fn pod_grace(pod: &Value, options: &DeleteOptions) -> i64 {
    let node = pod
        .get("spec")
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let phase = pod
        .get("status")
        .and_then(|s| s.get("phase"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    options.grace_period_seconds.unwrap_or_else(|| {
        pod.get("spec")
            .and_then(|s| s.get("terminationGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .unwrap_or(30)
    })
}

/// Pods and namespaces reply with the object, as in Kubernetes; other kinds
/// reply with it while deletion is pending and with a Success Status once gone.
fn deleted_reply(ctx: &Ctx, value: &Value, removed: bool) -> Response {
    if !removed || matches!(ctx.resource.kind, "Pod" | "Namespace") {
        return super::reply(ctx, StatusCode::OK, value);
    }
    let status = Status {
        status: Some("Success".to_string()),
        details: Some(StatusDetails {
            name: Some(object::name(value).to_string()),
            group: Some(ctx.resource.group.to_string()),
            kind: Some(ctx.resource.plural.to_string()),
            uid: object::meta_str(value, "uid").map(str::to_string),
            ..Default::default()
        }),
        ..Default::default()
    };
    output::json_response(
        StatusCode::OK,
        &serde_json::to_value(status).unwrap_or_default(),
    )
}

pub async fn delete_collection(ctx: &Ctx) -> ApiResult<Response> {
    let filter = Filter::from_params(&ctx.params, ctx.resource)?;
    let page = read_page(ctx, &filter).await?;
    let options = delete_options(ctx, &[])?;
    let mut deleted = Vec::new();
    for item in &page.items {
        let name = object::name(item).to_string();
        let namespaced = Ctx {
            state: std::sync::Arc::clone(&ctx.state),
            resource: ctx.resource,
            namespace: object::meta_str(item, "namespace").map(str::to_string),
            params: ctx.params.clone(),
            headers: ctx.headers.clone(),
        };
        match delete_one(&namespaced, &name, &options).await {
            Ok((value, _)) => deleted.push(value),
            Err(error) if error.reason == "NotFound" => {}
            Err(error) => return Err(error),
        }
    }
    Ok(output::list(
        ctx.resource,
        &deleted,
        &page.revision.to_string(),
        None,
        output::Format::Json,
    ))
}
