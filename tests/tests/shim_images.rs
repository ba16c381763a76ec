//! The shim's ImageService against a real registry, driven over a unix
//! socket with the generated CRI client. Needs root (overlay mounts, file
//! ownership) and the registry, umoci and skopeo binaries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::{
    ImageFilter, ImageFsInfoRequest, ImageSpec, ImageStatusRequest, ListImagesRequest,
    PullImageRequest, RemoveImageRequest,
};
use skiff_e2e::images::{self, LAYERED_ABSENT, LAYERED_EXPECTED, ManifestFormat, TestImage};
use skiff_e2e::registry::Registry;
use skiff_runtime_shim::image::{ImageServer, ImageStore};
use tokio::net::UnixStream;
use tonic::Code;
use tonic::transport::{Channel, Endpoint, Uri};

/// An ImageService on a unix socket in a temporary root directory.
struct Shim {
    store: Arc<ImageStore>,
    client: ImageServiceClient<Channel>,
    root: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Shim {
    async fn start() -> Result<Shim> {
        let root = tempfile::Builder::new().prefix("skiff-images-").tempdir()?;
        Self::start_in(root).await
    }

    async fn start_in(root: tempfile::TempDir) -> Result<Shim> {
        let store = Arc::new(ImageStore::open(root.path().to_path_buf())?);
        let socket = root.path().join("cri.sock");
        // A previous server in the same root leaves its socket file behind.
        let _ = std::fs::remove_file(&socket);
        let listener = tokio::net::UnixListener::bind(&socket)?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let service = ImageServer::new(store.clone()).into_service();
        tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        let channel =
            Endpoint::try_from("http://[::1]:50051")?
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?))
                    }
                }))
                .await?;
        Ok(Shim {
            store,
            client: ImageServiceClient::new(channel),
            root: Some(root),
            shutdown: Some(shutdown),
        })
    }

    /// Stops the server and returns the root directory for a restart.
    fn stop(mut self) -> Result<tempfile::TempDir> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.root.take().context("the shim was already stopped")
    }

    fn root(&self) -> &Path {
        self.root
            .as_ref()
            .map_or(Path::new("/nonexistent"), |root| root.path())
    }

    async fn pull(&mut self, image: &str) -> Result<String, tonic::Status> {
        let response = self
            .client
            .pull_image(PullImageRequest {
                image: Some(spec(image)),
                ..Default::default()
            })
            .await?;
        Ok(response.into_inner().image_ref)
    }

    async fn status(&mut self, image: &str) -> Result<Option<k8s_cri::v1::Image>> {
        let response = self
            .client
            .image_status(ImageStatusRequest {
                image: Some(spec(image)),
                verbose: false,
            })
            .await?;
        Ok(response.into_inner().image)
    }

    async fn remove(&mut self, image: &str) -> Result<(), tonic::Status> {
        self.client
            .remove_image(RemoveImageRequest {
                image: Some(spec(image)),
            })
            .await
            .map(|_| ())
    }

    async fn list(&mut self, filter: Option<&str>) -> Result<Vec<k8s_cri::v1::Image>> {
        let response = self
            .client
            .list_images(ListImagesRequest {
                filter: filter.map(|image| ImageFilter {
                    image: Some(spec(image)),
                }),
            })
            .await?;
        Ok(response.into_inner().images)
    }

    fn tmp_entries(&self) -> Result<usize> {
        Ok(std::fs::read_dir(self.root().join("images/tmp"))?.count())
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn spec(image: &str) -> ImageSpec {
    ImageSpec {
        image: image.to_string(),
        ..Default::default()
    }
}

/// A read-only overlay mount of some layers, unmounted on drop.
struct Overlay {
    target: PathBuf,
}

impl Overlay {
    fn mount(layers: &[PathBuf], target: &Path) -> Result<Overlay> {
        std::fs::create_dir_all(target)?;
        // overlayfs lists the top layer first.
        let lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        let status = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!("lowerdir={}", lower.join(":")))
            .arg(target)
            .status()?;
        if !status.success() {
            bail!(
                "mounting the overlay at {} failed: {status}",
                target.display()
            );
        }
        Ok(Overlay {
            target: target.to_path_buf(),
        })
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.target).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_by_tag_and_digest() -> Result<()> {
    let registry = Registry::start()?;
    let pushed = images::push_busybox(&registry)?;
    let config = images::config_digest(&registry, &pushed.digest)?;
    let mut shim = Shim::start().await?;

    let by_tag = shim.pull(&pushed.reference).await?;
    assert_eq!(by_tag, config);
    let by_digest = shim.pull(&pushed.digest_reference()).await?;
    assert_eq!(by_digest, config);

    let image = shim
        .status(&pushed.reference)
        .await?
        .context("image missing")?;
    assert_eq!(image.id, config);
    assert_eq!(image.repo_tags, vec![pushed.reference.clone()]);
    assert_eq!(image.repo_digests, vec![pushed.digest_reference()]);
    assert!(image.size > 1_000_000, "size {}", image.size);
    let by_id = shim.status(&config).await?.context("lookup by id failed")?;
    assert_eq!(by_id.id, config);

    let rootfs = shim.store.rootfs(&pushed.reference)?;
    assert_eq!(rootfs.config.cmd, vec!["/bin/sh".to_string()]);
    assert_eq!(rootfs.layers.len(), 1);
    let busybox = rootfs.layers[0].join("bin/busybox");
    assert!(busybox.is_file(), "{} missing", busybox.display());
    let sh = std::fs::read_link(rootfs.layers[0].join("bin/sh"))?;
    assert_eq!(sh, Path::new("busybox"));

    assert_eq!(shim.list(None).await?.len(), 1);
    assert_eq!(shim.list(Some(&pushed.reference)).await?.len(), 1);
    assert_eq!(shim.list(Some("busybox:none")).await?.len(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_docker_v2_manifest() -> Result<()> {
    let registry = Registry::start()?;
    let pushed = images::push(
        &registry,
        TestImage::Busybox,
        "docker",
        ManifestFormat::DockerV2,
    )?;
    let mut shim = Shim::start().await?;

    let id = shim.pull(&pushed.reference).await?;
    assert_eq!(id, images::config_digest(&registry, &pushed.digest)?);
    let rootfs = shim.store.rootfs(&id)?;
    assert!(rootfs.layers[0].join("bin/busybox").is_file());
    assert_eq!(rootfs.config.cmd, vec!["/bin/sh".to_string()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_pull_downloads_nothing() -> Result<()> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?;
    let httpd = images::push_httpd(&registry)?;
    let mut shim = Shim::start().await?;

    shim.pull(&busybox.reference).await?;
    let after_first = registry.blob_downloads();
    assert_eq!(after_first, 2, "config and layer; log:\n{}", registry.log());

    shim.pull(&busybox.reference).await?;
    assert_eq!(registry.blob_downloads(), after_first, "{}", registry.log());

    // httpd shares the busybox layer, which must not be fetched again.
    shim.pull(&httpd.reference).await?;
    let base_layer = &images::layer_digests(&registry, &busybox.digest)?[0];
    assert_eq!(
        registry.blob_downloads_of(base_layer),
        1,
        "{}",
        registry.log()
    );
    let rootfs = shim.store.rootfs(&httpd.reference)?;
    let index = rootfs.layers[1].join("www/index.html");
    assert_eq!(std::fs::read_to_string(index)?, images::HTTPD_INDEX);
    assert_eq!(
        rootfs.config.cmd,
        ["httpd", "-f", "-p", "8080", "-h", "/www"].map(String::from)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_blob_is_rejected() -> Result<()> {
    let registry = Registry::start()?;
    let pushed = images::push_busybox(&registry)?;
    let layer = images::layer_digests(&registry, &pushed.digest)?[0].clone();
    let blob = registry.blob_path(&layer);
    let mut bytes = std::fs::read(&blob)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, &bytes)?;
    let mut shim = Shim::start().await?;

    let status = shim
        .pull(&pushed.reference)
        .await
        .expect_err("a corrupted layer must be rejected");
    assert_eq!(status.code(), Code::DataLoss, "{status:?}");
    assert!(status.message().contains("digest mismatch"), "{status:?}");
    assert!(status.message().contains(&layer), "{status:?}");

    let hex = layer.trim_start_matches("sha256:");
    let stored = shim.root().join("images/blobs/sha256").join(hex);
    assert!(!stored.exists(), "a corrupted blob was stored");
    assert_eq!(shim.tmp_entries()?, 0, "temporary files left behind");
    assert!(shim.list(None).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_is_not_found() -> Result<()> {
    let registry = Registry::start()?;
    images::push_busybox(&registry)?;
    let mut shim = Shim::start().await?;

    for missing in [
        format!("{}/skiff-test/absent:1", registry.host()),
        format!("{}/skiff-test/busybox:no-such-tag", registry.host()),
    ] {
        let status = shim.pull(&missing).await.expect_err("pull must fail");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(status.message().contains(&missing), "{status:?}");
    }
    assert!(shim.status("busybox:absent").await?.is_none());
    let status = shim.pull("").await.expect_err("empty image must fail");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layered_whiteouts_merge_in_overlay() -> Result<()> {
    let registry = Registry::start()?;
    let pushed = images::push_layered(&registry)?;
    let mut shim = Shim::start().await?;
    shim.pull(&pushed.reference).await?;
    let rootfs = shim.store.rootfs(&pushed.reference)?;
    assert_eq!(rootfs.layers.len(), 4);

    let merged = shim.root().join("merged");
    let overlay = Overlay::mount(&rootfs.layers, &merged)?;
    for (path, content) in LAYERED_EXPECTED {
        let full = merged.join(path);
        match content {
            Some(content) => assert_eq!(&std::fs::read_to_string(&full)?, content, "{path}"),
            None => assert!(full.is_dir(), "{path} is not a directory"),
        }
    }
    for path in LAYERED_ABSENT {
        assert!(
            std::fs::symlink_metadata(merged.join(path)).is_err(),
            "{path} is visible"
        );
    }
    let mut dir: Vec<String> = std::fs::read_dir(merged.join("data/dir"))?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    dir.sort();
    assert_eq!(dir, vec!["z".to_string()]);
    assert!(merged.join("bin/busybox").is_file());
    drop(overlay);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_selects_linux_amd64() -> Result<()> {
    let registry = Registry::start()?;
    let pushed = images::push_multiarch(&registry)?;
    let amd64 = pushed.platform_digest("amd64").context("no amd64 entry")?;
    let arm64 = pushed.platform_digest("arm64").context("no arm64 entry")?;
    let mut shim = Shim::start().await?;

    let id = shim.pull(&pushed.reference).await?;
    assert_eq!(id, images::config_digest(&registry, amd64)?);
    assert_ne!(id, images::config_digest(&registry, arm64)?);
    let rootfs = shim.store.rootfs(&id)?;
    let top = rootfs.layers.last().context("no layers")?;
    assert_eq!(
        std::fs::read_to_string(top.join("etc/skiff-arch"))?,
        "amd64\n"
    );
    let image = shim
        .status(&pushed.reference)
        .await?
        .context("image missing")?;
    assert_eq!(image.repo_digests, vec![pushed.digest_reference()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_image_respects_users() -> Result<()> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?;
    let httpd = images::push_httpd(&registry)?;
    let mut shim = Shim::start().await?;
    let busybox_id = shim.pull(&busybox.reference).await?;
    shim.pull(&httpd.reference).await?;
    let shared_layer = shim.store.rootfs(&busybox_id)?.layers[0].clone();

    shim.store.acquire(&busybox_id, "container-1");
    let status = shim
        .remove(&busybox.reference)
        .await
        .expect_err("image in use");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("container-1"), "{status:?}");
    shim.store.release(&busybox_id, "container-1");

    shim.remove(&busybox.reference).await?;
    assert!(shim.status(&busybox.reference).await?.is_none());
    assert!(shared_layer.is_dir(), "a layer httpd uses was removed");
    shim.remove(&busybox.reference).await?;

    let fs_info = shim
        .client
        .image_fs_info(ImageFsInfoRequest {})
        .await?
        .into_inner();
    let usage = fs_info
        .image_filesystems
        .first()
        .context("no image filesystem")?;
    assert!(
        usage
            .used_bytes
            .as_ref()
            .is_some_and(|bytes| bytes.value > 1_000_000)
    );
    assert!(
        usage
            .inodes_used
            .as_ref()
            .is_some_and(|inodes| inodes.value > 100)
    );

    // A restarted store reloads its metadata index.
    let root = shim.stop()?;
    let mut restarted = Shim::start_in(root).await?;
    let images = restarted.list(None).await?;
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].repo_tags, vec![httpd.reference.clone()]);
    restarted.remove(&httpd.reference).await?;
    assert!(!shared_layer.exists(), "an unused layer was kept");
    Ok(())
}
