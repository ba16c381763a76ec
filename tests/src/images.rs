//! Test images built offline with umoci and pushed with skopeo.
//!
//! All images live in one OCI layout, built once per test process (and reused
//! by later processes) under `target/skiff-test-images/`:
//! - `busybox`: busybox-static as `/bin/busybox` plus a symlink per applet,
//!   cmd `/bin/sh`.
//! - `layered`: busybox plus three layers under `/data` with whiteouts and an
//!   opaque directory; see [`LAYERED_EXPECTED`].
//! - `httpd`: busybox plus `/www/index.html`, cmd `httpd -f -p 8080 -h /www`.
//! - `multiarch`: an image index with a linux/arm64 and a linux/amd64 image.
//!   Both run the amd64 busybox, but `/etc/skiff-arch` names the platform.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::registry::Registry;

/// Bump when the image recipes change so older cached layouts are not used.
const LAYOUT_VERSION: &str = "v1";
const BUSYBOX_BIN: &str = "/bin/busybox";

/// Repository namespace of all test images in the registry.
pub const NAMESPACE: &str = "skiff-test";

/// Content of `/www/index.html` in the `httpd` image.
pub const HTTPD_INDEX: &str = "skiff httpd test page\n";

/// The merged view of `/data` in the `layered` image: each path with its
/// content, or `None` for a directory. Paths not listed must be absent, in
/// particular `data/a.txt` (whited out), `data/dir/x` and `data/dir/keep`
/// (hidden by the opaque `data/dir`).
pub const LAYERED_EXPECTED: &[(&str, Option<&str>)] = &[
    ("data", None),
    ("data/b.txt", Some("B2\n")),
    ("data/c.txt", Some("C\n")),
    ("data/c-link", Some("C\n")),
    ("data/dir", None),
    ("data/dir/z", Some("Z\n")),
];

/// Paths that the upper layers of `layered` delete or hide.
pub const LAYERED_ABSENT: &[&str] = &["data/a.txt", "data/dir/x", "data/dir/keep"];

/// The images in the test layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestImage {
    Busybox,
    Layered,
    Httpd,
    MultiArch,
}

impl TestImage {
    /// Returns the tag of the image in the OCI layout and its repository name.
    pub fn name(self) -> &'static str {
        match self {
            TestImage::Busybox => "busybox",
            TestImage::Layered => "layered",
            TestImage::Httpd => "httpd",
            TestImage::MultiArch => "multiarch",
        }
    }
}

/// The manifest media types a push produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestFormat {
    /// OCI image manifest (and OCI image index).
    Oci,
    /// Docker image manifest v2 schema 2 (and Docker manifest list).
    DockerV2,
}

/// An image pushed to a test registry.
#[derive(Clone, Debug)]
pub struct PushedImage {
    /// `127.0.0.1:PORT/skiff-test/NAME`.
    pub repository: String,
    /// `repository:TAG`.
    pub reference: String,
    /// Digest of the pushed manifest (or index), `sha256:...`.
    pub digest: String,
    /// For an index, each platform's architecture with its manifest digest.
    pub platforms: Vec<(String, String)>,
}

impl PushedImage {
    /// `repository@digest`.
    pub fn digest_reference(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }

    /// Returns the manifest digest of platform `architecture` of an index.
    pub fn platform_digest(&self, architecture: &str) -> Option<&str> {
        self.platforms
            .iter()
            .find(|(arch, _)| arch == architecture)
            .map(|(_, digest)| digest.as_str())
    }
}

/// Pushes the busybox image as `skiff-test/busybox:1` (OCI media types).
pub fn push_busybox(registry: &Registry) -> Result<PushedImage> {
    push(registry, TestImage::Busybox, "1", ManifestFormat::Oci)
}

/// Pushes the layered image as `skiff-test/layered:1`.
pub fn push_layered(registry: &Registry) -> Result<PushedImage> {
    push(registry, TestImage::Layered, "1", ManifestFormat::Oci)
}

/// Pushes the httpd image as `skiff-test/httpd:1`.
pub fn push_httpd(registry: &Registry) -> Result<PushedImage> {
    push(registry, TestImage::Httpd, "1", ManifestFormat::Oci)
}

/// Pushes the two-platform index as `skiff-test/multiarch:1`.
pub fn push_multiarch(registry: &Registry) -> Result<PushedImage> {
    push(registry, TestImage::MultiArch, "1", ManifestFormat::Oci)
}

