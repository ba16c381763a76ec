//! OpenAPI v3 and v2 documents for the served kinds.
//!
//! kubectl reads them to decide whether the server validates fields itself
//! (a PATCH operation carrying `x-kubernetes-group-version-kind` and a
//! `fieldValidation` parameter) and to print `kubectl explain`. PATCH
//! operations carry no `requestBody`, and v2 PATCH operations no `consumes`,
//! so kubectl computes client-side apply patches from its compiled-in types
//! instead of these schemas.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use prost::Message;
use serde_json::{Value, json};

pub mod catalog;
mod paths;
mod schemas;
#[cfg(test)]
mod tests;
pub mod v2;

use catalog::{GROUP_VERSIONS, GroupVersion};
use schemas::Flavor;

/// The Content-Type of the `/openapi/v2` protobuf reply. kubectl requests
/// `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` in its Accept header, but a reply
/// with that Content-Type makes kubectl 1.27 fail with "mime: unexpected
/// content after media subtype", so the reply uses this spelling.
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The Kubernetes release the documents describe.
const INFO_VERSION: &str = "v1.33.0";

struct Documents {
    v3: BTreeMap<&'static str, Value>,
    v3_index: Value,
    v2: Vec<u8>,
}

fn documents() -> &'static Documents {
    static DOCUMENTS: OnceLock<Documents> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let v3: BTreeMap<&'static str, Value> = GROUP_VERSIONS
            .iter()
            .map(|gv| (gv.path, build_v3(gv)))
            .collect();
        let mut index = serde_json::Map::new();
        for (path, document) in &v3 {
            let url = format!("/openapi/v3/{path}?hash={}", content_hash(document));
            index.insert(path.to_string(), json!({ "serverRelativeURL": url }));
        }
        let v2 = v2::document_from_json(&build_v2_json()).encode_to_vec();
        Documents {
            v3,
            v3_index: json!({ "paths": index }),
            v2,
        }
    })
}

/// Returns the `/openapi/v3` index: one `serverRelativeURL` per group-version.
pub fn v3_index() -> Value {
    documents().v3_index.clone()
}

/// Returns the OpenAPI v3 document of one group-version path such as `api/v1`
/// or `apis/apps/v1`, or `None` if it is not served.
pub fn v3_document(group_version_path: &str) -> Option<Value> {
    documents()
        .v3
        .get(group_version_path.trim_matches('/'))
        .cloned()
}

/// Returns the content hash that the index puts in the `hash` query
/// parameter of `group_version_path`, usable as an `ETag`.
pub fn v3_document_hash(group_version_path: &str) -> Option<String> {
    documents()
        .v3
        .get(group_version_path.trim_matches('/'))
        .map(content_hash)
}

/// Returns `/openapi/v2` as a gnostic `openapi.v2.Document` protobuf.
pub fn v2_protobuf() -> Vec<u8> {
    documents().v2.clone()
}

fn schema_lookup(kinds: &[schemas::KindSchema]) -> impl Fn(&str) -> Option<String> + '_ {
    move |group_kind: &str| {
        kinds
            .iter()
            .find(|kind| format!("{}/{}", kind.group, kind.kind) == group_kind)
            .map(|kind| kind.schema_name.clone())
    }
}

fn build_v3(gv: &GroupVersion) -> Value {
    let built = schemas::build(&[gv], Flavor::V3);
    let paths = paths::build(gv, Flavor::V3, &schema_lookup(&built.kinds));
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": INFO_VERSION },
        "paths": paths,
        "components": { "schemas": built.definitions }
    })
}

/// Builds the Swagger 2.0 document of every group-version in JSON form.
pub fn build_v2_json() -> Value {
    let gvs: Vec<&GroupVersion> = GROUP_VERSIONS.iter().collect();
    let built = schemas::build(&gvs, Flavor::V2);
    let lookup = schema_lookup(&built.kinds);
    let mut all_paths = serde_json::Map::new();
    for gv in &gvs {
        all_paths.extend(paths::build(gv, Flavor::V2, &lookup));
    }
    json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": INFO_VERSION },
        "paths": all_paths,
        "definitions": built.definitions
    })
}

/// FNV-1a over the document's JSON text, as 16 uppercase hex digits. Any
/// stable digest works: kubectl only uses the URL as a cache key.
fn content_hash(document: &Value) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in document.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016X}")
}
