//! On-disk records of sandboxes and containers, written atomically so a
//! crash never leaves a half-written file behind.

mod container;
mod files;
mod sandbox;

pub use container::{ContainerRecord, ExitRecord};
pub use files::{StateError, read_json, write_json};
pub use sandbox::{SandboxRecord, SandboxState};

use std::path::{Path, PathBuf};

/// Directory layout under the shim's root directory.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn sandboxes(&self) -> PathBuf {
        self.root.join("sandboxes")
    }

    pub fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.sandboxes().join(id)
    }

    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }

    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.root.join("cni").join("ipam")
    }
}

/// Current time in nanoseconds since the Unix epoch, the unit CRI uses.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A new random 64-hex-digit id, the form containerd uses.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}
