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
const LAYOUT_VERSION: &str = "v2";
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
    if let Some(credentials) = registry.credentials() {
        command.arg("--dest-creds").arg(credentials);
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
    umoci(&["init", "--layout", &path_str(&layout)?])?;
    let builder = LayoutBuilder {
        layout: layout.clone(),
        bundles: work.join("bundles"),
    };
    builder.busybox()?;
    builder.layered()?;
    builder.httpd()?;
    builder.multiarch()?;
    fs::remove_dir_all(work.join("bundles"))?;
    Ok(())
}

/// Builds images in one OCI layout. Layers come from `umoci repack` of an
/// unpacked bundle, because umoci 0.4.7's `insert` writes tar streams
/// without their final padding and end-of-archive blocks, which strict tar
/// readers (Go's archive/tar, Rust's tar crate) reject.
struct LayoutBuilder {
    layout: PathBuf,
    bundles: PathBuf,
}

impl LayoutBuilder {
    fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.layout.display())
    }

    /// Unpacks `tag` into a fresh bundle, lets `change` edit its rootfs,
    /// and repacks the changes as a new layer of `tag`.
    fn add_layer(&self, tag: &str, change: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let bundle = self.bundles.join(tag);
        if bundle.exists() {
            fs::remove_dir_all(&bundle)?;
        }
        umoci(&["unpack", "--image", &self.image(tag), &path_str(&bundle)?])?;
        change(&bundle.join("rootfs"))?;
        umoci(&["repack", "--image", &self.image(tag), &path_str(&bundle)?])?;
        fs::remove_dir_all(&bundle)?;
        Ok(())
    }

    fn busybox(&self) -> Result<()> {
        umoci(&["new", "--image", &self.image("busybox")])?;
        self.add_layer("busybox", |rootfs| {
            let bin = rootfs.join("bin");
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
            Ok(())
        })?;
        umoci(&[
            "config",
            "--image",
            &self.image("busybox"),
            "--config.cmd",
            "/bin/sh",
            "--config.env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ])
    }

    fn layered(&self) -> Result<()> {
        umoci(&["tag", "--image", &self.image("busybox"), "layered"])?;
        self.add_layer("layered", |rootfs| {
            let data = rootfs.join("data");
            fs::create_dir_all(data.join("dir"))?;
            fs::write(data.join("a.txt"), "A\n")?;
            fs::write(data.join("b.txt"), "B\n")?;
            fs::write(data.join("c.txt"), "C\n")?;
            fs::hard_link(data.join("c.txt"), data.join("c-link"))?;
            fs::write(data.join("dir/x"), "X\n")?;
            fs::write(data.join("dir/keep"), "K\n")?;
            Ok(())
        })?;
        // umoci writes `.wh.a.txt` and `dir/.wh.x` for the deletions.
        self.add_layer("layered", |rootfs| {
            let data = rootfs.join("data");
            fs::remove_file(data.join("a.txt"))?;
            fs::remove_file(data.join("dir/x"))?;
            fs::write(data.join("b.txt"), "B2\n")?;
            Ok(())
        })?;
        // umoci never writes opaque markers, so this layer is built by hand.
        append_layer(&self.layout, "layered", &opaque_layer()?)
    }

    fn httpd(&self) -> Result<()> {
        umoci(&["tag", "--image", &self.image("busybox"), "httpd"])?;
        self.add_layer("httpd", |rootfs| {
            fs::create_dir_all(rootfs.join("www"))?;
            fs::write(rootfs.join("www/index.html"), HTTPD_INDEX)?;
            Ok(())
        })?;
        let httpd = self.image("httpd");
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

    fn multiarch(&self) -> Result<()> {
        // arm64 comes first so that a client taking the first entry picks the
        // wrong platform.
        let mut entries = Vec::new();
        for arch in ["arm64", "amd64"] {
            let tag = format!("multiarch-{arch}");
            umoci(&["tag", "--image", &self.image("busybox"), &tag])?;
            self.add_layer(&tag, |rootfs| {
                fs::create_dir_all(rootfs.join("etc"))?;
                fs::write(rootfs.join("etc/skiff-arch"), format!("{arch}\n"))?;
                Ok(())
            })?;
            umoci(&[
                "config",
                "--image",
                &self.image(&tag),
                "--architecture",
                arch,
            ])?;
            let mut descriptor = layout_descriptor(&self.layout, &tag)?;
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
        let digest = write_blob(&self.layout, &bytes)?;
        set_layout_ref(
            &self.layout,
            "multiarch",
            json!({
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": digest,
                "size": bytes.len(),
            }),
        )
    }
}

/// An uncompressed layer that makes `/data/dir` opaque and adds `z` to it.
fn opaque_layer() -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut append = |path: &str, kind: tar::EntryType, mode: u32, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(1_700_000_000);
        header.set_uid(0);
        header.set_gid(0);
        builder.append_data(&mut header, path, data)
    };
    append("data/dir/", tar::EntryType::Directory, 0o755, b"")?;
    append("data/dir/.wh..wh..opq", tar::EntryType::Regular, 0o644, b"")?;
    append("data/dir/z", tar::EntryType::Regular, 0o644, b"Z\n")?;
    Ok(builder.into_inner()?)
}

/// Appends an uncompressed layer to image `tag` of the layout, updating
/// its config (diff ids, history), manifest and `index.json` entry.
fn append_layer(layout: &Path, tag: &str, layer: &[u8]) -> Result<()> {
    let descriptor = layout_descriptor(layout, tag)?;
    let manifest_digest = descriptor["digest"]
        .as_str()
        .context("descriptor without digest")?;
    let mut manifest = read_blob_json(layout, manifest_digest)?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .context("manifest without config")?
        .to_string();
    let mut config = read_blob_json(layout, &config_digest)?;

    let layer_digest = write_blob(layout, layer)?;
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .context("config without diff_ids")?
        .push(json!(layer_digest));
    if let Some(history) = config["history"].as_array_mut() {
        history.push(json!({"created_by": "skiff test harness: opaque directory"}));
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let new_config_digest = write_blob(layout, &config_bytes)?;

    manifest["config"]["digest"] = json!(new_config_digest);
    manifest["config"]["size"] = json!(config_bytes.len());
    manifest["layers"]
        .as_array_mut()
        .context("manifest without layers")?
        .push(json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }));
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let new_manifest_digest = write_blob(layout, &manifest_bytes)?;
    set_layout_ref(
        layout,
        tag,
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": new_manifest_digest,
            "size": manifest_bytes.len(),
        }),
    )
}

fn read_blob_json(layout: &Path, digest: &str) -> Result<Value> {
    let hex = digest
        .strip_prefix("sha256:")
        .context("digest without sha256:")?;
    let bytes = fs::read(layout.join("blobs/sha256").join(hex))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Writes `bytes` as a blob of the layout and returns its digest.
fn write_blob(layout: &Path, bytes: &[u8]) -> Result<String> {
    let hex = hex::encode(Sha256::digest(bytes));
    fs::write(layout.join("blobs/sha256").join(&hex), bytes)?;
    Ok(format!("sha256:{hex}"))
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

/// Points `tag` in the layout's `index.json` at `descriptor`.
fn set_layout_ref(layout: &Path, tag: &str, mut descriptor: Value) -> Result<()> {
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&path)?)?;
    let manifests = index["manifests"]
        .as_array_mut()
        .context("layout index.json has no manifests")?;
    manifests.retain(|entry| entry["annotations"]["org.opencontainers.image.ref.name"] != tag);
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    manifests.push(descriptor);
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
