//! `skiff ps`: the containers of the cluster's pods, listed like `docker ps`.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};

use super::Target;
use super::table;

#[derive(clap::Args)]
pub struct Args {
    /// Show containers that have exited too.
    #[arg(short = 'a', long)]
    all: bool,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let session = args.target.connect().await?;
    let pods: Api<Pod> = if args.all_namespaces {
        Api::all(session.client.clone())
    } else {
        Api::namespaced(session.client.clone(), &session.namespace)
    };
    let list = pods
        .list(&ListParams::default())
        .await
        .map_err(super::explain)?;
    let mut rows = vec![
        ["CONTAINER ID", "IMAGE", "STATUS", "NODE", "PORTS", "NAMES"]
            .map(String::from)
            .to_vec(),
    ];
    let now = Timestamp::now();
    for pod in &list {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|status| status.container_statuses.clone())
            .unwrap_or_default();
        for container in pod.spec.iter().flat_map(|spec| spec.containers.iter()) {
            let status = statuses.iter().find(|status| status.name == container.name);
            let running = status.is_some_and(|status| {
                status
                    .state
                    .as_ref()
                    .is_some_and(|state| state.running.is_some())
            });
            if !args.all && !running {
                continue;
            }
            let ports: Vec<String> = container
                .ports
                .iter()
                .flatten()
                .map(|port| {
                    let protocol = port.protocol.as_deref().unwrap_or("TCP").to_lowercase();
                    match port.host_port {
                        Some(host) => format!(
                            "{}:{host}->{}/{protocol}",
                            port.host_ip.as_deref().unwrap_or("0.0.0.0"),
                            port.container_port
                        ),
                        None => format!("{}/{protocol}", port.container_port),
                    }
                })
                .collect();
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            rows.push(vec![
                status.map(short_id).unwrap_or_default(),
                container.image.clone().unwrap_or_default(),
                status
                    .map(|status| describe_state(status, now))
                    .unwrap_or_else(|| "Pending".to_string()),
                pod.spec
                    .as_ref()
                    .and_then(|spec| spec.node_name.clone())
                    .unwrap_or_default(),
                ports.join(", "),
                format!("{pod_name}/{}", container.name),
            ]);
        }
    }
    let lines = table::align_rows(&rows);
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

fn short_id(status: &ContainerStatus) -> String {
    let id = status.container_id.as_deref().unwrap_or("");
    let id = id.split_once("://").map_or(id, |(_, id)| id);
    id.chars().take(12).collect()
}

/// Describes a container's state as `docker ps` does: `Up 5m`, `Exited (1) 2m ago`.
fn describe_state(status: &ContainerStatus, now: Timestamp) -> String {
    let Some(state) = &status.state else {
        return "Unknown".to_string();
    };
    if let Some(running) = &state.running {
        let since = running
            .started_at
            .as_ref()
            .map(|time| table::age(time.0, now));
        return format!("Up {}", since.unwrap_or_default());
    }
    if let Some(terminated) = &state.terminated {
        let ago = terminated
            .finished_at
            .as_ref()
            .map(|time| table::age(time.0, now));
        return format!(
            "Exited ({}) {} ago",
            terminated.exit_code,
            ago.unwrap_or_default()
        );
    }
    if let Some(waiting) = &state.waiting {
        return waiting
            .reason
            .clone()
            .unwrap_or_else(|| "Waiting".to_string());
    }
    "Unknown".to_string()
}
