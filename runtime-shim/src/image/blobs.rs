//! Content-addressed blobs under `<store>/blobs/sha256/<hex>`.
//!
//! A blob reaches its final path only after its content matched its digest:
//! downloads go to a temporary file under `<store>/tmp`, are hashed while
//! written, and are renamed into place on success. A file at a blob path can
//! therefore be trusted, and an interrupted pull leaves at most a temporary
//! file, which [`BlobStore::open`] deletes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use oci_client::errors::DigestError;
use oci_client::{Client, Reference};
use tokio::io::AsyncWriteExt;

use super::ImageError;
use super::digest::{Digest, Hasher};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The blob directory of an image store.
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Opens the blob directory under `store`, creating it if needed and
    /// deleting temporary files left by interrupted pulls.
    pub fn open(store: &Path) -> Result<BlobStore, ImageError> {
        let dir = store.join("blobs/sha256");
        let tmp = store.join("tmp");
        std::fs::create_dir_all(&dir).map_err(ImageError::io("creating", &dir))?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(ImageError::io("removing", &tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(ImageError::io("creating", &tmp))?;
        Ok(BlobStore { dir, tmp })
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// A fresh path under the store's temporary directory.
    pub fn temp_path(&self, label: &str) -> PathBuf {
        let count = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.tmp
            .join(format!("{label}.{}.{count}", std::process::id()))
    }

    /// Stores `bytes` as blob `digest` after checking that they match it.
    pub fn write_verified(
        &self,
        digest: &Digest,
        bytes: &[u8],
        what: &str,
        reference: &str,
    ) -> Result<PathBuf, ImageError> {
        let actual = Digest::of(bytes);
        if &actual != digest {
            return Err(digest_mismatch(what, reference, digest, &actual));
        }
        let path = self.path(digest);
        if path.is_file() {
            return Ok(path);
        }
        let temp = self.temp_path(digest.hex());
        std::fs::write(&temp, bytes).map_err(ImageError::io("writing", &temp))?;
        std::fs::rename(&temp, &path).map_err(ImageError::io("renaming into place", &path))?;
        Ok(path)
    }

    /// Downloads blob `digest` of `reference` unless the store has it, and
    /// returns its path. The content is hashed while it is written and
    /// rejected with [`ImageError::DigestMismatch`] if it does not match.
    pub async fn download(
        &self,
        client: &Client,
        reference: &Reference,
        digest: &Digest,
        what: &str,
    ) -> Result<PathBuf, ImageError> {
        let path = self.path(digest);
        if path.is_file() {
            return Ok(path);
        }
        let temp = self.temp_path(digest.hex());
        let result = self
            .download_to(client, reference, digest, what, &temp)
            .await;
        match result {
            Ok(()) => {
                tokio::fs::rename(&temp, &path)
                    .await
                    .map_err(ImageError::io("renaming into place", &path))?;
                tracing::debug!(image = %reference, blob = %digest, "blob downloaded");
                Ok(path)
            }
            Err(error) => {
                let _ = tokio::fs::remove_file(&temp).await;
                Err(error)
            }
        }
    }

    async fn download_to(
        &self,
        client: &Client,
        reference: &Reference,
        digest: &Digest,
        what: &str,
        temp: &Path,
    ) -> Result<(), ImageError> {
        let whole = reference.whole();
        let mut stream = client
            .pull_blob_stream(reference, digest.as_str())
            .await
            .map_err(|error| super::pull::registry_error(&whole, error))?;
        let mut file = tokio::fs::File::create(temp)
            .await
            .map_err(ImageError::io("creating", temp))?;
        let mut hasher = Hasher::default();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                // oci-client checks the digest at the end of the stream as
                // well; report its verdict the same way as ours.
                Err(error) if is_digest_error(&error) => {
                    return Err(digest_mismatch(what, &whole, digest, &hasher.finish()));
                }
                Err(error) => {
                    return Err(ImageError::Registry {
                        reference: whole,
                        message: format!("downloading {what} {digest}: {error}"),
                    });
                }
            };
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(ImageError::io("writing", temp))?;
        }
        file.sync_all()
            .await
            .map_err(ImageError::io("syncing", temp))?;
        let actual = hasher.finish();
        if &actual != digest {
            return Err(digest_mismatch(what, &whole, digest, &actual));
        }
        Ok(())
    }

    /// Deletes blob `digest` if present.
    pub fn remove(&self, digest: &Digest) -> Result<(), ImageError> {
        let path = self.path(digest);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(ImageError::io("removing", path)(error)),
        }
    }
}

fn is_digest_error(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<DigestError>().is_some())
}

pub(crate) fn digest_mismatch(
    what: &str,
    reference: &str,
    expected: &Digest,
    actual: &Digest,
) -> ImageError {
    ImageError::DigestMismatch {
        what: what.to_string(),
        reference: reference.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_discards_interrupted_downloads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        let partial = blobs.temp_path("partial");
        std::fs::write(&partial, b"half a layer").expect("write partial file");

        BlobStore::open(dir.path()).expect("reopen");
        assert!(!partial.exists(), "a partial download survived a restart");
    }

    #[test]
    fn write_verified_rejects_wrong_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        let expected = Digest::of(b"right");

        let error = blobs
            .write_verified(&expected, b"wrong", "config", "example/image:1")
            .expect_err("content must match its digest");
        assert!(error.to_string().contains("digest mismatch"), "{error}");
        assert!(!blobs.path(&expected).exists());

        let path = blobs
            .write_verified(&expected, b"right", "config", "example/image:1")
            .expect("matching content is stored");
        assert_eq!(std::fs::read(path).expect("stored blob"), b"right");
    }
}
