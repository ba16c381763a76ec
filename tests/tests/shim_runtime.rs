//! A CRI runtime driven over its socket, with real runc, overlayfs and CNI
//! plugins: our shim, and containerd as the reference the same suite must
//! pass against. Needs root.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use k8s_cri::v1::*;
use skiff_e2e::cri::{
    Client, WAIT, clients, container_config, pull, remove_sandbox, run_sandbox, sandbox_config,
    start, status, wait_exited,
};
use skiff_e2e::images;
use skiff_e2e::node::{CriRuntime, RuntimeKind};
use skiff_e2e::registry::Registry;
use skiff_e2e::shim::{cgroup_dirs, mounts_under};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Polls an HTTP GET (blocking, in a thread) until a response arrives.
async fn http_get(address: String, path: &str) -> anyhow::Result<String> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n");
    let deadline = Instant::now() + WAIT;
    loop {
        let target = address.clone();
        let request = request.clone();
        let attempt = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut stream = TcpStream::connect_timeout(
                &target.parse().map_err(std::io::Error::other)?,
                Duration::from_secs(2),
            )?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(request.as_bytes())?;
            let mut body = String::new();
            stream.read_to_string(&mut body)?;
            Ok(body)
        })
        .await?;
        match attempt {
            Ok(body) if !body.is_empty() => return Ok(body),
            _ if Instant::now() > deadline => bail!("no HTTP answer from {address}: {attempt:?}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn log_text(path: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if !text.is_empty() || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Output of a streaming session: stdout, stderr and the status payload.
#[derive(Debug, Default)]
struct Session {
    stdout: String,
    stderr: String,
    status: Option<serde_json::Value>,
}

/// Runs a WebSocket session against a URL from Exec, sending `input` frames.
/// It offers v5.channel.k8s.io and v4.channel.k8s.io; on v5 it then closes
/// stdin with the close frame, which v4 lacks.
async fn stream_session(url: &str, input: Vec<Vec<u8>>) -> anyhow::Result<Session> {
    let mut request = url.replace("http://", "ws://").into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "v5.channel.k8s.io, v4.channel.k8s.io".parse()?,
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await?;
    let protocol = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        protocol == "v5.channel.k8s.io" || protocol == "v4.channel.k8s.io",
        "negotiated {protocol:?}"
    );
    for frame in input {
        socket.send(Message::Binary(frame.into())).await?;
    }
    if protocol == "v5.channel.k8s.io" {
        socket.send(Message::Binary(vec![255, 0].into())).await?;
    }
    let mut session = Session::default();
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, socket.next()).await {
        let Message::Binary(data) = message? else {
            continue;
        };
        let Some((&channel, payload)) = data.split_first() else {
            continue;
        };
        match channel {
            1 => session.stdout.push_str(&String::from_utf8_lossy(payload)),
            2 => session.stderr.push_str(&String::from_utf8_lossy(payload)),
            3 if !payload.is_empty() => session.status = Some(serde_json::from_slice(payload)?),
            _ => {}
        }
    }
    Ok(session)
}

fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut frame = vec![channel];
    frame.extend_from_slice(data);
    frame
}

/// Returns the host path of a running container's memory cgroup, read from
/// `/proc/self/cgroup` of a process exec'd in it.
async fn memory_cgroup(client: &mut Client, container_id: &str) -> anyhow::Result<String> {
    let own = client
        .exec_sync(ExecSyncRequest {
            container_id: container_id.to_string(),
            cmd: vec!["cat".into(), "/proc/self/cgroup".into()],
            timeout: 30,
        })
        .await?
        .into_inner();
    let text = String::from_utf8_lossy(&own.stdout).to_string();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next(), fields.next(), fields.next());
        if let (Some(controllers), Some(path)) = (controllers, path) {
            if controllers.split(',').any(|c| c == "memory") {
                return Ok(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"));
            }
            if controllers.is_empty() {
                return Ok(format!("/sys/fs/cgroup{path}/memory.max"));
            }
        }
    }
    bail!("no memory cgroup in {text:?}")
}

/// Returns the iptables NAT rules that mention `needle`, such as the
/// masquerade rule the bridge plugin adds for a sandbox.
fn nat_rules_mentioning(needle: &str) -> Vec<String> {
    let output = std::process::Command::new("iptables")
        .args(["-t", "nat", "-S"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).to_string())
        .unwrap_or_default();
    output
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_string)
        .collect()
}

fn veths_on(bridge: &str) -> String {
    let output = std::process::Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).to_string())
        .unwrap_or_default();
    output.trim().to_string()
}

fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn pod_serves_execs_survives_restart_and_leaves_nothing() -> anyhow::Result<()> {
    serves_execs_survives_restart_and_leaves_nothing(RuntimeKind::Shim).await
}

