//! A kubelet restart adopts running containers without starting them again
//! and cleans up a pod deleted while it was down; exec and logs work with
//! kubectl 1.27 (SPDY) and with a pseudo-terminal.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use skiff_e2e::kubectl::Kubectl;
use skiff_e2e::node::TestNode;

fn pod(name: &str, node: &str, image: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: {image}
    command: [sh, -c, "echo up; exec sleep 100000"]
"#
    )
}

fn container_id(p: &Pod) -> Option<String> {
    let s = p.status.as_ref()?.container_statuses.as_ref()?.first()?;
    s.state.as_ref()?.running.as_ref()?;
    s.container_id.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_adopts_and_cleans_up() -> Result<()> {
    let mut node = TestNode::start("1.33").await?;
    let n = node.node_name().to_string();
    node.apply(&pod("keep", &n, &node.busybox))?;
    node.apply(&pod("gone", &n, &node.busybox))?;
    let long = Duration::from_secs(120);
    let keep = node
        .wait_pod("keep", "keep running", long, |p| container_id(p).is_some())
        .await?;
    let gone = node
        .wait_pod("gone", "gone running", long, |p| container_id(p).is_some())
        .await?;
    let before = container_id(&keep);

    node.kubelet.stop();
    let out = node
        .kubectl
        .run(&["delete", "pod", "gone", "--wait=false"])?;
    assert_eq!(out.code, 0, "{out:?}");
    node.kubelet.restart()?;

    let gone_dir = node
        .kubelet
        .root_dir
        .join("pods")
        .join(gone.metadata.uid.clone().unwrap_or_default());
    node.wait("the deleted pod to be cleaned up", long, || async {
        let pods: kube::Api<Pod> = kube::Api::namespaced(node.client.clone(), "default");
        let absent = pods.get_opt("gone").await.ok()?.is_none();
        (absent && !gone_dir.exists()).then_some(())
    })
    .await?;
    // Several syncs later the running container is still the same one.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = node
        .wait_pod("keep", "keep running", long, |p| container_id(p).is_some())
        .await?;
    assert_eq!(container_id(&after), before);
    let restarts = after
        .status
        .and_then(|s| s.container_statuses)
        .map_or(-1, |c| c[0].restart_count);
    assert_eq!(restarts, 0);
    let logs = node.kubectl.run(&["logs", "keep"])?.ok()?;
    assert_eq!(logs, "up\n", "the container ran once");

    let old = Kubectl::new("1.27", &node.api.url())?;
    // kubectl 1.27 execs over SPDY/3.1.
    let out = old.run(&["exec", "keep", "--", "sh", "-c", "echo old; exit 4"])?;
    assert_eq!((out.code, out.stdout.as_str()), (4, "old\n"), "{out:?}");
    assert_eq!(old.run(&["logs", "keep", "--tail=1"])?.ok()?, "up\n");

    // exec -it through a pseudo-terminal made by script(1).
    let kubectl = format!(
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig {} exec -it keep -- sh",
        node.kubectl.dir().join("kubeconfig").display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &kubectl, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(b"echo tty-$((1+2))\nexit 5\n")?;
        std::thread::sleep(Duration::from_secs(3));
    }
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("tty-3"), "{stdout}");
    assert_eq!(output.status.code(), Some(5), "{stdout}");
    Ok(())
}
