//! Network, IPC and UTS namespaces of a sandbox, kept alive by bind mounts
//! of their nsfs files so no process has to hold them.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("failed to prepare namespace file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("unshare failed to create the sandbox namespaces: {0}")]
    Unshare(String),
}

/// Creates persistent network, IPC and UTS namespaces at the given paths
/// and sets the UTS hostname, with util-linux `unshare`.
pub async fn create(
    netns: &Path,
    ipc: &Path,
    uts: &Path,
    hostname: &str,
) -> Result<(), NamespaceError> {
    for path in [netns, ipc, uts] {
        touch(path)?;
    }
    let mut command = tokio::process::Command::new("unshare");
    command
        .arg(format!("--net={}", netns.display()))
        .arg(format!("--ipc={}", ipc.display()))
        .arg(format!("--uts={}", uts.display()));
    if hostname.is_empty() {
        command.arg("true");
    } else {
        command.arg("hostname").arg(hostname);
    }
    let output = command
        .output()
        .await
        .map_err(|error| NamespaceError::Unshare(error.to_string()))?;
    if !output.status.success() {
        remove(&[netns, ipc, uts]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(NamespaceError::Unshare(stderr.trim().to_string()));
    }
    Ok(())
}

fn touch(path: &Path) -> Result<(), NamespaceError> {
    let file_error = |source| NamespaceError::File {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(file_error)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map(drop)
        .map_err(file_error)
}

/// Unmounts and deletes namespace files; missing ones are skipped, so the
/// call is idempotent.
pub fn remove(paths: &[&Path]) {
    for path in paths {
        match nix::mount::umount2(*path, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "failed to unmount namespace")
            }
        }
        if let Err(error) = std::fs::remove_file(path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "failed to delete namespace file");
        }
    }
}
