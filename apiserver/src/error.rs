//! API errors and their `Status` replies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};
use skiff_machinery::validation::FieldCause;
use skiff_store::StoreError;

use crate::registry::Resource;

/// A failed request, rendered as a Kubernetes `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: StatusCode,
    /// The `reason` field, e.g. `NotFound` or `Invalid`.
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Box<StatusDetails>>,
}

impl ApiError {
    pub fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// Returns the 404 for a path that names no served resource.
    pub fn not_found_path() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn not_found(resource: &Resource, name: &str) -> Self {
        Self::with_details(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified_name()),
            resource,
            name,
        )
    }

    pub fn already_exists(resource: &Resource, name: &str) -> Self {
        Self::with_details(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified_name()),
            resource,
            name,
        )
    }

    /// Returns the 409 for a stale `resourceVersion` or a lost race with another writer.
    pub fn conflict(resource: &Resource, name: &str, why: &str) -> Self {
        Self::with_details(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                resource.qualified_name()
            ),
            resource,
            name,
        )
    }

    /// Returns the 409 for a write whose `resourceVersion` is not the stored one.
    pub fn stale(resource: &Resource, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn invalid(resource: &Resource, name: &str, causes: Vec<FieldCause>) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|cause| {
                if cause.field.is_empty() {
                    cause.message.clone()
                } else {
                    format!("{}: {}", cause.field, cause.message)
                }
            })
            .collect();
        let summary = if summary.len() == 1 {
            summary.join("")
        } else {
            format!("[{}]", summary.join(", "))
        };
        let qualified_kind = if resource.group.is_empty() {
            resource.kind.to_string()
        } else {
            format!("{}.{}", resource.kind, resource.group)
        };
        let mut error = Self::with_details(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {summary}"),
            resource,
            name,
        );
        if let Some(details) = error.details.as_mut() {
            details.kind = Some(resource.kind.to_string());
            details.causes = Some(
                causes
                    .into_iter()
                    .map(|cause| StatusCause {
                        field: Some(cause.field),
                        message: Some(cause.message),
                        reason: Some(cause.reason),
                    })
                    .collect(),
            );
        }
        error
    }

    /// Returns a 422 with a single invalid field.
    pub fn invalid_field(resource: &Resource, name: &str, field: &str, message: &str) -> Self {
        Self::invalid(
            resource,
            name,
            vec![FieldCause {
                reason: "FieldValueInvalid".to_string(),
                message: message.to_string(),
                field: field.to_string(),
            }],
        )
    }

    pub fn forbidden(resource: &Resource, name: &str, why: &str) -> Self {
        Self::with_details(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: {why}",
                resource.qualified_name()
            ),
            resource,
            name,
        )
    }

    pub fn method_not_allowed(method: &str, what: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not supported on {what}"),
        )
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type:?}) - accepted media types include: {accepted}"
            ),
        )
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    fn with_details(
        code: StatusCode,
        reason: &'static str,
        message: String,
        resource: &Resource,
        name: &str,
    ) -> Self {
        Self {
            code,
            reason,
            message,
            details: Some(Box::new(StatusDetails {
                name: Some(name.to_string()),
                group: Some(resource.group.to_string()),
                kind: Some(resource.plural.to_string()),
                ..Default::default()
            })),
        }
    }

    /// Maps a storage error met while handling `name` of `resource`.
    pub fn from_store(error: StoreError, resource: &Resource, name: &str) -> Self {
        match error {
            StoreError::AlreadyExists { .. } => Self::already_exists(resource, name),
            StoreError::NotFound { .. } => Self::not_found(resource, name),
            StoreError::Conflict { .. } => Self::stale(resource, name),
            other => Self::from(other),
        }
    }

    pub fn to_status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code.as_u16())),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            reason: Some(self.reason.to_string()),
            status: Some("Failure".to_string()),
            ..Default::default()
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Compacted {
                requested,
                compacted,
            } => Self::gone(format!(
                "The resourceVersion for the provided watch is too old: {requested} was compacted, the oldest available is {compacted}"
            )),
            StoreError::FutureRevision { requested, current } => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "Timeout",
                format!("Too large resource version: {requested}, current: {current}"),
            ),
            other => {
                tracing::error!(error = %other, "storage failed");
                Self::internal(other.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        let mut response = (self.code, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
