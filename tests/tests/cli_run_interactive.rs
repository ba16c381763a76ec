//! `skiff run -it --rm` and `kubectl attach -it` on a `skiff server`, each
//! driven through a pseudo-terminal the way a user at a terminal drives
//! them. Needs root.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use skiff_e2e::cluster::Cluster;
use skiff_e2e::images;
use skiff_e2e::process::skiff_bin;
use skiff_e2e::registry::Registry;

const WAIT: Duration = Duration::from_secs(120);
const KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";
const KUBECTL: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";

/// A process whose stdin, stdout and stderr are the slave side of a new
/// pseudo-terminal (its controlling terminal). The test keeps the master.
struct OnTerminal {
    child: Child,
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl OnTerminal {
    fn spawn(mut command: Command) -> anyhow::Result<Self> {
        let size = nix::pty::Winsize {
            ws_row: 30,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None)?;

        let slave: OwnedFd = pty.slave;
        command
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe and run in the
        // child between fork and exec.
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

        let child = command.spawn().context("failed to start the command")?;
        // Dropping the command closes the test's copies of the slave, so
        // reads get EIO once the child's side closes.
        drop(command);
        let master = std::fs::File::from(pty.master);
        let output = collect_output(master.try_clone()?);
        Ok(Self {
            child,
            master,
            output,
        })
    }

    fn output(&self) -> String {
        let bytes = self
            .output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&bytes).to_string()
    }

