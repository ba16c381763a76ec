//! The per-container monitor: a small process, started by the server and
//! outliving it. It creates the container with `runc create` and owns its
//! stdio (pipes, or a pseudo-terminal with `tty`), copying the output into
//! the CRI log and to attached clients (see [`attach`]). As a child
//! subreaper it reaps the container's init and records its exit.
//!
//! Protocol with the server: the monitor prints `ok <pid>` or
//! `error <message>` as one line on its stdout once `runc create` finished,
//! then closes stdout. The exit lands in `<state dir>/exit.json`.

pub mod attach;
pub mod frame;
pub mod log;
pub mod stdio;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::cgroup;
use crate::state::{ExitRecord, now_nanos, write_json};
use attach::AttachServer;
use log::{LineSplitter, LogWriter};
use stdio::ChildStdio;

/// File names inside a container's state directory.
pub const EXIT_FILE: &str = "exit.json";
pub const MONITOR_PID_FILE: &str = "monitor.pid";
pub const INIT_PID_FILE: &str = "init.pid";
pub const RUNC_LOG_FILE: &str = "runc.log";

/// How long the monitor keeps copying output after init exited.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Arguments of `skiff shim-monitor`.
#[derive(Clone, Debug)]
pub struct MonitorArgs {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime: PathBuf,
    pub runc_root: PathBuf,
    pub state_dir: PathBuf,
    pub log_path: PathBuf,
    pub log_max_size: u64,
    pub cgroup_path: String,
    /// Keep a stdin open for attached clients (the container's `stdin`).
    pub stdin: bool,
    /// Close stdin when the first attached client's stdin ends.
    pub stdin_once: bool,
    /// Run the container on a pseudo-terminal (the container's `tty`).
    pub tty: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("failed to set up the monitor: {0}")]
    Setup(#[source] std::io::Error),
    #[error("runc create failed: {0}")]
    Create(String),
    #[error("failed to record the exit in {path}: {source}")]
    Record {
        path: PathBuf,
        source: crate::state::StateError,
    },
}

static REOPEN_LOG: AtomicBool = AtomicBool::new(false);

extern "C" fn request_reopen(_: libc::c_int) {
    REOPEN_LOG.store(true, Ordering::SeqCst);
}

/// Runs the monitor to the end of the container's life.
pub fn run_monitor(args: MonitorArgs) -> Result<(), MonitorError> {
    // A new session detaches the monitor from the server's signals; the
    // error when it already leads one is harmless.
    let _ = nix::unistd::setsid();
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(MonitorError::Setup(std::io::Error::last_os_error()));
    }
    install_reopen_handler();
    let pid_file = args.state_dir.join(MONITOR_PID_FILE);
    std::fs::write(&pid_file, std::process::id().to_string()).map_err(MonitorError::Setup)?;

    let writer = LogWriter::open(&args.log_path, args.log_max_size).map_err(MonitorError::Setup)?;
    let writer = Arc::new(Mutex::new(writer));
    let (init_pid, attach, copiers) = match start(&args, &writer) {
        Ok(started) => started,
        Err(error) => {
            report(&format!("error {error}"));
            return Err(error);
        }
    };
    report(&format!("ok {init_pid}"));
    close_stdout();

    let exit_code = wait_for(init_pid);
    drain(copiers);
    let oom_killed = cgroup::detect().oom_kills(&args.cgroup_path) > 0;
    let record = ExitRecord {
        exit_code,
        finished_at: now_nanos(),
        oom_killed,
        message: None,
    };
    let path = args.state_dir.join(EXIT_FILE);
    let written =
        write_json(&path, &record).map_err(|source| MonitorError::Record { path, source });
    attach.close();
    written
}

fn install_reopen_handler() {
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(request_reopen),
        nix::sys::signal::SaFlags::SA_RESTART,
        nix::sys::signal::SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let _ = unsafe { nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGUSR1, &action) };
}

type Copiers = Vec<std::sync::mpsc::Receiver<()>>;

