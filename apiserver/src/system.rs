//! Non-resource endpoints: version, health, metrics and OpenAPI.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::version::Info;
use skiff_machinery::openapi;

use crate::error::ApiError;
use crate::output::json_response;
use crate::state::AppState;

/// The Kubernetes version reported by `/version`. kubectl dispatchers pick
/// the client matching this minor version.
pub fn version_info() -> Info {
    Info {
        major: "1".to_string(),
        minor: "33".to_string(),
        git_version: "v1.33.0-skiff".to_string(),
        git_commit: String::new(),
        git_tree_state: "clean".to_string(),
        build_date: String::new(),
        go_version: String::new(),
        compiler: "rustc".to_string(),
        platform: format!("{}/{}", std::env::consts::OS, go_arch()),
        ..Default::default()
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &serde_json::to_value(version_info()).unwrap_or_default(),
    )
}

pub async fn health() -> Response {
    text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "ok".to_string(),
    )
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let receivers = state.watch_receivers();
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.render(receivers),
    )
}

pub async fn openapi_v3_index() -> Response {
    json_response(StatusCode::OK, &openapi::v3_index())
}

pub async fn openapi_v3_document(Path(path): Path<String>) -> Response {
    match openapi::v3_document(path.trim_matches('/')) {
        Some(document) => json_response(StatusCode::OK, &document),
        None => ApiError::not_found_path().into_response(),
    }
}

pub async fn openapi_v2() -> Response {
    let mut response = (StatusCode::OK, openapi::v2_protobuf()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
    );
    response
}

pub async fn not_found() -> Response {
    ApiError::not_found_path().into_response()
}

fn text(code: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (code, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
