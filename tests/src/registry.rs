//! A real OCI registry (Debian's `docker-registry`, the CNCF distribution
//! registry) on a free loopback port, with filesystem storage in a temporary
//! directory. The process is stopped by PID when the handle is dropped.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::process::free_port;

/// Path of the registry binary from Debian's `docker-registry` package.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

/// How clients authenticate to a test registry.
#[derive(Clone, Debug, Default)]
pub enum RegistryAuth {
    /// No authentication.
    #[default]
    None,
    /// HTTP basic authentication against an htpasswd file with one user.
    Basic { username: String, password: String },
    /// The distribution registry's `silly` token auth: requests without an
    /// `Authorization` header get a `Bearer` challenge naming `realm`, and
    /// any token is accepted.
    Token { realm: String },
}

/// A running registry, stopped when dropped.
pub struct Registry {
    child: Child,
    port: u16,
    dir: TempDir,
    auth: RegistryAuth,
}

impl Registry {
    /// Starts a registry without authentication and waits until `GET /v2/`
    /// returns 200. Retries on another port if the chosen one was taken.
    pub fn start() -> Result<Registry> {
        Self::start_with_auth(RegistryAuth::None)
    }

    /// Starts a registry that requires `auth`.
    pub fn start_with_auth(auth: RegistryAuth) -> Result<Registry> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&auth) {
                Ok(registry) => return Ok(registry),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("registry did not start")))
    }

    fn start_once(auth: &RegistryAuth) -> Result<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-registry-")
            .tempdir()
            .context("creating the registry's temporary directory")?;
        let port = free_port();
        let config_path = dir.path().join("config.yml");
        let auth_config = auth_config(auth, dir.path())?;
        let config = registry_config(&dir.path().join("storage"), port) + &auth_config;
        fs::write(&config_path, config).context("writing the registry config")?;
        let log = File::create(dir.path().join("registry.log"))
            .context("creating the registry log file")?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {REGISTRY_BIN}"))?;
        let mut registry = Registry {
            child,
            port,
            dir,
            auth: auth.clone(),
        };
        registry.wait_ready()?;
        Ok(registry)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "registry exited with {status} before it was ready; log:\n{}",
                    self.log()
                );
            }
            // 401 is the ready answer of a registry that requires auth.
            if http_status(self.port, "/v2/").is_ok_and(|status| status == 200 || status == 401) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "registry on port {} was not ready within {READY_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`, the registry host part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `user:password` for skopeo's `--creds` options, if the registry
    /// uses basic auth.
    pub fn credentials(&self) -> Option<String> {
        match &self.auth {
            RegistryAuth::Basic { username, password } => Some(format!("{username}:{password}")),
            _ => None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the registry's storage root (the filesystem driver's `rootdirectory`).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Returns the file in which the registry stores the blob `digest` (`sha256:...`).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let prefix = hex.get(..2).unwrap_or(hex);
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(prefix)
            .join(hex)
            .join("data")
    }

    /// Returns the registry's combined stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Counts the `GET` requests for blobs in the registry's access log, i.e.
    /// how many layer or config downloads clients made so far.
    pub fn blob_downloads(&self) -> usize {
        self.log()
            .lines()
            .filter(|line| line.contains("\"GET /v2/") && line.contains("/blobs/sha256:"))
            .count()
    }

    /// Counts blob downloads of one digest.
    pub fn blob_downloads_of(&self, digest: &str) -> usize {
        let needle = format!("/blobs/{digest} ");
        self.log()
            .lines()
            .filter(|line| line.contains("\"GET /v2/") && line.contains(&needle))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn registry_config(storage: &Path, port: u16) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    )
}

fn auth_config(auth: &RegistryAuth, dir: &Path) -> Result<String> {
    match auth {
        RegistryAuth::None => Ok(String::new()),
        RegistryAuth::Basic { username, password } => {
            let htpasswd = dir.join("htpasswd");
            fs::write(
                &htpasswd,
                format!("{username}:{}\n", bcrypt_hash(password)?),
            )?;
            Ok(format!(
                "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                htpasswd.display()
            ))
        }
        RegistryAuth::Token { realm } => Ok(format!(
            "auth:\n  silly:\n    realm: {realm}\n    service: skiff-test\n"
        )),
    }
}

/// Hashes `password` with bcrypt, the only scheme the registry's htpasswd
/// reader accepts, through Python's `crypt` module (libxcrypt). The cost is
/// the minimum (2^4 rounds) because the registry checks it on every request.
fn bcrypt_hash(password: &str) -> Result<String> {
    let output = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
            password,
        ])
        .output()
        .context("running python3 to hash the htpasswd password")?;
    let hash = String::from_utf8(output.stdout)?.trim().to_string();
    if !output.status.success() || !hash.starts_with("$2") {
        bail!(
            "hashing the htpasswd password failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(hash)
}

/// Sends a bare HTTP/1.0 GET to 127.0.0.1:`port` and returns the status code.
fn http_status(port: u16, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .context("empty HTTP response")?;
    Ok(status.parse()?)
}

/// A minimal OAuth2 token endpoint for registries with token auth: it
/// answers every request with a fixed bearer token and records the
/// `Authorization` header of each request (empty when absent).
pub struct TokenServer {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The token every [`TokenServer`] hands out.
pub const TEST_TOKEN: &str = "skiff-test-token";

impl TokenServer {
    pub fn start() -> Result<TokenServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let requests = requests.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = answer_token_request(stream, &requests);
                    }
                }
            })
        };
        Ok(TokenServer {
            port,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    /// The realm URL to configure in the registry.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The `Authorization` header of each token request so far.
    pub fn authorizations(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer_token_request(
    mut stream: TcpStream,
    requests: &std::sync::Mutex<Vec<String>>,
) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = std::io::BufReader::new(stream.try_clone()?);
    let mut authorization = String::new();
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = value.trim().to_string();
        }
    }
    if let Ok(mut requests) = requests.lock() {
        requests.push(authorization);
    }
    let body = format!(
        "{{\"token\":\"{TEST_TOKEN}\",\"access_token\":\"{TEST_TOKEN}\",\"expires_in\":300}}"
    );
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}
