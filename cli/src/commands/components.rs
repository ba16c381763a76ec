//! Starting and supervising the components that `skiff server` and
//! `skiff agent` run in one process, and stopping them in order. The
//! kubelet stops first, so that nothing calls the others while they stop.
//! The scheduler and controller manager follow, then the apiserver, and
//! the runtime shim stops last. Containers keep running after the process
//! exits unless `--stop-pods-on-exit` is set.

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
    /// Stop and remove every pod sandbox of the node when the process exits.
    #[arg(long)]
    pub stop_pods_on_exit: bool,
}

/// The groups of components, in the order they stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Kubelet,
    ControlPlane,
    Apiserver,
    Runtime,
}

const STOP_ORDER: [Tier; 4] = [
    Tier::Kubelet,
    Tier::ControlPlane,
    Tier::Apiserver,
    Tier::Runtime,
];

/// How long one tier gets to stop after its token is cancelled. Its tasks
/// are then aborted, so that one stuck component cannot keep the process alive.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The components of one process, grouped by [`Tier`].
pub struct Components {
    /// Cancelled by SIGINT, SIGTERM or the failure of any component.
    shutdown: CancellationToken,
    tiers: Vec<(Tier, CancellationToken, JoinSet<anyhow::Result<()>>)>,
    /// The runtime socket whose pods are stopped before the shim stops.
    stop_pods_of: Option<PathBuf>,
}

impl Components {
    /// Returns an empty set of components that starts stopping once
    /// `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Self {
        let tiers = STOP_ORDER
            .iter()
            .map(|tier| (*tier, CancellationToken::new(), JoinSet::new()))
            .collect();
        Self {
            shutdown,
            tiers,
            stop_pods_of: None,
        }
    }

    /// Starts component `name` in `tier`. `component` receives the token
    /// that is cancelled when the tier stops.
    pub fn spawn<F, Fut>(&mut self, tier: Tier, name: &'static str, component: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let Some((_, token, tasks)) = self.tiers.iter_mut().find(|(t, _, _)| *t == tier) else {
            return;
        };
        let future = component(token.clone());
        tasks.spawn(supervise(name, self.shutdown.clone(), future));
    }

    /// Waits for shutdown, then stops the tiers one after another and
    /// returns the first failure of any component.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        self.shutdown.cancelled().await;
        let mut first_error = None;
        for (tier, token, tasks) in &mut self.tiers {
            if *tier == Tier::ControlPlane
                && let Some(socket) = &self.stop_pods_of
            {
                super::stop_pods::stop_all(socket).await;
            }
            token.cancel();
            if let Err(error) = stop_tier(*tier, tasks).await {
                first_error.get_or_insert(error);
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Waits up to [`STOP_TIMEOUT`] for the tasks of `tier` and returns the first failure.
async fn stop_tier(tier: Tier, tasks: &mut JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    let mut first_error = None;
    let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
    loop {
        let joined = match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(joined)) => joined,
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    tier = ?tier,
                    remaining = tasks.len(),
                    "components did not stop within {STOP_TIMEOUT:?}; abandoning them"
                );
                tasks.abort_all();
                break;
            }
        };
        let result = joined
            .context("a component panicked")
            .and_then(|result| result);
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Runs one component, logs its start and stop, and cancels `shutdown` when
/// it fails or stops on its own, so that the whole process stops.
async fn supervise<F>(
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
        Err(error) => tracing::error!(component = name, error = format!("{error:#}"), "failed"),
    }
    shutdown.cancel();
    result.with_context(|| format!("{name} failed"))
}

/// Starts the scheduler and the controller manager.
pub fn spawn_control_plane(components: &mut Components, client: kube::Client) {
    let scheduler_client = client.clone();
    components.spawn(Tier::ControlPlane, "scheduler", |stop| async move {
        let config = skiff_scheduler::Config::default();
        skiff_scheduler::run(scheduler_client, config, stop)
            .await
            .map_err(anyhow::Error::from)
    });
    components.spawn(
        Tier::ControlPlane,
        "controller-manager",
        |stop| async move {
            let config = skiff_controller_manager::Config::default();
            skiff_controller_manager::run(client, config, stop)
                .await
                .map_err(anyhow::Error::from)
        },
    );
}

/// Starts the runtime shim and, once its socket exists, the kubelet.
pub fn spawn_node(
    components: &mut Components,
    client: kube::Client,
    data_dir: &Path,
    options: &NodeOptions,
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

    components.spawn(Tier::Runtime, "runtime-shim", |stop| async move {
        skiff_runtime_shim::run(shim_config, stop)
            .await
            .map_err(anyhow::Error::from)
    });
    if options.stop_pods_on_exit {
        components.stop_pods_of = Some(socket.clone());
    }
    components.spawn(Tier::Kubelet, "kubelet", |stop| async move {
        wait_for_socket(&socket, &stop).await?;
        if stop.is_cancelled() {
            return Ok(());
        }
        skiff_kubelet::run(client, kubelet_config, stop)
            .await
            .map_err(anyhow::Error::from)
    });
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
