//! SPDY/3.1 streaming end to end on one `skiff server`: exec and attach
//! with kubectl 1.27 and 1.29 (plain SPDY), and port-forward with kubectl
//! 1.27 (plain SPDY) and 1.33 (SPDY tunnelled in WebSocket) to a busybox
//! httpd pod.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use skiff_e2e::cluster::Cluster;
use skiff_e2e::images;
use skiff_e2e::kubectl::Kubectl;
use skiff_e2e::process::free_port;
use skiff_e2e::registry::Registry;

/// The page the pod serves.
const PAGE: &str = "served-through-port-forward";

fn pod_manifest(image: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
    - name: httpd
      image: {image}
      command: ["/bin/sh", "-c"]
      args:
        - |
          mkdir -p /www && echo {PAGE} > /www/index.html
          (while true; do echo tick; sleep 1; done) &
          exec httpd -f -p 80 -h /www
"#
    )
}

/// Sends `GET /index.html` to 127.0.0.1:`port` and returns the body.
fn http_get(port: u16) -> anyhow::Result<String> {
    let address = format!("127.0.0.1:{port}").parse()?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("HTTP response without a header end")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET /index.html through port {port}: {head}");
    }
    Ok(body.to_string())
}

/// Runs `kubectl port-forward` to pod port 80 and fetches the page through
/// it twice, so the second request opens a second stream pair.
fn fetch_through_port_forward(kubectl: &Kubectl) -> anyhow::Result<(String, String)> {
    let local_port = free_port();
    let mapping = format!("{local_port}:80");
    let mut child = kubectl.spawn(&[
        "port-forward",
        "--address",
        "127.0.0.1",
        "pod/web",
        &mapping,
    ])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        match http_get(local_port) {
            Ok(first) => break http_get(local_port).map(|second| (first, second)),
            Err(error) if Instant::now() > deadline => break Err(error),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    let _ = child.kill();
    let output = child.wait_with_output()?;
    result.with_context(|| {
        format!(
            "port-forward failed; kubectl stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Forwards to a pod port with no listener, sends one request through
/// it and returns kubectl's stderr.
fn port_forward_to_closed_port(kubectl: &Kubectl) -> anyhow::Result<String> {
    let local_port = free_port();
    let mapping = format!("{local_port}:81");
    let mut child = kubectl.spawn(&[
        "port-forward",
        "--address",
        "127.0.0.1",
        "pod/web",
        &mapping,
    ])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let address = format!("127.0.0.1:{local_port}").parse()?;
    while Instant::now() < deadline {
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(5)) else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let _ = write!(stream, "GET / HTTP/1.0\r\n\r\n");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        break;
    }
    // kubectl reports the error after closing the local connection and
    // then exits with "lost connection to pod".
    let exit_deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait()?.is_none() && Instant::now() < exit_deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let output = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&output.stderr).to_string())
}

/// Runs `kubectl attach` and returns the first line the container prints.
fn first_attached_line(kubectl: &Kubectl) -> anyhow::Result<String> {
    let mut child = kubectl.spawn(&["attach", "web"])?;
    let stdout = child.stdout.take().context("kubectl stdout is piped")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let output = child.wait_with_output()?;
    line.with_context(|| {
        format!(
            "attach printed nothing; kubectl stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Runs `kubectl exec -it` under script(1), which provides the terminal,
/// and returns its output and exit code.
fn exec_with_tty(kubectl: &Kubectl, version: &str) -> anyhow::Result<(String, Option<i32>)> {
    let command = format!(
        "/usr/lib/google-cloud-sdk/bin/kubectl.{version} --kubeconfig {} exec -it web -- sh",
        kubectl.dir().join("kubeconfig").display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"echo tty-$((1+2)); exit 5\n")?;
        // Keeping stdin open until the shell exits stops script(1) from
        // ending the session before the command ran.
        std::thread::sleep(Duration::from_secs(3));
    }
    let output = child.wait_with_output()?;
    Ok((
        String::from_utf8_lossy(&output.stdout).to_string(),
        output.status.code(),
    ))
}

#[test]
fn kubectl_spdy_exec_and_port_forward() -> anyhow::Result<()> {
    let registry = Registry::start()?;
    let image = images::push_busybox(&registry)?;
    let cluster = Cluster::start()?;
    let new = cluster.kubectl("1.33")?;
    let old = cluster.kubectl("1.27")?;
    let manifest = new.dir().join("pod.yaml");
    std::fs::write(&manifest, pod_manifest(&image.reference))?;
    let manifest = manifest.to_str().context("manifest path is UTF-8")?;
    new.run(&["apply", "-f", manifest])?.ok()?;
    new.run(&["wait", "--for=condition=Ready", "pod/web", "--timeout=180s"])
        .and_then(|output| output.ok())
        .with_context(|| format!("the pod did not get ready; server log:\n{}", cluster.log()))?;

    let exec = old.run(&[
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ])?;
    assert_eq!(exec.code, 3, "{exec:?}");
    assert_eq!(exec.stdout, "out\n", "{exec:?}");
    assert!(exec.stderr.starts_with("err\n"), "{exec:?}");
    assert!(
        exec.stderr.contains("command terminated with exit code 3"),
        "{exec:?}"
    );

    // kubectl 1.29 offers v5.channel.k8s.io first, which SPDY does not
    // serve, so the negotiation settles on v4.
    let offered_v5 = cluster
        .kubectl("1.29")?
        .run(&["exec", "web", "--", "sh", "-c", "exit 7"])?;
    assert_eq!(offered_v5.code, 7, "{offered_v5:?}");

    let stdin = old.run_with(
        &["exec", "-i", "web", "--", "cat"],
        &[],
        Some("from-stdin\n"),
    )?;
    assert_eq!(stdin.code, 0, "{stdin:?}");
    assert_eq!(stdin.stdout, "from-stdin\n", "{stdin:?}");

    // More than the 64 KiB SPDY window each way, so window updates flow.
    let input = "x".repeat(200_000);
    let counted = old.run_with(&["exec", "-i", "web", "--", "wc", "-c"], &[], Some(&input))?;
    assert_eq!(counted.stdout.trim(), "200000", "{counted:?}");
    let large = old.run(&["exec", "web", "--", "head", "-c", "300000", "/dev/zero"])?;
    assert_eq!(large.code, 0, "{}", large.stderr);
    assert_eq!(large.stdout.len(), 300_000);

    let (tty_output, tty_code) = exec_with_tty(&old, "1.27")?;
    assert!(tty_output.contains("tty-3"), "{tty_output}");
    assert_eq!(tty_code, Some(5), "{tty_output}");

    let line = first_attached_line(&old)?;
    assert_eq!(line, "tick\n");

    // kubectl 1.33 would fall back to plain SPDY if the WebSocket tunnel
    // failed, so the server log shows which way it went.
    let (first, second) = fetch_through_port_forward(&new)
        .with_context(|| format!("server log:\n{}", cluster.log()))?;
    assert_eq!(first.trim(), PAGE);
    assert_eq!(second.trim(), PAGE);
    assert!(
        cluster.log().contains("port-forward tunnel opened"),
        "kubectl 1.33 did not use the WebSocket tunnel"
    );

    let (first, second) = fetch_through_port_forward(&old)
        .with_context(|| format!("server log:\n{}", cluster.log()))?;
    assert_eq!(first.trim(), PAGE);
    assert_eq!(second.trim(), PAGE);

    let stderr = port_forward_to_closed_port(&old)?;
    assert!(
        stderr.contains("error forwarding port 81 to pod"),
        "{stderr}"
    );
    assert!(stderr.contains("connection refused"), "{stderr}");
    Ok(())
}
