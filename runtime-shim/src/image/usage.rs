//! Disk usage of the image store, for CRI's ImageFsInfo.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::ImageError;

/// Space used under a directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsUsage {
    /// Allocated bytes (512-byte blocks, as `du` counts), hardlinks once.
    pub used_bytes: u64,
    /// Distinct inodes, the directory itself included.
    pub inodes_used: u64,
}

/// Walks `root` without following symlinks and sums its usage.
pub fn measure(root: &Path) -> Result<FsUsage, ImageError> {
    let mut seen = HashSet::new();
    let mut usage = FsUsage::default();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            // Files vanish while pulls and removals run; skip them.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(ImageError::io("reading metadata of", &path)(error)),
        };
        if seen.insert((meta.dev(), meta.ino())) {
            usage.inodes_used += 1;
            usage.used_bytes += meta.blocks() * 512;
        }
        if meta.is_dir() {
            let entries = match std::fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(ImageError::io("listing", &path)(error)),
            };
            for entry in entries.flatten() {
                pending.push(entry.path());
            }
        }
    }
    Ok(usage)
}