/// Pushes `image` to `registry` as `skiff-test/NAME:TAG` in `format`.
pub fn push(
    registry: &Registry,
    image: TestImage,
    tag: &str,
    format: ManifestFormat,
) -> Result<PushedImage> {
    let layout = oci_layout()?;
    let repository = format!("{}/{NAMESPACE}/{}", registry.host(), image.name());
    let reference = format!("{repository}:{tag}");
    let digest_file = tempfile::NamedTempFile::new()?;
    let mut command = Command::new("skopeo");
    command
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg("--digestfile")
        .arg(digest_file.path())
        .arg("--format")
        .arg(match format {
            ManifestFormat::Oci => "oci",
            ManifestFormat::DockerV2 => "v2s2",
        });
    if image == TestImage::MultiArch {
        command.arg("--all");
    }
    command
        .arg(format!("oci:{}:{}", layout.display(), image.name()))
        .arg(format!("docker://{reference}"));
    run(&mut command)?;
    let digest = fs::read_to_string(digest_file.path())?.trim().to_string();
    let platforms = if image == TestImage::MultiArch {
        index_platforms(&read_registry_blob(registry, &digest)?)?
    } else {
        Vec::new()
    };
    Ok(PushedImage {
        repository,
        reference,
        digest,
        platforms,
    })
}

/// Reads blob `digest` (`sha256:...`) from the registry's storage.
pub fn read_registry_blob(registry: &Registry, digest: &str) -> Result<Vec<u8>> {
    let path = registry.blob_path(digest);
    fs::read(&path).with_context(|| format!("reading blob {digest} at {}", path.display()))
}

/// Returns the layer digests of manifest `digest` stored in `registry`.
pub fn layer_digests(registry: &Registry, digest: &str) -> Result<Vec<String>> {
    let manifest: Value = serde_json::from_slice(&read_registry_blob(registry, digest)?)?;
    let layers = manifest["layers"]
        .as_array()
        .context("manifest has no layers array")?;
    layers
        .iter()
        .map(|layer| {
            layer["digest"]
                .as_str()
                .map(str::to_string)
                .context("layer without digest")
        })
        .collect()
}

/// Returns the config digest (the image id) of manifest `digest` stored in `registry`.
pub fn config_digest(registry: &Registry, digest: &str) -> Result<String> {
    let manifest: Value = serde_json::from_slice(&read_registry_blob(registry, digest)?)?;
    manifest["config"]["digest"]
        .as_str()
        .map(str::to_string)
        .context("manifest has no config digest")
}

fn index_platforms(index: &[u8]) -> Result<Vec<(String, String)>> {
    let index: Value = serde_json::from_slice(index)?;
    let manifests = index["manifests"]
        .as_array()
        .context("index has no manifests")?;
    manifests
        .iter()
        .map(|entry| {
            let arch = entry["platform"]["architecture"]
                .as_str()
                .context("index entry without platform")?;
            let digest = entry["digest"]
                .as_str()
                .context("index entry without digest")?;
            Ok((arch.to_string(), digest.to_string()))
        })
        .collect()
}

/// Returns the OCI layout that contains every test image, building it on first use.
pub fn oci_layout() -> Result<PathBuf> {
    static LAYOUT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    LAYOUT
        .get_or_init(|| build_or_reuse_layout().map_err(|error| format!("{error:#}")))
        .clone()
        .map_err(|error| anyhow::anyhow!("building the test images failed: {error}"))
}

fn cache_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SKIFF_TEST_IMAGES_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable without a directory")?;
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir = dir.parent().context("deps directory without a parent")?;
    }
    Ok(dir.join("skiff-test-images"))
}

fn build_or_reuse_layout() -> Result<PathBuf> {
    let root = cache_root()?;
    let done = root.join(LAYOUT_VERSION);
    if done.join("oci/index.json").exists() {
        return Ok(done.join("oci"));
    }
    fs::create_dir_all(&root)?;
    let work = tempfile::Builder::new()
        .prefix("building-")
        .tempdir_in(&root)?;
    build_layout(work.path())?;
    let built = work.keep();
    // Another process may have finished first; its layout is as good as ours.
    if fs::rename(&built, &done).is_err() {
        fs::remove_dir_all(&built)?;
        if !done.join("oci/index.json").exists() {
            bail!(
                "could not place the test image layout at {}",
                done.display()
            );
        }
    }
    Ok(done.join("oci"))
}

fn build_layout(work: &Path) -> Result<()> {
    let layout = work.join("oci");
    let stage = work.join("stage");
    umoci(&["init", "--layout", &path_str(&layout)?])?;
    let image = |tag: &str| format!("{}:{tag}", layout.display());

    build_busybox(&image("busybox"), &stage.join("busybox"))?;
    build_layered(&image, &stage.join("layered"))?;
    build_httpd(&image, &stage.join("httpd"))?;
    build_multiarch(&layout, &image, &stage.join("multiarch"))?;
    fs::remove_dir_all(&stage)?;
    Ok(())
}