/// Creates the container, opens its attach socket and starts one copier
/// thread per output stream.
fn start(
    args: &MonitorArgs,
    writer: &Arc<Mutex<LogWriter>>,
) -> Result<(i32, Arc<AttachServer>, Copiers), MonitorError> {
    let (child, pending) =
        stdio::prepare(args.stdin, args.tty, &args.id).map_err(MonitorError::Setup)?;
    let init_pid = create_container(args, child)?;
    let streams = pending
        .finish(args.stdin, args.stdin_once)
        .map_err(MonitorError::Setup)?;
    let attach = AttachServer::start(&args.state_dir, Arc::new(streams.input))
        .map_err(MonitorError::Setup)?;
    let copiers = streams
        .outputs
        .into_iter()
        .map(|(pipe, stream)| spawn_copier(pipe, stream, writer.clone(), attach.clone()))
        .collect();
    Ok((init_pid, attach, copiers))
}

/// Runs `runc create` with the given stdio and returns the init's pid.
fn create_container(args: &MonitorArgs, child: ChildStdio) -> Result<i32, MonitorError> {
    let runc_log = args.state_dir.join(RUNC_LOG_FILE);
    let init_pid_file = args.state_dir.join(INIT_PID_FILE);
    let mut command = Command::new(&args.runtime);
    command
        .arg("--root")
        .arg(&args.runc_root)
        .arg("--log")
        .arg(&runc_log)
        .arg("--log-format")
        .arg("json")
        .arg("create")
        .arg("--bundle")
        .arg(&args.bundle)
        .arg("--pid-file")
        .arg(&init_pid_file);
    if let Some(console_socket) = &child.console_socket {
        command.arg("--console-socket").arg(console_socket);
    }
    let status = command
        .arg(&args.id)
        .stdin(child.stdin)
        .stdout(child.stdout)
        .stderr(child.stderr)
        .status()
        .map_err(MonitorError::Setup)?;
    if !status.success() {
        return Err(MonitorError::Create(last_runc_error(&runc_log)));
    }
    std::fs::read_to_string(&init_pid_file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| MonitorError::Create("runc wrote no init pid".to_string()))
}

/// Returns the message of the last error-level entry of a runc JSON log.
pub fn last_runc_error(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["level"] == "error" || entry["level"] == "fatal")
        .and_then(|entry| entry["msg"].as_str().map(str::to_string))
        .unwrap_or_else(|| "runc failed without an error message".to_string())
}

fn spawn_copier(
    pipe: OwnedFd,
    stream: &'static str,
    writer: Arc<Mutex<LogWriter>>,
    attach: Arc<AttachServer>,
) -> std::sync::mpsc::Receiver<()> {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        copy_stream(std::fs::File::from(pipe), stream, &writer, &attach);
        let _ = done.send(());
    });
    finished
}

/// Copies one output stream into the log and to attached clients until
/// end of file (or EIO, when a terminal's last slave closed).
fn copy_stream(
    mut pipe: std::fs::File,
    stream: &str,
    writer: &Mutex<LogWriter>,
    attach: &AttachServer,
) {
    let channel = if stream == "stderr" {
        frame::STDERR
    } else {
        frame::STDOUT
    };
    let mut splitter = LineSplitter::default();
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let read = match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        attach.broadcast(channel, &buffer[..read]);
        let entries = splitter.push(&buffer[..read]);
        write_entries(writer, stream, entries);
    }
    write_entries(writer, stream, splitter.finish().into_iter().collect());
}

fn write_entries(writer: &Mutex<LogWriter>, stream: &str, entries: Vec<log::Entry>) {
    let Ok(mut writer) = writer.lock() else {
        return;
    };
    if REOPEN_LOG.swap(false, Ordering::SeqCst) {
        let _ = writer.reopen();
    }
    for entry in entries {
        // A full or vanished log must not block the container, so write
        // errors drop the entry.
        let _ = writer.write_entry(stream, &entry.content, entry.partial);
    }
}

/// Reaps children until `init_pid` exits and returns its exit code.
fn wait_for(init_pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init_pid => return code,
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid.as_raw() == init_pid => {
                return 128 + signal as i32;
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            // ECHILD: init is gone without being reaped here.
            Err(_) => return 255,
        }
    }
}

fn drain(copiers: Copiers) {
    let deadline = std::time::Instant::now() + DRAIN_TIMEOUT;
    for finished in copiers {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let _ = finished.recv_timeout(left);
    }
}

fn report(line: &str) {
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", line.replace('\n', " "));
    let _ = stdout.flush();
}

/// Points stdout at /dev/null so the server's pipe reaches end of file.
fn close_stdout() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
}
