//! The runtime's operations on sandboxes and containers, independent of gRPC.

mod container;
mod error;
mod exec;
mod monitor_client;
mod port_forward;
mod sandbox;
mod stats;

pub use error::ServiceError;
pub use exec::{AttachConnection, ExecProcess, StreamRequest};
pub use port_forward::{PortForwardTarget, connect_in_netns};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use crate::Config;
use crate::cgroup;
use crate::container::runc::Runc;
use crate::image::{ImageConfig, ImageRootfs, ImageStore};
use crate::state::{ContainerRecord, Layout, SandboxRecord, read_json};

const SANDBOX_FILE: &str = "sandbox.json";
const CONTAINER_FILE: &str = "container.json";

/// The runtime: in-memory copies of the on-disk records plus the tools
/// that act on them.
pub struct Runtime {
    config: Config,
    layout: Layout,
    cgroups: cgroup::Layout,
    runc: Runc,
    images: Arc<ImageStore>,
    sandboxes: RwLock<HashMap<String, SandboxRecord>>,
    containers: RwLock<HashMap<String, ContainerRecord>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Runtime {
    /// Loads every sandbox and container record found under the root directory.
    pub fn open(config: Config, images: Arc<ImageStore>) -> Result<Self, ServiceError> {
        let layout = Layout::new(&config.root);
        for dir in [
            layout.sandboxes(),
            layout.containers(),
            config.runc_root(),
            layout.cni_ipam_dir(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| ServiceError::Io {
                action: "create",
                path: dir.clone(),
                source,
            })?;
        }
        let sandboxes = load_records::<SandboxRecord>(&layout.sandboxes(), SANDBOX_FILE)?;
        let containers = load_records::<ContainerRecord>(&layout.containers(), CONTAINER_FILE)?;
        tracing::info!(
            sandboxes = sandboxes.len(),
            containers = containers.len(),
            root = %config.root.display(),
            "loaded runtime state"
        );
        // The image store keeps its users in memory only, so a restart
        // registers every existing container again.
        for container in &containers {
            images.acquire(&container.image_id, &container.id);
        }
        let runc = Runc {
            binary: config.runtime.clone(),
            root: config.runc_root(),
        };
        Ok(Self {
            cgroups: cgroup::detect(),
            layout,
            runc,
            images,
            sandboxes: RwLock::new(
                sandboxes
                    .into_iter()
                    .map(|record| (record.id.clone(), record))
                    .collect(),
            ),
            containers: RwLock::new(
                containers
                    .into_iter()
                    .map(|record| (record.id.clone(), record))
                    .collect(),
            ),
            locks: Mutex::new(HashMap::new()),
            config,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn images(&self) -> &Arc<ImageStore> {
        &self.images
    }

    /// Serialises operations on one sandbox or container.
    async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.entry(id.to_string()).or_default().clone()
        };
        mutex.lock_owned().await
    }

    /// Resolves a full id or a unique prefix of a sandbox id.
    fn sandbox(&self, id: &str) -> Result<SandboxRecord, ServiceError> {
        let sandboxes = self
            .sandboxes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        find_by_prefix(&sandboxes, id)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound {
                kind: "pod sandbox",
                id: id.to_string(),
            })
    }

    /// Resolves a full id or a unique prefix of a container id.
    fn container(&self, id: &str) -> Result<ContainerRecord, ServiceError> {
        let containers = self
            .containers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        find_by_prefix(&containers, id)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound {
                kind: "container",
                id: id.to_string(),
            })
    }

    fn save_sandbox(&self, record: &SandboxRecord) -> Result<(), ServiceError> {
        let path = self.layout.sandbox_dir(&record.id).join(SANDBOX_FILE);
        crate::state::write_json(&path, record)?;
        let mut sandboxes = self
            .sandboxes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sandboxes.insert(record.id.clone(), record.clone());
        Ok(())
    }

    fn save_container(&self, record: &ContainerRecord) -> Result<(), ServiceError> {
        let path = self.layout.container_dir(&record.id).join(CONTAINER_FILE);
        crate::state::write_json(&path, record)?;
        let mut containers = self
            .containers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        containers.insert(record.id.clone(), record.clone());
        Ok(())
    }

    fn containers_of(&self, sandbox_id: &str) -> Vec<ContainerRecord> {
        let containers = self
            .containers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        containers
            .values()
            .filter(|record| record.sandbox_id == sandbox_id)
            .cloned()
            .collect()
    }

    /// Resolves an image reference. An absolute path of a directory is a
    /// local root filesystem used as the only layer, with an empty config.
    fn image_rootfs(&self, image: &str) -> Result<ImageRootfs, ServiceError> {
        let path = PathBuf::from(image);
        if path.is_absolute() && path.is_dir() {
            return Ok(ImageRootfs {
                id: image.to_string(),
                layers: vec![path],
                config: ImageConfig::default(),
            });
        }
        self.images.rootfs(image).map_err(ServiceError::from)
    }
}

fn find_by_prefix<'a, T>(records: &'a HashMap<String, T>, id: &str) -> Option<&'a T> {
    if id.is_empty() {
        return None;
    }
    if let Some(record) = records.get(id) {
        return Some(record);
    }
    let mut matches = records.iter().filter(|(key, _)| key.starts_with(id));
    let first = matches.next()?;
    matches.next().is_none().then_some(first.1)
}

fn load_records<T: serde::de::DeserializeOwned>(
    dir: &std::path::Path,
    file: &str,
) -> Result<Vec<T>, ServiceError> {
    let mut records = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|source| ServiceError::Io {
        action: "read",
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        match read_json::<T>(&entry.path().join(file)) {
            Ok(Some(record)) => records.push(record),
            Ok(None) => {
                tracing::warn!(dir = %entry.path().display(), "state directory without a record")
            }
            Err(error) => tracing::warn!(%error, "skipping unreadable record"),
        }
    }
    Ok(records)
}

/// Returns whether every `key=value` of `selector` is among `labels`.
fn labels_match(labels: &HashMap<String, String>, selector: &HashMap<String, String>) -> bool {
    selector
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}
