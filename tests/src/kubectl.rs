//! Running a chosen real kubectl version against a server with its own
//! kubeconfig and cache directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use crate::apiserver::kubeconfig;

/// The directory holding `kubectl.1.NN` binaries.
const KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";

/// The result of one kubectl run.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    /// The exit code, or -1 if kubectl was killed by a signal.
    pub code: i32,
}

impl Output {
    /// Returns stdout, failing with both streams if kubectl did not exit 0.
    pub fn ok(self) -> anyhow::Result<String> {
        if self.code == 0 {
            Ok(self.stdout)
        } else {
            anyhow::bail!(
                "kubectl exited with {}:\nstdout: {}\nstderr: {}",
                self.code,
                self.stdout,
                self.stderr
            )
        }
    }
}

/// One kubectl version configured for one server.
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kubectl {
    /// Prepares kubectl `version` (such as "1.33" or "1.27") for `server_url`.
    pub fn new(version: &str, server_url: &str) -> anyhow::Result<Self> {
        let binary = Path::new(KUBECTL_DIR).join(format!("kubectl.{version}"));
        anyhow::ensure!(
            binary.exists(),
            "kubectl {version} is not installed at {}",
            binary.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("skiff-kubectl-")
            .tempdir()
            .context("failed to create a kubectl directory")?;
        let kubeconfig_path = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig_path, kubeconfig(server_url))?;
        let cache_dir = dir.path().join("cache");
        Ok(Self {
            binary,
            kubeconfig: kubeconfig_path,
            cache_dir,
            _dir: dir,
        })
    }

    /// Returns a directory that lives as long as this kubectl, for manifests.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .env_remove("KUBECONFIG");
        command
    }

    /// Runs kubectl with `args` and waits for it.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.run_with(args, &[], None)
    }

    /// Runs kubectl with extra environment variables and optional stdin.
    pub fn run_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> anyhow::Result<Output> {
        let mut command = self.command(args);
        for (key, value) in env {
            command.env(key, value);
        }
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("failed to run {}", self.binary.display()))?;
        if let Some(input) = stdin
            && let Some(mut pipe) = child.stdin.take()
        {
            pipe.write_all(input.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        Ok(Output {
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
            code: output.status.code().unwrap_or(-1),
        })
    }

    /// Returns the shell command line of a kubectl run with `args`, for
    /// wrappers such as `script` that take one command string.
    pub fn shell_line(&self, args: &[&str]) -> String {
        let mut words = vec![
            self.binary.display().to_string(),
            "--kubeconfig".to_string(),
            self.kubeconfig.display().to_string(),
            "--cache-dir".to_string(),
            self.cache_dir.display().to_string(),
        ];
        words.extend(args.iter().map(|arg| arg.to_string()));
        words
            .iter()
            .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Starts kubectl in the background with stdout and stderr piped, for
    /// long-running commands such as `get -w`. The caller kills it.
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Child> {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to run {}", self.binary.display()))
    }
}
