//! Admission checks that depend on other stored objects.
//!
//! A pod may only name a ServiceAccount that exists in its namespace, as
//! Kubernetes' ServiceAccount admission requires. The `default` account is the
//! exception that is repaired instead: the apiserver creates it on the spot, as
//! the service-account controller of Kubernetes would a moment later.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::handlers::create::create_default_service_account;
use crate::object;
use crate::registry::{self, Resource};
use crate::state::AppState;
use crate::storage;

/// Rejects a new pod whose ServiceAccount does not exist, with 403 Forbidden.
pub async fn check_pod_service_account(
    state: &AppState,
    resource: &Resource,
    pod: &Value,
) -> ApiResult<()> {
    if !resource.group.is_empty() || resource.kind != "Pod" {
        return Ok(());
    }
    let Some(namespace) = object::meta_str(pod, "namespace") else {
        return Ok(());
    };
    let account = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .unwrap_or("default");
    let accounts = registry::find("", "v1", "serviceaccounts")
        .ok_or_else(|| ApiError::internal("the serviceaccounts resource is not registered"))?;
    match storage::get(state, accounts, Some(namespace), account).await {
        Ok(_) => Ok(()),
        Err(error) if error.reason == "NotFound" && account == "default" => {
            create_default_service_account(state, namespace).await;
            Ok(())
        }
        Err(error) if error.reason == "NotFound" => {
            let pod_name = object::meta_str(pod, "generateName")
                .filter(|prefix| !prefix.is_empty())
                .or_else(|| object::meta_str(pod, "name"))
                .unwrap_or_default();
            Err(ApiError::forbidden(
                resource,
                pod_name,
                &format!(
                    "error looking up service account {namespace}/{account}: serviceaccount \"{account}\" not found"
                ),
            ))
        }
        Err(error) => Err(error),
    }
}
