//! CNI: the shim runs the plugin binaries itself, chaining the plugins of a
//! network configuration list through `prevResult` as libcni does.

use std::path::{Path, PathBuf};

use k8s_cri::v1::PortMapping;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// Interface name of the pod's network device.
const POD_INTERFACE: &str = "eth0";

#[derive(Debug, thiserror::Error)]
pub enum CniError {
    #[error("failed to read CNI configuration {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("no CNI network configuration in {0}")]
    NoConfig(PathBuf),
    #[error("CNI plugin {plugin} failed to {command}: {message}")]
    Plugin {
        plugin: String,
        command: &'static str,
        message: String,
    },
    #[error("CNI result has no IP address: {0}")]
    NoAddress(String),
}

/// A parsed network configuration list.
#[derive(Clone, Debug)]
pub struct NetworkList {
    pub name: String,
    pub cni_version: String,
    pub plugins: Vec<Value>,
}

/// Settings of the default bridge network.
pub struct DefaultNetwork<'a> {
    pub bridge: &'a str,
    pub subnet: &'a str,
    pub ipam_dir: &'a Path,
}

/// Writes `10-skiff.conflist` into `conf_dir` unless it already contains a configuration.
pub fn ensure_default(conf_dir: &Path, network: &DefaultNetwork) -> Result<(), CniError> {
    let config_error = |error: std::io::Error| CniError::Config {
        path: conf_dir.to_path_buf(),
        message: error.to_string(),
    };
    std::fs::create_dir_all(conf_dir).map_err(config_error)?;
    if !config_files(conf_dir).map_err(config_error)?.is_empty() {
        return Ok(());
    }
    let list = json!({
        "cniVersion": "1.0.0",
        "name": "skiff",
        "plugins": [
            {
                "type": "bridge",
                "bridge": network.bridge,
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": network.subnet}]],
                    "dataDir": network.ipam_dir,
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    let text = serde_json::to_string_pretty(&list).unwrap_or_default();
    std::fs::write(conf_dir.join("10-skiff.conflist"), text).map_err(config_error)
}

fn config_files(conf_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(conf_dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            matches!(
                path.extension().and_then(|ext| ext.to_str()),
                Some("conflist" | "conf" | "json")
            )
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Loads the first configuration (by file name) of `conf_dir`, as libcni does.
pub fn load(conf_dir: &Path) -> Result<NetworkList, CniError> {
    let files = config_files(conf_dir).map_err(|error| CniError::Config {
        path: conf_dir.to_path_buf(),
        message: error.to_string(),
    })?;
    let path = files
        .first()
        .ok_or_else(|| CniError::NoConfig(conf_dir.to_path_buf()))?;
    let config_error = |message: String| CniError::Config {
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|error| config_error(error.to_string()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|error| config_error(error.to_string()))?;
    let cni_version = value["cniVersion"].as_str().unwrap_or("0.4.0").to_string();
    let name = value["name"].as_str().unwrap_or("cni").to_string();
    let plugins = match value.get("plugins") {
        Some(Value::Array(plugins)) => plugins.clone(),
        Some(_) => return Err(config_error("\"plugins\" must be an array".to_string())),
        None => vec![value.clone()],
    };
    Ok(NetworkList {
        name,
        cni_version,
        plugins,
    })
}

/// One attachment of a sandbox to the network.
pub struct Attachment<'a> {
    pub bin_dir: &'a Path,
    pub container_id: &'a str,
    pub netns: &'a Path,
    pub port_mappings: &'a [PortMapping],
}

impl Attachment<'_> {
    /// Sets up loopback and the network list; returns the pod IP and the final result.
    pub async fn add(&self, list: &NetworkList) -> Result<(String, Value), CniError> {
        let loopback =
            json!({"cniVersion": list.cni_version, "name": "cni-loopback", "type": "loopback"});
        self.exec("ADD", "lo", &loopback).await?;
        let mut previous: Option<Value> = None;
        for plugin in &list.plugins {
            let config = self.plugin_config(list, plugin, previous.as_ref());
            previous = Some(self.exec("ADD", POD_INTERFACE, &config).await?);
        }
        let result = previous.unwrap_or(Value::Null);
        let ip = first_ip(&result).ok_or_else(|| CniError::NoAddress(result.to_string()))?;
        Ok((ip, result))
    }

    /// Tears down the network list in reverse order, then loopback.
    /// Every plugin runs even when an earlier one failed; the first error is returned.
    pub async fn del(&self, list: &NetworkList, result: Option<&Value>) -> Result<(), CniError> {
        let mut first_error = None;
        for plugin in list.plugins.iter().rev() {
            let config = self.plugin_config(list, plugin, result);
            if let Err(error) = self.exec("DEL", POD_INTERFACE, &config).await {
                first_error.get_or_insert(error);
            }
        }
        let loopback =
            json!({"cniVersion": list.cni_version, "name": "cni-loopback", "type": "loopback"});
        if let Err(error) = self.exec("DEL", "lo", &loopback).await {
            first_error.get_or_insert(error);
        }
        first_error.map_or(Ok(()), Err)
    }

    fn plugin_config(&self, list: &NetworkList, plugin: &Value, previous: Option<&Value>) -> Value {
        let mut config = plugin.clone();
        config["name"] = json!(list.name);
        config["cniVersion"] = json!(list.cni_version);
        if let Some(previous) = previous {
            config["prevResult"] = previous.clone();
        }
        if plugin["capabilities"]["portMappings"] == json!(true) {
            config["runtimeConfig"] = json!({"portMappings": self.port_mappings()});
        }
        config
    }

    fn port_mappings(&self) -> Vec<Value> {
        self.port_mappings
            .iter()
            .filter(|mapping| mapping.host_port > 0)
            .map(|mapping| {
                let protocol = match mapping.protocol {
                    1 => "udp",
                    2 => "sctp",
                    _ => "tcp",
                };
                let mut entry = json!({
                    "hostPort": mapping.host_port,
                    "containerPort": mapping.container_port,
                    "protocol": protocol,
                });
                if !mapping.host_ip.is_empty() {
                    entry["hostIP"] = json!(mapping.host_ip);
                }
                entry
            })
            .collect()
    }

    async fn exec(
        &self,
        command: &'static str,
        ifname: &str,
        config: &Value,
    ) -> Result<Value, CniError> {
        let plugin = config["type"].as_str().unwrap_or_default().to_string();
        let plugin_error = |message: String| CniError::Plugin {
            plugin: plugin.clone(),
            command,
            message,
        };
        let mut child = tokio::process::Command::new(self.bin_dir.join(&plugin))
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", self.container_id)
            .env("CNI_NETNS", self.netns)
            .env("CNI_IFNAME", ifname)
            .env("CNI_PATH", self.bin_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|error| plugin_error(error.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            let bytes = serde_json::to_vec(config).unwrap_or_default();
            stdin
                .write_all(&bytes)
                .await
                .map_err(|error| plugin_error(error.to_string()))?;
        }
        let output = child
            .wait_with_output()
            .await
            .map_err(|error| plugin_error(error.to_string()))?;
        if !output.status.success() {
            let stdout: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
            let message = stdout["msg"]
                .as_str()
                .map(|msg| format!("{msg} {}", stdout["details"].as_str().unwrap_or_default()))
                .unwrap_or_else(|| String::from_utf8_lossy(&output.stderr).to_string());
            return Err(plugin_error(message.trim().to_string()));
        }
        if output.stdout.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&output.stdout).map_err(|error| plugin_error(error.to_string()))
    }
}

/// Returns the first IPv4 address of a CNI result, without its prefix length.
fn first_ip(result: &Value) -> Option<String> {
    let ips = result["ips"].as_array()?;
    let addresses = ips.iter().filter_map(|ip| ip["address"].as_str());
    let mut fallback = None;
    for address in addresses {
        let ip = address.split('/').next()?.to_string();
        if !ip.contains(':') {
            return Some(ip);
        }
        fallback.get_or_insert(ip);
    }
    fallback
}
