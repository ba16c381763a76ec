//! The kubectl-like and docker-like verbs of the `skiff` CLI. Each talks to
//! the apiserver through kube-rs, like any other client, except `pull` and
//! `images`, which talk to the local node's CRI runtime.

pub mod apply;
pub mod delete;
pub mod describe;
pub mod exec;
pub mod get;
pub mod images;
pub mod lifecycle;
pub mod logs;
pub mod manifest;
pub mod node;
pub mod ps;
pub mod pull;
pub mod pull_progress;
pub mod resolve;
pub mod rollout;
pub mod run;
pub mod scale;
pub mod table;
pub mod terminal;

use std::path::PathBuf;

use anyhow::Context;

/// The cluster the verbs act on: flags shared by every verb.
#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// Kubeconfig to use; defaults to $KUBECONFIG, then the local server's
    /// /var/lib/skiff/kubeconfig, then ~/.kube/config.
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace to act in; defaults to the kubeconfig's, else `default`.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
}

/// The default kubeconfig that `skiff server` writes.
const SERVER_KUBECONFIG: &str = "/var/lib/skiff/kubeconfig";

impl Target {
    /// Connects to the apiserver and checks that it responds.
    pub async fn connect(&self) -> anyhow::Result<Session> {
        let path = self.kubeconfig.clone().or_else(|| {
            let from_env = std::env::var_os("KUBECONFIG").is_some();
            let server = PathBuf::from(SERVER_KUBECONFIG);
            (!from_env && server.exists()).then_some(server)
        });
        let config = match &path {
            Some(path) if !path.exists() => anyhow::bail!(
                "kubeconfig {} not found: start a server with `skiff server` or pass --kubeconfig",
                path.display()
            ),
            path => crate::client::load_config(path.as_deref()).await?,
        };
        let url = config.cluster_url.clone();
        let client = kube::Client::try_from(config).context("failed to build the API client")?;
        if let Err(error) = client.apiserver_version().await {
            anyhow::bail!(
                "no apiserver responds at {url}: {error}\nstart one with `skiff server`, or pass --kubeconfig"
            );
        }
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        Ok(Session { client, namespace })
    }
}

/// A connected client and the namespace the verb acts in.
pub struct Session {
    pub client: kube::Client,
    pub namespace: String,
}

impl Session {
    /// Sends a GET and returns the body as JSON, with `accept` as the Accept header.
    pub async fn get_json(&self, path: &str, accept: &str) -> anyhow::Result<serde_json::Value> {
        let request = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())
            .context("invalid request")?;
        let text = self.client.request_text(request).await.map_err(explain)?;
        serde_json::from_str(&text).with_context(|| format!("invalid JSON from GET {path}"))
    }
}

/// Turns an API error into the message kubectl would print.
pub fn explain(error: kube::Error) -> anyhow::Error {
    match error {
        kube::Error::Api(status) => {
            anyhow::anyhow!("Error from server ({}): {}", status.reason, status.message)
        }
        other => anyhow::Error::from(other),
    }
}
