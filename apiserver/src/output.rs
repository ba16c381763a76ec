//! Encoding of replies: plain JSON, server-side `Table`s and
//! `PartialObjectMetadata`, chosen from the Accept header.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use skiff_machinery::table;

use crate::object;
use crate::registry::Resource;

/// What the client asked to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    /// `meta.k8s.io` Table rows; `include` is the `includeObject` choice.
    Table {
        include: Include,
    },
    /// `meta.k8s.io/v1` PartialObjectMetadata (lists: PartialObjectMetadataList).
    Metadata,
}

/// What a Table row's `object` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

/// Picks the reply format from the Accept header. Protobuf requests get JSON,
/// which every client on this path also accepts.
pub fn negotiate(headers: &HeaderMap, include_object: Option<&str>) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        let has = |p: &str| params.iter().any(|q| q.eq_ignore_ascii_case(p));
        if !has("g=meta.k8s.io") {
            continue;
        }
        if has("as=Table") && (has("v=v1") || has("v=v1beta1")) {
            let include = match include_object {
                Some("None") => Include::None,
                Some("Object") => Include::Object,
                _ => Include::Metadata,
            };
            return Format::Table { include };
        }
        if (has("as=PartialObjectMetadata") || has("as=PartialObjectMetadataList")) && has("v=v1") {
            return Format::Metadata;
        }
    }
    Format::Json
}

/// Returns a JSON reply with `Content-Type: application/json`.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    bytes_response(code, serde_json::to_vec(body).unwrap_or_default())
}

/// A JSON list whose items are serialized where they are.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonList<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: &'a [Value],
}

/// Builds a response whose body is `bytes` of JSON.
fn bytes_response(code: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (code, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Encodes one object in `format`.
pub fn object(resource: &Resource, code: StatusCode, value: &Value, format: Format) -> Response {
    match format {
        Format::Json => json_response(code, value),
        Format::Metadata => json_response(code, &partial_metadata(value)),
        Format::Table { include } => {
            let revision = object::meta_str(value, "resourceVersion").unwrap_or("");
            json_response(
                code,
                &table(
                    resource,
                    std::slice::from_ref(value),
                    revision,
                    None,
                    include,
                    true,
                ),
            )
        }
    }
}

/// Encodes a list in `format`.
pub fn list(
    resource: &Resource,
    items: &[Value],
    revision: &str,
    continue_token: Option<&str>,
    format: Format,
) -> Response {
    let mut metadata = json!({ "resourceVersion": revision });
    if let Some(token) = continue_token {
        metadata["continue"] = Value::String(token.to_string());
    }
    let body = match format {
        Format::Json => {
            // Serialized straight from the items, without copying them into
            // one more Value first: lists are the largest replies.
            let list = JsonList {
                kind: format!("{}List", resource.kind),
                api_version: resource.api_version(),
                metadata,
                items,
            };
            return bytes_response(
                StatusCode::OK,
                serde_json::to_vec(&list).unwrap_or_default(),
            );
        }
        Format::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
            "items": items.iter().map(partial_metadata).collect::<Vec<_>>(),
        }),
        Format::Table { include } => {
            table(resource, items, revision, continue_token, include, true)
        }
    };
    json_response(StatusCode::OK, &body)
}

/// Builds a `meta.k8s.io/v1` Table of `items`. Watch events after the first
/// leave out `columnDefinitions`, as the Kubernetes apiserver does.
pub fn table(
    resource: &Resource,
    items: &[Value],
    revision: &str,
    continue_token: Option<&str>,
    include: Include,
    with_columns: bool,
) -> Value {
    let gvk = resource.gvk();
    let now = object::unix_now();
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut row = json!({ "cells": table::row_cells(&gvk, item, now) });
            match include {
                Include::None => {}
                Include::Metadata => row["object"] = partial_metadata(item),
                Include::Object => row["object"] = item.clone(),
            }
            row
        })
        .collect();
    let mut metadata = json!({ "resourceVersion": revision });
    if let Some(token) = continue_token {
        metadata["continue"] = Value::String(token.to_string());
    }
    let columns = if with_columns {
        Value::Array(table::column_definitions(&gvk))
    } else {
        Value::Array(Vec::new())
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

pub fn partial_metadata(value: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": value.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}
