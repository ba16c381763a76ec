//! `skiff kubelet`: the node agent alone, against a running CRI runtime.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Taint;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the apiserver to use; defaults to $KUBECONFIG.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Name to register the node under.
    #[arg(long)]
    node_name: String,
    /// Unix socket of the CRI runtime.
    #[arg(long, default_value = "/run/skiff/shim.sock")]
    cri_socket: PathBuf,
    /// Directory for pod volumes, logs and kubelet state.
    #[arg(long, default_value = "/var/lib/skiff/kubelet")]
    root_dir: PathBuf,
    /// Address the node API (logs, exec) listens on.
    #[arg(long, default_value = "127.0.0.1")]
    address: IpAddr,
    /// Port of the node API; 0 picks a free one.
    #[arg(long, default_value_t = 10250)]
    port: u16,
    #[command(flatten)]
    node: Box<NodeArgs>,
}

/// Node identity and resource settings.
#[derive(clap::Args)]
pub struct NodeArgs {
    /// The node's InternalIP; detected from the default route when unset.
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// Extra node labels, as key=value pairs separated by commas.
    #[arg(long, default_value = "")]
    node_labels: String,
    /// Taints to register with, as key[=value]:Effect separated by commas.
    #[arg(long, default_value = "")]
    register_with_taints: String,
    /// Resources reserved for Kubernetes daemons, such as cpu=100m,memory=100Mi.
    #[arg(long, default_value = "")]
    kube_reserved: String,
    /// Resources reserved for the operating system, such as cpu=100m,memory=100Mi.
    #[arg(long, default_value = "")]
    system_reserved: String,
    /// Pod CIDR recorded in the node spec.
    #[arg(long)]
    pod_cidr: Option<String>,
    /// Most pods the node runs.
    #[arg(long, default_value_t = 110)]
    max_pods: u32,
    /// Absolute cgroup under which every pod gets its own cgroup.
    #[arg(long, default_value = "/kubepods")]
    cgroup_parent: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::client::from_kubeconfig(args.kubeconfig.as_deref()).await?;
    let mut config = skiff_kubelet::Config::new(args.node_name, args.cri_socket, args.root_dir);
    config.address = args.address;
    config.port = args.port;
    config.node_ip = args.node.node_ip;
    config.node_labels = pairs(&args.node.node_labels).context("invalid --node-labels")?;
    config.taints =
        taints(&args.node.register_with_taints).context("invalid --register-with-taints")?;
    config.reserved = reserved(&args.node.kube_reserved, &args.node.system_reserved)?;
    config.pod_cidr = args.node.pod_cidr;
    config.max_pods = args.node.max_pods;
    if !args.node.cgroup_parent.starts_with('/') {
        bail!("--cgroup-parent must be an absolute cgroup path such as /kubepods");
    }
    config.cgroup_parent = args.node.cgroup_parent;
    skiff_kubelet::run(client, config, super::signals::shutdown_token()).await?;
    Ok(())
}

/// Parses `k=v,k2=v2`.
fn pairs(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            bail!("{item:?} is not of the form key=value");
        };
        out.insert(key.trim().to_string(), value.trim().to_string());
    }
    Ok(out)
}

/// Parses `key=value:Effect,key:Effect`.
fn taints(text: &str) -> anyhow::Result<Vec<Taint>> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((kv, effect)) = item.rsplit_once(':') else {
            bail!("{item:?} is not of the form key[=value]:Effect");
        };
        if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            bail!(
                "invalid taint effect {effect:?}: must be NoSchedule, PreferNoSchedule or NoExecute"
            );
        }
        let (key, value) = match kv.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (kv, None),
        };
        out.push(Taint {
            key: key.to_string(),
            value,
            effect: effect.to_string(),
            time_added: None,
        });
    }
    Ok(out)
}

/// Sums kube-reserved and system-reserved per resource.
fn reserved(kube: &str, system: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let kube = pairs(kube).context("invalid --kube-reserved")?;
    let system = pairs(system).context("invalid --system-reserved")?;
    let mut out = BTreeMap::new();
    for (name, value) in kube.iter().chain(system.iter()) {
        let milli = skiff_machinery::quantity::parse_milli(value)
            .with_context(|| format!("invalid reservation {name}={value}"))?;
        let total = out.get(name).map_or(0, |(m, _): &(i128, String)| *m) + milli;
        out.insert(name.clone(), (total, String::new()));
    }
    Ok(out
        .into_iter()
        .map(|(k, (m, _))| (k, format!("{m}m")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        assert_eq!(pairs("a=1, b=2").unwrap().len(), 2);
        assert!(pairs("a").is_err());
        let t = taints("dedicated=gpu:NoSchedule,spot:NoExecute").unwrap();
        assert_eq!(t[0].value.as_deref(), Some("gpu"));
        assert_eq!(t[1].key, "spot");
        assert!(taints("x:Sometimes").is_err());
        let r = reserved("cpu=100m,memory=1Mi", "cpu=0.1").unwrap();
        assert_eq!(r["cpu"], "200m");
    }
}
