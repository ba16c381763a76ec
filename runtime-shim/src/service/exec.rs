//! Running extra processes in a container with `runc exec`: ExecSync and
//! the processes behind streaming Exec sessions; and the connection to a
//! container's monitor behind streaming Attach sessions.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use super::{Runtime, ServiceError};
use crate::monitor::frame::ATTACH_SOCKET;
use crate::monitor::stdio::socket_path;
use crate::state::ContainerRecord;

/// Parameters of a streaming Exec or Attach request.
#[derive(Clone, Debug)]
pub struct StreamRequest {
    pub container_id: String,
    /// Command for Exec; empty for Attach.
    pub cmd: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub attach: bool,
}

/// A running `runc exec` with its stdio.
pub struct ExecProcess {
    pub child: tokio::process::Child,
    pub stdin: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    pub stdout: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    pub stderr: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    /// The pseudo-terminal's master side when the session has a TTY.
    pub pty: Option<OwnedFd>,
    process_file: PathBuf,
}

impl ExecProcess {
    /// Waits for the exit code and deletes the process file.
    pub async fn wait(&mut self) -> i32 {
        let status = self.child.wait().await;
        let _ = std::fs::remove_file(&self.process_file);
        status.ok().and_then(|status| status.code()).unwrap_or(255)
    }
}

/// A connection to a container monitor's attach socket.
pub struct AttachConnection {
    pub stream: tokio::net::UnixStream,
    /// Whether the container runs on a TTY, whose output is all on stdout.
    pub tty: bool,
    /// Whether the container has a stdin that attached clients write to.
    pub stdin: bool,
}

impl Runtime {
    /// Connects to the running container's monitor to attach to its stdio.
    pub async fn connect_attach(&self, id: &str) -> Result<AttachConnection, ServiceError> {
        let record = self.running_container(id)?;
        let dir = self.layout.container_dir(&record.id);
        let io_error = |source| ServiceError::Io {
            action: "connect to the attach socket",
            path: dir.join(ATTACH_SOCKET),
            source,
        };
        let (_dir_handle, address) = socket_path(&dir, ATTACH_SOCKET).map_err(io_error)?;
        let stream = tokio::net::UnixStream::connect(&address)
            .await
            .map_err(io_error)?;
        Ok(AttachConnection {
            stream,
            tty: record.config.tty,
            stdin: record.config.stdin,
        })
    }

    fn running_container(&self, id: &str) -> Result<ContainerRecord, ServiceError> {
        let record = self.container(id)?;
        if record.started_at.is_none() || self.exit_record(&record).is_some() {
            return Err(ServiceError::FailedPrecondition(format!(
                "container {} is not running",
                record.id
            )));
        }
        Ok(record)
    }

    /// Writes a `runc exec --process` file: the container's own process with `cmd`.
    fn write_process_file(
        &self,
        record: &ContainerRecord,
        cmd: &[String],
        tty: bool,
    ) -> Result<PathBuf, ServiceError> {
        if cmd.is_empty() {
            return Err(ServiceError::Invalid {
                field: "cmd",
                message: "must name the command to run".to_string(),
            });
        }
        let dir = self.layout.container_dir(&record.id);
        let spec: serde_json::Value =
            crate::state::read_json(&dir.join("bundle").join("config.json"))?.ok_or_else(|| {
                ServiceError::FailedPrecondition(format!("container {} has no bundle", record.id))
            })?;
        let mut process = spec["process"].clone();
        process["args"] = serde_json::json!(cmd);
        process["terminal"] = serde_json::json!(tty);
        let path = dir.join(format!("exec-{}.json", &crate::state::new_id()[..16]));
        crate::state::write_json(&path, &process)?;
        Ok(path)
    }

    /// Runs `cmd` in the container and collects its output; `timeout`
    /// seconds, 0 meaning none.
    pub async fn exec_sync(
        &self,
        id: &str,
        cmd: &[String],
        timeout: i64,
    ) -> Result<(Vec<u8>, Vec<u8>, i32), ServiceError> {
        let record = self.running_container(id)?;
        let process_file = self.write_process_file(&record, cmd, false)?;
        let pid_file = process_file.with_extension("pid");
        let mut command = self.runc.command();
        command
            .arg("exec")
            .arg("--process")
            .arg(&process_file)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(&record.id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|source| ServiceError::Io {
            action: "run",
            path: self.config.runtime.clone(),
            source,
        })?;
        let output = child.wait_with_output();
        let result = if timeout > 0 {
            match tokio::time::timeout(Duration::from_secs(timeout.unsigned_abs()), output).await {
                Ok(output) => output,
                Err(_) => {
                    kill_pid_file(&pid_file);
                    let _ = std::fs::remove_file(&process_file);
                    let _ = std::fs::remove_file(&pid_file);
                    return Err(ServiceError::Timeout(format!(
                        "command {cmd:?} in container {} ran over {timeout}s",
                        record.id
                    )));
                }
            }
        } else {
            output.await
        };
        let _ = std::fs::remove_file(&process_file);
        let _ = std::fs::remove_file(&pid_file);
        let output = result.map_err(|source| ServiceError::Io {
            action: "run",
            path: self.config.runtime.clone(),
            source,
        })?;
        Ok((
            output.stdout,
            output.stderr,
            output.status.code().unwrap_or(255),
        ))
    }

    /// Starts `runc exec` for a streaming session.
    pub fn spawn_exec(&self, request: &StreamRequest) -> Result<ExecProcess, ServiceError> {
        let record = self.running_container(&request.container_id)?;
        let process_file = self.write_process_file(&record, &request.cmd, request.tty)?;
        let mut command = self.runc.command();
        command.arg("exec").arg("--process").arg(&process_file);
        if request.tty {
            command.arg("--tty");
        }
        command.arg(&record.id).kill_on_drop(true);
        let io_error = |source| ServiceError::Io {
            action: "run",
            path: self.config.runtime.clone(),
            source,
        };
        if request.tty {
            return spawn_with_pty(command, process_file).map_err(io_error);
        }
        command
            .stdin(if request.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(io_error)?;
        Ok(ExecProcess {
            stdin: child.stdin.take().map(|pipe| Box::new(pipe) as _),
            stdout: child.stdout.take().map(|pipe| Box::new(pipe) as _),
            stderr: child.stderr.take().map(|pipe| Box::new(pipe) as _),
            child,
            pty: None,
            process_file,
        })
    }
}

/// Runs runc on the slave side of a new pseudo-terminal, as its
/// controlling terminal: runc copies between it and the container's own
/// terminal and follows its size on SIGWINCH.
fn spawn_with_pty(
    mut command: tokio::process::Command,
    process_file: PathBuf,
) -> std::io::Result<ExecProcess> {
    let pty = nix::pty::openpty(None, None).map_err(std::io::Error::from)?;
    let slave = pty.slave;
    command
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe and run in the child
    // between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn()?;
    let reader = std::fs::File::from(pty.master.try_clone()?);
    let writer = std::fs::File::from(pty.master.try_clone()?);
    Ok(ExecProcess {
        child,
        stdin: Some(Box::new(tokio::fs::File::from_std(writer))),
        stdout: Some(Box::new(tokio::fs::File::from_std(reader))),
        stderr: None,
        pty: Some(pty.master),
        process_file,
    })
}

fn kill_pid_file(pid_file: &std::path::Path) {
    if let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
