//! Liveness, readiness and startup probes: one task per running container
//! that records results the pod worker reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_cri::v1::ExecSyncRequest;
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::context::Context;

/// The probe results of one container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Results {
    /// The startup probe passed (or there is none).
    pub started: bool,
    /// The readiness probe passes (or there is none and the container started).
    pub ready: bool,
    /// The liveness (or startup) probe failed: the container must restart.
    pub failed: bool,
}

/// Probe tasks of one pod and their shared results.
#[derive(Default)]
pub struct Prober {
    tasks: HashMap<String, JoinHandle<()>>,
    results: Arc<Mutex<HashMap<String, Results>>>,
    pub changed: Arc<Notify>,
}

impl Drop for Prober {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

impl Prober {
    /// Starts probing container `id` of `pod` if not done already.
    pub fn ensure(
        &mut self,
        ctx: &Arc<Context>,
        pod: &Pod,
        container: &Container,
        id: &str,
        ip: &str,
    ) {
        if self.tasks.contains_key(id) {
            return;
        }
        let initial = Results {
            started: container.startup_probe.is_none(),
            ready: container.startup_probe.is_none() && container.readiness_probe.is_none(),
            failed: false,
        };
        self.set(id, initial);
        let target = Target {
            ctx: ctx.clone(),
            pod: pod.clone(),
            container: container.clone(),
            id: id.to_string(),
            ip: ip.to_string(),
            results: self.results.clone(),
            changed: self.changed.clone(),
        };
        self.tasks
            .insert(id.to_string(), tokio::spawn(target.run()));
    }

    /// Stops probing containers not in `running`.
    pub fn retain(&mut self, running: &[&str]) {
        self.tasks.retain(|id, task| {
            let keep = running.contains(&id.as_str());
            if !keep {
                task.abort();
            }
            keep
        });
        if let Ok(mut results) = self.results.lock() {
            results.retain(|id, _| running.contains(&id.as_str()));
        }
    }

    /// The results of container `id`.
    pub fn results(&self, id: &str) -> Option<Results> {
        self.results.lock().ok()?.get(id).copied()
    }

    fn set(&self, id: &str, value: Results) {
        if let Ok(mut results) = self.results.lock() {
            results.insert(id.to_string(), value);
        }
    }
}

struct Target {
    ctx: Arc<Context>,
    pod: Pod,
    container: Container,
    id: String,
    ip: String,
    results: Arc<Mutex<HashMap<String, Results>>>,
    changed: Arc<Notify>,
}

impl Target {
    async fn run(self) {
        let this = Arc::new(self);
        if let Some(startup) = this.container.startup_probe.clone() {
            if !this.run_until(&startup, "Startup").await {
                this.update(|r| r.failed = true);
                return;
            }
            this.update(|r| {
                r.started = true;
                r.ready = this.container.readiness_probe.is_none();
            });
        }
        let liveness = this.container.liveness_probe.clone();
        let readiness = this.container.readiness_probe.clone();
        let live = {
            let this = this.clone();
            async move {
                if let Some(probe) = liveness
                    && !this.run_until(&probe, "Liveness").await
                {
                    this.update(|r| r.failed = true);
                }
            }
        };
        let ready = {
            let this = this.clone();
            async move {
                if let Some(probe) = readiness {
                    this.readiness(&probe).await;
                }
            }
        };
        tokio::join!(live, ready);
    }

    /// Probes until `success` (startup: the success threshold reached) or
    /// failure threshold; returns whether it passed. Liveness never passes
    /// for good, so it only returns on failure. `kind` is `Startup` or
    /// `Liveness`, as events name the probe.
    async fn run_until(&self, probe: &Probe, kind: &str) -> bool {
        let startup = kind == "Startup";
        let (period, failures_allowed, successes_needed) = timing(probe);
        sleep_secs(probe.initial_delay_seconds.unwrap_or(0)).await;
        let (mut failures, mut successes) = (0, 0);
        loop {
            match self.check(probe).await {
                Ok(()) => {
                    failures = 0;
                    successes += 1;
                    if startup && successes >= successes_needed {
                        return true;
                    }
                }
                Err(message) => {
                    self.unhealthy(kind, &message);
                    successes = 0;
                    failures += 1;
                    if failures >= failures_allowed {
                        tracing::info!(container = %self.container.name, id = %self.id, "probe failed {failures} times");
                        return false;
                    }
                }
            }
            tokio::time::sleep(period).await;
        }
    }