fn build_busybox(image: &str, stage: &Path) -> Result<()> {
    let bin = stage.join("bin");
    fs::create_dir_all(&bin)?;
    fs::copy(BUSYBOX_BIN, bin.join("busybox"))?;
    let list = Command::new(BUSYBOX_BIN).arg("--list").output()?;
    if !list.status.success() {
        bail!("`busybox --list` failed: {}", list.status);
    }
    for applet in String::from_utf8(list.stdout)?.lines() {
        if applet != "busybox" && !applet.is_empty() {
            symlink("busybox", bin.join(applet))?;
        }
    }
    umoci(&["new", "--image", image])?;
    umoci(&["insert", "--image", image, &path_str(stage)?, "/"])?;
    umoci(&[
        "config",
        "--image",
        image,
        "--config.cmd",
        "/bin/sh",
        "--config.env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ])
}

fn build_layered(image: &dyn Fn(&str) -> String, stage: &Path) -> Result<()> {
    let layered = image("layered");
    umoci(&["tag", "--image", &image("busybox"), "layered"])?;

    let lower = stage.join("lower");
    fs::create_dir_all(lower.join("dir"))?;
    fs::write(lower.join("a.txt"), "A\n")?;
    fs::write(lower.join("b.txt"), "B\n")?;
    fs::write(lower.join("c.txt"), "C\n")?;
    fs::hard_link(lower.join("c.txt"), lower.join("c-link"))?;
    fs::write(lower.join("dir/x"), "X\n")?;
    fs::write(lower.join("dir/keep"), "K\n")?;
    umoci(&["insert", "--image", &layered, &path_str(&lower)?, "/data"])?;

    let changed = stage.join("b.txt");
    fs::write(&changed, "B2\n")?;
    umoci(&[
        "insert",
        "--image",
        &layered,
        &path_str(&changed)?,
        "/data/b.txt",
    ])?;
    umoci(&["insert", "--image", &layered, "--whiteout", "/data/a.txt"])?;
    umoci(&["insert", "--image", &layered, "--whiteout", "/data/dir/x"])?;

    let opaque = stage.join("opaque");
    fs::create_dir_all(&opaque)?;
    fs::write(opaque.join("z"), "Z\n")?;
    umoci(&[
        "insert",
        "--image",
        &layered,
        "--opaque",
        &path_str(&opaque)?,
        "/data/dir",
    ])
}

fn build_httpd(image: &dyn Fn(&str) -> String, stage: &Path) -> Result<()> {
    let httpd = image("httpd");
    umoci(&["tag", "--image", &image("busybox"), "httpd"])?;
    let www = stage.join("www");
    fs::create_dir_all(&www)?;
    fs::write(www.join("index.html"), HTTPD_INDEX)?;
    umoci(&["insert", "--image", &httpd, &path_str(&www)?, "/www"])?;
    let mut args = vec![
        "config",
        "--image",
        &httpd,
        "--config.exposedports",
        "8080/tcp",
    ];
    for word in ["httpd", "-f", "-p", "8080", "-h", "/www"] {
        args.extend(["--config.cmd", word]);
    }
    umoci(&args)
}

fn build_multiarch(layout: &Path, image: &dyn Fn(&str) -> String, stage: &Path) -> Result<()> {
    fs::create_dir_all(stage)?;
    // arm64 comes first so that a client taking the first entry picks the
    // wrong platform.
    let mut entries = Vec::new();
    for arch in ["arm64", "amd64"] {
        let tag = format!("multiarch-{arch}");
        umoci(&["tag", "--image", &image("busybox"), &tag])?;
        let marker = stage.join(arch);
        fs::write(&marker, format!("{arch}\n"))?;
        umoci(&[
            "insert",
            "--image",
            &image(&tag),
            &path_str(&marker)?,
            "/etc/skiff-arch",
        ])?;
        umoci(&["config", "--image", &image(&tag), "--architecture", arch])?;
        let mut descriptor = layout_descriptor(layout, &tag)?;
        descriptor["platform"] = json!({"architecture": arch, "os": "linux"});
        if let Some(map) = descriptor.as_object_mut() {
            map.remove("annotations");
        }
        entries.push(descriptor);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let bytes = serde_json::to_vec(&index)?;
    let hex = hex::encode(Sha256::digest(&bytes));
    fs::write(layout.join("blobs/sha256").join(&hex), &bytes)?;
    add_layout_ref(layout, &format!("sha256:{hex}"), bytes.len(), "multiarch")
}

fn layout_descriptor(layout: &Path, tag: &str) -> Result<Value> {
    let index: Value = serde_json::from_slice(&fs::read(layout.join("index.json"))?)?;
    let manifests = index["manifests"]
        .as_array()
        .context("layout index.json has no manifests")?;
    manifests
        .iter()
        .find(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .cloned()
        .with_context(|| format!("tag {tag} missing from the layout"))
}

fn add_layout_ref(layout: &Path, digest: &str, size: usize, tag: &str) -> Result<()> {
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&path)?)?;
    let manifests = index["manifests"]
        .as_array_mut()
        .context("layout index.json has no manifests")?;
    manifests.push(json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": digest,
        "size": size,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }));
    fs::write(&path, serde_json::to_vec(&index)?)?;
    Ok(())
}

fn umoci(args: &[&str]) -> Result<()> {
    run(Command::new("umoci").args(args))
}

fn run(command: &mut Command) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn path_str(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_string)
        .with_context(|| format!("path {} is not UTF-8", path.display()))
}
