//! Builds the one kind of API client every component and verb uses.

use std::path::Path;

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Creates a client from a kubeconfig file, or from `$KUBECONFIG` and the
/// default locations when `path` is `None`.
pub async fn from_kubeconfig(path: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = load_config(path).await?;
    kube::Client::try_from(config).context("failed to build the API client")
}

/// Loads client settings from a kubeconfig file, or from `$KUBECONFIG` and
/// the default locations when `path` is `None`.
pub async fn load_config(path: Option<&Path>) -> anyhow::Result<kube::Config> {
    let config = match path {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .with_context(|| format!("failed to read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("invalid kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig found: pass --kubeconfig or set KUBECONFIG")?,
    };
    Ok(config)
}

/// Creates a client from a kubeconfig file with its server URL replaced.
pub async fn from_kubeconfig_with_server(
    path: &Path,
    server: &str,
) -> anyhow::Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("failed to read kubeconfig {}", path.display()))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .with_context(|| format!("invalid kubeconfig {}", path.display()))?;
    config.cluster_url = server
        .parse()
        .with_context(|| format!("invalid server URL {server:?}"))?;
    kube::Client::try_from(config).context("failed to build the API client")
}