    async fn readiness(&self, probe: &Probe) {
        let (period, failures_allowed, successes_needed) = timing(probe);
        sleep_secs(probe.initial_delay_seconds.unwrap_or(0)).await;
        let (mut failures, mut successes) = (0, 0);
        loop {
            match self.check(probe).await {
                Ok(()) => {
                    failures = 0;
                    successes += 1;
                    if successes >= successes_needed {
                        self.update(|r| r.ready = true);
                    }
                }
                Err(message) => {
                    self.unhealthy("Readiness", &message);
                    successes = 0;
                    failures += 1;
                    if failures >= failures_allowed {
                        self.update(|r| r.ready = false);
                    }
                }
            }
            tokio::time::sleep(period).await;
        }
    }

    /// Records a failed probe as the kubelet's `Unhealthy` event.
    fn unhealthy(&self, kind: &str, message: &str) {
        self.ctx.container_event(
            &self.pod,
            &self.container.name,
            skiff_events::EventType::Warning,
            "Unhealthy",
            format!("{kind} probe failed: {message}"),
        );
    }

    fn update(&self, change: impl FnOnce(&mut Results)) {
        let changed = match self.results.lock() {
            Ok(mut results) => {
                let entry = results.entry(self.id.clone()).or_default();
                let before = *entry;
                change(entry);
                before != *entry
            }
            Err(_) => false,
        };
        if changed {
            self.changed.notify_one();
        }
    }

    /// Runs the probe once within its timeout. The error describes the
    /// failure in the wording of the kubelet's events.
    async fn check(&self, probe: &Probe) -> Result<(), String> {
        let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
        if let Some(exec) = &probe.exec {
            let command = exec.command.clone().unwrap_or_default();
            return match tokio::time::timeout(timeout, self.exec(command, timeout)).await {
                Ok(result) => result,
                Err(_) => Err(format!("command timed out after {}s", timeout.as_secs())),
            };
        }
        if let Some(http) = &probe.http_get {
            let host = http
                .host
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| self.ip.clone());
            let path = http.path.as_deref().unwrap_or("/");
            let Some(port) = self.port(&http.port) else {
                return Err(format!("unknown port {:?}", http.port));
            };
            let headers = http
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect::<Vec<_>>();
            let url = format!("http://{host}:{port}{path}");
            return match tokio::time::timeout(timeout, http_get(&host, port, path, &headers)).await
            {
                Ok(Some(status)) if (200..400).contains(&status) => Ok(()),
                Ok(Some(status)) => Err(format!("HTTP probe failed with statuscode: {status}")),
                Ok(None) => Err(format!("Get \"{url}\": connection failed")),
                Err(_) => Err(format!(
                    "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                )),
            };
        }
        if let Some(tcp) = &probe.tcp_socket {
            let host = tcp
                .host
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| self.ip.clone());
            let Some(port) = self.port(&tcp.port) else {
                return Err(format!("unknown port {:?}", tcp.port));
            };
            let connect = tokio::net::TcpStream::connect((host.as_str(), port));
            return match tokio::time::timeout(timeout, connect).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(format!("dial tcp {host}:{port}: {error}")),
                Err(_) => Err(format!("dial tcp {host}:{port}: i/o timeout")),
            };
        }
        Ok(())
    }

    async fn exec(&self, cmd: Vec<String>, timeout: Duration) -> Result<(), String> {
        let mut rt = self.ctx.runtime.runtime.clone();
        let request = ExecSyncRequest {
            container_id: self.id.clone(),
            cmd,
            timeout: timeout.as_secs() as i64,
        };
        match rt.exec_sync(request).await {
            Ok(response) => {
                let response = response.into_inner();
                if response.exit_code == 0 {
                    return Ok(());
                }
                let mut output = String::from_utf8_lossy(&response.stdout).to_string();
                output.push_str(&String::from_utf8_lossy(&response.stderr));
                Err(output)
            }
            Err(status) => {
                tracing::debug!(id = %self.id, error = %status.message(), "exec probe failed");
                Err(status.message().to_string())
            }
        }
    }

    fn port(&self, port: &IntOrString) -> Option<u16> {
        match port {
            IntOrString::Int(n) => u16::try_from(*n).ok(),
            IntOrString::String(name) => self
                .container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .or_else(|| name.parse().ok()),
        }
    }
}

/// Period, failure threshold and success threshold of a probe.
fn timing(probe: &Probe) -> (Duration, u32, u32) {
    (
        Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64),
        probe.failure_threshold.unwrap_or(3).max(1) as u32,
        probe.success_threshold.unwrap_or(1).max(1) as u32,
    )
}

async fn sleep_secs(seconds: i32) {
    if seconds > 0 {
        tokio::time::sleep(Duration::from_secs(seconds as u64)).await;
    }
}

/// Sends a GET and returns the response status.
async fn http_get(host: &str, port: u16, path: &str, headers: &[(String, String)]) -> Option<u16> {
    super::hook_http::get_with_headers(host, port, path, headers).await
}
