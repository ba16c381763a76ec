//! Resolving what the user typed (`po`, `pods`, `deployment.apps`, `Deployment`)
//! to an API resource, through the apiserver's discovery documents.

use anyhow::Context;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList};
use kube::api::ApiResource;

use super::Session;

/// One resource the apiserver serves.
#[derive(Clone, Debug)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub singular: String,
}

impl Resource {
    /// Returns the collection path, e.g. `/apis/apps/v1/namespaces/default/deployments`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.api.group.is_empty() {
            format!("/api/{}", self.api.version)
        } else {
            format!("/apis/{}/{}", self.api.group, self.api.version)
        };
        match namespace {
            Some(namespace) if self.namespaced => {
                format!("{base}/namespaces/{namespace}/{}", self.api.plural)
            }
            _ => format!("{base}/{}", self.api.plural),
        }
    }

    /// Returns `singular.group`, or the singular alone for the core group,
    /// as kubectl prefixes object names (`pod/web-1`, `deployment.apps/web`).
    pub fn object_prefix(&self) -> String {
        if self.api.group.is_empty() {
            self.singular.clone()
        } else {
            format!("{}.{}", self.singular, self.api.group)
        }
    }

    fn matches(&self, name: &str, group: Option<&str>) -> bool {
        if let Some(group) = group
            && group != self.api.group
        {
            return false;
        }
        let name = name.to_lowercase();
        name == self.api.plural
            || name == self.singular
            || name == self.api.kind.to_lowercase()
            || self.short_names.contains(&name)
    }
}

/// Lists every top-level resource (no subresources) the apiserver serves.
pub async fn discover(session: &Session) -> anyhow::Result<Vec<Resource>> {
    let mut resources = Vec::new();
    let core: APIResourceList = session
        .client
        .request(get("/api/v1")?)
        .await
        .map_err(super::explain)?;
    collect(&mut resources, "", &core);
    let groups: APIGroupList = session
        .client
        .request(get("/apis")?)
        .await
        .map_err(super::explain)?;
    for group in groups.groups {
        let Some(version) = group
            .preferred_version
            .or_else(|| group.versions.first().cloned())
        else {
            continue;
        };
        let list: APIResourceList = session
            .client
            .request(get(&format!("/apis/{}", version.group_version))?)
            .await
            .map_err(super::explain)?;
        collect(&mut resources, &group.name, &list);
    }
    Ok(resources)
}

fn get(path: &str) -> anyhow::Result<http::Request<Vec<u8>>> {
    http::Request::get(path)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .context("invalid request")
}

fn collect(resources: &mut Vec<Resource>, group: &str, list: &APIResourceList) {
    let version = list
        .group_version
        .rsplit('/')
        .next()
        .unwrap_or(&list.group_version)
        .to_string();
    for item in &list.resources {
        if item.name.contains('/') {
            continue;
        }
        let api_version = if group.is_empty() {
            version.clone()
        } else {
            format!("{group}/{version}")
        };
        resources.push(Resource {
            api: ApiResource {
                group: group.to_string(),
                version: version.clone(),
                api_version,
                kind: item.kind.clone(),
                plural: item.name.clone(),
            },
            namespaced: item.namespaced,
            short_names: item.short_names.clone().unwrap_or_default(),
            singular: if item.singular_name.is_empty() {
                item.kind.to_lowercase()
            } else {
                item.singular_name.clone()
            },
        });
    }
}

/// Finds the resource the user means by `name` (`po`, `deployments.apps`, ...).
pub fn find<'a>(resources: &'a [Resource], name: &str) -> anyhow::Result<&'a Resource> {
    let (name, group) = match name.split_once('.') {
        Some((name, group)) => (name, Some(group)),
        None => (name, None),
    };
    resources
        .iter()
        .find(|resource| resource.matches(name, group))
        .with_context(|| format!("the server doesn't have a resource type \"{name}\""))
}

/// Finds the resource of an object's apiVersion and kind.
pub fn find_kind<'a>(
    resources: &'a [Resource],
    api_version: &str,
    kind: &str,
) -> anyhow::Result<&'a Resource> {
    resources
        .iter()
        .find(|resource| resource.api.api_version == api_version && resource.api.kind == kind)
        .with_context(|| {
            format!("no matches for kind \"{kind}\" in version \"{api_version}\": check apiVersion and kind")
        })
}
