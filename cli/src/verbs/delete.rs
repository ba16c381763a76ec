//! `skiff delete`: delete objects by type and name, by label, or by manifest.

use std::path::PathBuf;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams};

use super::manifest;
use super::resolve::{self, Resource};
use super::{Session, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Resource type, or TYPE/NAME.
    resource: Option<String>,
    /// Object names.
    names: Vec<String>,
    /// Delete the objects in these manifests.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// Delete every object of the type matching this label selector.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    let resources = resolve::discover(&session).await?;
    let mut targets: Vec<(&Resource, String, String)> = Vec::new();
    for document in manifest::read_all(&args.files)? {
        let object = &document.object;
        let resource = resolve::find_kind(
            &resources,
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        )?;
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or(&session.namespace);
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        targets.push((resource, namespace.to_string(), name.to_string()));
    }
    if let Some(type_arg) = &args.resource {
        let (type_name, mut names) = match type_arg.split_once('/') {
            Some((type_name, name)) => (type_name, vec![name.to_string()]),
            None => (type_arg.as_str(), Vec::new()),
        };
        names.extend(args.names.iter().cloned());
        let resource = resolve::find(&resources, type_name)?;
        if let Some(selector) = &args.selector {
            let api = api_for(&session, resource, &session.namespace);
            let list = api
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(super::explain)?;
            for object in list {
                names.push(object.metadata.name.unwrap_or_default());
            }
        }
        for name in names {
            targets.push((resource, session.namespace.clone(), name));
        }
    }
    if targets.is_empty() {
        anyhow::bail!("nothing to delete: name objects as TYPE NAME, TYPE -l SELECTOR or -f FILE");
    }
    let mut failed = 0;
    for (resource, namespace, name) in targets {
        let api = api_for(&session, resource, &namespace);
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => println!("{} \"{name}\" deleted", resource.object_prefix()),
            Err(error) => {
                eprintln!("{:#}", super::explain(error));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} deletions failed");
    }
    Ok(())
}

fn api_for(session: &Session, resource: &Resource, namespace: &str) -> Api<DynamicObject> {
    if resource.namespaced {
        Api::namespaced_with(session.client.clone(), namespace, &resource.api)
    } else {
        Api::all_with(session.client.clone(), &resource.api)
    }
}
