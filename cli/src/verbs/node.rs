//! Finding the local node's CRI runtime for the verbs that act on the node
//! itself rather than through the apiserver (`skiff pull`, `skiff images`).

use std::path::{Path, PathBuf};

use skiff_kubelet::cri::Runtime;

/// Data directories that `skiff server` and `skiff agent` use by default,
/// in the order they are tried.
const DEFAULT_DATA_DIRS: &[&str] = &["/var/lib/skiff", "/var/lib/skiff-agent"];

/// The node a verb acts on.
#[derive(clap::Args, Clone, Debug)]
pub struct NodeTarget {
    /// Data directory of the `skiff server` or `skiff agent` whose node to
    /// use [default: /var/lib/skiff, else /var/lib/skiff-agent].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl NodeTarget {
    /// Returns the data directory that the node's runtime lives in.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        DEFAULT_DATA_DIRS
            .iter()
            .map(PathBuf::from)
            .find(|dir| crate::commands::server::shim_socket(dir).exists())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIRS[0]))
    }

    /// Connects to the runtime of the node, failing with a plain message
    /// when no node runs there.
    pub async fn connect(&self) -> anyhow::Result<Runtime> {
        let data_dir = self.data_dir();
        let socket = crate::commands::server::shim_socket(&data_dir);
        if !socket.exists() {
            anyhow::bail!(
                "no node is running: the runtime socket {} does not exist\n\
                 start one with `skiff server`, or pass --data-dir of a running node",
                socket.display()
            );
        }
        Runtime::connect(&socket).await.map_err(|error| {
            anyhow::anyhow!(
                "no node is running: {error}\n\
                 start one with `skiff server`, or pass --data-dir of a running node"
            )
        })
    }
}

/// Returns the image store directory of the runtime under `data_dir`.
pub fn image_store(data_dir: &Path) -> PathBuf {
    data_dir.join("shim").join("images")
}

/// Formats a byte count the way docker does: decimal units, three significant digits.
pub fn human_size(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let rounded = format!("{value:.digits$}");
    let trimmed = if rounded.contains('.') {
        rounded.trim_end_matches('0').trim_end_matches('.')
    } else {
        rounded.as_str()
    };
    format!("{trimmed}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn human_size_uses_decimal_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_000), "1kB");
        assert_eq!(human_size(1_234_567), "1.23MB");
        assert_eq!(human_size(45_600_000), "45.6MB");
        assert_eq!(human_size(123_400_000), "123MB");
    }
}
