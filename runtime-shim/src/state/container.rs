//! The record of one container and of its exit.

use std::path::PathBuf;

use k8s_cri::v1::ContainerConfig;
use serde::{Deserialize, Serialize};

/// Everything the server knows about a container; its exit is in [`ExitRecord`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub sandbox_id: String,
    pub config: ContainerConfig,
    /// The image id (`sha256:...` or a local rootfs path) the rootfs came from.
    pub image_id: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    /// Absolute path of the CRI log file.
    pub log_path: PathBuf,
    /// Absolute cgroupfs path of the container.
    pub cgroup_path: String,
    /// Signal sent first by StopContainer.
    pub stop_signal: String,
    /// Set when StartContainer failed, with runc's message.
    pub start_error: Option<String>,
}

/// What the monitor process records when the container's init exits.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Exit status, or 128 plus the signal number when a signal ended it.
    pub exit_code: i32,
    pub finished_at: i64,
    pub oom_killed: bool,
    /// Extra text for ContainerStatus.message, such as a runc error.
    pub message: Option<String>,
}