#[tokio::test(flavor = "multi_thread")]
async fn containerd_passes_the_pod_suite() -> anyhow::Result<()> {
    serves_execs_survives_restart_and_leaves_nothing(RuntimeKind::Containerd).await
}

async fn serves_execs_survives_restart_and_leaves_nothing(kind: RuntimeKind) -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?.reference;
    let httpd = images::push_httpd(&registry)?.reference;
    let mut runtime = CriRuntime::start(kind, &registry)?;
    let logs = runtime.dir().join("logs");
    std::fs::create_dir_all(&logs)?;
    let (mut client, _) = clients(&runtime).await?;
    pull(&runtime, &[&busybox, &httpd]).await?;

    let version = client
        .version(VersionRequest::default())
        .await?
        .into_inner();
    let expected_name = match kind {
        RuntimeKind::Shim => "skiff",
        RuntimeKind::Containerd => "containerd",
    };
    assert_eq!(version.runtime_name, expected_name);
    assert_eq!(version.runtime_api_version, "v1");
    let runtime_status = client.status(StatusRequest::default()).await?.into_inner();
    let conditions = runtime_status.status.context("status")?.conditions;
    assert!(
        conditions.iter().all(|condition| condition.status),
        "{conditions:?}"
    );

    let host_port = skiff_e2e::process::free_port();
    let mapping = PortMapping {
        protocol: Protocol::Tcp as i32,
        container_port: 8080,
        host_port: i32::from(host_port),
        host_ip: "127.0.0.1".to_string(),
    };
    let sandbox = sandbox_config("web", vec![mapping], &logs);
    let sandbox_id = run_sandbox(&mut client, sandbox.clone()).await?;
    let pod_status = client
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: sandbox_id.clone(),
            verbose: false,
        })
        .await?
        .into_inner()
        .status
        .context("sandbox status")?;
    assert_eq!(pod_status.state, PodSandboxState::SandboxReady as i32);
    let pod_ip = pod_status.network.context("network")?.ip;
    assert!(
        pod_ip.starts_with(runtime.subnet_prefix()),
        "pod IP {pod_ip} outside {}",
        runtime.subnet
    );

    let server = start(
        &mut client,
        &sandbox_id,
        &sandbox,
        // No command: the image's cmd (httpd -f -p 8080 -h /www) runs.
        container_config("server", &httpd, &[]),
    )
    .await?;
    let fetch = "until wget -q -O - http://127.0.0.1:8080/index.html; do sleep 0.2; done";
    let fetcher = start(
        &mut client,
        &sandbox_id,
        &sandbox,
        container_config("fetcher", &busybox, &["sh", "-c", fetch]),
    )
    .await?;

    let fetched = wait_exited(&mut client, &fetcher).await?;
    assert_eq!(fetched.exit_code, 0);
    assert_eq!(fetched.reason, "Completed");
    let log = log_text(&fetched.log_path).await;
    let index = images::HTTPD_INDEX.trim();
    assert!(
        log.contains(&format!(" stdout F {index}")),
        "fetcher log: {log:?}"
    );

    // Traffic leaving the node is masqueraded, so pods reach beyond it.
    let masquerade = nat_rules_mentioning(&sandbox_id);
    assert!(
        masquerade
            .iter()
            .any(|rule| rule.contains("MASQUERADE") || rule.contains("-j CNI-")),
        "no masquerade rule for the sandbox: {masquerade:?}"
    );

    let from_host = http_get(format!("{pod_ip}:8080"), "/index.html").await?;
    assert!(from_host.contains(index), "pod IP answered {from_host:?}");
    let via_host_port = http_get(format!("127.0.0.1:{host_port}"), "/index.html").await?;
    assert!(
        via_host_port.contains(index),
        "hostPort answered {via_host_port:?}"
    );

    let hostname = client
        .exec_sync(ExecSyncRequest {
            container_id: server.clone(),
            cmd: vec!["cat".into(), "/etc/hostname".into()],
            timeout: 30,
        })
        .await?
        .into_inner();
    assert_eq!(String::from_utf8_lossy(&hostname.stdout).trim(), "web");
    let failing = client
        .exec_sync(ExecSyncRequest {
            container_id: server.clone(),
            cmd: vec!["sh".into(), "-c".into(), "echo oops >&2; exit 3".into()],
            timeout: 30,
        })
        .await?
        .into_inner();
    assert_eq!(failing.exit_code, 3);
    assert_eq!(String::from_utf8_lossy(&failing.stderr).trim(), "oops");

    let url = client
        .exec(ExecRequest {
            container_id: server.clone(),
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "read line; echo $line; echo err >&2; exit 5".into(),
            ],
            tty: false,
            stdin: true,
            stdout: true,
            stderr: true,
        })
        .await?
        .into_inner()
        .url;
    let piped = stream_session(&url, vec![frame(0, b"ping\n")]).await?;
    assert_eq!(piped.stdout, "ping\n");
    assert_eq!(piped.stderr, "err\n");
    let piped_status = piped.status.context("no status frame")?;
    assert_eq!(piped_status["reason"], "NonZeroExitCode");
    assert_eq!(piped_status["details"]["causes"][0]["message"], "5");

    let url = client
        .exec(ExecRequest {
            container_id: server.clone(),
            cmd: vec!["sh".into()],
            tty: true,
            stdin: true,
            stdout: true,
            stderr: false,
        })
        .await?
        .into_inner()
        .url;
    let resize = frame(4, br#"{"Width":100,"Height":40}"#);
    let tty = stream_session(&url, vec![resize, frame(0, b"stty size; tty; exit 7\n")]).await?;
    assert!(tty.stdout.contains("40 100"), "tty output {:?}", tty.stdout);
    assert!(
        tty.stdout.contains("/dev/pts/"),
        "tty output {:?}",
        tty.stdout
    );
    assert_eq!(
        tty.status.context("no tty status")?["details"]["causes"][0]["message"],
        "7"
    );

    runtime.restart()?;
    let (mut client, _) = clients(&runtime).await?;
    let after = status(&mut client, &server).await?;
    assert_eq!(after.state, ContainerState::ContainerRunning as i32);
    let fetched_after = status(&mut client, &fetcher).await?;
    assert_eq!(fetched_after.state, ContainerState::ContainerExited as i32);
    assert_eq!(fetched_after.exit_code, 0);
    let listed = client
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                label_selector: HashMap::from([("container".to_string(), "server".to_string())]),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    assert_eq!(listed.len(), 1);
    let again = http_get(format!("{pod_ip}:8080"), "/index.html").await?;
    assert!(again.contains(index), "after restart {again:?}");

    client
        .stop_container(StopContainerRequest {
            container_id: server.clone(),
            timeout: 10,
        })
        .await?;
    let stopped = status(&mut client, &server).await?;
    assert_eq!(stopped.state, ContainerState::ContainerExited as i32);
    assert_ne!(stopped.exit_code, 0);
    assert!(stopped.finished_at >= stopped.started_at);

    remove_sandbox(&mut client, &sandbox_id).await?;
    let remaining = client
        .list_pod_sandbox(ListPodSandboxRequest::default())
        .await?
        .into_inner()
        .items;
    assert!(remaining.is_empty(), "sandboxes left: {remaining:?}");
    let containers = client
        .list_containers(ListContainersRequest::default())
        .await?
        .into_inner()
        .containers;
    assert!(containers.is_empty(), "containers left: {containers:?}");
    assert_eq!(mounts_under(runtime.dir()), Vec::<String>::new());
    if kind == RuntimeKind::Shim {
        let netns = std::path::Path::new("/var/run/netns")
            .join(format!("{}{sandbox_id}", runtime.shim_netns_prefix()));
        assert!(!netns.exists(), "{} left", netns.display());
        let pod_cgroup = format!("{}/pod-{}", runtime.shim_cgroup_parent(), &sandbox_id[..12]);
        assert_eq!(cgroup_dirs(&pod_cgroup), Vec::<std::path::PathBuf>::new());
    }
    assert_eq!(veths_on(runtime.bridge()), "");
    assert_eq!(nat_rules_mentioning(&sandbox_id), Vec::<String>::new());
    assert_eq!(processes_mentioning(&sandbox_id), Vec::<String>::new());
    assert_eq!(processes_mentioning(&server), Vec::<String>::new());
    assert_eq!(processes_mentioning(&fetcher), Vec::<String>::new());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_logs_and_oom() -> anyhow::Result<()> {
    exit_codes_logs_limits_and_oom(RuntimeKind::Shim).await
}

#[tokio::test(flavor = "multi_thread")]
async fn containerd_passes_the_exit_and_limits_suite() -> anyhow::Result<()> {
    exit_codes_logs_limits_and_oom(RuntimeKind::Containerd).await
}

async fn exit_codes_logs_limits_and_oom(kind: RuntimeKind) -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let image = images::push_busybox(&registry)?.reference;
    let runtime = CriRuntime::start(kind, &registry)?;
    pull(&runtime, &[&image]).await?;
    let logs = runtime.dir().join("logs");
    std::fs::create_dir_all(&logs)?;
    let (mut client, _) = clients(&runtime).await?;
    let sandbox = sandbox_config("jobs", Vec::new(), &logs);
    let sandbox_id = run_sandbox(&mut client, sandbox.clone()).await?;

    let failing = start(
        &mut client,
        &sandbox_id,
        &sandbox,
        container_config(
            "failing",
            &image,
            &["sh", "-c", "echo out; echo err >&2; exit 3"],
        ),
    )
    .await?;
    let mut hog = container_config(
        "hog",
        &image,
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
    );
    hog.linux = Some(LinuxContainerConfig {
        resources: Some(LinuxContainerResources {
            memory_limit_in_bytes: 32 * 1024 * 1024,
            cpu_shares: 256,
            ..Default::default()
        }),
        security_context: None,
    });
    let hog = start(&mut client, &sandbox_id, &sandbox, hog).await?;

    let failed = wait_exited(&mut client, &failing).await?;
    assert_eq!(failed.exit_code, 3);
    assert_eq!(failed.reason, "Error");
    assert!(failed.started_at > 0);
    assert!(failed.finished_at > 0);
    // containerd 1.6 stamps the start once its start call returns, which can
    // be after a short-lived process already ended.
    if kind == RuntimeKind::Shim {
        assert!(failed.finished_at >= failed.started_at);
    }
    let log = log_text(&failed.log_path).await;
    let lines: Vec<Vec<&str>> = log
        .lines()
        .map(|line| line.splitn(4, ' ').collect())
        .collect();
    assert!(
        lines
            .iter()
            .any(|fields| fields[1..] == ["stdout", "F", "out"]),
        "log {log:?}"
    );
    assert!(
        lines
            .iter()
            .any(|fields| fields[1..] == ["stderr", "F", "err"]),
        "log {log:?}"
    );

    let oom = wait_exited(&mut client, &hog).await?;
    assert_eq!(oom.reason, "OOMKilled", "status {oom:?}");
    assert_eq!(oom.exit_code, 137);

    let shared = runtime.dir().join("shared");
    std::fs::create_dir_all(&shared)?;
    std::fs::write(shared.join("file"), "from host\n")?;
    let mut sleeper = container_config("sleeper", &image, &["sleep", "300"]);
    sleeper.mounts = vec![Mount {
        container_path: "/mnt/shared".to_string(),
        host_path: shared.display().to_string(),
        readonly: true,
        ..Default::default()
    }];
    sleeper.linux = Some(LinuxContainerConfig {
        resources: None,
        security_context: Some(LinuxContainerSecurityContext {
            readonly_rootfs: true,
            ..Default::default()
        }),
    });
    let sleeper = start(&mut client, &sandbox_id, &sandbox, sleeper).await?;
    let probe = "cat /mnt/shared/file; touch /rootfs-write || echo rootfs-ro; touch /mnt/shared/x || echo mount-ro";
    let probed = client
        .exec_sync(ExecSyncRequest {
            container_id: sleeper.clone(),
            cmd: vec!["sh".into(), "-c".into(), probe.into()],
            timeout: 30,
        })
        .await?
        .into_inner();
    let output = String::from_utf8_lossy(&probed.stdout);
    assert_eq!(
        output.lines().collect::<Vec<_>>(),
        ["from host", "rootfs-ro", "mount-ro"]
    );

    let limit = 48 * 1024 * 1024;
    client
        .update_container_resources(UpdateContainerResourcesRequest {
            container_id: sleeper.clone(),
            linux: Some(LinuxContainerResources {
                memory_limit_in_bytes: limit,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
    // Our shim gives containers a cgroup namespace, so they see their
    // cgroup as `/`; containerd 1.6 on cgroup v1 shows the host path.
    let limit_file = match kind {
        RuntimeKind::Shim => format!(
            "/sys/fs/cgroup/memory{}/pod-{}/{sleeper}/memory.limit_in_bytes",
            runtime.shim_cgroup_parent(),
            &sandbox_id[..12]
        ),
        RuntimeKind::Containerd => memory_cgroup(&mut client, &sleeper).await?,
    };
    let applied = std::fs::read_to_string(&limit_file)?;
    assert_eq!(applied.trim(), limit.to_string());
    let stats = client
        .container_stats(ContainerStatsRequest {
            container_id: sleeper.clone(),
        })
        .await?
        .into_inner()
        .stats
        .context("stats")?;
    let working_set = stats
        .memory
        .and_then(|memory| memory.working_set_bytes)
        .map(|value| value.value);
    assert!(
        working_set.is_some_and(|bytes| bytes > 0),
        "working set {working_set:?}"
    );
    let listed = client
        .list_container_stats(ListContainerStatsRequest::default())
        .await?
        .into_inner()
        .stats;
    assert!(
        listed.iter().any(|stats| stats
            .attributes
            .as_ref()
            .is_some_and(|attributes| attributes.id == sleeper)),
        "no stats for the sleeper: {listed:?}"
    );

    remove_sandbox(&mut client, &sandbox_id).await?;
    assert_eq!(mounts_under(runtime.dir()), Vec::<String>::new());
    assert_eq!(processes_mentioning(&sleeper), Vec::<String>::new());
    Ok(())
}
