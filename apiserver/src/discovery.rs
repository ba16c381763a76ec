//! API discovery: the aggregated `apidiscovery.k8s.io` documents and the
//! legacy `APIVersions`, `APIGroupList` and `APIResourceList` ones.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::output::json_response;
use crate::registry::{self, Resource};

/// Which aggregated discovery version the client accepts, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregated {
    V2,
    V2Beta1,
}

impl Aggregated {
    fn version(self) -> &'static str {
        match self {
            Self::V2 => "v2",
            Self::V2Beta1 => "v2beta1",
        }
    }
}

fn aggregated_version(headers: &HeaderMap) -> Option<Aggregated> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        let has = |p: &str| params.iter().any(|q| q.eq_ignore_ascii_case(p));
        if has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList") {
            if has("v=v2") {
                return Some(Aggregated::V2);
            }
            if has("v=v2beta1") {
                return Some(Aggregated::V2Beta1);
            }
        }
    }
    None
}

/// `/api` (`legacy_core`) or `/apis`.
pub fn root(legacy_core: bool, headers: &HeaderMap) -> Response {
    if let Some(version) = aggregated_version(headers) {
        return aggregated(legacy_core, version);
    }
    if legacy_core {
        let versions = APIVersions {
            versions: vec!["v1".to_string()],
            server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
                client_cidr: "0.0.0.0/0".to_string(),
                server_address: String::new(),
            }],
        };
        return json_response(StatusCode::OK, &to_value(&versions));
    }
    let groups = APIGroupList {
        groups: group_names().iter().filter_map(|g| api_group(g)).collect(),
    };
    json_response(StatusCode::OK, &to_value(&groups))
}

/// `/apis/<group>`.
pub fn group(name: &str) -> Response {
    match api_group(name) {
        Some(group) => json_response(StatusCode::OK, &to_value(&group)),
        None => ApiError::not_found_path().into_response(),
    }
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn group_version(group: &str, version: &str) -> Response {
    let mut resources = Vec::new();
    for resource in resources_of(group, version) {
        resources.push(api_resource(
            resource,
            resource.plural,
            resource.kind,
            resource.verbs(),
        ));
        for sub in resource.subresources {
            let mut entry = api_resource(
                resource,
                &format!("{}/{}", resource.plural, sub.name),
                sub.kind,
                sub.verbs,
            );
            entry.short_names = None;
            entry.categories = None;
            entry.singular_name = String::new();
            if sub.group != resource.group {
                entry.group = Some(sub.group.to_string());
                entry.version = Some(sub.version.to_string());
            }
            resources.push(entry);
        }
    }
    let list = APIResourceList {
        group_version: if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        },
        resources,
    };
    json_response(StatusCode::OK, &to_value(&list))
}

fn api_resource(resource: &Resource, name: &str, kind: &str, verbs: &[&str]) -> APIResource {
    APIResource {
        name: name.to_string(),
        singular_name: resource.singular.to_string(),
        namespaced: resource.namespaced,
        kind: kind.to_string(),
        verbs: verbs.iter().map(|v| (*v).to_string()).collect(),
        short_names: non_empty(resource.short_names),
        categories: non_empty(resource.categories),
        ..Default::default()
    }
}

fn non_empty(values: &[&str]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.iter().map(|v| (*v).to_string()).collect())
}

fn group_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    for (group, _) in registry::group_versions() {
        if !group.is_empty() && !names.contains(&group) {
            names.push(group);
        }
    }
    names
}

fn api_group(name: &str) -> Option<APIGroup> {
    let versions: Vec<GroupVersionForDiscovery> = registry::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == name)
        .map(|(g, v)| GroupVersionForDiscovery {
            group_version: format!("{g}/{v}"),
            version: v.to_string(),
        })
        .collect();
    let preferred = versions.first()?.clone();
    Some(APIGroup {
        name: name.to_string(),
        preferred_version: Some(preferred),
        versions,
        server_address_by_client_cidrs: None,
    })
}

fn resources_of(group: &str, version: &str) -> impl Iterator<Item = &'static Resource> {
    registry::all()
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

fn aggregated(legacy_core: bool, version: Aggregated) -> Response {
    let groups: Vec<&str> = if legacy_core { vec![""] } else { group_names() };
    let items: Vec<Value> = groups.iter().map(|g| aggregated_group(g)).collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{}", version.version()),
        "metadata": {},
        "items": items,
    });
    let mut response = json_response(StatusCode::OK, &body);
    let content_type = format!(
        "application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList",
        version.version()
    );
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn aggregated_group(group: &str) -> Value {
    let versions: Vec<Value> = registry::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| {
            json!({
                "version": v,
                "freshness": "Current",
                "resources": resources_of(g, v).map(aggregated_resource).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "metadata": { "name": group }, "versions": versions })
}

fn aggregated_resource(resource: &Resource) -> Value {
    let subresources: Vec<Value> = resource
        .subresources
        .iter()
        .map(|sub| {
            json!({
                "subresource": sub.name,
                "responseKind": { "group": sub.group, "version": sub.version, "kind": sub.kind },
                "verbs": sub.verbs,
            })
        })
        .collect();
    let mut entry = json!({
        "resource": resource.plural,
        "responseKind": { "group": resource.group, "version": resource.version, "kind": resource.kind },
        "scope": if resource.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": resource.singular,
        "verbs": resource.verbs(),
    });
    if !resource.short_names.is_empty() {
        entry["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        entry["categories"] = json!(resource.categories);
    }
    if !subresources.is_empty() {
        entry["subresources"] = Value::Array(subresources);
    }
    entry
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}
