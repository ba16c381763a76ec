//! ContainerStats and ListContainerStats from cgroup counters.

use k8s_cri::v1::{
    ContainerAttributes, ContainerStats, ContainerStatsFilter, CpuUsage, FilesystemIdentifier,
    FilesystemUsage, MemoryUsage, UInt64Value,
};

use super::{Runtime, ServiceError, labels_match};
use crate::state::{ContainerRecord, now_nanos};

impl Runtime {
    pub fn container_stats(&self, id: &str) -> Result<ContainerStats, ServiceError> {
        let record = self.container(id)?;
        Ok(self.stats_of(&record))
    }

    /// Stats of the running containers matching `filter`.
    pub fn list_container_stats(
        &self,
        filter: Option<ContainerStatsFilter>,
    ) -> Vec<ContainerStats> {
        let filter = filter.unwrap_or_default();
        let records: Vec<ContainerRecord> = {
            let containers = self
                .containers
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            containers.values().cloned().collect()
        };
        records
            .iter()
            .filter(|record| filter.id.is_empty() || record.id.starts_with(&filter.id))
            .filter(|record| {
                filter.pod_sandbox_id.is_empty()
                    || record.sandbox_id.starts_with(&filter.pod_sandbox_id)
            })
            .filter(|record| labels_match(&record.config.labels, &filter.label_selector))
            .filter(|record| record.started_at.is_some() && self.exit_record(record).is_none())
            .map(|record| self.stats_of(record))
            .collect()
    }

    fn stats_of(&self, record: &ContainerRecord) -> ContainerStats {
        let usage = self.cgroups.usage(&record.cgroup_path);
        let timestamp = now_nanos();
        let value = |value: Option<u64>| value.map(|value| UInt64Value { value });
        let upper = self.layout.container_dir(&record.id).join("upper");
        let (used_bytes, inodes_used) = directory_usage(&upper);
        ContainerStats {
            attributes: Some(ContainerAttributes {
                id: record.id.clone(),
                metadata: record.config.metadata.clone(),
                labels: record.config.labels.clone(),
                annotations: record.config.annotations.clone(),
            }),
            cpu: Some(CpuUsage {
                timestamp,
                usage_core_nano_seconds: value(usage.cpu_nanos),
                usage_nano_cores: None,
            }),
            memory: Some(MemoryUsage {
                timestamp,
                working_set_bytes: value(usage.memory_working_set),
                available_bytes: None,
                usage_bytes: value(usage.memory_usage),
                rss_bytes: value(usage.memory_rss),
                page_faults: value(usage.page_faults),
                major_page_faults: value(usage.major_page_faults),
            }),
            writable_layer: Some(FilesystemUsage {
                timestamp,
                fs_id: Some(FilesystemIdentifier {
                    mountpoint: upper.display().to_string(),
                }),
                used_bytes: Some(UInt64Value { value: used_bytes }),
                inodes_used: Some(UInt64Value { value: inodes_used }),
            }),
            swap: None,
        }
    }
}

/// Bytes and inodes used under `dir`, not following symlinks.
fn directory_usage(dir: &std::path::Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut inodes = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            inodes += 1;
            bytes += metadata.len();
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    (bytes, inodes)
}
