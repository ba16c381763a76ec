//! Reading and decoding request bodies.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::registry::Resource;

/// The largest request body accepted, as in Kubernetes (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

const ACCEPTED_TYPES: &str =
    "application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// Reads the whole body, or 413 once it passes [`MAX_BODY_BYTES`].
pub async fn read(headers: &HeaderMap, body: Body) -> ApiResult<Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
    )
}

/// Returns the media type of the request without parameters, lower-cased.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes a JSON or YAML object body for `resource`. Returns the object and
/// its JSON encoding (for strict field checks).
pub fn decode_object(
    headers: &HeaderMap,
    bytes: &[u8],
    resource: &Resource,
) -> ApiResult<(Value, Vec<u8>)> {
    let media_type = content_type(headers);
    let (value, json) = match media_type.as_str() {
        "" | "application/json" | "*/*" => {
            let value: Value = serde_json::from_slice(bytes)
                .map_err(|error| cannot_handle(resource, &format!("json: {error}")))?;
            (value, bytes.to_vec())
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let value: Value = serde_yaml_ng::from_slice(bytes)
                .map_err(|error| cannot_handle(resource, &format!("yaml: {error}")))?;
            let json = serde_json::to_vec(&value).unwrap_or_default();
            (value, json)
        }
        crate::protobuf::MEDIA_TYPE => {
            let value = crate::protobuf::decode(bytes)
                .map_err(|error| cannot_handle(resource, &error.to_string()))?;
            let json = serde_json::to_vec(&value).unwrap_or_default();
            (value, json)
        }
        other => return Err(ApiError::unsupported_media_type(other, ACCEPTED_TYPES)),
    };
    if !value.is_object() {
        return Err(cannot_handle(
            resource,
            "the request body must be a JSON object",
        ));
    }
    Ok((value, json))
}

/// A 400 in Kubernetes' wording for a body that does not decode as the kind.
pub fn cannot_handle(resource: &Resource, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
        kind = resource.kind,
        version = resource.version
    ))
}

/// Checks that the body's `apiVersion` and `kind`, where set, name `kind` of
/// `resource`'s group (any served version is not accepted, only this one).
pub fn check_type(
    object: &Value,
    api_version: &str,
    kind: &str,
    resource: &Resource,
) -> ApiResult<()> {
    let body_kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let body_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if (!body_kind.is_empty() && body_kind != kind)
        || (!body_version.is_empty() && body_version != api_version)
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({body_version}) and kind ({body_kind}) do not match the {kind} expected at {api_version} for {}",
            resource.qualified_name()
        )));
    }
    Ok(())
}
