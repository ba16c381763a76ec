//! CRI Attach with real runc: stdin, a TTY and its size, stdinOnce, and
//! output that goes to the log while no client is attached. The suite runs
//! against our shim and against containerd as the reference. Needs root.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use k8s_cri::v1::*;
use skiff_e2e::cri::{
    Client, WAIT, clients, remove_sandbox, sandbox_config, start, status, wait_exited,
};
use skiff_e2e::images;
use skiff_e2e::node::{CriRuntime, RuntimeKind};
use skiff_e2e::registry::Registry;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Builds the config of a container with stdin and stdinOnce (and a
/// terminal when `tty` is set) that runs `command`.
fn interactive_config(name: &str, image: &str, command: &[&str], tty: bool) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.to_string(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
        command: command.iter().map(|part| part.to_string()).collect(),
        log_path: format!("{name}/0.log"),
        stdin: true,
        stdin_once: true,
        tty,
        ..Default::default()
    }
}

/// Polls the container's log until it contains `needle`.
async fn wait_log(path: &str, needle: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            bail!("log {path} lacks {needle:?} after {WAIT:?}: {text:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client of one Attach session over `v5.channel.k8s.io`, or
/// `v4.channel.k8s.io` where the server lacks v5 (containerd 1.6).
struct Attached {
    socket: Socket,
    /// Whether v5 was negotiated, which can close stdin alone.
    v5: bool,
    stdout: String,
    stderr: String,
    status: Option<serde_json::Value>,
    closed: bool,
}

impl Attached {
    async fn connect(client: &mut Client, request: AttachRequest) -> anyhow::Result<Self> {
        let url = client.attach(request).await?.into_inner().url;
        let mut request = url.replace("http://", "ws://").into_client_request()?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "v5.channel.k8s.io, v4.channel.k8s.io".parse()?,
        );
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        Ok(Self {
            socket,
            v5: protocol == "v5.channel.k8s.io",
            stdout: String::new(),
            stderr: String::new(),
            status: None,
            closed: false,
        })
    }

    async fn send(&mut self, channel: u8, data: &[u8]) -> anyhow::Result<()> {
        let mut frame = vec![channel];
        frame.extend_from_slice(data);
        self.socket.send(Message::Binary(frame.into())).await?;
        Ok(())
    }

    async fn stdin(&mut self, text: &str) -> anyhow::Result<()> {
        self.send(0, text.as_bytes()).await
    }

    async fn resize(&mut self, width: u16, height: u16) -> anyhow::Result<()> {
        let size = serde_json::json!({"Width": width, "Height": height});
        self.send(4, size.to_string().as_bytes()).await
    }

    /// Reads frames until stdout contains `needle` or the session ends.
    async fn read_until(&mut self, needle: &str) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.stdout.contains(needle) {
            if self.closed {
                bail!(
                    "session ended without {needle:?} on stdout: {:?}; stderr {:?}, status {:?}",
                    self.stdout,
                    self.stderr,
                    self.status
                );
            }
            let Ok(message) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                bail!("no {needle:?} on stdout after {WAIT:?}: {:?}", self.stdout);
            };
            self.take(message)?;
        }
        Ok(())
    }

    /// Reads frames until the server closes the session.
    async fn read_to_end(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.closed {
            let Ok(message) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                bail!(
                    "session still open after {WAIT:?}; stdout {:?}",
                    self.stdout
                );
            };
            self.take(message)?;
        }
        Ok(())
    }

    fn take(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> anyhow::Result<()> {
        let data = match message {
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Close(_))) | None => {
                self.closed = true;
                return Ok(());
            }
            Some(Ok(_)) => return Ok(()),
            Some(Err(error)) => return Err(error.into()),
        };
        let Some((&channel, payload)) = data.split_first() else {
            return Ok(());
        };
        match channel {
            1 => self.stdout.push_str(&String::from_utf8_lossy(payload)),
            2 => self.stderr.push_str(&String::from_utf8_lossy(payload)),
            3 if !payload.is_empty() => self.status = Some(serde_json::from_slice(payload)?),
            _ => {}
        }
        Ok(())
    }

    /// Returns the `status` field of the final Status on the error channel.
    /// Attach reports Success whatever the exit code, as the kubelet does.
    fn status_name(&self) -> anyhow::Result<String> {
        let status = self
            .status
            .as_ref()
            .context("no status on the error channel")?;
        let name = status["status"]
            .as_str()
            .with_context(|| format!("status without a status field: {status}"))?;
        Ok(name.to_string())
    }
}

fn attach_request(id: &str, tty: bool) -> AttachRequest {
    AttachRequest {
        container_id: id.to_string(),
        stdin: true,
        tty,
        stdout: true,
        stderr: !tty,
    }
}

