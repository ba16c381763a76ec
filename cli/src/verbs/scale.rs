//! `skiff scale`: set the replica count through the scale subresource.

use kube::api::{Api, DynamicObject, Patch, PatchParams};

use super::Target;
use super::resolve;

#[derive(clap::Args)]
pub struct Args {
    /// TYPE/NAME, e.g. deploy/web.
    resource: String,
    /// The new replica count.
    #[arg(long)]
    replicas: u32,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Some((type_name, name)) = args.resource.split_once('/') else {
        anyhow::bail!(
            "expected TYPE/NAME such as deploy/web, got {:?}",
            args.resource
        );
    };
    let session = args.target.connect().await?;
    let resources = resolve::discover(&session).await?;
    let resource = resolve::find(&resources, type_name)?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(session.client.clone(), &session.namespace, &resource.api);
    let patch = serde_json::json!({ "spec": { "replicas": args.replicas } });
    let params = PatchParams {
        field_manager: Some("skiff-scale".to_string()),
        ..PatchParams::default()
    };
    api.patch_scale(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(super::explain)?;
    println!("{}/{name} scaled", resource.object_prefix());
    Ok(())
}
