//! Pulling an image from a registry into the store with oci-client.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::blobs::digest_mismatch;
use super::digest::Digest;
use super::manifest::{self, ConfigFile, Descriptor, ManifestOrIndex};
use super::metadata::ImageRecord;
use super::reference;
use super::unpack::unpack_layer;
use super::{ImageConfig, ImageError, ImageStore};

/// Layers downloaded and unpacked at the same time per pull.
const PARALLEL_LAYERS: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Credentials for one pull.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    /// A registry bearer token, sent as is.
    Bearer(String),
}

impl Credentials {
    fn to_registry_auth(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        }
    }
}

/// One pull of one reference.
struct Pull<'a> {
    store: &'a ImageStore,
    client: Client,
    auth: RegistryAuth,
    reference: Reference,
    name: String,
}

/// Pulls `input` into `store` and returns the stored record.
pub(super) async fn pull(
    store: &ImageStore,
    input: &str,
    credentials: &Credentials,
) -> Result<ImageRecord, ImageError> {
    let reference = reference::parse(input)?;
    let insecure =
        reference::is_insecure(reference.resolve_registry(), store.insecure_registries());
    let client = Client::new(ClientConfig {
        protocol: if insecure {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        platform_resolver: None,
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..ClientConfig::default()
    });
    let pull = Pull {
        store,
        client,
        auth: credentials.to_registry_auth(),
        name: reference.whole(),
        reference,
    };
    pull.run().await
}

impl Pull<'_> {
    async fn run(&self) -> Result<ImageRecord, ImageError> {
        let (top_digest, top) = self.fetch_manifest(&self.reference, "manifest").await?;
        let (manifest_digest, manifest) = if top.is_index() {
            let entries = top.manifests.unwrap_or_default();
            let entry = manifest::select_linux_amd64(&entries).ok_or_else(|| {
                ImageError::NoMatchingPlatform {
                    reference: self.name.clone(),
                    platforms: manifest::describe_platforms(&entries),
                }
            })?;
            let digest = Digest::parse(&entry.digest)?;
            let platform_reference = self.reference.clone_with_digest(digest.to_string());
            let (fetched, manifest) = self
                .fetch_manifest(&platform_reference, "platform manifest")
                .await?;
            if fetched != digest {
                return Err(digest_mismatch(
                    "platform manifest",
                    &self.name,
                    &digest,
                    &fetched,
                ));
            }
            if manifest.is_index() {
                return Err(self.invalid("an index entry points at another index"));
            }
            (digest, manifest)
        } else {
            (top_digest.clone(), top)
        };

        let config_descriptor = manifest
            .config
            .as_ref()
            .ok_or_else(|| self.invalid("the manifest has no config"))?;
        self.check_media_types(config_descriptor, &manifest.layers)?;
        let config_digest = Digest::parse(&config_descriptor.digest)?;
        let config_path = self
            .store
            .blobs()
            .download(&self.client, &self.reference, &config_digest, "config")
            .await?;
        let config_bytes = tokio::fs::read(&config_path)
            .await
            .map_err(ImageError::io("reading", &config_path))?;
        let config: ConfigFile = serde_json::from_slice(&config_bytes)
            .map_err(|error| self.invalid(&format!("invalid image config: {error}")))?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(self.invalid(&format!(
                "the manifest has {} layers but the config lists {} diff ids",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }

        let layers: Vec<(Digest, Digest)> = manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(layer, diff_id)| Ok((Digest::parse(&layer.digest)?, Digest::parse(diff_id)?)))
            .collect::<Result<_, ImageError>>()?;
        futures::stream::iter(layers.iter().cloned())
            .map(|(digest, diff_id)| self.ensure_layer(digest, diff_id))
            .buffer_unordered(PARALLEL_LAYERS)
            .try_collect::<Vec<()>>()
            .await?;

        let size = manifest
            .layers
            .iter()
            .map(|layer| layer.size.max(0) as u64)
            .sum::<u64>()
            + config_bytes.len() as u64;
        Ok(ImageRecord {
            id: config_digest.to_string(),
            repo_tags: reference::repo_tag(&self.reference).into_iter().collect(),
            repo_digests: vec![reference::repo_digest(&self.reference, top_digest.as_str())],
            size,
            manifest_digest: manifest_digest.to_string(),
            layer_digests: layers
                .iter()
                .map(|(digest, _)| digest.to_string())
                .collect(),
            diff_ids: layers
                .iter()
                .map(|(_, diff_id)| diff_id.to_string())
                .collect(),
            config: image_config(&config),
            architecture: config.architecture.clone(),
            os: config.os.clone(),
        })
    }

    /// Fetches and parses a manifest or index, and stores it as a blob.
    async fn fetch_manifest(
        &self,
        reference: &Reference,
        what: &str,
    ) -> Result<(Digest, ManifestOrIndex), ImageError> {
        let (bytes, _) = self
            .client
            .pull_manifest_raw(reference, &self.auth, manifest::ACCEPTED_MANIFESTS)
            .await
            .map_err(|error| registry_error(&self.name, error))?;
        let digest = Digest::of(&bytes);
        if let Some(expected) = reference.digest() {
            let expected = Digest::parse(expected)?;
            if expected != digest {
                return Err(digest_mismatch(what, &self.name, &expected, &digest));
            }
        }
        let parsed: ManifestOrIndex = serde_json::from_slice(&bytes)
            .map_err(|error| self.invalid(&format!("invalid {what}: {error}")))?;
        if parsed.schema_version != Some(2) {
            return Err(self.invalid(&format!(
                "{what} has schemaVersion {:?}; only schema 2 is supported",
                parsed.schema_version
            )));
        }
        self.store
            .blobs()
            .write_verified(&digest, &bytes, what, &self.name)?;
        Ok((digest, parsed))
    }

    fn check_media_types(
        &self,
        config: &Descriptor,
        layers: &[Descriptor],
    ) -> Result<(), ImageError> {
        if !manifest::is_config_type(&config.media_type) {
            return Err(ImageError::UnsupportedMediaType {
                what: "config".to_string(),
                reference: self.name.clone(),
                media_type: config.media_type.clone(),
            });
        }
        if let Some(layer) = layers
            .iter()
            .find(|layer| !manifest::is_layer_type(&layer.media_type))
        {
            return Err(ImageError::UnsupportedMediaType {
                what: format!("layer {}", layer.digest),
                reference: self.name.clone(),
                media_type: layer.media_type.clone(),
            });
        }
        Ok(())
    }

    /// Makes sure the layer with `diff_id` is unpacked, downloading its blob
    /// only when neither the unpacked layer nor the blob is in the store.
    async fn ensure_layer(&self, digest: Digest, diff_id: Digest) -> Result<(), ImageError> {
        let layer_dir = self.store.layer_dir(&diff_id);
        if layer_dir.is_dir() {
            return Ok(());
        }
        let blob = self
            .store
            .blobs()
            .download(&self.client, &self.reference, &digest, "layer")
            .await?;
        let temp = Arc::new(
            self.store
                .blobs()
                .temp_path(&format!("layer-{}", diff_id.hex())),
        );
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir(temp.as_path())
                .map_err(ImageError::io("creating", temp.as_path()))?;
            let result = unpack_layer(&blob, &temp, &digest).and_then(|actual| {
                if actual == diff_id {
                    Ok(())
                } else {
                    Err(digest_mismatch(
                        "uncompressed layer (diff id)",
                        &name,
                        &diff_id,
                        &actual,
                    ))
                }
            });
            let result = result.and_then(|()| match std::fs::rename(temp.as_path(), &layer_dir) {
                Ok(()) => Ok(()),
                // A concurrent pull unpacked the same layer first.
                Err(_) if layer_dir.is_dir() => Ok(()),
                Err(error) => Err(ImageError::io("renaming into place", &layer_dir)(error)),
            });
            if temp.exists() {
                let _ = std::fs::remove_dir_all(temp.as_path());
            }
            tracing::debug!(image = %name, layer = %digest, "layer unpacked");
            result
        })
        .await
        .map_err(|error| ImageError::Task(error.to_string()))?
    }

    fn invalid(&self, reason: &str) -> ImageError {
        ImageError::InvalidManifest {
            reference: self.name.clone(),
            reason: reason.to_string(),
        }
    }
}

