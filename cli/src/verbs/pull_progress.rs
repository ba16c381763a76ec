//! Progress of a pull, read from the files the node's image store writes.
//!
//! CRI's PullImage is one unary call, so the progress is read from the
//! store under `<data dir>/shim/images` while the call runs. The store
//! writes a manifest to `blobs/sha256/<hex>` before its layers download.
//! Each layer downloads into `tmp/<digest hex>.<pid>.<n>`, which grows as
//! bytes arrive, and is renamed to `blobs/sha256/<digest hex>` once
//! verified. It then unpacks into `tmp/layer-<diff id hex>.<pid>.<n>/`,
//! which is renamed to `layers/sha256/<diff id hex>/` when done.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::node::human_size;

/// Largest blob read while looking for the pull's manifest. Manifests are a
/// few kilobytes, so bigger blobs are layers.
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// Minimum time between two "Downloading" lines of one layer.
const DOWNLOAD_REPORT_INTERVAL: Duration = Duration::from_millis(500);

/// How far one layer got, in the order a pull moves through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Waiting,
    Downloading,
    Downloaded,
    Extracting,
    Complete,
}

struct Layer {
    digest_hex: String,
    diff_id_hex: Option<String>,
    size: u64,
    stage: Stage,
    downloaded: u64,
    reported_at: Option<Instant>,
}

impl Layer {
    fn short_id(&self) -> &str {
        &self.digest_hex[..self.digest_hex.len().min(12)]
    }
}

/// Watches one pull's files in an image store and prints each layer's progress.
pub struct PullProgress {
    store: PathBuf,
    blobs_before: HashSet<String>,
    inspected: HashSet<String>,
    config_hex: Option<String>,
    layers: Vec<Layer>,
    /// Whether this pull wrote a manifest or layer to the store.
    pub downloaded_anything: bool,
}

impl PullProgress {
    /// Starts watching `store`. Blobs already there count as present before the pull.
    pub fn new(store: &Path) -> Self {
        let blobs_before = list_names(&store.join("blobs/sha256"));
        Self {
            store: store.to_path_buf(),
            inspected: blobs_before.clone(),
            blobs_before,
            config_hex: None,
            layers: Vec::new(),
            downloaded_anything: false,
        }
    }

    /// Reads the store once and prints what changed since the last call.
    pub fn poll(&mut self) {
        let blobs = list_names(&self.store.join("blobs/sha256"));
        if self.layers.is_empty() {
            self.find_manifest(&blobs);
        }
        self.read_diff_ids();
        let temp = list_names(&self.store.join("tmp"));
        for index in 0..self.layers.len() {
            let observed = self.observe(&self.layers[index], &blobs, &temp);
            self.report(index, observed);
        }
    }

    /// Prints "Already exists" for `layer_digests` that this watcher never
    /// saw, which happens when the manifest was in the store before the pull.
    pub fn finish(&mut self, layer_digests: &[String]) {
        self.poll();
        let shown: HashSet<String> = self
            .layers
            .iter()
            .map(|layer| layer.digest_hex.clone())
            .collect();
        for digest in layer_digests {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            if !shown.contains(hex) {
                println!("{}: Already exists", &hex[..hex.len().min(12)]);
            }
        }
    }

    /// Registers the layers of the first new blob that parses as an image manifest.
    // NOTE: a pull of another image running at the same time (by the kubelet)
    // can store its manifest first, and then its layers are the ones shown.
    fn find_manifest(&mut self, blobs: &HashSet<String>) {
        for name in blobs {
            if self.inspected.contains(name) {
                continue;
            }
            self.inspected.insert(name.clone());
            let Some(manifest) = read_small_json(&self.store.join("blobs/sha256").join(name))
            else {
                continue;
            };
            let Some(layers) = manifest["layers"].as_array() else {
                continue;
            };
            self.downloaded_anything = true;
            self.config_hex = manifest["config"]["digest"].as_str().map(strip_algorithm);
            for layer in layers {
                let Some(digest) = layer["digest"].as_str() else {
                    continue;
                };
                let digest_hex = strip_algorithm(digest);
                let present = self.blobs_before.contains(&digest_hex);
                let layer = Layer {
                    digest_hex,
                    diff_id_hex: None,
                    size: layer["size"].as_u64().unwrap_or(0),
                    stage: Stage::Waiting,
                    downloaded: 0,
                    reported_at: None,
                };
                if present {
                    println!("{}: Already exists", layer.short_id());
                } else {
                    println!("{}: Pulling fs layer", layer.short_id());
                }
                self.layers.push(Layer {
                    stage: if present {
                        Stage::Complete
                    } else {
                        Stage::Waiting
                    },
                    ..layer
                });
            }
            return;
        }
    }

    /// Maps layers to their diff ids once the image config is stored.
    fn read_diff_ids(&mut self) {
        let Some(config_hex) = &self.config_hex else {
            return;
        };
        if self.layers.iter().all(|layer| layer.diff_id_hex.is_some()) {
            return;
        }
        let Some(config) = read_small_json(&self.store.join("blobs/sha256").join(config_hex))
        else {
            return;
        };
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (layer, diff_id) in self.layers.iter_mut().zip(diff_ids) {
            layer.diff_id_hex = diff_id.as_str().map(strip_algorithm);
        }
    }

