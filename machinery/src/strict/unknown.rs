//! Unknown fields: the body is read into the kind's k8s-openapi type, and
//! every key the type skips is an unknown field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::autoscaling::v1 as autoscaling;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;

use crate::Gvk;

/// Returns the paths of the fields the kind's schema does not have, or an
/// empty list for kinds without a schema here.
pub(super) fn unknown_fields(gvk: &Gvk, value: &Value) -> Vec<String> {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("", "Pod") => skipped::<core::Pod>(value),
        ("", "Node") => skipped::<core::Node>(value),
        ("", "Namespace") => skipped::<core::Namespace>(value),
        ("", "ConfigMap") => skipped::<core::ConfigMap>(value),
        ("", "Secret") => skipped::<core::Secret>(value),
        ("", "Event") => skipped::<core::Event>(value),
        ("", "ServiceAccount") => skipped::<core::ServiceAccount>(value),
        ("", "Binding") => skipped::<core::Binding>(value),
        ("apps", "Deployment") => skipped::<apps::Deployment>(value),
        ("apps", "ReplicaSet") => skipped::<apps::ReplicaSet>(value),
        ("autoscaling", "Scale") => skipped::<autoscaling::Scale>(value),
        ("coordination.k8s.io", "Lease") => skipped::<coordination::Lease>(value),
        ("events.k8s.io", "Event") => skipped::<events::Event>(value),
        _ => Vec::new(),
    }
}

/// Deserializes `value` as `T` and collects the paths it ignored. A value
/// of the wrong type stops the walk; the caller's own decoding reports it.
fn skipped<T: DeserializeOwned>(value: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    let _: Result<T, _> = serde_ignored::deserialize(value, |path| paths.push(render(&path)));
    paths
}

/// Renders a path as Kubernetes does: `spec.containers[0].name`.
fn render(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render(parent)),
        Path::Map { parent, key } => {
            let parent = render(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render(parent),
    }
}
