//! OpenAPI v3 and v2 documents for the served kinds.

use serde_json::Value;

/// Returns the `/openapi/v3` index: one `serverRelativeURL` per group-version.
pub fn v3_index() -> Value {
    serde_json::json!({ "paths": {} })
}

/// Returns the OpenAPI v3 document of one group-version path such as `api/v1`
/// or `apis/apps/v1`, or `None` if it is not served.
pub fn v3_document(group_version_path: &str) -> Option<Value> {
    let _ = group_version_path;
    None
}

/// Returns `/openapi/v2` as a gnostic `openapi.v2.Document` protobuf.
pub fn v2_protobuf() -> Vec<u8> {
    Vec::new()
}
