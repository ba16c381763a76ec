//! Pod volumes on the node: each one a host directory (or file) that the
//! runtime bind-mounts into containers.

pub mod atomic;
pub mod host_path;
pub mod projection;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;

use crate::pods::env::{EnvError, Runtime, Sources};

/// Why a volume could not be set up; shown as the FailedMount message.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("{0}")]
    Source(String),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hostPath type check failed: {0}")]
    HostPath(String),
    #[error("cannot mount tmpfs at {path}: {source}")]
    Mount {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("volume type of {0:?} is not supported")]
    Unsupported(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The directory of a pod's files on the node.
pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// Creates or refreshes every volume of `pod`. Returns the host path of each
/// volume by name.
pub async fn setup(
    root: &Path,
    sources: &mut Sources<'_>,
    pod: &Pod,
    rt: &Runtime<'_>,
) -> Result<HashMap<String, PathBuf>, VolumeError> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let base = pod_dir(root, uid).join("volumes");
    let mut out = HashMap::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let path = if let Some(empty) = &volume.empty_dir {
            let dir = base.join("empty-dir").join(&volume.name);
            let memory = empty.medium.as_deref() == Some("Memory");
            empty_dir(
                &dir,
                memory,
                empty.size_limit.as_ref().map(|q| q.0.as_str()),
            )?;
            dir
        } else if let Some(host) = &volume.host_path {
            host_path::check(Path::new(&host.path), host.type_.as_deref().unwrap_or(""))?;
            PathBuf::from(&host.path)
        } else if let Some(files) = projection::files(sources, pod, volume, rt).await? {
            let dir = base.join("projected").join(&volume.name);
            let changed = atomic::write(&dir, &files).map_err(io(&dir))?;
            if changed {
                tracing::info!(pod = %uid, volume = %volume.name, "wrote volume files");
            }
            dir
        } else {
            return Err(VolumeError::Unsupported(volume.name.clone()));
        };
        out.insert(volume.name.clone(), path);
    }
    Ok(out)
}

fn empty_dir(dir: &Path, memory: bool, size: Option<&str>) -> Result<(), VolumeError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if memory && !is_mount_point(dir) {
        let mut options = String::from("mode=0777");
        if let Some(bytes) = size.and_then(|s| skiff_machinery::quantity::memory_bytes(s).ok()) {
            options.push_str(&format!(",size={bytes}"));
        }
        nix::mount::mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some(options.as_str()),
        )
        .map_err(|source| VolumeError::Mount {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).map_err(io(dir))?;
    Ok(())
}

/// Mount points at or below `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

fn is_mount_point(dir: &Path) -> bool {
    mounts_under(dir).iter().any(|p| p == dir)
}

/// Unmounts and removes everything the kubelet made for pod `uid`.
pub fn teardown(root: &Path, uid: &str) -> Result<(), VolumeError> {
    let dir = pod_dir(root, uid);
    for mount in mounts_under(&dir) {
        nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH).map_err(|source| {
            VolumeError::Mount {
                path: mount.clone(),
                source,
            }
        })?;
    }
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir)(e)),
        _ => Ok(()),
    }
}
