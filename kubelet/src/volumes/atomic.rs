//! Writes a set of files into a volume directory so readers never see a
//! mix of old and new: the files live in a timestamped directory that the
//! `..data` symlink points at, swapped with one rename.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path};

/// A file to write: content and permission bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub content: Vec<u8>,
    pub mode: u32,
}

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Makes `dir` hold exactly `files` (by relative path). Returns whether
/// anything changed.
pub fn write(dir: &Path, files: &BTreeMap<String, File>) -> io::Result<bool> {
    for path in files.keys() {
        check_relative(path)?;
    }
    std::fs::create_dir_all(dir)?;
    let current = std::fs::read_link(dir.join(DATA)).ok();
    if let Some(current) = &current
        && same_content(&dir.join(current), files)
    {
        return Ok(false);
    }
    let stamp = k8s_openapi::jiff::Timestamp::now()
        .strftime("..%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let fresh = dir.join(&stamp);
    std::fs::create_dir(&fresh)?;
    for (path, file) in files {
        let target = fresh.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &file.content)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(file.mode))?;
    }
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(&stamp, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA))?;
    link_top_level(dir, files)?;
    if let Some(old) = current {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}

/// Points one symlink per top-level name at `..data/name` and removes the
/// links of names that went away.
fn link_top_level(dir: &Path, files: &BTreeMap<String, File>) -> io::Result<()> {
    let wanted: std::collections::BTreeSet<&str> =
        files.keys().filter_map(|p| p.split('/').next()).collect();
    for name in &wanted {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA).join(name), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") || wanted.contains(name.as_str()) {
            continue;
        }
        if entry.file_type()?.is_symlink() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

fn same_content(current: &Path, files: &BTreeMap<String, File>) -> bool {
    let mut count = 0;
    let all_match = files.iter().all(|(path, file)| {
        let target = current.join(path);
        let mode = std::fs::metadata(&target).map(|m| m.permissions().mode() & 0o7777);
        std::fs::read(&target).is_ok_and(|c| c == file.content)
            && mode.is_ok_and(|m| m == file.mode)
    });
    if !all_match {
        return false;
    }
    count_files(current, &mut count);
    count == files.len()
}

fn count_files(dir: &Path, count: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(t) if t.is_dir() => count_files(&entry.path(), count),
            Ok(_) => *count += 1,
            Err(_) => {}
        }
    }
}

/// Rejects absolute paths, `..` and names starting with `..`.
fn check_relative(path: &str) -> io::Result<()> {
    let bad = Path::new(path)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
        || path.starts_with("..")
        || path.is_empty();
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid volume file path {path:?}: must be relative and must not contain '..'"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, File> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    File {
                        content: v.as_bytes().to_vec(),
                        mode: 0o644,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn swaps_atomically_and_prunes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        assert!(write(&dir, &files(&[("a", "1"), ("sub/b", "2")])).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
        assert!(!write(&dir, &files(&[("a", "1"), ("sub/b", "2")])).unwrap());
        assert!(write(&dir, &files(&[("a", "3")])).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "3");
        assert!(std::fs::symlink_metadata(dir.join("sub")).is_err());
        let dirs = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(dirs, 3, "..data, one timestamped dir and a");
    }

    #[test]
    fn rejects_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(write(tmp.path(), &files(&[("../x", "1")])).is_err());
        assert!(write(tmp.path(), &files(&[("/etc/x", "1")])).is_err());
    }
}
