//! The image metadata index: one record per image id, persisted as JSON in
//! `<store>/images.json` and rewritten atomically on every change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ImageConfig, ImageError};

/// The stored metadata of one pulled image.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// The config digest, `sha256:...`.
    pub id: String,
    /// `registry/repository:tag` names pointing at this image.
    pub repo_tags: Vec<String>,
    /// `registry/repository@digest` names of the pulled manifest or index.
    pub repo_digests: Vec<String>,
    /// Bytes of the manifest, config and compressed layers.
    pub size: u64,
    /// Digest of the platform manifest that was unpacked.
    pub manifest_digest: String,
    /// Compressed layer digests, lowest layer first.
    pub layer_digests: Vec<String>,
    /// Diff ids (uncompressed layer digests), lowest layer first; each names
    /// an unpacked layer directory.
    pub diff_ids: Vec<String>,
    pub config: ImageConfig,
    pub architecture: String,
    pub os: String,
}

#[derive(Default, Serialize, Deserialize)]
struct IndexFile {
    images: Vec<ImageRecord>,
}

/// All image records, keyed by image id.
pub struct MetadataIndex {
    path: PathBuf,
    images: BTreeMap<String, ImageRecord>,
}

impl MetadataIndex {
    /// Loads the index from `<store>/images.json`; a missing file is empty.
    pub fn load(store: &Path) -> Result<MetadataIndex, ImageError> {
        let path = store.join("images.json");
        let images = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: IndexFile =
                    serde_json::from_slice(&bytes).map_err(|source| ImageError::Metadata {
                        path: path.clone(),
                        source,
                    })?;
                file.images
                    .into_iter()
                    .map(|record| (record.id.clone(), record))
                    .collect()
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => return Err(ImageError::io("reading", &path)(error)),
        };
        Ok(MetadataIndex { path, images })
    }

    pub fn records(&self) -> impl Iterator<Item = &ImageRecord> {
        self.images.values()
    }

    pub fn get(&self, id: &str) -> Option<&ImageRecord> {
        self.images.get(id)
    }

    /// Finds the image named by `name`, already normalised: an image id, a
    /// repo tag or a repo digest.
    pub fn find(&self, name: &str) -> Option<&ImageRecord> {
        if let Some(record) = self.images.get(name) {
            return Some(record);
        }
        self.images.values().find(|record| {
            record.repo_tags.iter().any(|tag| tag == name)
                || record.repo_digests.iter().any(|digest| digest == name)
        })
    }

    /// Adds or merges `record`, moving its tags away from other images the
    /// way `docker pull` retags, and saves the index.
    pub fn insert(&mut self, record: ImageRecord) -> Result<(), ImageError> {
        for other in self.images.values_mut() {
            if other.id != record.id {
                other
                    .repo_tags
                    .retain(|tag| !record.repo_tags.contains(tag));
            }
        }
        match self.images.get_mut(&record.id) {
            Some(existing) => {
                for tag in record.repo_tags {
                    if !existing.repo_tags.contains(&tag) {
                        existing.repo_tags.push(tag);
                    }
                }
                for digest in record.repo_digests {
                    if !existing.repo_digests.contains(&digest) {
                        existing.repo_digests.push(digest);
                    }
                }
            }
            None => {
                self.images.insert(record.id.clone(), record);
            }
        }
        self.save()
    }

    /// Removes the image `id` and saves the index.
    pub fn remove(&mut self, id: &str) -> Result<Option<ImageRecord>, ImageError> {
        let removed = self.images.remove(id);
        if removed.is_some() {
            self.save()?;
        }
        Ok(removed)
    }

    fn save(&self) -> Result<(), ImageError> {
        let file = IndexFile {
            images: self.images.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|source| ImageError::Metadata {
            path: self.path.clone(),
            source,
        })?;
        let temp = self.path.with_extension("json.tmp");
        std::fs::write(&temp, bytes).map_err(ImageError::io("writing", &temp))?;
        std::fs::rename(&temp, &self.path)
            .map_err(ImageError::io("renaming into place", &self.path))
    }
}