fn image_config(config: &ConfigFile) -> ImageConfig {
    let container = config.config.as_ref();
    ImageConfig {
        entrypoint: container
            .and_then(|c| c.entrypoint.clone())
            .unwrap_or_default(),
        cmd: container.and_then(|c| c.cmd.clone()).unwrap_or_default(),
        env: container.and_then(|c| c.env.clone()).unwrap_or_default(),
        working_dir: container
            .and_then(|c| c.working_dir.clone())
            .filter(|dir| !dir.is_empty()),
        user: container
            .and_then(|c| c.user.clone())
            .filter(|user| !user.is_empty()),
        stop_signal: container
            .and_then(|c| c.stop_signal.clone())
            .filter(|signal| !signal.is_empty()),
    }
}

/// Maps an oci-client error to a store error naming `reference`.
pub(crate) fn registry_error(reference: &str, error: OciDistributionError) -> ImageError {
    let not_found = || ImageError::NotFound {
        reference: reference.to_string(),
    };
    let unauthorized = |message: String| ImageError::Unauthorized {
        reference: reference.to_string(),
        message,
    };
    match &error {
        OciDistributionError::ImageManifestNotFoundError(_) => not_found(),
        OciDistributionError::ServerError { code: 404, .. } => not_found(),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|code| {
                matches!(
                    code,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                not_found()
            } else if codes
                .iter()
                .any(|code| matches!(code, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                unauthorized(error.to_string())
            } else {
                ImageError::Registry {
                    reference: reference.to_string(),
                    message: error.to_string(),
                }
            }
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => unauthorized(error.to_string()),
        _ => ImageError::Registry {
            reference: reference.to_string(),
            message: error.to_string(),
        },
    }
}
