//! RunPodSandbox, StopPodSandbox, RemovePodSandbox and the sandbox queries.

use std::path::PathBuf;

use k8s_cri::v1::{
    LinuxPodSandboxStatus, Namespace, NamespaceOption, PodSandbox, PodSandboxConfig,
    PodSandboxFilter, PodSandboxNetworkStatus, PodSandboxStatus,
};

use super::{Runtime, ServiceError, labels_match};
use crate::container::spec::sandbox_hostname;
use crate::sandbox::{cni, files, namespaces};
use crate::state::{SandboxRecord, SandboxState, new_id, now_nanos};

impl Runtime {
    /// Creates the sandbox's namespaces, cgroup parent and network.
    pub async fn run_pod_sandbox(
        &self,
        config: PodSandboxConfig,
        runtime_handler: String,
    ) -> Result<String, ServiceError> {
        let metadata = config.metadata.clone().ok_or(ServiceError::Invalid {
            field: "config.metadata",
            message: "a pod sandbox needs metadata with name, uid and namespace".to_string(),
        })?;
        if metadata.name.is_empty() {
            return Err(ServiceError::Invalid {
                field: "config.metadata.name",
                message: "must not be empty".to_string(),
            });
        }
        self.reject_duplicate_sandbox(&config)?;
        let id = new_id();
        let _guard = self.lock(&id).await;
        let dir = self.layout.sandbox_dir(&id);
        std::fs::create_dir_all(&dir).map_err(|source| ServiceError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let cgroup_parent = match config
            .linux
            .as_ref()
            .map(|linux| linux.cgroup_parent.as_str())
        {
            Some(parent) if !parent.is_empty() => {
                if !parent.starts_with('/') {
                    return Err(ServiceError::Invalid {
                        field: "config.linux.cgroup_parent",
                        message: format!(
                            "{parent:?} must be an absolute cgroupfs path such as /kubepods/pod<uid>"
                        ),
                    });
                }
                parent.to_string()
            }
            _ => format!(
                "{}/pod-{}",
                self.config.cgroup_parent.trim_end_matches('/'),
                &id[..12]
            ),
        };
        let mut record = SandboxRecord {
            id: id.clone(),
            runtime_handler,
            created_at: now_nanos(),
            state: SandboxState::NotReady,
            netns: PathBuf::from("/var/run/netns")
                .join(format!("{}{}", self.config.netns_prefix, id)),
            ipc_ns: dir.join("ipc"),
            uts_ns: dir.join("uts"),
            created_cgroup: !self.cgroups.exists(&cgroup_parent),
            cgroup_parent,
            ip: None,
            cni_result: None,
            network_attached: false,
            config,
        };
        // The record exists before any resource does, so a crash midway
        // leaves a sandbox that Stop and Remove can clean up.
        self.save_sandbox(&record)?;
        if let Err(error) = self.set_up_sandbox(&mut record).await {
            tracing::warn!(sandbox = %id, %error, "sandbox setup failed, cleaning up");
            self.tear_down_network(&mut record).await;
            self.release_sandbox_resources(&record);
            let _ = std::fs::remove_dir_all(&dir);
            self.sandboxes
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&id);
            return Err(error);
        }
        tracing::info!(sandbox = %id, pod = %metadata.name, namespace = %metadata.namespace, ip = ?record.ip, "sandbox ready");
        Ok(id)
    }

    fn reject_duplicate_sandbox(&self, config: &PodSandboxConfig) -> Result<(), ServiceError> {
        let sandboxes = self
            .sandboxes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let duplicate = sandboxes
            .values()
            .find(|record| record.config.metadata == config.metadata);
        match duplicate {
            Some(existing) => Err(ServiceError::AlreadyExists(format!(
                "pod sandbox name {:?} attempt {} is already used by {}",
                config
                    .metadata
                    .as_ref()
                    .map(|metadata| metadata.name.as_str())
                    .unwrap_or_default(),
                config
                    .metadata
                    .as_ref()
                    .map_or(0, |metadata| metadata.attempt),
                existing.id
            ))),
            None => Ok(()),
        }
    }

    async fn set_up_sandbox(&self, record: &mut SandboxRecord) -> Result<(), ServiceError> {
        let hostname = sandbox_hostname(record);
        namespaces::create(&record.netns, &record.ipc_ns, &record.uts_ns, &hostname).await?;
        if record.created_cgroup {
            self.cgroups
                .create(&record.cgroup_parent)
                .map_err(|source| ServiceError::Io {
                    action: "create cgroup",
                    path: PathBuf::from(&record.cgroup_parent),
                    source,
                })?;
        }
        let network = self.network()?;
        let attachment = cni::Attachment {
            bin_dir: &self.config.cni_bin_dir,
            container_id: &record.id,
            netns: &record.netns,
            port_mappings: &record.config.port_mappings,
        };
        // Recorded before ADD so a failed ADD is still undone by DEL.
        record.network_attached = true;
        self.save_sandbox(record)?;
        let (ip, result) = attachment.add(&network).await?;
        record.ip = Some(ip);
        record.cni_result = Some(result);
        let dir = self.layout.sandbox_dir(&record.id);
        files::write(
            &dir,
            &hostname,
            record.ip.as_deref(),
            record.config.dns_config.as_ref(),
        )
        .map_err(|source| ServiceError::Io {
            action: "write",
            path: dir.clone(),
            source,
        })?;
        record.state = SandboxState::Ready;
        self.save_sandbox(record)
    }

    /// The CNI network list, writing the default one first if none exists.
    pub(super) fn network(&self) -> Result<cni::NetworkList, ServiceError> {
        let ipam_dir = self.layout.cni_ipam_dir();
        let default = cni::DefaultNetwork {
            bridge: &self.config.bridge,
            subnet: &self.config.pod_cidr,
            ipam_dir: &ipam_dir,
        };
        cni::ensure_default(&self.config.cni_conf_dir, &default)?;
        Ok(cni::load(&self.config.cni_conf_dir)?)
    }

