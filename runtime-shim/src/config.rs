//! Settings of one shim instance.

use std::path::PathBuf;

/// Settings of one shim instance. [`Config::new`] fills every optional
/// setting with a default derived from the root directory.
#[derive(Clone, Debug)]
pub struct Config {
    /// Unix socket the gRPC server listens on.
    pub socket: PathBuf,
    /// Directory for images, layers, bundles and container state.
    pub root: PathBuf,
    /// Path of the runc binary.
    pub runtime: PathBuf,
    /// Binary re-executed as `<binary> shim-monitor ...` to watch each container.
    pub monitor_binary: PathBuf,
    /// Directory holding the CNI plugin binaries.
    pub cni_bin_dir: PathBuf,
    /// Directory holding the CNI network configuration (`*.conflist`). A
    /// default bridge network is written there when it holds none.
    pub cni_conf_dir: PathBuf,
    /// Name of the Linux bridge of the default CNI network.
    pub bridge: String,
    /// Pod subnet of the default CNI network, in CIDR notation.
    pub pod_cidr: String,
    /// Cgroup parent (absolute cgroupfs path) of sandboxes whose CRI config
    /// names none.
    pub cgroup_parent: String,
    /// Prefix of the network namespace names under `/var/run/netns`.
    pub netns_prefix: String,
    /// Address the exec/attach streaming server binds; port 0 picks a free one.
    pub streaming_addr: std::net::SocketAddr,
    /// Registries pulled over plain HTTP (127.0.0.1 and localhost always are).
    pub insecure_registries: Vec<String>,
    /// Size in bytes at which a container log file is rotated.
    pub log_max_size: u64,
}

impl Config {
    /// Builds a config with defaults for every optional setting.
    pub fn new(socket: PathBuf, root: PathBuf, runtime: PathBuf) -> Self {
        let monitor_binary =
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/skiff"));
        let cni_conf_dir = root.join("cni").join("net.d");
        Self {
            socket,
            root,
            runtime,
            monitor_binary,
            cni_bin_dir: PathBuf::from("/usr/lib/cni"),
            cni_conf_dir,
            bridge: "skiff0".to_string(),
            pod_cidr: "10.88.0.0/16".to_string(),
            cgroup_parent: "/skiff".to_string(),
            netns_prefix: "skiff-".to_string(),
            streaming_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            insecure_registries: Vec::new(),
            log_max_size: 10 * 1024 * 1024,
        }
    }

    /// Directory given to `runc --root`.
    pub fn runc_root(&self) -> PathBuf {
        self.root.join("runc")
    }
}
