//! The image side of the shim: pulls from OCI registries into a
//! content-addressed store and serves CRI's ImageService.
//!
//! Store layout under `<root>/images`:
//! - `blobs/sha256/<hex>`: manifests, configs and layer blobs, each placed
//!   only after its content matched its digest;
//! - `layers/sha256/<diff id hex>/`: each layer unpacked once, shared by all
//!   images that contain it and usable as an overlayfs lowerdir;
//! - `images.json`: the metadata index (tags, digests, config, layers);
//! - `tmp/`: downloads and unpacks in progress, emptied on open.

mod blobs;
mod digest;
mod error;
mod manifest;
mod metadata;
mod pull;
mod reference;
mod service;
mod unpack;
mod usage;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};

use blobs::BlobStore;
pub use digest::Digest;
pub use error::ImageError;
pub use metadata::ImageRecord;
use metadata::MetadataIndex;
pub use pull::Credentials;
pub use service::ImageServer;
pub use usage::FsUsage;

/// Registries reached over plain HTTP unless configured otherwise.
pub const DEFAULT_INSECURE_REGISTRIES: &[&str] = &["127.0.0.1", "localhost"];

/// The parts of an image's config that shape a container's process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    /// `user`, `user:group`, `uid` or `uid:gid`.
    pub user: Option<String>,
    /// Signal name such as `SIGTERM`.
    pub stop_signal: Option<String>,
}

/// The unpacked layers and process config a container needs from a pulled image.
#[derive(Clone, Debug)]
pub struct ImageRootfs {
    /// The image id (`sha256:` digest of its config).
    pub id: String,
    /// Unpacked layer directories, lowest layer first, ready as overlay lowerdirs.
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

/// Settings of an [`ImageStore`].
#[derive(Clone, Debug)]
pub struct ImageStoreOptions {
    /// Registries pulled over plain HTTP, as `host` (any port) or
    /// `host:port`.
    pub insecure_registries: Vec<String>,
}

impl Default for ImageStoreOptions {
    fn default() -> Self {
        Self {
            insecure_registries: DEFAULT_INSECURE_REGISTRIES
                .iter()
                .map(|host| host.to_string())
                .collect(),
        }
    }
}

/// The content-addressed image store under `<root>/images`.
pub struct ImageStore {
    root: PathBuf,
    blobs: BlobStore,
    index: RwLock<MetadataIndex>,
    /// Image id to the containers using it.
    users: Mutex<HashMap<String, BTreeSet<String>>>,
    insecure_registries: Vec<String>,
    /// Pulls hold it shared and removals exclusively, so garbage collection
    /// never deletes a layer that a running pull relies on.
    pull_gate: tokio::sync::RwLock<()>,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `<root>/images` with the
    /// default options.
    pub fn open(root: PathBuf) -> Result<Self, ImageError> {
        Self::open_with_options(root, ImageStoreOptions::default())
    }

    /// Opens (creating if needed) the store under `<root>/images`.
    pub fn open_with_options(
        root: PathBuf,
        options: ImageStoreOptions,
    ) -> Result<Self, ImageError> {
        let store = root.join("images");
        let blobs = BlobStore::open(&store)?;
        let layers = store.join("layers/sha256");
        std::fs::create_dir_all(&layers).map_err(ImageError::io("creating", &layers))?;
        let index = MetadataIndex::load(&store)?;
        Ok(Self {
            root: store,
            blobs,
            index: RwLock::new(index),
            users: Mutex::new(HashMap::new()),
            insecure_registries: options.insecure_registries,
            pull_gate: tokio::sync::RwLock::new(()),
        })
    }

    /// Returns the store directory, `<root>/images`.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Pulls `image` (a reference such as `busybox` or
    /// `registry:5000/repo@sha256:...`) and returns the stored record.
    pub async fn pull(
        &self,
        image: &str,
        credentials: &Credentials,
    ) -> Result<ImageRecord, ImageError> {
        let _gate = self.pull_gate.read().await;
        let record = pull::pull(self, image, credentials).await?;
        self.write_index()?.insert(record.clone())?;
        tracing::info!(image = %image, id = %record.id, "image pulled");
        Ok(self
            .read_index()?
            .get(&record.id)
            .cloned()
            .unwrap_or(record))
    }

    /// Resolves an image reference, id or digest to its unpacked layers and config.
    pub fn rootfs(&self, image: &str) -> Result<ImageRootfs, ImageError> {
        let record = self.status(image)?.ok_or_else(|| ImageError::NotFound {
            reference: image.to_string(),
        })?;
        let layers = record
            .diff_ids
            .iter()
            .map(|diff_id| Ok(self.layer_dir(&Digest::parse(diff_id)?)))
            .collect::<Result<Vec<_>, ImageError>>()?;
        Ok(ImageRootfs {
            id: record.id,
            layers,
            config: record.config,
        })
    }

    /// Finds the image named by a reference, id (with or without `sha256:`)
    /// or repo digest; `None` if the store does not have it.
    pub fn status(&self, image: &str) -> Result<Option<ImageRecord>, ImageError> {
        let keys = lookup_keys(image)?;
        let index = self.read_index()?;
        Ok(keys.iter().find_map(|key| index.find(key)).cloned())
    }