/// Connects a client once the runtime serves CRI calls: containerd opens
/// its socket before its CRI service finished starting.
async fn serving_client(runtime: &CriRuntime) -> anyhow::Result<Client> {
    let deadline = Instant::now() + WAIT;
    loop {
        let (mut client, _) = clients(runtime).await?;
        let ready = client.status(StatusRequest::default()).await;
        match ready {
            Ok(_) => return Ok(client),
            Err(error) if Instant::now() > deadline => {
                bail!("the runtime did not serve CRI calls within {WAIT:?}: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shim_attach_stdin_tty_resize() -> anyhow::Result<()> {
    attach_stdin_tty_and_resize(RuntimeKind::Shim).await
}

#[tokio::test(flavor = "multi_thread")]
async fn containerd_passes_the_attach_suite() -> anyhow::Result<()> {
    attach_stdin_tty_and_resize(RuntimeKind::Containerd).await
}

async fn attach_stdin_tty_and_resize(kind: RuntimeKind) -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let busybox = images::push_busybox(&registry)?.reference;
    let mut runtime = CriRuntime::start(kind, &registry)?;
    let logs = runtime.dir().join("logs");
    std::fs::create_dir_all(&logs)?;
    let (mut client, mut image_client) = clients(&runtime).await?;
    image_client
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: busybox.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
    let token = hex::encode(rand::random::<[u8; 4]>());

    let sandbox = sandbox_config("attach", Vec::new(), &logs);
    let sandbox_id = client
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(sandbox.clone()),
            runtime_handler: String::new(),
        })
        .await?
        .into_inner()
        .pod_sandbox_id;

    // A shell on a terminal: its prompt, printed before anyone attached,
    // reaches only the log.
    let shell_config = interactive_config("shell", &busybox, &["sh"], true);
    let shell = start(&mut client, &sandbox_id, &sandbox, shell_config).await?;
    let shell_log = status(&mut client, &shell).await?.log_path;
    wait_log(&shell_log, "built-in shell").await?;

    // The container's stdio outlives the runtime's server process (in our
    // shim, the monitor owns it), so attaching works after a restart.
    runtime.restart()?;
    let mut client = serving_client(&runtime).await?;
    let mut session = Attached::connect(&mut client, attach_request(&shell, true)).await?;
    // A second client that never writes. It requests stdin because
    // containerd 1.6 ends a TTY attach without stdin at once.
    let mut watcher = Attached::connect(&mut client, attach_request(&shell, true)).await?;
    session.resize(100, 30).await?;
    session.stdin("stty size\n").await?;
    session.read_until("30 100").await?;
    session.resize(120, 40).await?;
    session.stdin("stty size\n").await?;
    session.read_until("40 120").await?;
    // The quotes keep the terminal's echo of the command line from
    // matching the output.
    session
        .stdin(&format!("echo hi-\"{token}\"; exit 3\n"))
        .await?;
    session.read_until(&format!("hi-{token}")).await?;
    session.read_to_end().await?;
    assert_eq!(session.status_name()?, "Success");
    assert_eq!(session.stderr, "");
    // The second client got the same output.
    watcher.read_until(&format!("hi-{token}")).await?;
    watcher.read_to_end().await?;
    assert_eq!(watcher.status_name()?, "Success");
    let exited = wait_exited(&mut client, &shell).await?;
    assert_eq!(exited.exit_code, 3);
    let log = wait_log(&shell_log, &format!("hi-{token}")).await?;
    assert!(log.contains(" stdout "), "tty log {log:?}");

    // Without a TTY: a line through stdin, then stdinOnce closes stdin when
    // the client's stdin ends, so the second read gets end of file.
    let script = "echo before; read x; echo got $x; read y || echo stdin-closed";
    let reader_config = interactive_config("reader", &busybox, &["sh", "-c", script], false);
    let reader = start(&mut client, &sandbox_id, &sandbox, reader_config).await?;
    let reader_log = status(&mut client, &reader).await?.log_path;
    wait_log(&reader_log, "before").await?;
    let mut session = Attached::connect(&mut client, attach_request(&reader, false)).await?;
    session.stdin(&format!("line-{token}\n")).await?;
    session.read_until(&format!("got line-{token}")).await?;
    if session.v5 {
        session.send(255, &[0]).await?;
        session.read_until("stdin-closed").await?;
        session.read_to_end().await?;
        assert_eq!(session.status_name()?, "Success");
    } else {
        // v4 cannot close stdin alone, so the client leaves instead.
        session.socket.close(None).await?;
    }
    assert!(!session.stdout.contains("before"), "{:?}", session.stdout);
    let exited = wait_exited(&mut client, &reader).await?;
    assert_eq!(exited.exit_code, 0);
    let log = wait_log(&reader_log, "stdin-closed").await?;
    assert!(
        log.contains(&format!("stdout F got line-{token}")),
        "{log:?}"
    );

    // Attach to a container that exited is rejected.
    let refused = client.attach(attach_request(&reader, false)).await;
    assert!(
        refused.is_err(),
        "attach to an exited container: {refused:?}"
    );

    remove_sandbox(&mut client, &sandbox_id).await?;
    let containers = client
        .list_containers(ListContainersRequest::default())
        .await?
        .into_inner()
        .containers;
    assert!(containers.is_empty(), "containers left: {containers:?}");
    Ok(())
}
