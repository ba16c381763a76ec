//! Container lifecycle: create, start, stop, remove, update and queries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_cri::v1::{
    Container, ContainerConfig, ContainerFilter, ContainerResources, ContainerState,
    ContainerStatus, ImageSpec, LinuxContainerResources,
};

use super::{Runtime, ServiceError, labels_match};
use crate::container::{rootfs, spec};
use crate::state::{ContainerRecord, ExitRecord, SandboxState, new_id, now_nanos};

/// How long StopContainer waits for the exit after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

impl Runtime {
    pub async fn create_container(
        &self,
        sandbox_id: &str,
        config: ContainerConfig,
    ) -> Result<String, ServiceError> {
        let sandbox = self.sandbox(sandbox_id)?;
        if sandbox.state != SandboxState::Ready {
            return Err(ServiceError::FailedPrecondition(format!(
                "pod sandbox {} is not ready, so no container can be created in it",
                sandbox.id
            )));
        }
        let metadata = config.metadata.clone().ok_or(ServiceError::Invalid {
            field: "config.metadata",
            message: "a container needs metadata with a name".to_string(),
        })?;
        if metadata.name.is_empty() {
            return Err(ServiceError::Invalid {
                field: "config.metadata.name",
                message: "must not be empty".to_string(),
            });
        }
        let image_ref = config
            .image
            .as_ref()
            .map(|image| image.image.clone())
            .unwrap_or_default();
        if image_ref.is_empty() {
            return Err(ServiceError::Invalid {
                field: "config.image.image",
                message: "must name an image".to_string(),
            });
        }
        self.reject_duplicate_container(&sandbox.id, &config)?;
        let image = self.image_rootfs(&image_ref)?;
        let id = new_id();
        let _guard = self.lock(&id).await;
        let dir = self.layout.container_dir(&id);
        let bundle = dir.join("bundle");
        let log_path = log_path(&sandbox.config.log_directory, &config.log_path, &dir);
        let record = ContainerRecord {
            id: id.clone(),
            sandbox_id: sandbox.id.clone(),
            image_id: image.id.clone(),
            created_at: now_nanos(),
            started_at: None,
            log_path,
            cgroup_path: format!("{}/{}", sandbox.cgroup_parent.trim_end_matches('/'), id),
            stop_signal: image
                .config
                .stop_signal
                .clone()
                .unwrap_or_else(|| "SIGTERM".to_string()),
            start_error: None,
            config,
        };
        std::fs::create_dir_all(&bundle).map_err(|source| ServiceError::Io {
            action: "create",
            path: bundle.clone(),
            source,
        })?;
        self.save_container(&record)?;
        self.images.acquire(&image.id, &id);
        if let Err(error) = self
            .build_and_create(&record, &sandbox, &image, &bundle)
            .await
        {
            tracing::warn!(container = %id, %error, "container creation failed, cleaning up");
            self.discard_container(&record).await;
            return Err(error);
        }
        tracing::info!(container = %id, sandbox = %sandbox.id, name = %metadata.name, image = %image_ref, "container created");
        Ok(id)
    }

