//! `skiff apply -f`: create or update objects from manifests with
//! server-side apply, printing kubectl's created/configured/unchanged lines.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use kube::api::{Api, DynamicObject, Patch, PatchParams};

use super::manifest::{self, Document};
use super::resolve::{self, Resource};
use super::{Session, Target};

/// The field manager skiff applies as.
const FIELD_MANAGER: &str = "skiff";

#[derive(clap::Args)]
pub struct Args {
    /// Manifest file, directory, or - for standard input; may repeat.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Take ownership of fields other managers own instead of failing.
    #[arg(long)]
    force_conflicts: bool,
    /// After applying, wait until every Deployment's rollout is available.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let documents = manifest::read_all(&args.files)?;
    if documents.is_empty() {
        anyhow::bail!("no objects passed to apply");
    }
    let session = args.target.connect().await?;
    let resources = resolve::discover(&session).await?;
    let mut deployments = Vec::new();
    let mut failed = 0;
    for document in &documents {
        match apply_one(&session, &resources, document, args.force_conflicts).await {
            Ok(applied) => {
                println!("{}", applied.line);
                if applied.kind == "Deployment" {
                    deployments.push((applied.namespace, applied.name));
                }
            }
            Err(error) => {
                eprintln!("{error:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} objects failed to apply", documents.len());
    }
    if args.wait {
        let deadline = Duration::from_secs(args.timeout);
        for (namespace, name) in deployments {
            super::rollout::wait_available(&session.client, &namespace, &name, deadline).await?;
        }
    }
    Ok(())
}

struct Applied {
    line: String,
    kind: String,
    namespace: String,
    name: String,
}

async fn apply_one(
    session: &Session,
    resources: &[Resource],
    document: &Document,
    force: bool,
) -> anyhow::Result<Applied> {
    let object = &document.object;
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let resource = resolve::find_kind(resources, api_version, kind)
        .with_context(|| format!("error when applying {}", document.location()))?;
    let name = object["metadata"]["name"]
        .as_str()
        .filter(|name| !name.is_empty())
        .with_context(|| {
            format!(
                "error when applying {}: metadata.name is required",
                document.location()
            )
        })?
        .to_string();
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or(&session.namespace)
        .to_string();
    let api: Api<DynamicObject> = if resource.namespaced {
        Api::namespaced_with(session.client.clone(), &namespace, &resource.api)
    } else {
        Api::all_with(session.client.clone(), &resource.api)
    };

    let before = api
        .get_opt(&name)
        .await
        .map_err(super::explain)
        .with_context(|| format!("error when applying {}", document.location()))?;
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force;
    let after = api
        .patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(|error| apply_error(error, document))?;
    let verb = match before {
        None => "created",
        Some(before) if before.metadata.resource_version == after.metadata.resource_version => {
            "unchanged"
        }
        Some(_) => "configured",
    };
    Ok(Applied {
        line: format!("{}/{name} {verb}", resource.object_prefix()),
        kind: kind.to_string(),
        namespace,
        name,
    })
}

/// Explains a failed apply with the document it came from and every field
/// cause the apiserver listed.
fn apply_error(error: kube::Error, document: &Document) -> anyhow::Error {
    let kube::Error::Api(status) = &error else {
        return anyhow::anyhow!("error when applying {}: {error}", document.location());
    };
    let mut message = format!(
        "error when applying {}: Error from server ({}): {}",
        document.location(),
        status.reason,
        status.message
    );
    if let Some(details) = &status.details {
        for cause in &details.causes {
            if !cause.field.is_empty() && !status.message.contains(&cause.field) {
                message.push_str(&format!("\n  {}: {}", cause.field, cause.message));
            }
        }
    }
    if status.code == 409 && status.reason == "Conflict" {
        message.push_str("\nrerun with --force-conflicts to take ownership of these fields");
    }
    anyhow::anyhow!(message)
}
