//! Unpacking one layer tar into its own directory, ready as an overlayfs
//! lowerdir.
//!
//! Each layer is unpacked into an empty directory of its own, so nothing a
//! lower layer contains can redirect a write. Inside the layer, entries are
//! written without following symlinks: every parent component must be a real
//! directory (created when missing), and `..` components are rejected.
//! Symlink targets are stored as link contents only and never used as write
//! paths. OCI whiteouts become what overlayfs expects: `.wh.NAME` a 0/0
//! character device `NAME`, and `.wh..wh..opq` the `trusted.overlay.opaque=y`
//! xattr on its directory.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tar::{Entry, EntryType, Header};

use super::ImageError;
use super::digest::{Digest, HashingReader};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Unpacks the layer blob at `blob` (gzip-compressed or plain tar) into
/// `dest`, which must be an empty directory, and returns the layer's diff id
/// (the digest of the uncompressed tar stream).
pub fn unpack_layer(blob: &Path, dest: &Path, digest: &Digest) -> Result<Digest, ImageError> {
    let invalid = |reason: String| ImageError::InvalidLayer {
        digest: digest.to_string(),
        reason,
    };
    let file = File::open(blob).map_err(ImageError::io("opening", blob))?;
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(ImageError::io("reading", blob))?;
    let tar_stream: Box<dyn Read> = if head.starts_with(&GZIP_MAGIC) {
        Box::new(MultiGzDecoder::new(reader))
    } else if head.starts_with(&ZSTD_MAGIC) {
        return Err(invalid(
            "zstd-compressed layers are not supported".to_string(),
        ));
    } else {
        Box::new(reader)
    };
    let mut hashing = HashingReader::new(tar_stream);
    let mut directories = Vec::new();
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let entries = archive
            .entries()
            .map_err(|error| invalid(format!("reading the tar stream: {error}")))?;
        for entry in entries {
            let entry = entry.map_err(|error| invalid(format!("reading a tar entry: {error}")))?;
            unpack_entry(entry, dest, &mut directories).map_err(invalid)?;
        }
    }
    // Directory times last, because creating children changes them.
    for (path, mtime) in directories.iter().rev() {
        set_mtime(path, *mtime).map_err(|error| invalid(format!("{}: {error}", path.display())))?;
    }
    hashing
        .finish()
        .map_err(|error| invalid(format!("reading the tar stream: {error}")))
}

fn unpack_entry<R: Read>(
    mut entry: Entry<'_, R>,
    root: &Path,
    directories: &mut Vec<(PathBuf, u64)>,
) -> Result<(), String> {
    let raw_path = entry
        .path()
        .map_err(|error| format!("invalid entry path: {error}"))?
        .into_owned();
    let kind = entry.header().entry_type();
    if matches!(
        kind,
        EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink
    ) {
        return Ok(());
    }
    let Some(relative) = sanitize(&raw_path)? else {
        // The layer root itself, written as `/` or `./`.
        if kind == EntryType::Directory {
            apply_metadata(root, &mut entry, false).map_err(|error| error.to_string())?;
        }
        return Ok(());
    };
    let name = relative
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with(WHITEOUT_PREFIX) {
        return unpack_whiteout(root, &relative, &name);
    }
    let parent = relative.parent().unwrap_or(Path::new(""));
    let parent_dir = ensure_directory(root, parent)?;
    let path = parent_dir.join(&name);
    let describe = |error: io::Error| format!("{}: {error}", raw_path.display());

    match kind {
        EntryType::Directory => {
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    fs::remove_file(&path).map_err(describe)?;
                    fs::create_dir(&path).map_err(describe)?;
                }
                Err(_) => fs::create_dir(&path).map_err(describe)?,
            }
            apply_metadata(&path, &mut entry, false).map_err(describe)?;
            let mtime = entry.header().mtime().unwrap_or(0);
            directories.push((path, mtime));
            return Ok(());
        }
        EntryType::Regular | EntryType::Continuous => {
            remove_existing(&path).map_err(describe)?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(describe)?;
            io::copy(&mut entry, &mut file).map_err(describe)?;
        }
        EntryType::Symlink => {
            let target = entry
                .link_name()
                .map_err(describe)?
                .ok_or_else(|| format!("{}: symlink without a target", raw_path.display()))?;
            remove_existing(&path).map_err(describe)?;
            std::os::unix::fs::symlink(&target, &path).map_err(describe)?;
        }
        EntryType::Link => {
            let target = entry
                .link_name()
                .map_err(describe)?
                .ok_or_else(|| format!("{}: hardlink without a target", raw_path.display()))?;
            let target = sanitize(&target)?
                .ok_or_else(|| format!("{}: hardlink to the layer root", raw_path.display()))?;
            let target = existing_path(root, &target)?;
            remove_existing(&path).map_err(describe)?;
            // linkat without AT_SYMLINK_FOLLOW links a symlink itself.
            fs::hard_link(&target, &path).map_err(describe)?;
            return Ok(());
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            remove_existing(&path).map_err(describe)?;
            make_node(&path, entry.header()).map_err(describe)?;
        }
        other => {
            tracing::warn!(path = %raw_path.display(), kind = ?other, "skipping unsupported tar entry type");
            return Ok(());
        }
    }
    apply_metadata(&path, &mut entry, kind == EntryType::Symlink).map_err(describe)
}

