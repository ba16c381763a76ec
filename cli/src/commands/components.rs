//! Starting and supervising the components that `skiff server` and
//! `skiff agent` run in one process.

use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Flags of the local node shared by `skiff server` and `skiff agent`.
#[derive(clap::Args, Clone)]
pub struct NodeOptions {
    /// Name to register the node under; defaults to the host name.
    #[arg(long)]
    pub node_name: Option<String>,
    /// Address the node API (logs, exec) listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub kubelet_address: IpAddr,
    /// Port of the node API.
    #[arg(long, default_value_t = 10250)]
    pub kubelet_port: u16,
    /// The node's InternalIP; detected from the default route when unset.
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// Extra node labels, KEY=VALUE, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    /// Path of the runc binary.
    #[arg(long, default_value = "/usr/sbin/runc")]
    pub runtime: PathBuf,
    /// Linux bridge the node's pods attach to.
    #[arg(long, default_value = "skiff0")]
    pub bridge: String,
    /// Pod subnet of this node, in CIDR notation.
    #[arg(long, default_value = "10.88.0.0/16")]
    pub pod_cidr: String,
    /// Cgroup parent of the node's pods (absolute cgroupfs path).
    #[arg(long, default_value = "/skiff")]
    pub cgroup_parent: String,
    /// Prefix of the pods' network namespace names under /var/run/netns.
    #[arg(long, default_value = "skiff-")]
    pub netns_prefix: String,
    /// Registry pulled over plain HTTP (127.0.0.1 and localhost always are); may repeat.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
}

/// Runs one component, logs its start and stop, and cancels `shutdown` when
/// it fails so that the whole process stops.
pub async fn supervise<F>(
    name: &'static str,
    shutdown: CancellationToken,
    component: F,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    tracing::info!(component = name, "starting");
    let result = component.await;
    match &result {
        Ok(()) => tracing::info!(component = name, "stopped"),
        Err(error) => {
            tracing::error!(component = name, error = format!("{error:#}"), "failed");
            shutdown.cancel();
        }
    }
    result.with_context(|| format!("{name} failed"))
}

/// Starts the scheduler and the controller manager.
pub fn spawn_control_plane(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    client: kube::Client,
    shutdown: &CancellationToken,
) {
    let scheduler_client = client.clone();
    let scheduler_shutdown = shutdown.child_token();
    tasks.spawn(supervise("scheduler", shutdown.clone(), async move {
        let config = skiff_scheduler::Config::default();
        skiff_scheduler::run(scheduler_client, config, scheduler_shutdown)
            .await
            .map_err(anyhow::Error::from)
    }));
    let manager_shutdown = shutdown.child_token();
    tasks.spawn(supervise(
        "controller-manager",
        shutdown.clone(),
        async move {
            let config = skiff_controller_manager::Config::default();
            skiff_controller_manager::run(client, config, manager_shutdown)
                .await
                .map_err(anyhow::Error::from)
        },
    ));
}

/// Starts the runtime shim and, once its socket exists, the kubelet.
pub fn spawn_node(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    client: kube::Client,
    data_dir: &Path,
    options: &NodeOptions,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let node_name = super::server::default_node_name(options.node_name.as_deref())?;
    let socket = super::server::shim_socket(data_dir);
    let mut shim_config = skiff_runtime_shim::Config::new(
        socket.clone(),
        data_dir.join("shim"),
        options.runtime.clone(),
    );
    shim_config.bridge = options.bridge.clone();
    shim_config.pod_cidr = options.pod_cidr.clone();
    shim_config.cgroup_parent = options.cgroup_parent.clone();
    shim_config.netns_prefix = options.netns_prefix.clone();
    shim_config.insecure_registries = options.insecure_registries.clone();
    let shim_shutdown = shutdown.child_token();
    tasks.spawn(supervise("runtime-shim", shutdown.clone(), async move {
        skiff_runtime_shim::run(shim_config, shim_shutdown)
            .await
            .map_err(anyhow::Error::from)
    }));

    let mut kubelet_config =
        skiff_kubelet::Config::new(node_name, socket.clone(), data_dir.join("kubelet"));
    kubelet_config.address = options.kubelet_address;
    kubelet_config.port = options.kubelet_port;
    kubelet_config.node_ip = options.node_ip;
    kubelet_config.pod_cidr = Some(options.pod_cidr.clone());
    kubelet_config.cgroup_parent = format!("{}/pods", options.cgroup_parent.trim_end_matches('/'));
    for label in &options.node_labels {
        let (key, value) = label.split_once('=').with_context(|| {
            format!("invalid --node-labels entry {label:?}: expected KEY=VALUE")
        })?;
        kubelet_config
            .node_labels
            .insert(key.to_string(), value.to_string());
    }
    let kubelet_shutdown = shutdown.child_token();
    tasks.spawn(supervise("kubelet", shutdown.clone(), async move {
        wait_for_socket(&socket, &kubelet_shutdown).await?;
        skiff_kubelet::run(client, kubelet_config, kubelet_shutdown)
            .await
            .map_err(anyhow::Error::from)
    }));
    Ok(())
}

async fn wait_for_socket(socket: &Path, shutdown: &CancellationToken) -> anyhow::Result<()> {
    for _ in 0..600 {
        if socket.exists() || shutdown.is_cancelled() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "the runtime socket {} did not appear within 60 seconds",
        socket.display()
    )
}

/// How long components get to stop after shutdown starts before they are
/// abandoned, so that one stuck component cannot keep the process alive.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Waits for every component to stop, and returns the first failure.
pub async fn wait_all(
    mut tasks: JoinSet<anyhow::Result<()>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut first_error = None;
    loop {
        let joined = tokio::select! {
            joined = tasks.join_next() => joined,
            () = stop_deadline(shutdown) => {
                tracing::warn!(
                    remaining = tasks.len(),
                    "components did not stop within {STOP_TIMEOUT:?}; exiting anyway"
                );
                tasks.abort_all();
                break;
            }
        };
        let Some(joined) = joined else {
            break;
        };
        let result = joined
            .context("a component panicked")
            .and_then(|result| result);
        if let Err(error) = result {
            shutdown.cancel();
            first_error.get_or_insert(error);
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Completes `STOP_TIMEOUT` after `shutdown` is cancelled.
async fn stop_deadline(shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    tokio::time::sleep(STOP_TIMEOUT).await;
}
