//! `skiff get`: list or show objects, as tables like kubectl's or as YAML/JSON.

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::resolve::{self, Resource};
use super::table::{self, Columns};
use super::{Session, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Resource type (pods, deploy, ...), or TYPE/NAME.
    resource: String,
    /// Object names.
    names: Vec<String>,
    /// Output format: wide, yaml, json or name.
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Label selector, e.g. app=web.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// After listing, watch for changes.
    #[arg(short = 'w', long)]
    watch: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    let resources = resolve::discover(&session).await?;
    let (type_name, mut names) = match args.resource.split_once('/') {
        Some((type_name, name)) => (type_name.to_string(), vec![name.to_string()]),
        None => (args.resource.clone(), Vec::new()),
    };
    names.extend(args.names.iter().cloned());
    let resource = resolve::find(&resources, &type_name)?;
    let namespace = (!args.all_namespaces).then_some(session.namespace.as_str());
    let output = args.output.as_deref().unwrap_or("");
    match output {
        "" | "wide" => print_table(&session, resource, namespace, &names, &args).await,
        "yaml" | "json" | "name" => {
            print_objects(&session, resource, namespace, &names, &args, output).await
        }
        other => anyhow::bail!("unknown output format {other:?}: use wide, yaml, json or name"),
    }
}

fn list_path(resource: &Resource, namespace: Option<&str>, selector: Option<&str>) -> String {
    let mut path = resource.collection_path(namespace);
    if let Some(selector) = selector {
        path.push_str("?labelSelector=");
        path.push_str(&encode(selector));
    }
    path
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut encoded = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

async fn print_table(
    session: &Session,
    resource: &Resource,
    namespace: Option<&str>,
    names: &[String],
    args: &Args,
) -> anyhow::Result<()> {
    let columns = Columns {
        wide: args.output.as_deref() == Some("wide"),
        namespace: args.all_namespaces && resource.namespaced,
        header: true,
    };
    let mut tables = Vec::new();
    if names.is_empty() {
        let path = list_path(resource, namespace, args.selector.as_deref());
        tables.push(session.get_json(&path, table::TABLE_ACCEPT).await?);
    } else {
        for name in names {
            let path = format!("{}/{name}", resource.collection_path(namespace));
            tables.push(session.get_json(&path, table::TABLE_ACCEPT).await?);
        }
    }
    let mut merged = tables[0].clone();
    let rows: Vec<Value> = tables
        .iter()
        .flat_map(|table| table["rows"].as_array().cloned().unwrap_or_default())
        .collect();
    if rows.is_empty() && !args.watch {
        match namespace {
            Some(namespace) if resource.namespaced => {
                eprintln!("No resources found in {namespace} namespace.")
            }
            _ => eprintln!("No resources found"),
        }
        return Ok(());
    }
    merged["rows"] = Value::Array(rows);
    for line in table::render(&merged, columns) {
        println!("{line}");
    }
    if args.watch {
        let version = merged["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string();
        watch_table(session, resource, namespace, args, &version, columns).await?;
    }
    Ok(())
}

async fn watch_table(
    session: &Session,
    resource: &Resource,
    namespace: Option<&str>,
    args: &Args,
    version: &str,
    columns: Columns,
) -> anyhow::Result<()> {
    let mut path = list_path(resource, namespace, args.selector.as_deref());
    path.push(if path.contains('?') { '&' } else { '?' });
    path.push_str(&format!("watch=true&resourceVersion={version}"));
    let request = http::Request::get(&path)
        .header(http::header::ACCEPT, table::TABLE_ACCEPT)
        .body(Vec::new())
        .context("invalid request")?;
    let events = session
        .client
        .request_events::<Value>(request)
        .await
        .map_err(super::explain)?;
    let mut events = events.boxed();
    let row_columns = Columns {
        header: false,
        ..columns
    };
    while let Some(event) = events.try_next().await.map_err(super::explain)? {
        let object = match event {
            kube::api::WatchEvent::Added(object)
            | kube::api::WatchEvent::Modified(object)
            | kube::api::WatchEvent::Deleted(object) => object,
            kube::api::WatchEvent::Bookmark(_) => continue,
            kube::api::WatchEvent::Error(status) => {
                anyhow::bail!("watch failed: {}", status.message)
            }
        };
        for line in table::render(&object, row_columns) {
            println!("{line}");
        }
    }
    Ok(())
}

async fn print_objects(
    session: &Session,
    resource: &Resource,
    namespace: Option<&str>,
    names: &[String],
    args: &Args,
    output: &str,
) -> anyhow::Result<()> {
    let mut objects = Vec::new();
    if names.is_empty() {
        let path = list_path(resource, namespace, args.selector.as_deref());
        let list = session.get_json(&path, "application/json").await?;
        for mut item in list["items"].as_array().cloned().unwrap_or_default() {
            item["apiVersion"] = Value::String(resource.api.api_version.clone());
            item["kind"] = Value::String(resource.api.kind.clone());
            objects.push(item);
        }
    } else {
        for name in names {
            let path = format!("{}/{name}", resource.collection_path(namespace));
            objects.push(session.get_json(&path, "application/json").await?);
        }
    }
    if output == "name" {
        for object in &objects {
            let name = object["metadata"]["name"].as_str().unwrap_or("");
            println!("{}/{name}", resource.object_prefix());
        }
        return Ok(());
    }
    let document = if objects.len() == 1 && !names.is_empty() {
        objects.remove(0)
    } else {
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects, "metadata": {"resourceVersion": ""}})
    };
    if output == "json" {
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{}", serde_yaml_ng::to_string(&document)?);
    }
    Ok(())
}
