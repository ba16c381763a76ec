//! The parts of OCI and Docker v2 manifests, indexes and image configs that
//! the store reads. Both formats share these JSON shapes.

use serde::Deserialize;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Manifest media types sent in `Accept` when resolving a reference.
pub const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

const CONFIG_TYPES: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
];

/// Returns whether `media_type` is an image config the store can read.
pub fn is_config_type(media_type: &str) -> bool {
    CONFIG_TYPES.contains(&media_type)
}

/// Returns whether `media_type` is a layer the store can unpack (tar or gzip tar).
pub fn is_layer_type(media_type: &str) -> bool {
    LAYER_TYPES.contains(&media_type)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    pub platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    pub variant: Option<String>,
}

/// Either a manifest or an index: the JSON distinguishes them by
/// `mediaType`, or by a `manifests` array when `mediaType` is absent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestOrIndex {
    pub schema_version: Option<u32>,
    pub media_type: Option<String>,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    pub manifests: Option<Vec<Descriptor>>,
}

impl ManifestOrIndex {
    pub fn is_index(&self) -> bool {
        match self.media_type.as_deref() {
            Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
            Some(_) => false,
            None => self.manifests.is_some(),
        }
    }
}

/// The image config blob.
#[derive(Debug, Default, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
}

#[derive(Debug, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
}

/// Picks the linux/amd64 entry of an index, preferring one without a
/// variant (amd64 variants such as `v2` are optional refinements).
pub fn select_linux_amd64(entries: &[Descriptor]) -> Option<&Descriptor> {
    let candidates = entries.iter().filter(|entry| {
        entry
            .platform
            .as_ref()
            .is_some_and(|platform| platform.os == "linux" && platform.architecture == "amd64")
    });
    let mut fallback = None;
    for entry in candidates {
        let variant = entry.platform.as_ref().and_then(|p| p.variant.as_deref());
        if variant.is_none_or(|variant| variant.is_empty() || variant == "v1") {
            return Some(entry);
        }
        fallback.get_or_insert(entry);
    }
    fallback
}

/// Lists `os/arch[/variant]` of every entry, for error messages.
pub fn describe_platforms(entries: &[Descriptor]) -> String {
    let names: Vec<String> = entries
        .iter()
        .map(|entry| match &entry.platform {
            Some(platform) => match &platform.variant {
                Some(variant) => format!("{}/{}/{variant}", platform.os, platform.architecture),
                None => format!("{}/{}", platform.os, platform.architecture),
            },
            None => "unknown".to_string(),
        })
        .collect();
    names.join(", ")
}
