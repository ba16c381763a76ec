use std::os::unix::fs::{FileTypeExt, MetadataExt};

use tar::{Builder, EntryType, Header};

use super::*;

/// Builds a plain tar layer from `(path, kind, data, link)` entries.
fn layer(entries: &[(&str, EntryType, &str, &str)]) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    for (path, kind, data, link) in entries {
        let mut header = Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(if *kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_uid(1000);
        header.set_gid(1001);
        header.set_mtime(1_700_000_000);
        header.set_size(data.len() as u64);
        // set_path/set_link_name validate `..`, so write the raw bytes.
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if !link.is_empty() {
            let linkname = &mut header.as_old_mut().linkname;
            linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        builder
            .append(&header, data.as_bytes())
            .expect("appending to an in-memory tar works");
    }
    builder
        .into_inner()
        .expect("finishing an in-memory tar works")
}

fn unpack_bytes(bytes: &[u8]) -> (tempfile::TempDir, Result<Digest, ImageError>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let blob = dir.path().join("blob");
    std::fs::write(&blob, bytes).expect("write blob");
    let dest = dir.path().join("layer");
    std::fs::create_dir(&dest).expect("create layer dir");
    let result = unpack_layer(&blob, &dest, &Digest::of(bytes));
    (dir, result)
}

#[test]
fn unpack_converts_whiteouts_for_overlayfs() {
    let bytes = layer(&[
        ("data/.wh.gone", EntryType::Regular, "", ""),
        ("data/opq/.wh..wh..opq", EntryType::Regular, "", ""),
        ("data/opq/", EntryType::Directory, "", ""),
        ("data/opq/new", EntryType::Regular, "new\n", ""),
    ]);
    let (dir, result) = unpack_bytes(&bytes);
    let diff_id = result.expect("layer unpacks");
    assert_eq!(diff_id, Digest::of(&bytes));

    let root = dir.path().join("layer");
    let whiteout = std::fs::symlink_metadata(root.join("data/gone")).expect("whiteout exists");
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert!(!root.join("data/.wh.gone").exists());

    let opaque = xattr_of(&root.join("data/opq"), OPAQUE_XATTR);
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert_eq!(
        std::fs::read_to_string(root.join("data/opq/new")).expect("file"),
        "new\n"
    );
}

#[test]
fn unpack_keeps_owner_mode_and_links() {
    let bytes = layer(&[
        ("etc/", EntryType::Directory, "", ""),
        ("etc/file", EntryType::Regular, "content", ""),
        ("etc/hard", EntryType::Link, "", "etc/file"),
        ("etc/abs", EntryType::Symlink, "", "/etc/passwd"),
    ]);
    let (dir, result) = unpack_bytes(&bytes);
    result.expect("layer unpacks");
    let root = dir.path().join("layer");

    let file = std::fs::metadata(root.join("etc/file")).expect("file");
    assert_eq!(file.uid(), 1000);
    assert_eq!(file.gid(), 1001);
    assert_eq!(file.mode() & 0o7777, 0o644);
    assert_eq!(file.mtime(), 1_700_000_000);
    let hard = std::fs::metadata(root.join("etc/hard")).expect("hardlink");
    assert_eq!(hard.ino(), file.ino());
    let target = std::fs::read_link(root.join("etc/abs")).expect("symlink");
    assert_eq!(target, Path::new("/etc/passwd"));
    let dir_meta = std::fs::metadata(root.join("etc")).expect("dir");
    assert_eq!(dir_meta.mtime(), 1_700_000_000);
}

#[test]
fn unpack_rejects_parent_components() {
    let bytes = layer(&[("../escape", EntryType::Regular, "x", "")]);
    let (dir, result) = unpack_bytes(&bytes);
    let error = result.expect_err("`..` must be rejected").to_string();
    assert!(error.contains("escapes the layer directory"), "{error}");
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn unpack_never_writes_through_symlinks() {
    let outside = tempfile::tempdir().expect("temp dir");
    let link = outside.path().display().to_string();
    let bytes = layer(&[
        ("evil", EntryType::Symlink, "", &link),
        ("evil/planted", EntryType::Regular, "x", ""),
    ]);
    let (_dir, result) = unpack_bytes(&bytes);
    let error = result
        .expect_err("writing below a symlink must fail")
        .to_string();
    assert!(error.contains("not a directory"), "{error}");
    assert!(!outside.path().join("planted").exists());
}

#[test]
fn unpack_replaces_symlink_instead_of_following_it() {
    let outside = tempfile::tempdir().expect("temp dir");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "original").expect("write victim");
    let link = victim.display().to_string();
    let bytes = layer(&[
        ("file", EntryType::Symlink, "", &link),
        ("file", EntryType::Regular, "overwritten", ""),
    ]);
    let (dir, result) = unpack_bytes(&bytes);
    result.expect("layer unpacks");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "original"
    );
    let written = dir.path().join("layer/file");
    assert_eq!(
        std::fs::read_to_string(written).expect("file"),
        "overwritten"
    );
}

#[test]
fn unpack_rejects_hardlink_outside_layer() {
    let bytes = layer(&[("hard", EntryType::Link, "", "../../etc/passwd")]);
    let (_dir, result) = unpack_bytes(&bytes);
    assert!(result.is_err());
}

fn xattr_of(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c_path = c_path(path).ok()?;
    let c_name = CString::new(name).ok()?;
    let mut buffer = vec![0u8; 64];
    // SAFETY: both strings are NUL-terminated and buffer has the given length.
    let length = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    if length < 0 {
        return None;
    }
    buffer.truncate(length as usize);
    Some(buffer)
}
