//! hostPath volumes: the type checks Kubernetes makes before mounting.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use super::VolumeError;

/// Checks (and for the *OrCreate types, creates) `path` as `kind` demands.
pub fn check(path: &Path, kind: &str) -> Result<(), VolumeError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).ok();
    let fail = |what: &str| Err(VolumeError::HostPath(format!("{shown} is not {what}")));
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" => match meta {
            Some(m) if m.is_dir() => Ok(()),
            Some(_) => fail("a directory"),
            None => std::fs::create_dir_all(path)
                .and_then(|_| {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                })
                .map_err(|source| VolumeError::Io {
                    path: path.to_path_buf(),
                    source,
                }),
        },
        "Directory" => match meta {
            Some(m) if m.is_dir() => Ok(()),
            Some(_) => fail("a directory"),
            None => Err(VolumeError::HostPath(format!(
                "Directory {shown} does not exist"
            ))),
        },
        "FileOrCreate" => match meta {
            Some(m) if m.is_file() => Ok(()),
            Some(_) => fail("a file"),
            None => {
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|_| {
                        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
                    })
                    .map_err(|source| VolumeError::Io {
                        path: path.to_path_buf(),
                        source,
                    })
            }
        },
        "File" => match meta {
            Some(m) if m.is_file() => Ok(()),
            Some(_) => fail("a file"),
            None => Err(VolumeError::HostPath(format!(
                "File {shown} does not exist"
            ))),
        },
        "Socket" => match meta {
            Some(m) if m.file_type().is_socket() => Ok(()),
            _ => fail("a socket file"),
        },
        "CharDevice" => match meta {
            Some(m) if m.file_type().is_char_device() => Ok(()),
            _ => fail("a character device"),
        },
        "BlockDevice" => match meta {
            Some(m) if m.file_type().is_block_device() => Ok(()),
            _ => fail("a block device"),
        },
        other => Err(VolumeError::HostPath(format!(
            "unknown hostPath type {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_creates() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        assert!(check(&dir, "Directory").is_err());
        check(&dir, "DirectoryOrCreate").unwrap();
        assert!(dir.is_dir());
        let file = tmp.path().join("f");
        check(&file, "FileOrCreate").unwrap();
        assert!(
            check(&file, "Directory")
                .unwrap_err()
                .to_string()
                .contains("is not a directory")
        );
        assert!(check(&dir, "File").is_err());
        assert!(check(&file, "Socket").is_err());
        check(&file, "").unwrap();
    }
}
