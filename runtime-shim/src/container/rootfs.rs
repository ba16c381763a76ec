//! The container's root filesystem: an overlay of the image layers with a
//! writable upper directory per container.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("image has no layers")]
    NoLayers,
    #[error("failed to prepare {path}: {source}")]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to mount overlay at {target}: {source}")]
    Mount {
        target: PathBuf,
        source: nix::errno::Errno,
    },
}

/// Mounts the overlay of `layers` (lowest first) at `target`, with the
/// writable layer in `<dir>/upper` and overlayfs' work directory in `<dir>/work`.
pub fn mount(layers: &[PathBuf], dir: &Path, target: &Path) -> Result<(), RootfsError> {
    if layers.is_empty() {
        return Err(RootfsError::NoLayers);
    }
    let upper = dir.join("upper");
    let work = dir.join("work");
    for path in [&upper, &work, &target.to_path_buf()] {
        std::fs::create_dir_all(path).map_err(|source| RootfsError::Prepare {
            path: path.clone(),
            source,
        })?;
    }
    // overlayfs lists lowerdirs top first.
    let lower: Vec<String> = layers
        .iter()
        .rev()
        .map(|layer| layer.display().to_string())
        .collect();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|source| RootfsError::Mount {
        target: target.to_path_buf(),
        source,
    })
}

/// Unmounts `target` if it is mounted; idempotent.
pub fn unmount(target: &Path) {
    match nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(error) => {
            tracing::warn!(target = %target.display(), %error, "failed to unmount rootfs")
        }
    }
}