fn unpack_whiteout(root: &Path, relative: &Path, name: &str) -> Result<(), String> {
    let parent = relative.parent().unwrap_or(Path::new(""));
    let parent_dir = ensure_directory(root, parent)?;
    if name == OPAQUE_WHITEOUT {
        return set_xattr(&parent_dir, OPAQUE_XATTR, b"y")
            .map_err(|error| format!("marking {} opaque: {error}", parent.display()));
    }
    let hidden = &name[WHITEOUT_PREFIX.len()..];
    if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.starts_with(WHITEOUT_PREFIX) {
        // Other `.wh..wh.` names are AUFS metadata, which overlayfs does not use.
        return Ok(());
    }
    let path = parent_dir.join(hidden);
    remove_existing(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    mknod(&path, libc::S_IFCHR, 0).map_err(|error| format!("whiteout {}: {error}", path.display()))
}

/// Turns a tar entry path into a relative path, rejecting `..`. Returns
/// `None` for the archive root (`/`, `.` or `./`).
fn sanitize(path: &Path) -> Result<Option<PathBuf>, String> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!(
                    "entry {} escapes the layer directory (contains `..`)",
                    path.display()
                ));
            }
        }
    }
    Ok((!clean.as_os_str().is_empty()).then_some(clean))
}

/// Makes sure `root/relative` is a real directory, creating missing
/// components, and rejects any component that is a symlink or a file.
fn ensure_directory(root: &Path, relative: &Path) -> Result<PathBuf, String> {
    let mut current = root.to_path_buf();
    for component in relative.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "{} is not a directory but the layer writes below it",
                    relative.display()
                ));
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&current)
                    .map_err(|error| format!("creating {}: {error}", current.display()))?;
            }
            Err(error) => return Err(format!("{}: {error}", current.display())),
        }
    }
    Ok(current)
}

/// Resolves an existing path in the layer whose parents are real directories.
fn existing_path(root: &Path, relative: &Path) -> Result<PathBuf, String> {
    let mut current = root.to_path_buf();
    let count = relative.components().count();
    for (index, component) in relative.components().enumerate() {
        current.push(component);
        let meta = fs::symlink_metadata(&current).map_err(|error| {
            format!("hardlink target {} is missing: {error}", relative.display())
        })?;
        if index + 1 < count && !meta.is_dir() {
            return Err(format!(
                "hardlink target {} is below a non-directory",
                relative.display()
            ));
        }
    }
    Ok(current)
}

fn remove_existing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

fn make_node(path: &Path, header: &Header) -> io::Result<()> {
    let kind = match header.entry_type() {
        EntryType::Char => libc::S_IFCHR,
        EntryType::Block => libc::S_IFBLK,
        _ => libc::S_IFIFO,
    };
    let major = header.device_major()?.unwrap_or(0);
    let minor = header.device_minor()?.unwrap_or(0);
    mknod(path, kind, libc::makedev(major, minor))
}

fn mknod(path: &Path, kind: libc::mode_t, device: libc::dev_t) -> io::Result<()> {
    let c_path = c_path(path)?;
    // SAFETY: c_path is a valid NUL-terminated string for the call's duration.
    let result = unsafe { libc::mknod(c_path.as_ptr(), kind | 0o600, device) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Applies ownership, mode, xattrs and mtime from the entry, never
/// following a symlink at `path`.
fn apply_metadata<R: Read>(
    path: &Path,
    entry: &mut Entry<'_, R>,
    is_symlink: bool,
) -> io::Result<()> {
    let header = entry.header();
    // Like Go's archive/tar, read empty numeric fields as 0.
    let uid = header.uid().unwrap_or(0) as u32;
    let gid = header.gid().unwrap_or(0) as u32;
    let mode = header.mode()?;
    let mtime = header.mtime().unwrap_or(0);
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if !is_symlink {
        // After chown, because chown clears the setuid and setgid bits.
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))?;
    }
    if let Some(extensions) = entry.pax_extensions()? {
        for extension in extensions {
            let extension = extension?;
            let Ok(key) = extension.key() else { continue };
            if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                set_xattr(path, name, extension.value_bytes())?;
            }
        }
    }
    if entry.header().entry_type() != EntryType::Directory {
        set_mtime(path, mtime)?;
    }
    Ok(())
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c_path = c_path(path)?;
    let c_name = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: both strings are NUL-terminated and value is a valid slice.
    let result = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_mtime(path: &Path, mtime: u64) -> io::Result<()> {
    let c_path = c_path(path)?;
    let time = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [time, time];
    // SAFETY: c_path is NUL-terminated and times has the two entries utimensat reads.
    let result = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)
}

#[cfg(test)]
mod tests;
