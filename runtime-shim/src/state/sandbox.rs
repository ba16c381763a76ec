//! The record of one pod sandbox.

use std::path::PathBuf;

use k8s_cri::v1::PodSandboxConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxState {
    Ready,
    NotReady,
}

/// Everything needed to report on and tear down a sandbox after a restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub id: String,
    pub config: PodSandboxConfig,
    pub runtime_handler: String,
    pub created_at: i64,
    pub state: SandboxState,
    /// Bind-mounted network namespace, `/var/run/netns/<prefix><id>`.
    pub netns: PathBuf,
    /// Bind-mounted IPC namespace file.
    pub ipc_ns: PathBuf,
    /// Bind-mounted UTS namespace file.
    pub uts_ns: PathBuf,
    /// Absolute cgroupfs path that containers of the sandbox are placed under.
    pub cgroup_parent: String,
    /// Whether the shim created the cgroup parent and so removes it.
    pub created_cgroup: bool,
    /// The pod's IP, once CNI ADD succeeded.
    pub ip: Option<String>,
    /// Result of each CNI plugin of the network list, passed to DEL.
    pub cni_result: Option<serde_json::Value>,
    /// Whether CNI ADD succeeded and has not been undone by DEL.
    pub network_attached: bool,
}
