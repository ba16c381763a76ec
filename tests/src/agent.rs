//! A `skiff agent` joining a test cluster as a second node, with its own
//! node name, bridge, pod subnet, netns prefix and cgroup parent. Dropping it
//! stops the agent and removes every container, mount, namespace, cgroup
//! and link its node made.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::process::{free_port, skiff_bin};
use crate::shim::{Leftovers, remove_node_leftovers};

/// A running `skiff agent`.
pub struct Agent {
    pub node_name: String,
    pub data_dir: PathBuf,
    pub bridge: String,
    pub netns_prefix: String,
    pub cgroup_parent: String,
    /// The /24 its pods get addresses from.
    pub subnet: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts `skiff agent` against the apiserver at `server` with the
    /// credentials in `kubeconfig`.
    pub fn start(server: &str, kubeconfig: &Path) -> anyhow::Result<Self> {
        let suffix = hex::encode(rand::random::<[u8; 3]>());
        let dir = tempfile::Builder::new().prefix("skiff-agent-").tempdir()?;
        let second: u8 = rand::random_range(0..50);
        let third: u8 = rand::random();
        let agent = Self {
            node_name: format!("skiff-agent-{suffix}"),
            data_dir: dir.path().join("data"),
            bridge: format!("ska{suffix}"),
            netns_prefix: format!("ska-{suffix}-"),
            cgroup_parent: format!("/skiff-agent-{suffix}"),
            subnet: format!("10.{}.{}.0/24", 100 + second, third),
            child: None,
            _dir: dir,
        };
        agent.spawn(server, kubeconfig)
    }

    fn spawn(mut self, server: &str, kubeconfig: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&self.data_dir)?;
        let log = std::fs::File::create(self.log_path())?;
        let child = Command::new(skiff_bin())
            .arg("agent")
            .args(["--server", server])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--node-name", &self.node_name])
            .args(["--kubelet-port", &free_port().to_string()])
            .args(["--bridge", &self.bridge])
            .args(["--pod-cidr", &self.subnet])
            .args(["--netns-prefix", &self.netns_prefix])
            .args(["--cgroup-parent", &self.cgroup_parent])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting skiff agent")?;
        self.child = Some(child);
        Ok(self)
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.with_file_name("agent.log")
    }

    /// Returns the agent's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops the agent with SIGTERM and waits for it; its containers keep
    /// running until the agent is dropped.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        crate::process::terminate(&mut child, Duration::from_secs(30));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
        remove_node_leftovers(&Leftovers {
            runc_root: &self.data_dir.join("shim").join("runc"),
            mounts_below: &self.data_dir,
            netns_prefix: &self.netns_prefix,
            cgroup_parent: &self.cgroup_parent,
            bridge: &self.bridge,
        });
    }
}
