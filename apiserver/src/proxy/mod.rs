//! Proxying of pods/log, pods/exec, pods/attach and pods/portforward to the
//! kubelet of the pod's node.

mod kubelet;
mod tunnel;
mod upgrade;

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use serde_json::Value;

pub use kubelet::KubeletClient;

use crate::error::{ApiError, ApiResult};
use crate::params;
use crate::registry::{self, Resource};
use crate::state::AppState;
use crate::storage;

/// The node annotation that overrides the kubelet address ("IP:port").
pub const KUBELET_ADDRESS_ANNOTATION: &str = "skiff.dev/kubelet-address";

pub async fn serve(
    state: Arc<AppState>,
    resource: &'static Resource,
    namespace: Option<String>,
    name: String,
    subresource: &str,
    request: Request,
) -> ApiResult<Response> {
    let namespace = namespace.unwrap_or_default();
    let (pod, _) = storage::get(&state, resource, Some(&namespace), &name).await?;
    let node_name = pod
        .get("spec")
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if node_name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let nodes = registry::find("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("the nodes resource is not registered"))?;
    let (node, _) = storage::get(&state, nodes, None, node_name).await?;
    let address = kubelet_address(&node).ok_or_else(|| {
        ApiError::bad_request(format!(
            "node {node_name} has no kubelet address: set the {KUBELET_ADDRESS_ANNOTATION} annotation or an InternalIP with status.daemonEndpoints.kubeletEndpoint.Port"
        ))
    })?;
    let pairs = params::pairs(request.uri());
    let container = pairs
        .iter()
        .find(|(key, _)| key == "container")
        .map(|(_, value)| value.clone())
        .filter(|value| !value.is_empty())
        .or_else(|| default_container(&pod))
        .unwrap_or_default();
    let query = request.uri().query().unwrap_or("").to_string();
    let path = match subresource {
        "log" => format!("/containerLogs/{namespace}/{name}/{container}"),
        "exec" => format!("/exec/{namespace}/{name}/{container}"),
        "attach" => format!("/attach/{namespace}/{name}/{container}"),
        _ => format!("/portForward/{namespace}/{name}"),
    };
    let path_and_query = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    tracing::debug!(pod = %name, node = %node_name, %address, subresource, "proxying to the kubelet");
    if subresource == "log" {
        state.kubelet.logs(&address, &path_and_query).await
    } else if subresource == "portforward" && tunnel::is_tunnel(request.headers()) {
        tunnel::forward(&address, &path_and_query, request).await
    } else {
        upgrade::forward(&address, &path_and_query, request).await
    }
}

/// The first container of the pod, as kubectl and Kubernetes default to.
fn default_container(pod: &Value) -> Option<String> {
    pod.get("spec")?
        .get("containers")?
        .as_array()?
        .first()?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// Returns "IP:port" of the node's kubelet.
pub fn kubelet_address(node: &Value) -> Option<String> {
    if let Some(address) = node
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(KUBELET_ADDRESS_ANNOTATION))
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    {
        return Some(address.to_string());
    }
    let status = node.get("status")?;
    let ip = status
        .get("addresses")?
        .as_array()?
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))?
        .get("address")?
        .as_str()?;
    let port = status
        .get("daemonEndpoints")?
        .get("kubeletEndpoint")?
        .get("Port")?
        .as_i64()?;
    Some(format!("{ip}:{port}"))
}