    fn type_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.master.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Resizes the terminal, which sends SIGWINCH to the process.
    fn resize(&self, width: u16, height: u16) -> anyhow::Result<()> {
        let size = libc::winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize struct from the pointer.
        let result = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        if result != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Polls the output until it contains `needle`.
    fn wait_output(&mut self, needle: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        while !self.output().contains(needle) {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "exited ({status}) without {needle:?} in the output: {:?}",
                    self.output()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "no {needle:?} after {WAIT:?} in the output: {:?}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Waits for the process to exit and returns its exit code.
    fn wait_exit(&mut self) -> anyhow::Result<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return status.code().context("killed by a signal");
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("still running after {WAIT:?}; output: {:?}", self.output());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Copies everything read from the terminal master into a buffer, on a thread.
fn collect_output(mut master: std::fs::File) -> Arc<Mutex<Vec<u8>>> {
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(count) = master.read(&mut buffer) {
            if count == 0 {
                break;
            }
            sink.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend_from_slice(&buffer[..count]);
        }
    });
    output
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn kubectl(kubeconfig: &Path, cache: &Path) -> Command {
    kubectl_at(KUBECTL, kubeconfig, cache)
}

fn kubectl_at(binary: &str, kubeconfig: &Path, cache: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .env_remove("KUBECONFIG");
    command
}

/// Runs kubectl and returns its stdout, failing on a non-zero exit.
fn kubectl_output(kubeconfig: &Path, cache: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = kubectl(kubeconfig, cache).args(args).output()?;
    if !output.status.success() {
        bail!(
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}

/// Polls until `kubectl get pod NAME` reports NotFound.
fn wait_pod_gone(kubeconfig: &Path, cache: &Path, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let output = kubectl(kubeconfig, cache)
            .args(["get", "pod", name])
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() && stderr.contains("NotFound") {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("pod {name} still exists after {WAIT:?}: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn run_and_attach_interactively() -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let image = images::push_busybox(&registry)?.reference;
    let cluster = Cluster::start()?;
    let kubeconfig = cluster.kubeconfig();
    let cache = tempfile::tempdir()?;
    let suffix = hex::encode(rand::random::<[u8; 3]>());

    // skiff run -it --rm: a shell on the local terminal, its exit code
    // passed on, and the pod deleted afterwards.
    let name = format!("shell-{suffix}");
    let mut command = Command::new(skiff_bin());
    command
        .args(["run", &name, "--image", &image, "-it", "--rm"])
        .args(["--restart", "Never", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--", "sh"])
        .env_remove("KUBECONFIG");
    let mut run = OnTerminal::spawn(command)?;
    run.wait_output("If you don't see a command prompt")?;
    run.type_text("echo $((6*7))\n")?;
    run.wait_output("\n42\r\n")?;
    // The remote terminal starts at the local size and follows SIGWINCH.
    run.type_text("stty size\n")?;
    run.wait_output("\n30 100\r\n")?;
    run.resize(120, 40)?;
    let deadline = Instant::now() + WAIT;
    while !run.output().contains("\n40 120\r\n") {
        if Instant::now() > deadline {
            bail!("the size did not follow SIGWINCH: {:?}", run.output());
        }
        run.type_text("stty size\n")?;
        std::thread::sleep(Duration::from_millis(500));
    }
    run.type_text("exit 5\n")?;
    let code = run.wait_exit()?;
    assert_eq!(code, 5, "output: {:?}", run.output());
    wait_pod_gone(&kubeconfig, cache.path(), &name)?;

    // skiff run -i without a terminal: piped stdin reaches the container,
    // and its end closes the container's stdin (stdinOnce).
    let name = format!("pipe-{suffix}");
    let mut piped = Command::new(skiff_bin())
        .args(["run", &name, "--image", &image, "-i", "--rm"])
        .args(["--restart", "Never", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--", "sh", "-c", "cat; exit 4"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    piped
        .stdin
        .take()
        .context("stdin is piped")?
        .write_all(format!("through-{suffix}\n").as_bytes())?;
    let output = piped.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("through-{suffix}")),
        "stdout {stdout:?}, stderr {:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(4));
    wait_pod_gone(&kubeconfig, cache.path(), &name)?;

    // skiff run --rm alone follows the whole log, like docker run, so the
    // output written before the log was requested is there too.
    let name = format!("logs-{suffix}");
    let output = Command::new(skiff_bin())
        .args(["run", &name, "--image", &image, "--rm"])
        .args(["--restart", "Never", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--", "sh", "-c", "echo first; sleep 1; echo second; exit 2"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("first\nsecond\n"),
        "stdout {stdout:?}, stderr {stderr:?}"
    );
    assert_eq!(output.status.code(), Some(2), "stderr {stderr:?}");
    wait_pod_gone(&kubeconfig, cache.path(), &name)?;

    // kubectl run -it --rm: kubectl's own attach, exit code and cleanup.
    let name = format!("kubectl-{suffix}");
    let mut command = kubectl(&kubeconfig, cache.path());
    command
        .args(["run", &name, "--image", &image, "-it", "--rm"])
        .args(["--restart", "Never", "--", "sh"]);
    let mut run = OnTerminal::spawn(command)?;
    run.wait_output("If you don't see a command prompt")?;
    run.type_text("echo $((6*7))\n")?;
    run.wait_output("\n42\r\n")?;
    run.type_text("exit 6\n")?;
    let code = run.wait_exit()?;
    assert_eq!(code, 6, "output: {:?}", run.output());
    wait_pod_gone(&kubeconfig, cache.path(), &name)?;

    // kubectl attach -it to a pod with stdin and tty, over WebSocket (1.33)
    // and over SPDY (1.29).
    for version in ["1.33", "1.29"] {
        let name = format!("attach-{}-{suffix}", version.replace('.', ""));
        attach_with_kubectl(version, &kubeconfig, cache.path(), &image, &name)?;
    }
    Ok(())
}

/// Runs `kubectl attach -it` of `version` to a new pod with stdin and tty,
/// drives its shell through a pseudo-terminal and deletes the pod.
fn attach_with_kubectl(
    version: &str,
    kubeconfig: &Path,
    cache: &Path,
    image: &str,
    name: &str,
) -> anyhow::Result<()> {
    kubectl_output(
        kubeconfig,
        cache,
        &[
            "run",
            name,
            "--image",
            image,
            "--restart",
            "Never",
            "--stdin",
            "--tty",
            "--attach=false",
            "--",
            "sh",
        ],
    )?;
    kubectl_output(
        kubeconfig,
        cache,
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Running",
            &format!("pod/{name}"),
            "--timeout=120s",
        ],
    )?;

    let binary = format!("{KUBECTL_DIR}/kubectl.{version}");
    let mut command = kubectl_at(&binary, kubeconfig, cache);
    command.args(["attach", "-it", name]);
    let mut attach = OnTerminal::spawn(command)?;
    attach.wait_output("If you don't see a command prompt")?;
    attach.type_text("stty size; echo $((6*7))\n")?;
    attach.wait_output("\n42\r\n")?;
    assert!(
        attach.output().contains("30 100"),
        "kubectl {version}: the remote terminal did not take the local size: {:?}",
        attach.output()
    );
    attach.type_text("exit 7\n")?;
    // As against Kubernetes, kubectl attach exits 0 whatever the
    // container's exit code, which the pod status carries.
    let code = attach.wait_exit()?;
    assert_eq!(code, 0, "kubectl {version} output: {:?}", attach.output());
    assert!(
        !attach.output().contains("Unknown stream"),
        "kubectl {version} got a frame on a stream it did not open: {:?}",
        attach.output()
    );

    kubectl_output(
        kubeconfig,
        cache,
        &[
            "wait",
            "--for=jsonpath={.status.containerStatuses[0].state.terminated.exitCode}=7",
            &format!("pod/{name}"),
            "--timeout=120s",
        ],
    )?;
    kubectl_output(kubeconfig, cache, &["delete", "pod", name, "--wait=false"])?;
    wait_pod_gone(kubeconfig, cache, name)?;
    Ok(())
}