    /// Lists all images.
    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        Ok(self.read_index()?.records().cloned().collect())
    }

    /// Removes the image named `image` with all its tags, then deletes the
    /// layers and blobs no other image uses. Removing an absent image
    /// succeeds; removing an image a container uses fails with
    /// [`ImageError::InUse`].
    pub async fn remove(&self, image: &str) -> Result<(), ImageError> {
        let _gate = self.pull_gate.write().await;
        let Some(record) = self.status(image)? else {
            return Ok(());
        };
        let users = self.users_of(&record.id);
        if !users.is_empty() {
            return Err(ImageError::InUse {
                image: image.to_string(),
                containers: users,
            });
        }
        self.write_index()?.remove(&record.id)?;
        self.collect_garbage(&record)?;
        tracing::info!(image = %image, id = %record.id, "image removed");
        Ok(())
    }

    /// Bytes and inodes used under the store.
    pub async fn usage(&self) -> Result<FsUsage, ImageError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || usage::measure(&root))
            .await
            .map_err(|error| ImageError::Task(error.to_string()))?
    }

    /// Records that container `container_id` uses image `image_id`, so
    /// RemoveImage rejects it until [`ImageStore::release`] is called.
    /// The record lives in memory: after a restart, the runtime calls this
    /// again for each container it recovers.
    pub fn acquire(&self, image_id: &str, container_id: &str) {
        let id = self.resolve_id(image_id);
        if let Ok(mut users) = self.users.lock() {
            users
                .entry(id)
                .or_default()
                .insert(container_id.to_string());
        }
    }

    /// Drops the record made by [`ImageStore::acquire`].
    pub fn release(&self, image_id: &str, container_id: &str) {
        let id = self.resolve_id(image_id);
        if let Ok(mut users) = self.users.lock()
            && let Some(containers) = users.get_mut(&id)
        {
            containers.remove(container_id);
            if containers.is_empty() {
                users.remove(&id);
            }
        }
    }

    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub(crate) fn insecure_registries(&self) -> &[String] {
        &self.insecure_registries
    }

    pub(crate) fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers/sha256").join(diff_id.hex())
    }

    fn resolve_id(&self, image: &str) -> String {
        match self.status(image) {
            Ok(Some(record)) => record.id,
            _ => image.to_string(),
        }
    }

    fn users_of(&self, id: &str) -> Vec<String> {
        self.users
            .lock()
            .map(|users| users.get(id).map(|set| set.iter().cloned().collect()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn collect_garbage(&self, removed: &ImageRecord) -> Result<(), ImageError> {
        let (used_layers, used_blobs) = {
            let index = self.read_index()?;
            let mut layers = HashSet::new();
            let mut blobs = HashSet::new();
            for record in index.records() {
                layers.extend(record.diff_ids.iter().cloned());
                blobs.extend(record.layer_digests.iter().cloned());
                blobs.insert(record.id.clone());
                blobs.insert(record.manifest_digest.clone());
            }
            (layers, blobs)
        };
        for diff_id in removed
            .diff_ids
            .iter()
            .filter(|id| !used_layers.contains(*id))
        {
            let dir = self.layer_dir(&Digest::parse(diff_id)?);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(ImageError::io("removing", &dir))?;
            }
        }
        let mut blobs: Vec<&String> = removed.layer_digests.iter().collect();
        blobs.push(&removed.id);
        blobs.push(&removed.manifest_digest);
        for digest in blobs
            .into_iter()
            .filter(|digest| !used_blobs.contains(*digest))
        {
            self.blobs.remove(&Digest::parse(digest)?)?;
        }
        // Index blobs are kept only for repo digests that still exist.
        for repo_digest in &removed.repo_digests {
            if let Some((_, digest)) = repo_digest.rsplit_once('@')
                && !used_blobs.contains(digest)
                && let Ok(digest) = Digest::parse(digest)
            {
                self.blobs.remove(&digest)?;
            }
        }
        Ok(())
    }

    fn read_index(&self) -> Result<std::sync::RwLockReadGuard<'_, MetadataIndex>, ImageError> {
        self.index
            .read()
            .map_err(|_| ImageError::Task("the image index lock is poisoned".to_string()))
    }

    fn write_index(&self) -> Result<std::sync::RwLockWriteGuard<'_, MetadataIndex>, ImageError> {
        self.index
            .write()
            .map_err(|_| ImageError::Task("the image index lock is poisoned".to_string()))
    }
}

/// Returns the index keys under which `image` may be stored: the id forms and the
/// normalised repo tag or repo digest.
fn lookup_keys(image: &str) -> Result<Vec<String>, ImageError> {
    let image = image.trim();
    if image.starts_with("sha256:") {
        return Ok(vec![Digest::parse(image)?.to_string()]);
    }
    let mut keys = Vec::new();
    if image.len() == 64 && image.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        keys.push(format!("sha256:{image}"));
    }
    let parsed = reference::parse(image)?;
    match parsed.digest() {
        Some(digest) => keys.push(reference::repo_digest(&parsed, digest)),
        None => keys.extend(reference::repo_tag(&parsed)),
    }
    Ok(keys)
}
