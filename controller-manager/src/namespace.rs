//! The namespace controller: empties a namespace that is being deleted,
//! then removes the `kubernetes` finalizer so the apiserver deletes it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, DynamicObject, ListParams, PostParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::discovery::{self, Resource};
use crate::error::{Error, is_api_status};
use crate::informer::Informer;

/// The spec finalizer the namespace controller owns.
const KUBERNETES_FINALIZER: &str = "kubernetes";

/// Delay before a namespace with content left is checked again.
const RECHECK_CONTENT: Duration = Duration::from_secs(1);

struct Context {
    client: Client,
    discovery_period: Duration,
    resources: Mutex<Option<(Instant, Vec<Resource>)>>,
}

/// Runs the controller until `shutdown` is cancelled.
pub async fn run(
    client: Client,
    config: Config,
    namespaces: Informer<Namespace>,
    shutdown: CancellationToken,
) {
    let context = Arc::new(Context {
        client,
        discovery_period: config.discovery_period,
        resources: Mutex::new(None),
    });
    Controller::for_stream(namespaces.subscribe(), namespaces.store())
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, context)
        .for_each(|_| async {})
        .await;
}

fn error_policy(namespace: Arc<Namespace>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(namespace = %namespace.name_any(), error = %error, "namespace cleanup failed, retrying");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(namespace: Arc<Namespace>, context: Arc<Context>) -> Result<Action, Error> {
    let finalizers = namespace
        .spec
        .as_ref()
        .and_then(|spec| spec.finalizers.clone())
        .unwrap_or_default();
    if namespace.metadata.deletion_timestamp.is_none()
        || !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER)
    {
        return Ok(Action::await_change());
    }
    let name = namespace.name_any();
    let remaining = delete_content(&context, &name).await?;
    if remaining > 0 {
        tracing::debug!(namespace = %name, remaining, "namespace still has content");
        return Ok(Action::requeue(RECHECK_CONTENT));
    }
    let mut finalized = namespace.as_ref().clone();
    if let Some(spec) = finalized.spec.as_mut() {
        spec.finalizers = Some(
            finalizers
                .into_iter()
                .filter(|finalizer| finalizer != KUBERNETES_FINALIZER)
                .collect(),
        );
    }
    let api: Api<Namespace> = Api::all(context.client.clone());
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => tracing::info!(namespace = %name, "namespace emptied and finalized"),
        Err(error) if is_api_status(&error, 404) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(Action::await_change())
}

/// Deletes every object in the namespace; returns how many remain.
async fn delete_content(context: &Context, namespace: &str) -> Result<usize, Error> {
    let mut remaining = 0;
    for resource in resources(context).await? {
        if !resource.namespaced {
            continue;
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(context.client.clone(), namespace, &resource.api);
        let objects = match api.list(&ListParams::default()).await {
            Ok(list) => list.items,
            Err(error) if is_api_status(&error, 404) || is_api_status(&error, 405) => continue,
            Err(error) => return Err(error.into()),
        };
        remaining += objects.len();
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        for object in objects
            .iter()
            .filter(|object| object.metadata.deletion_timestamp.is_none())
        {
            match api.delete(&object.name_any(), &params).await {
                Ok(_) => {}
                Err(error) if is_api_status(&error, 404) || is_api_status(&error, 409) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(remaining)
}

/// Returns the discovered resources, rediscovering after the period.
async fn resources(context: &Context) -> Result<Vec<Resource>, Error> {
    if let Ok(cached) = context.resources.lock()
        && let Some((at, resources)) = cached.as_ref()
        && at.elapsed() < context.discovery_period
    {
        return Ok(resources.clone());
    }
    let resources = discovery::deletable_resources(&context.client).await?;
    if let Ok(mut cached) = context.resources.lock() {
        *cached = Some((Instant::now(), resources.clone()));
    }
    Ok(resources)
}
