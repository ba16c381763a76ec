//! The image side of the shim: pulls from OCI registries into a
//! content-addressed store and serves CRI's ImageService.

use std::path::PathBuf;

/// The parts of an image's config that shape a container's process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// What a container needs from a pulled image.
#[derive(Clone, Debug)]
pub struct ImageRootfs {
    /// The image id (`sha256:` digest of its config).
    pub id: String,
    /// Unpacked layer directories, lowest layer first, ready as overlay lowerdirs.
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image {reference:?} not found")]
    NotFound { reference: String },
    #[error("not implemented yet")]
    NotImplemented,
}

/// The content-addressed image store under `<root>/images`.
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: PathBuf) -> Result<Self, ImageError> {
        Ok(Self { root })
    }

    /// Resolves an image reference, id or digest to its unpacked layers and config.
    pub fn rootfs(&self, image: &str) -> Result<ImageRootfs, ImageError> {
        let _ = &self.root;
        Err(ImageError::NotFound {
            reference: image.to_string(),
        })
    }

    /// Records that container `container_id` uses image `image_id`, so
    /// RemoveImage rejects it until [`ImageStore::release`] is called.
    pub fn acquire(&self, image_id: &str, container_id: &str) {
        let _ = (image_id, container_id);
    }

    /// Drops the record made by [`ImageStore::acquire`].
    pub fn release(&self, image_id: &str, container_id: &str) {
        let _ = (image_id, container_id);
    }
}