    /// Returns the stage and downloaded bytes that the files of `layer` show now.
    fn observe(
        &self,
        layer: &Layer,
        blobs: &HashSet<String>,
        temp: &HashSet<String>,
    ) -> (Stage, u64) {
        if let Some(diff_id) = &layer.diff_id_hex {
            if self.store.join("layers/sha256").join(diff_id).is_dir() {
                return (Stage::Complete, layer.size);
            }
            let unpacking = format!("layer-{diff_id}.");
            if temp.iter().any(|name| name.starts_with(&unpacking)) {
                return (Stage::Extracting, layer.size);
            }
        }
        if blobs.contains(&layer.digest_hex) {
            return (Stage::Downloaded, layer.size);
        }
        let downloading = format!("{}.", layer.digest_hex);
        let partial = temp.iter().find(|name| name.starts_with(&downloading));
        match partial {
            Some(name) => {
                let bytes = std::fs::metadata(self.store.join("tmp").join(name))
                    .map(|metadata| metadata.len())
                    .unwrap_or(layer.downloaded);
                (Stage::Downloading, bytes)
            }
            None => (Stage::Waiting, 0),
        }
    }

    /// Prints the line for a layer that moved forward.
    fn report(&mut self, index: usize, (stage, bytes): (Stage, u64)) {
        let layer = &mut self.layers[index];
        if stage < layer.stage {
            return;
        }
        if stage > Stage::Waiting {
            self.downloaded_anything = true;
        }
        let now = Instant::now();
        if stage == Stage::Downloading {
            let due = layer
                .reported_at
                .is_none_or(|at| now.duration_since(at) >= DOWNLOAD_REPORT_INTERVAL);
            if layer.stage == Stage::Downloading && (bytes == layer.downloaded || !due) {
                return;
            }
            layer.stage = stage;
            layer.downloaded = bytes;
            layer.reported_at = Some(now);
            println!(
                "{}: Downloading {}/{}",
                layer.short_id(),
                human_size(bytes),
                human_size(layer.size)
            );
            return;
        }
        if stage == layer.stage {
            return;
        }
        layer.stage = stage;
        let line = match stage {
            Stage::Downloaded => "Download complete",
            Stage::Extracting => "Extracting",
            Stage::Complete => "Pull complete",
            Stage::Waiting | Stage::Downloading => return,
        };
        println!("{}: {line}", layer.short_id());
    }
}

fn strip_algorithm(digest: &str) -> String {
    digest.strip_prefix("sha256:").unwrap_or(digest).to_string()
}

/// Lists the file names in `dir`, none if it does not exist.
fn list_names(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Parses `path` as JSON unless it is missing, too big for a manifest or config, or not JSON.
fn read_small_json(path: &Path) -> Option<Value> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_MANIFEST_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_manifest(store: &Path, layer_hex: &str, config_hex: &str) {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"digest": format!("sha256:{config_hex}"), "size": 10},
            "layers": [{"digest": format!("sha256:{layer_hex}"), "size": 2000}],
        });
        std::fs::write(
            store.join("blobs/sha256").join("m".repeat(64)),
            manifest.to_string(),
        )
        .expect("write manifest");
    }

    #[test]
    fn layer_moves_through_every_stage() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path();
        for sub in ["blobs/sha256", "tmp", "layers/sha256"] {
            std::fs::create_dir_all(store.join(sub)).expect("create store dirs");
        }
        let mut progress = PullProgress::new(store);
        let layer = "a".repeat(64);
        let config = "c".repeat(64);
        let diff = "d".repeat(64);
        write_manifest(store, &layer, &config);
        progress.poll();
        assert_eq!(progress.layers.len(), 1);
        assert_eq!(progress.layers[0].stage, Stage::Waiting);

        std::fs::write(
            store.join("blobs/sha256").join(&config),
            serde_json::json!({"rootfs": {"diff_ids": [format!("sha256:{diff}")]}}).to_string(),
        )
        .expect("write config");
        let partial = store.join("tmp").join(format!("{layer}.1.0"));
        std::fs::write(&partial, vec![0u8; 700]).expect("write partial layer");
        progress.poll();
        assert_eq!(progress.layers[0].stage, Stage::Downloading);
        assert_eq!(progress.layers[0].downloaded, 700);

        std::fs::rename(&partial, store.join("blobs/sha256").join(&layer)).expect("rename");
        progress.poll();
        assert_eq!(progress.layers[0].stage, Stage::Downloaded);

        std::fs::create_dir(store.join("layers/sha256").join(&diff)).expect("unpacked layer");
        progress.poll();
        assert_eq!(progress.layers[0].stage, Stage::Complete);
        assert!(progress.downloaded_anything);
    }

    #[test]
    fn layers_present_before_pull_already_exist() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path();
        std::fs::create_dir_all(store.join("blobs/sha256")).expect("create blobs");
        let layer = "b".repeat(64);
        std::fs::write(store.join("blobs/sha256").join(&layer), b"layer").expect("write layer");
        let mut progress = PullProgress::new(store);
        write_manifest(store, &layer, &"c".repeat(64));
        progress.poll();
        assert_eq!(progress.layers[0].stage, Stage::Complete);
    }
}
