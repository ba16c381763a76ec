//! Streams through the kubelet with real kubectl: `logs -f` follows a
//! container to its end, `exec -it` drives a shell through a pseudo-terminal,
//! and deletion runs preStop and stops containers within the grace period.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use skiff_e2e::node::{TestNode, container_state};

fn pod(node: &TestNode, name: &str, grace: u32, extra: &str, script: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  restartPolicy: Never
  terminationGracePeriodSeconds: {grace}
  containers:
  - name: main
    image: {image}
    command: [sh, -c, '{script}']
{extra}",
        node = node.node_name(),
        image = node.busybox,
    )
}

async fn wait_running(node: &TestNode, name: &str) -> Result<()> {
    node.wait_pod(name, "the pod to run", Duration::from_secs(120), |p| {
        container_state(p, "main").as_deref() == Some("running")
    })
    .await?;
    Ok(())
}

/// Runs `kubectl exec -it` under `script`, which gives it a pseudo-terminal.
/// Types each step's input once the previous step's expected output appeared,
/// then returns the exit code and the whole terminal output.
fn exec_in_terminal(node: &TestNode, pod: &str, steps: &[(&str, &str)]) -> Result<(i32, String)> {
    let line = node.kubectl.shell_line(&["exec", "-it", pod, "--", "sh"]);
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("failed to start script")?;
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().context("script has no stdout")?;
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stdout.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                if let Ok(mut screen) = screen.lock() {
                    screen.push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            }
        })
    };
    let mut stdin = child.stdin.take().context("script has no stdin")?;
    for (typed, expected) in steps {
        stdin.write_all(typed.as_bytes())?;
        stdin.flush()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !screen.lock().map(|s| s.contains(expected)).unwrap_or(false) {
            if Instant::now() > deadline {
                let _ = child.kill();
                let output = screen.lock().map(|s| s.clone()).unwrap_or_default();
                bail!("the terminal never showed {expected:?}; it showed:\n{output}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    stdin.write_all(b"exit 4\r")?;
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("kubectl exec -it did not end after `exit`");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = reader.join();
    let shown = screen.lock().map(|s| s.clone()).unwrap_or_default();
    Ok((status.code().unwrap_or(-1), shown))
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_exec_tty_and_graceful_delete() -> Result<()> {
    let node = TestNode::start("1.33").await?;

    // logs -f prints lines as they come and ends with the container.
    node.apply(&pod(
        &node,
        "talker",
        5,
        "",
        "i=0; while [ $i -lt 5 ]; do echo line-$i; i=$((i+1)); sleep 1; done",
    ))?;
    wait_running(&node, "talker").await?;
    let follow = node.kubectl.spawn(&["logs", "-f", "talker"])?;
    let output = tokio::task::spawn_blocking(move || follow.wait_with_output()).await??;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["line-0", "line-1", "line-2", "line-3", "line-4"]
    );

    // exec -it: a shell on a terminal, its output and its exit code.
    node.apply(&pod(&node, "shell", 5, "", "sleep 3600"))?;
    wait_running(&node, "shell").await?;
    let (code, shown) = tokio::task::block_in_place(|| {
        exec_in_terminal(
            &node,
            "shell",
            &[("echo $((6*7))\r", "42"), ("tty\r", "/dev/pts/")],
        )
    })?;
    assert_eq!(code, 4, "{shown}");

    // Deletion: preStop first, then SIGTERM, all within the grace period.
    let record = tempfile::Builder::new().prefix("skiff-grace-").tempdir()?;
    let hook = format!(
        "    lifecycle:
      preStop:
        exec: {{command: [sh, -c, 'echo prestop >> /record/log']}}
    volumeMounts:
    - {{name: record, mountPath: /record}}
    - {{name: scratch, mountPath: /scratch}}
  volumes:
  - name: record
    hostPath: {{path: {}, type: Directory}}
  - name: scratch
    emptyDir: {{medium: Memory}}
",
        record.path().display()
    );
    node.apply(&pod(
        &node,
        "graceful",
        30,
        &hook,
        "trap \"echo term >> /record/log; exit 0\" TERM; while true; do sleep 1; done",
    ))?;
    let uid = node
        .wait_pod(
            "graceful",
            "the pod to run",
            Duration::from_secs(120),
            |p| container_state(p, "main").as_deref() == Some("running"),
        )
        .await?
        .metadata
        .uid
        .context("a stored pod has a uid")?;
    let pod_dir = node.kubelet.root_dir.join("pods").join(uid);
    assert!(pod_dir.exists(), "{} is missing", pod_dir.display());
    let started = Instant::now();
    node.kubectl
        .run(&["delete", "pod", "graceful", "--timeout=90s"])?
        .ok()?;
    let log = std::fs::read_to_string(record.path().join("log"))?;
    assert_eq!(log, "prestop\nterm\n");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "deletion took the whole grace period: {:?}",
        started.elapsed()
    );

    // A container that ignores SIGTERM is killed when the grace period ends.
    node.apply(&pod(
        &node,
        "stubborn",
        2,
        "",
        "trap \"\" TERM; while true; do sleep 1; done",
    ))?;
    wait_running(&node, "stubborn").await?;
    node.kubectl
        .run(&["delete", "pod", "stubborn", "--timeout=90s"])?
        .ok()?;
    // The apiserver removes a pod only once the kubelet stopped it, so its
    // volume directory is gone by now.
    assert!(!pod_dir.exists(), "{} is left", pod_dir.display());
    Ok(())
}
