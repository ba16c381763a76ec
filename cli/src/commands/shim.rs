//! `skiff shim`: the CRI runtime server alone.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Unix socket to serve CRI on.
    #[arg(long, default_value = "/run/skiff/shim.sock")]
    socket: PathBuf,
    /// Directory for images, layers, bundles and container state.
    #[arg(long, default_value = "/var/lib/skiff/shim")]
    root: PathBuf,
    /// Path of the runc binary.
    #[arg(long, default_value = "/usr/sbin/runc")]
    runtime: PathBuf,
    /// Directory holding the CNI plugin binaries.
    #[arg(long, default_value = "/usr/lib/cni")]
    cni_bin_dir: PathBuf,
    /// Directory of the CNI network configuration [default: <root>/cni/net.d].
    #[arg(long)]
    cni_conf_dir: Option<PathBuf>,
    /// Bridge name of the default CNI network.
    #[arg(long, default_value = "skiff0")]
    bridge: String,
    /// Pod subnet (CIDR) of the default CNI network.
    #[arg(long, default_value = "10.88.0.0/16")]
    pod_cidr: String,
    /// Absolute cgroupfs path under which sandboxes without a cgroup parent are placed.
    #[arg(long, default_value = "/skiff")]
    cgroup_parent: String,
    /// Prefix of the sandbox network namespace names in /var/run/netns.
    #[arg(long, default_value = "skiff-")]
    netns_prefix: String,
    /// Address of the exec/attach streaming server; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    streaming_addr: SocketAddr,
    /// Registry (host[:port]) to pull from over plain HTTP; repeatable.
    #[arg(long = "insecure-registry")]
    insecure_registries: Vec<String>,
    /// Size in bytes at which a container log file is rotated.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    log_max_size: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut config = skiff_runtime_shim::Config::new(args.socket, args.root, args.runtime);
    config.cni_bin_dir = args.cni_bin_dir;
    if let Some(dir) = args.cni_conf_dir {
        config.cni_conf_dir = dir;
    }
    config.bridge = args.bridge;
    config.pod_cidr = args.pod_cidr;
    config.cgroup_parent = args.cgroup_parent;
    config.netns_prefix = args.netns_prefix;
    config.streaming_addr = args.streaming_addr;
    config.insecure_registries = args.insecure_registries;
    config.log_max_size = args.log_max_size;
    skiff_runtime_shim::run(config, super::signals::shutdown_token()).await?;
    Ok(())
}
