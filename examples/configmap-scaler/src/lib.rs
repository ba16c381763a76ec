//! An example operator written with kube-rs's `Controller`, the way a third
//! party would write one for skiff or any Kubernetes cluster.
//!
//! A ConfigMap labelled `scaler.skiff.dev/enabled=true` with the keys
//! `deployment` (a Deployment name in the same namespace) and `replicas`
//! (an integer) makes the operator keep that Deployment at that many
//! replicas. Changes to either object trigger a reconcile, so scaling the
//! Deployment by hand is undone.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Label that opts a ConfigMap in.
pub const ENABLED_LABEL: &str = "scaler.skiff.dev/enabled";

/// Field manager of the operator's writes.
const FIELD_MANAGER: &str = "configmap-scaler";

/// Error applying a ConfigMap to its Deployment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configmap {0} has no \"deployment\" key naming the Deployment to scale")]
    MissingDeployment(String),
    #[error(
        "configmap {configmap} has an invalid \"replicas\" value {value:?}: use a non-negative integer"
    )]
    InvalidReplicas { configmap: String, value: String },
    #[error("failed to scale deployment {deployment}: {source}")]
    Scale {
        deployment: String,
        source: kube::Error,
    },
}

struct Context {
    client: Client,
}

/// Runs the operator on every namespace until `shutdown` is cancelled.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let configmaps: Api<ConfigMap> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::all(client.clone());
    let selector = watcher::Config::default().labels(&format!("{ENABLED_LABEL}=true"));
    let controller = Controller::new(configmaps, selector);
    let store = controller.store();
    controller
        .watches(
            deployments,
            watcher::Config::default(),
            move |deployment: Deployment| {
                // The ConfigMaps that name this Deployment.
                let namespace = deployment.namespace();
                let name = deployment.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|configmap| {
                        configmap.namespace() == namespace
                            && target(configmap).as_deref() == Some(name.as_str())
                    })
                    .map(|configmap| ObjectRef::from_obj(configmap.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(error = %error, "reconcile failed");
            }
        })
        .await;
}

fn target(configmap: &ConfigMap) -> Option<String> {
    configmap.data.as_ref()?.get("deployment").cloned()
}

async fn reconcile(configmap: Arc<ConfigMap>, context: Arc<Context>) -> Result<Action, Error> {
    let name = configmap.name_any();
    let deployment = target(&configmap).ok_or_else(|| Error::MissingDeployment(name.clone()))?;
    let value = configmap
        .data
        .as_ref()
        .and_then(|data| data.get("replicas"))
        .cloned()
        .unwrap_or_default();
    let replicas: i32 = value
        .trim()
        .parse()
        .ok()
        .filter(|replicas| *replicas >= 0)
        .ok_or(Error::InvalidReplicas {
            configmap: name,
            value,
        })?;
    let namespace = configmap.namespace().unwrap_or_default();
    let api: Api<Deployment> = Api::namespaced(context.client.clone(), &namespace);
    let current = api
        .get_opt(&deployment)
        .await
        .map_err(|source| Error::Scale {
            deployment: deployment.clone(),
            source,
        })?;
    let Some(current) = current else {
        // The Deployment does not exist yet; its creation triggers a reconcile.
        return Ok(Action::await_change());
    };
    if current.spec.as_ref().and_then(|spec| spec.replicas) != Some(replicas) {
        tracing::info!(deployment = %deployment, replicas, "scaling deployment");
        let patch = json!({"spec": {"replicas": replicas}});
        api.patch_scale(
            &deployment,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|source| Error::Scale {
            deployment: deployment.clone(),
            source,
        })?;
    }
    Ok(Action::await_change())
}

fn error_policy(configmap: Arc<ConfigMap>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(configmap = %configmap.name_any(), error = %error, "reconcile failed, retrying");
    Action::requeue(Duration::from_secs(5))
}