    async fn tear_down_network(&self, record: &mut SandboxRecord) {
        if !record.network_attached {
            return;
        }
        let network = match self.network() {
            Ok(network) => network,
            Err(error) => {
                tracing::warn!(sandbox = %record.id, %error, "cannot load CNI config for DEL");
                return;
            }
        };
        let attachment = cni::Attachment {
            bin_dir: &self.config.cni_bin_dir,
            container_id: &record.id,
            netns: &record.netns,
            port_mappings: &record.config.port_mappings,
        };
        match attachment.del(&network, record.cni_result.as_ref()).await {
            Ok(()) => record.network_attached = false,
            Err(error) => tracing::warn!(sandbox = %record.id, %error, "CNI DEL failed"),
        }
    }

    fn release_sandbox_resources(&self, record: &SandboxRecord) {
        namespaces::remove(&[&record.netns, &record.ipc_ns, &record.uts_ns]);
        if record.created_cgroup
            && let Err(error) = self.cgroups.remove(&record.cgroup_parent)
        {
            tracing::warn!(sandbox = %record.id, cgroup = %record.cgroup_parent, %error, "failed to remove pod cgroup");
        }
    }

    /// Stops every container, detaches the network and drops the network
    /// namespace. Idempotent.
    pub async fn stop_pod_sandbox(&self, id: &str) -> Result<(), ServiceError> {
        let mut record = match self.sandbox(id) {
            Ok(record) => record,
            Err(ServiceError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        for container in self.containers_of(&record.id) {
            self.stop_container(&container.id, 0).await?;
        }
        let _guard = self.lock(&record.id).await;
        self.tear_down_network(&mut record).await;
        namespaces::remove(&[&record.netns]);
        record.state = SandboxState::NotReady;
        self.save_sandbox(&record)?;
        tracing::info!(sandbox = %record.id, "sandbox stopped");
        Ok(())
    }

    /// Removes the sandbox, its containers and every resource. Idempotent.
    pub async fn remove_pod_sandbox(&self, id: &str) -> Result<(), ServiceError> {
        let record = match self.sandbox(id) {
            Ok(record) => record,
            Err(ServiceError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        self.stop_pod_sandbox(&record.id).await?;
        for container in self.containers_of(&record.id) {
            self.remove_container(&container.id).await?;
        }
        let _guard = self.lock(&record.id).await;
        self.release_sandbox_resources(&record);
        let dir = self.layout.sandbox_dir(&record.id);
        if let Err(source) = std::fs::remove_dir_all(&dir)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(ServiceError::Io {
                action: "remove",
                path: dir,
                source,
            });
        }
        self.sandboxes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&record.id);
        tracing::info!(sandbox = %record.id, "sandbox removed");
        Ok(())
    }

    pub fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus, ServiceError> {
        let record = self.sandbox(id)?;
        let namespace_options = record
            .config
            .linux
            .as_ref()
            .and_then(|linux| linux.security_context.as_ref())
            .and_then(|context| context.namespace_options.clone())
            .unwrap_or_else(NamespaceOption::default);
        Ok(PodSandboxStatus {
            id: record.id.clone(),
            metadata: record.config.metadata.clone(),
            state: sandbox_state(&record) as i32,
            created_at: record.created_at,
            network: Some(PodSandboxNetworkStatus {
                ip: record.ip.clone().unwrap_or_default(),
                additional_ips: Vec::new(),
            }),
            linux: Some(LinuxPodSandboxStatus {
                namespaces: Some(Namespace {
                    options: Some(namespace_options),
                }),
            }),
            labels: record.config.labels.clone(),
            annotations: record.config.annotations.clone(),
            runtime_handler: record.runtime_handler.clone(),
        })
    }

    pub fn list_pod_sandbox(&self, filter: Option<PodSandboxFilter>) -> Vec<PodSandbox> {
        let sandboxes = self
            .sandboxes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let filter = filter.unwrap_or_default();
        sandboxes
            .values()
            .filter(|record| filter.id.is_empty() || record.id.starts_with(&filter.id))
            .filter(|record| {
                filter
                    .state
                    .as_ref()
                    .is_none_or(|state| state.state == sandbox_state(record) as i32)
            })
            .filter(|record| labels_match(&record.config.labels, &filter.label_selector))
            .map(|record| PodSandbox {
                id: record.id.clone(),
                metadata: record.config.metadata.clone(),
                state: sandbox_state(record) as i32,
                created_at: record.created_at,
                labels: record.config.labels.clone(),
                annotations: record.config.annotations.clone(),
                runtime_handler: record.runtime_handler.clone(),
            })
            .collect()
    }
}

fn sandbox_state(record: &SandboxRecord) -> k8s_cri::v1::PodSandboxState {
    match record.state {
        SandboxState::Ready => k8s_cri::v1::PodSandboxState::SandboxReady,
        SandboxState::NotReady => k8s_cri::v1::PodSandboxState::SandboxNotready,
    }
}

impl Runtime {
    /// Whether pods can be networked: a loadable CNI configuration whose
    /// plugins are all present.
    pub fn network_ready(&self) -> Result<(), String> {
        let network = self.network().map_err(|error| error.to_string())?;
        for plugin in &network.plugins {
            let name = plugin["type"].as_str().unwrap_or_default();
            if !self.config.cni_bin_dir.join(name).exists() {
                return Err(format!(
                    "CNI plugin {name:?} not found in {}",
                    self.config.cni_bin_dir.display()
                ));
            }
        }
        Ok(())
    }
}
