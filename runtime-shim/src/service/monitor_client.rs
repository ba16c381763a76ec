//! Starting a container's monitor process and reading its exit record.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use super::{Runtime, ServiceError};
use crate::monitor::{EXIT_FILE, MONITOR_PID_FILE};
use crate::state::{ContainerRecord, ExitRecord, read_json};

/// How long `runc create` may take before CreateContainer gives up.
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);

impl Runtime {
    /// Starts `<binary> shim-monitor ...`, which runs `runc create`, and
    /// waits for its verdict.
    pub(super) async fn spawn_monitor(
        &self,
        record: &ContainerRecord,
        bundle: &Path,
    ) -> Result<(), ServiceError> {
        let state_dir = self.layout.container_dir(&record.id);
        let monitor_log =
            std::fs::File::create(state_dir.join("monitor.log")).map_err(|source| {
                ServiceError::Io {
                    action: "create",
                    path: state_dir.join("monitor.log"),
                    source,
                }
            })?;
        let mut command = tokio::process::Command::new(&self.config.monitor_binary);
        command
            .arg("shim-monitor")
            .arg("--id")
            .arg(&record.id)
            .arg("--bundle")
            .arg(bundle)
            .arg("--runtime")
            .arg(&self.config.runtime)
            .arg("--runc-root")
            .arg(self.config.runc_root())
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--log-path")
            .arg(&record.log_path)
            .arg("--log-max-size")
            .arg(self.config.log_max_size.to_string())
            .arg("--cgroup-path")
            .arg(&record.cgroup_path);
        for (flag, set) in [
            ("--stdin", record.config.stdin),
            ("--stdin-once", record.config.stdin_once),
            ("--tty", record.config.tty),
        ] {
            if set {
                command.arg(flag);
            }
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(monitor_log));
        let mut child = command.spawn().map_err(|source| ServiceError::Io {
            action: "start monitor",
            path: self.config.monitor_binary.clone(),
            source,
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ServiceError::Monitor("monitor has no stdout".to_string()))?;
        // Reap the monitor whenever it ends; it outlives this call.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        let mut line = String::new();
        let mut reader = tokio::io::BufReader::new(stdout);
        let read = tokio::time::timeout(CREATE_TIMEOUT, reader.read_line(&mut line)).await;
        match read {
            Err(_) => Err(ServiceError::Timeout(format!(
                "runc create of container {} took over {CREATE_TIMEOUT:?}",
                record.id
            ))),
            Ok(Err(error)) => Err(ServiceError::Monitor(error.to_string())),
            Ok(Ok(_)) if line.starts_with("ok ") => Ok(()),
            Ok(Ok(_)) => {
                let message = line
                    .trim()
                    .strip_prefix("error ")
                    .unwrap_or(line.trim())
                    .to_string();
                let message = if message.is_empty() {
                    let log =
                        std::fs::read_to_string(state_dir.join("monitor.log")).unwrap_or_default();
                    format!("monitor exited without a verdict: {}", log.trim())
                } else {
                    message
                };
                Err(ServiceError::Monitor(message))
            }
        }
    }

    /// Returns the container's exit, if it exited. A container whose monitor died
    /// without recording an exit is reported as exited with code 255.
    pub(super) fn exit_record(&self, record: &ContainerRecord) -> Option<ExitRecord> {
        let dir = self.layout.container_dir(&record.id);
        if let Ok(Some(exit)) = read_json::<ExitRecord>(&dir.join(EXIT_FILE)) {
            return Some(exit);
        }
        record.started_at?;
        if monitor_alive(&dir) {
            return None;
        }
        // Re-read: the monitor may have written the file just before exiting.
        if let Ok(Some(exit)) = read_json::<ExitRecord>(&dir.join(EXIT_FILE)) {
            return Some(exit);
        }
        Some(ExitRecord {
            exit_code: 255,
            finished_at: record.started_at.unwrap_or_default(),
            oom_killed: false,
            message: Some(
                "the container's monitor process is gone, so its exit status is unknown"
                    .to_string(),
            ),
        })
    }
}

fn monitor_alive(dir: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(dir.join(MONITOR_PID_FILE))
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
    else {
        return false;
    };
    // A zombie monitor (exited, not yet reaped) counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            state != Some("Z") && String::from_utf8_lossy(&cmdline).contains("shim-monitor")
        }
        Err(_) => false,
    }
}
