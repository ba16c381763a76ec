//! POST of a new object.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::Ctx;
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::registry::{self, Resource};
use crate::semantics::{self, Ownership};
use crate::state::AppState;
use crate::storage;

pub async fn create(ctx: &Ctx, request_body: Body) -> ApiResult<Response> {
    let bytes = body::read(&ctx.headers, request_body).await?;
    let (mut value, json) = body::decode_object(&ctx.headers, &bytes, ctx.resource)?;
    body::check_type(
        &value,
        &ctx.resource.api_version(),
        ctx.resource.kind,
        ctx.resource,
    )?;
    check_strict(ctx, &json)?;
    set_namespace(ctx, &mut value)?;
    let manager = ctx.manager();
    let created = create_object(
        &ctx.state,
        ctx.resource,
        value,
        Ownership::Update(&manager),
        ctx.params.dry_run,
    )
    .await?;
    Ok(super::reply(ctx, StatusCode::CREATED, &created))
}

/// Rejects unknown or duplicate fields when `fieldValidation=Strict`.
pub fn check_strict(ctx: &Ctx, json: &[u8]) -> ApiResult<()> {
    if !ctx.params.strict_fields() {
        return Ok(());
    }
    let problems = skiff_machinery::strict::field_problems(&ctx.resource.gvk(), json);
    if problems.is_empty() {
        return Ok(());
    }
    Err(body::cannot_handle(
        ctx.resource,
        &format!("strict decoding error: {}", problems.join(", ")),
    ))
}

/// Puts the request's namespace into the object, rejecting a different one.
pub fn set_namespace(ctx: &Ctx, value: &mut Value) -> ApiResult<()> {
    let metadata = object::metadata_mut(value);
    let Some(namespace) = ctx.namespace() else {
        metadata.remove("namespace");
        return Ok(());
    };
    match metadata.get("namespace").and_then(Value::as_str) {
        Some(given) if !given.is_empty() && given != namespace => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            metadata.insert(
                "namespace".to_string(),
                Value::String(namespace.to_string()),
            );
            Ok(())
        }
    }
}

/// Prepares and stores a new object; with `dry_run` nothing is stored.
pub async fn create_object(
    state: &AppState,
    resource: &'static Resource,
    mut value: Value,
    ownership: Ownership<'_>,
    dry_run: bool,
) -> ApiResult<Value> {
    semantics::prepare_create(resource, &mut value, ownership)?;
    if let Some(namespace) = object::meta_str(&value, "namespace").map(str::to_string) {
        check_namespace_open(state, &namespace).await?;
    }
    crate::admission::check_pod_service_account(state, resource, &value).await?;
    if dry_run {
        return Ok(value);
    }
    let created = storage::create(state, resource, value).await?;
    tracing::debug!(
        resource = resource.plural,
        name = object::name(&created),
        "created"
    );
    if resource.kind == "Namespace" {
        create_default_service_account(state, object::name(&created)).await;
    }
    Ok(created)
}

/// Returns 404 for a missing namespace and 403 for one being deleted.
async fn check_namespace_open(state: &AppState, namespace: &str) -> ApiResult<()> {
    let namespaces = registry::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("the namespaces resource is not registered"))?;
    let (value, _) = storage::get(state, namespaces, None, namespace).await?;
    if object::is_deleting(&value) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        ));
    }
    Ok(())
}

/// Creates the `default` ServiceAccount that pods of a namespace use.
pub async fn create_default_service_account(state: &AppState, namespace: &str) {
    let Some(accounts) = registry::find("", "v1", "serviceaccounts") else {
        return;
    };
    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": { "name": "default", "namespace": namespace },
    });
    let result = Box::pin(create_object(
        state,
        accounts,
        account,
        Ownership::Update("skiff-apiserver"),
        false,
    ))
    .await;
    match result {
        Ok(_) => {}
        Err(error) if error.reason == "AlreadyExists" => {}
        Err(error) => {
            tracing::warn!(namespace, error = %error.message, "failed to create the default service account");
        }
    }
}