    fn reject_duplicate_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
    ) -> Result<(), ServiceError> {
        let duplicate = self
            .containers_of(sandbox_id)
            .into_iter()
            .find(|record| record.config.metadata == config.metadata);
        match duplicate {
            Some(existing) => Err(ServiceError::AlreadyExists(format!(
                "container name {:?} attempt {} is already used by {} in pod sandbox {sandbox_id}",
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

    async fn build_and_create(
        &self,
        record: &ContainerRecord,
        sandbox: &crate::state::SandboxRecord,
        image: &crate::image::ImageRootfs,
        bundle: &Path,
    ) -> Result<(), ServiceError> {
        let dir = self.layout.container_dir(&record.id);
        let rootfs_path = bundle.join("rootfs");
        rootfs::mount(&image.layers, &dir, &rootfs_path)?;
        let spec = spec::generate(&spec::SpecInput {
            config: &record.config,
            sandbox,
            sandbox_dir: &self.layout.sandbox_dir(&sandbox.id),
            image: &image.config,
            rootfs: &rootfs_path,
            cgroup_path: &record.cgroup_path,
            swap_accounting: self.cgroups.has_swap_accounting(&sandbox.cgroup_parent),
        })?;
        crate::state::write_json(&bundle.join("config.json"), &spec)?;
        self.spawn_monitor(record, bundle).await
    }

    /// Deletes everything of a container that failed to be created.
    async fn discard_container(&self, record: &ContainerRecord) {
        let _ = self.runc.delete(&record.id).await;
        let dir = self.layout.container_dir(&record.id);
        rootfs::unmount(&dir.join("bundle").join("rootfs"));
        let _ = std::fs::remove_dir_all(&dir);
        self.images.release(&record.image_id, &record.id);
        self.containers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&record.id);
    }

    pub async fn start_container(&self, id: &str) -> Result<(), ServiceError> {
        let mut record = self.container(id)?;
        let _guard = self.lock(&record.id).await;
        if record.started_at.is_some() || self.exit_record(&record).is_some() {
            return Err(ServiceError::FailedPrecondition(format!(
                "container {} is not in the created state",
                record.id
            )));
        }
        // Taken before `runc start`, because a short-lived container may
        // exit (and record its finish time) before runc returns.
        let started_at = now_nanos();
        match self.runc.start(&record.id).await {
            Ok(()) => {
                record.started_at = Some(started_at);
                self.save_container(&record)?;
                tracing::info!(container = %record.id, "container started");
                Ok(())
            }
            Err(error) => {
                record.start_error = Some(error.to_string());
                self.save_container(&record)?;
                Err(error.into())
            }
        }
    }

    /// Sends the stop signal, waits up to `timeout` seconds, then SIGKILL.
    /// Idempotent for stopped containers.
    pub async fn stop_container(&self, id: &str, timeout: i64) -> Result<(), ServiceError> {
        let record = self.container(id)?;
        let _guard = self.lock(&record.id).await;
        if self.exit_record(&record).is_some() {
            return Ok(());
        }
        if timeout > 0 && record.started_at.is_some() {
            self.runc.kill(&record.id, &record.stop_signal).await?;
            let grace = Duration::from_secs(timeout.unsigned_abs());
            if self.wait_for_exit(&record, grace).await.is_some() {
                tracing::info!(container = %record.id, "container stopped");
                return Ok(());
            }
        }
        self.runc.kill(&record.id, "SIGKILL").await?;
        if self.wait_for_exit(&record, KILL_WAIT).await.is_none() {
            return Err(ServiceError::Timeout(format!(
                "container {} did not exit within {KILL_WAIT:?} of SIGKILL",
                record.id
            )));
        }
        tracing::info!(container = %record.id, "container killed");
        Ok(())
    }

    async fn wait_for_exit(&self, record: &ContainerRecord, limit: Duration) -> Option<ExitRecord> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(exit) = self.exit_record(record) {
                return Some(exit);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills (if needed) and deletes the container with its bundle and
    /// writable layer. Idempotent.
    pub async fn remove_container(&self, id: &str) -> Result<(), ServiceError> {
        let record = match self.container(id) {
            Ok(record) => record,
            Err(ServiceError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        if self.exit_record(&record).is_none() {
            self.stop_container(&record.id, 0).await?;
        }
        let _guard = self.lock(&record.id).await;
        self.runc.delete(&record.id).await?;
        let dir = self.layout.container_dir(&record.id);
        rootfs::unmount(&dir.join("bundle").join("rootfs"));
        if let Err(error) = self.cgroups.remove(&record.cgroup_path) {
            tracing::warn!(container = %record.id, %error, "failed to remove container cgroup");
        }
        if let Err(source) = std::fs::remove_dir_all(&dir)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(ServiceError::Io {
                action: "remove",
                path: dir,
                source,
            });
        }
        self.images.release(&record.image_id, &record.id);
        self.containers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&record.id);
        tracing::info!(container = %record.id, "container removed");
        Ok(())
    }

    pub async fn update_container_resources(
        &self,
        id: &str,
        resources: LinuxContainerResources,
    ) -> Result<(), ServiceError> {
        let mut record = self.container(id)?;
        let _guard = self.lock(&record.id).await;
        let swap = self.cgroups.has_swap_accounting(&record.cgroup_path);
        let update = serde_json::json!({
            "cpu": spec::cpu_json(&resources),
            "memory": spec::memory_json(&resources, swap),
        });
        if self.exit_record(&record).is_none() {
            self.runc.update(&record.id, &update).await?;
        }
        let linux = record.config.linux.get_or_insert_with(Default::default);
        linux.resources = Some(resources);
        self.save_container(&record)?;
        tracing::info!(container = %record.id, "container resources updated");
        Ok(())
    }

    fn container_state(&self, record: &ContainerRecord) -> (ContainerState, Option<ExitRecord>) {
        if let Some(exit) = self.exit_record(record) {
            return (ContainerState::ContainerExited, Some(exit));
        }
        if record.started_at.is_some() {
            return (ContainerState::ContainerRunning, None);
        }
        (ContainerState::ContainerCreated, None)
    }

    pub fn container_status(&self, id: &str) -> Result<ContainerStatus, ServiceError> {
        let record = self.container(id)?;
        let (state, exit) = self.container_state(&record);
        let (reason, message) = match (&exit, &record.start_error) {
            (_, Some(error)) => ("StartError".to_string(), error.clone()),
            (Some(exit), None) if exit.oom_killed => (
                "OOMKilled".to_string(),
                exit.message.clone().unwrap_or_default(),
            ),
            (Some(exit), None) if exit.exit_code == 0 => ("Completed".to_string(), String::new()),
            (Some(exit), None) => (
                "Error".to_string(),
                exit.message.clone().unwrap_or_default(),
            ),
            (None, None) => (String::new(), String::new()),
        };
        let image = record.config.image.clone().unwrap_or_default();
        Ok(ContainerStatus {
            id: record.id.clone(),
            metadata: record.config.metadata.clone(),
            state: state as i32,
            created_at: record.created_at,
            started_at: record.started_at.unwrap_or_default(),
            finished_at: exit.as_ref().map_or(0, |exit| exit.finished_at),
            exit_code: exit.as_ref().map_or(0, |exit| exit.exit_code),
            image: Some(image),
            image_ref: record.image_id.clone(),
            reason,
            message,
            labels: record.config.labels.clone(),
            annotations: record.config.annotations.clone(),
            mounts: record.config.mounts.clone(),
            log_path: record.log_path.display().to_string(),
            resources: record.config.linux.as_ref().and_then(|linux| {
                linux.resources.clone().map(|resources| ContainerResources {
                    linux: Some(resources),
                    windows: None,
                })
            }),
            image_id: record.image_id.clone(),
            user: None,
        })
    }

    pub fn list_containers(&self, filter: Option<ContainerFilter>) -> Vec<Container> {
        let filter = filter.unwrap_or_default();
        let records: Vec<ContainerRecord> = {
            let containers = self
                .containers
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            containers.values().cloned().collect()
        };
        records
            .into_iter()
            .filter(|record| filter.id.is_empty() || record.id.starts_with(&filter.id))
            .filter(|record| {
                filter.pod_sandbox_id.is_empty()
                    || record.sandbox_id.starts_with(&filter.pod_sandbox_id)
            })
            .filter(|record| labels_match(&record.config.labels, &filter.label_selector))
            .filter_map(|record| {
                let (state, _) = self.container_state(&record);
                if filter
                    .state
                    .as_ref()
                    .is_some_and(|wanted| wanted.state != state as i32)
                {
                    return None;
                }
                Some(Container {
                    id: record.id.clone(),
                    pod_sandbox_id: record.sandbox_id.clone(),
                    metadata: record.config.metadata.clone(),
                    image: Some(
                        record
                            .config
                            .image
                            .clone()
                            .unwrap_or_else(ImageSpec::default),
                    ),
                    image_ref: record.image_id.clone(),
                    state: state as i32,
                    created_at: record.created_at,
                    labels: record.config.labels.clone(),
                    annotations: record.config.annotations.clone(),
                    image_id: record.image_id.clone(),
                })
            })
            .collect()
    }

    /// Reopens the container's log file, for use after the kubelet rotated it.
    pub fn reopen_container_log(&self, id: &str) -> Result<(), ServiceError> {
        let record = self.container(id)?;
        if self.exit_record(&record).is_some() {
            return Err(ServiceError::FailedPrecondition(format!(
                "container {} is not running",
                record.id
            )));
        }
        let dir = self.layout.container_dir(&record.id);
        let pid = std::fs::read_to_string(dir.join(crate::monitor::MONITOR_PID_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
            .ok_or_else(|| {
                ServiceError::FailedPrecondition(format!("container {} has no monitor", record.id))
            })?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGUSR1,
        )
        .map_err(|error| ServiceError::Monitor(format!("failed to signal monitor {pid}: {error}")))
    }
}

/// The log file: `<sandbox log dir>/<container log path>`, or a file in the
/// container's state directory when the kubelet names none.
fn log_path(log_directory: &str, container_log: &str, state_dir: &Path) -> PathBuf {
    if container_log.is_empty() {
        return state_dir.join("container.log");
    }
    let path = Path::new(container_log);
    if path.is_absolute() || log_directory.is_empty() {
        return path.to_path_buf();
    }
    Path::new(log_directory).join(path)
}
