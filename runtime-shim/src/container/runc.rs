//! runc subcommands the server runs itself (creation belongs to the monitor).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum RuncError {
    #[error("failed to run {runtime}: {source}")]
    Spawn {
        runtime: PathBuf,
        source: std::io::Error,
    },
    #[error("runc {command} {id} failed: {message}")]
    Failed {
        command: String,
        id: String,
        message: String,
    },
}

/// A runc binary with its state directory.
#[derive(Clone, Debug)]
pub struct Runc {
    pub binary: PathBuf,
    pub root: PathBuf,
}

impl Runc {
    pub fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.binary);
        command.arg("--root").arg(&self.root);
        command
    }

    async fn run(
        &self,
        args: &[&str],
        id: &str,
        stdin: Option<&[u8]>,
    ) -> Result<String, RuncError> {
        let mut command = self.command();
        command
            .args(args)
            .arg(id)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| RuncError::Spawn {
            runtime: self.binary.clone(),
            source,
        })?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = pipe.write_all(bytes).await;
        }
        let output = child
            .wait_with_output()
            .await
            .map_err(|source| RuncError::Spawn {
                runtime: self.binary.clone(),
                source,
            })?;
        if !output.status.success() {
            return Err(RuncError::Failed {
                command: args.first().copied().unwrap_or_default().to_string(),
                id: id.to_string(),
                message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    }

    pub async fn start(&self, id: &str) -> Result<(), RuncError> {
        self.run(&["start"], id, None).await.map(drop)
    }

    /// Sends `signal` (a name such as `SIGTERM` or a number) to the
    /// container's init; SIGKILL goes to every process of the container.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<(), RuncError> {
        let mut command = self.command();
        command.arg("kill");
        if signal == "SIGKILL" || signal == "KILL" || signal == "9" {
            command.arg("--all");
        }
        command.arg(id).arg(signal);
        let output = command
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| RuncError::Spawn {
                runtime: self.binary.clone(),
                source,
            })?;
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        // A stopped or deleted container has nothing left to signal.
        if output.status.success() || is_gone(&message) {
            return Ok(());
        }
        Err(RuncError::Failed {
            command: "kill".to_string(),
            id: id.to_string(),
            message,
        })
    }

    /// Deletes the container, killing it first when it still runs.
    pub async fn delete(&self, id: &str) -> Result<(), RuncError> {
        match self.run(&["delete", "--force"], id, None).await {
            Err(RuncError::Failed { message, .. }) if is_gone(&message) => Ok(()),
            other => other.map(drop),
        }
    }

    /// The container's status (`created`, `running`, `stopped`, ...), or
    /// `None` when runc does not know it.
    pub async fn status(&self, id: &str) -> Option<String> {
        let output = self.run(&["state"], id, None).await.ok()?;
        let state: serde_json::Value = serde_json::from_str(&output).ok()?;
        state["status"].as_str().map(str::to_string)
    }

    /// Changes the container's cgroup limits (`resources` is an OCI `linux.resources`).
    pub async fn update(&self, id: &str, resources: &serde_json::Value) -> Result<(), RuncError> {
        let bytes = serde_json::to_vec(resources).unwrap_or_default();
        self.run(&["update", "--resources", "-"], id, Some(&bytes))
            .await
            .map(drop)
    }

    /// Path of the bundle-independent process file used by `runc exec --process`.
    pub fn process_file(dir: &Path, exec_id: &str) -> PathBuf {
        dir.join(format!("exec-{exec_id}.json"))
    }
}

fn is_gone(message: &str) -> bool {
    message.contains("does not exist")
        || message.contains("not running")
        || message.contains("container not running")
        || message.contains("process already finished")
}
