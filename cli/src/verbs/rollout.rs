//! `skiff rollout`: status, restart, history and undo of Deployments.

use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams};

use super::Target;

/// The annotation holding a ReplicaSet's or Deployment's revision number.
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Wait until the rollout finishes.
    Status(Named),
    /// Restart every pod by changing the template.
    Restart(Named),
    /// List the revisions.
    History(Named),
    /// Go back to an earlier revision.
    Undo {
        #[command(flatten)]
        named: Named,
        /// Revision to go back to; 0 means the previous one.
        #[arg(long, default_value_t = 0)]
        to_revision: i64,
    },
}

#[derive(clap::Args)]
struct Named {
    /// deploy/NAME or NAME.
    deployment: String,
    /// How long `status` waits, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[command(flatten)]
    target: Target,
}

impl Named {
    fn name(&self) -> &str {
        self.deployment
            .split_once('/')
            .map_or(self.deployment.as_str(), |(_, name)| name)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Status(named) => {
            let session = named.target.connect().await?;
            let timeout = Duration::from_secs(named.timeout);
            wait_available(&session.client, &session.namespace, named.name(), timeout).await
        }
        Action::Restart(named) => restart(&named).await,
        Action::History(named) => history(&named).await,
        Action::Undo { named, to_revision } => undo(&named, to_revision).await,
    }
}

/// Waits until a Deployment's rollout is complete, printing kubectl's
/// progress lines whenever they change.
pub async fn wait_available(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let start = Instant::now();
    let mut last_message = String::new();
    loop {
        let deployment = api.get(name).await.map_err(super::explain)?;
        let (done, message) = rollout_progress(&deployment);
        if message != last_message {
            println!("{message}");
            last_message = message;
        }
        if done {
            return Ok(());
        }
        if start.elapsed() > timeout {
            anyhow::bail!("timed out waiting for deployment {name:?} to roll out");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Returns whether the rollout is complete and kubectl's message for its state.
fn rollout_progress(deployment: &Deployment) -> (bool, String) {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or(0);
    let spec_replicas = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    if status.observed_generation.unwrap_or(0) < generation {
        return (
            false,
            "Waiting for deployment spec update to be observed...".to_string(),
        );
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < spec_replicas {
        let message = format!(
            "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {spec_replicas} new replicas have been updated..."
        );
        return (false, message);
    }
    if replicas > updated {
        let old = replicas - updated;
        let message = format!(
            "Waiting for deployment \"{name}\" rollout to finish: {old} old replicas are pending termination..."
        );
        return (false, message);
    }
    if available < updated {
        let message = format!(
            "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
        );
        return (false, message);
    }
    (
        true,
        format!("deployment \"{name}\" successfully rolled out"),
    )
}

async fn restart(named: &Named) -> anyhow::Result<()> {
    let session = named.target.connect().await?;
    let api: Api<Deployment> = Api::namespaced(session.client.clone(), &session.namespace);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now
    }}}}});
    api.patch(
        named.name(),
        &PatchParams::default(),
        &Patch::Strategic(&patch),
    )
    .await
    .map_err(super::explain)?;
    println!("deployment.apps/{} restarted", named.name());
    Ok(())
}

/// Lists the ReplicaSets a Deployment owns, oldest revision first.
async fn owned_replica_sets(
    client: &kube::Client,
    namespace: &str,
    deployment: &Deployment,
) -> anyhow::Result<Vec<(i64, ReplicaSet)>> {
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(super::explain)?;
    let mut owned: Vec<(i64, ReplicaSet)> = list
        .into_iter()
        .filter(|set| {
            set.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|owner| owner.uid == uid && owner.controller == Some(true))
        })
        .map(|set| (revision_of(&set), set))
        .collect();
    owned.sort_by_key(|(revision, _)| *revision);
    Ok(owned)
}

fn revision_of(set: &ReplicaSet) -> i64 {
    set.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(REVISION_ANNOTATION))
        .and_then(|revision| revision.parse().ok())
        .unwrap_or(0)
}

async fn history(named: &Named) -> anyhow::Result<()> {
    let session = named.target.connect().await?;
    let api: Api<Deployment> = Api::namespaced(session.client.clone(), &session.namespace);
    let deployment = api.get(named.name()).await.map_err(super::explain)?;
    let owned = owned_replica_sets(&session.client, &session.namespace, &deployment).await?;
    println!("deployment.apps/{}", named.name());
    println!("REVISION  CHANGE-CAUSE");
    for (revision, set) in owned {
        let cause = set
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get("kubernetes.io/change-cause"))
            .cloned()
            .unwrap_or_else(|| "<none>".to_string());
        println!("{revision:<9} {cause}");
    }
    Ok(())
}

async fn undo(named: &Named, to_revision: i64) -> anyhow::Result<()> {
    let session = named.target.connect().await?;
    let api: Api<Deployment> = Api::namespaced(session.client.clone(), &session.namespace);
    let deployment = api.get(named.name()).await.map_err(super::explain)?;
    let owned = owned_replica_sets(&session.client, &session.namespace, &deployment).await?;
    let current = deployment
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(REVISION_ANNOTATION))
        .and_then(|revision| revision.parse::<i64>().ok())
        .unwrap_or(0);
    let target = if to_revision == 0 {
        owned
            .iter()
            .rev()
            .find(|(revision, _)| *revision != current)
    } else {
        owned.iter().find(|(revision, _)| *revision == to_revision)
    };
    let Some((revision, set)) = target else {
        anyhow::bail!("no rollout history found for deployment {:?}", named.name());
    };
    let mut template = set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.clone())
        .context("the ReplicaSet has no pod template")?;
    if let Some(labels) = template
        .metadata
        .as_mut()
        .and_then(|meta| meta.labels.as_mut())
    {
        labels.remove("pod-template-hash");
    }
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "replace", "path": "/spec/template", "value": template}
    ]))?;
    api.patch(
        named.name(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await
    .map_err(super::explain)?;
    println!(
        "deployment.apps/{} rolled back to revision {revision}",
        named.name()
    );
    Ok(())
}
