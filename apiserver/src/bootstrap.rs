//! Objects that exist from the start: the built-in namespaces and their
//! default service accounts.

use serde_json::json;

use crate::error::ApiError;
use crate::handlers::create_object;
use crate::registry;
use crate::semantics::Ownership;
use crate::state::AppState;

/// Namespaces Kubernetes creates at startup.
pub const BUILTIN_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the built-in namespaces that are missing and a `default`
/// ServiceAccount in every namespace that lacks one.
pub async fn ensure(state: &AppState) -> Result<(), ApiError> {
    let namespaces = registry::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("the namespaces resource is not registered"))?;
    for name in BUILTIN_NAMESPACES {
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": name },
        });
        match create_object(
            state,
            namespaces,
            namespace,
            Ownership::Update("skiff-apiserver"),
            false,
        )
        .await
        {
            Ok(_) => tracing::info!(namespace = name, "created built-in namespace"),
            Err(error) if error.reason == "AlreadyExists" => {
                crate::handlers::create_default_service_account(state, name).await;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
