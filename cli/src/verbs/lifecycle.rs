//! `skiff stop`, `start` and `rm`: the docker verbs on what `skiff run` made.
//! A stopped Deployment is scaled to zero and remembers its replica count.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use super::{Session, Target};

/// The annotation that keeps a stopped Deployment's replica count.
const STOPPED_REPLICAS: &str = "skiff.dev/replicas-before-stop";

#[derive(clap::Args)]
pub struct Args {
    /// Names of Deployments or Pods.
    #[arg(required = true)]
    names: Vec<String>,
    #[command(flatten)]
    target: Target,
}

/// The docker verb to carry out.
#[derive(Clone, Copy)]
pub enum Verb {
    Stop,
    Start,
    Remove,
}

pub async fn run(verb: Verb, args: Args) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    for name in &args.names {
        act(&session, verb, name).await?;
        println!("{name}");
    }
    Ok(())
}

async fn act(session: &Session, verb: Verb, name: &str) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(session.client.clone(), &session.namespace);
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    let deployment = deployments.get_opt(name).await.map_err(super::explain)?;
    match (verb, deployment) {
        (Verb::Stop, Some(deployment)) => {
            let replicas = deployment.spec.and_then(|spec| spec.replicas).unwrap_or(1);
            if replicas == 0 {
                return Ok(());
            }
            let patch = serde_json::json!({
                "metadata": {"annotations": {STOPPED_REPLICAS: replicas.to_string()}},
                "spec": {"replicas": 0}
            });
            deployments
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(super::explain)?;
        }
        (Verb::Start, Some(deployment)) => {
            let replicas = deployment
                .metadata
                .annotations
                .as_ref()
                .and_then(|annotations| annotations.get(STOPPED_REPLICAS))
                .and_then(|value| value.parse::<i32>().ok())
                .unwrap_or(1);
            let patch = serde_json::json!({
                "metadata": {"annotations": {STOPPED_REPLICAS: null}},
                "spec": {"replicas": replicas}
            });
            deployments
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(super::explain)?;
        }
        (Verb::Remove, Some(_)) => {
            deployments
                .delete(name, &DeleteParams::background())
                .await
                .map_err(super::explain)?;
        }
        (Verb::Remove, None) => {
            pods.delete(name, &DeleteParams::default())
                .await
                .map_err(super::explain)?;
        }
        (Verb::Stop | Verb::Start, None) => {
            if pods.get_opt(name).await.map_err(super::explain)?.is_some() {
                anyhow::bail!(
                    "{name} is a bare Pod, which cannot be stopped and started again: remove it with `skiff rm {name}`"
                );
            }
            anyhow::bail!(
                "no Deployment or Pod named {name:?} in namespace {}",
                session.namespace
            );
        }
    }
    Ok(())
}
