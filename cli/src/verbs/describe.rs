//! `skiff describe` and `skiff events`: an object with its events, and the
//! namespace's events.

use serde_json::Value;

use super::resolve;
use super::table::{self, Columns};
use super::{Session, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Resource type, or TYPE/NAME.
    resource: String,
    /// Object name.
    name: Option<String>,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    let resources = resolve::discover(&session).await?;
    let (type_name, name) = match (args.resource.split_once('/'), &args.name) {
        (Some((type_name, name)), _) => (type_name.to_string(), name.to_string()),
        (None, Some(name)) => (args.resource.clone(), name.clone()),
        (None, None) => anyhow::bail!("name the object: skiff describe TYPE NAME"),
    };
    let resource = resolve::find(&resources, &type_name)?;
    let path = format!(
        "{}/{name}",
        resource.collection_path(Some(&session.namespace))
    );
    let mut object = session.get_json(&path, "application/json").await?;
    if let Some(metadata) = object["metadata"].as_object_mut() {
        metadata.remove("managedFields");
    }
    print!("{}", serde_yaml_ng::to_string(&object)?);
    let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
    println!("Events:");
    let selector = format!("involvedObject.name={name},involvedObject.uid={uid}");
    print_events(&session, Some(&selector), false).await
}

#[derive(clap::Args)]
pub struct EventsArgs {
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn events(args: EventsArgs) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    print_events(&session, None, args.all_namespaces).await
}

async fn print_events(
    session: &Session,
    field_selector: Option<&str>,
    all_namespaces: bool,
) -> anyhow::Result<()> {
    let mut path = if all_namespaces {
        "/api/v1/events".to_string()
    } else {
        format!("/api/v1/namespaces/{}/events", session.namespace)
    };
    if let Some(selector) = field_selector {
        path.push_str("?fieldSelector=");
        path.push_str(&selector.replace('=', "%3D").replace(',', "%2C"));
    }
    let table: Value = session.get_json(&path, table::TABLE_ACCEPT).await?;
    if table["rows"].as_array().is_none_or(Vec::is_empty) {
        println!("  <none>");
        return Ok(());
    }
    let columns = Columns {
        header: true,
        namespace: all_namespaces,
        wide: false,
    };
    for line in table::render(&table, columns) {
        println!("  {line}");
    }
    Ok(())
}
