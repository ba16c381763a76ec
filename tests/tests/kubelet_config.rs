//! A pod with an init container, env from a ConfigMap and a Secret, a
//! configMap volume, an emptyDir shared by two containers and probes; the
//! values are checked from inside with `kubectl exec`, and logs and a
//! ConfigMap update are checked too.

use std::time::Duration;

use anyhow::Result;
use skiff_e2e::node::TestNode;

fn manifest(node: &str, image: &str, greeting: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg}}
data: {{greeting: {greeting}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: sec}}
stringData: {{password: s3cret}}
---
apiVersion: v1
kind: Pod
metadata: {{name: app}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: init
    image: {image}
    command: [sh, -c, "echo initialized > /shared/init.txt"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  containers:
  - name: main
    image: {image}
    command: [sh, -c, "echo started $(POD_NAME); while true; do sleep 1; done"]
    env:
    - {{name: GREETING, valueFrom: {{configMapKeyRef: {{name: cfg, key: greeting}}}}}}
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: sec, key: password}}}}}}
    - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: COMBINED, value: "$(GREETING)-$(POD_NAME)"}}
    envFrom: [{{prefix: SEC_, secretRef: {{name: sec}}}}]
    volumeMounts:
    - {{name: config, mountPath: /config}}
    - {{name: shared, mountPath: /shared}}
    readinessProbe: {{exec: {{command: [cat, /shared/sidecar.txt]}}, periodSeconds: 1}}
    livenessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 2}}
  - name: sidecar
    image: {image}
    command: [sh, -c, "echo from-sidecar > /shared/sidecar.txt; exec sleep 100000"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  volumes:
  - {{name: config, configMap: {{name: cfg}}}}
  - {{name: shared, emptyDir: {{}}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn config_env_volumes_probes_exec_and_logs() -> Result<()> {
    let node = TestNode::start("1.33").await?;
    node.apply(&manifest(node.node_name(), &node.busybox, "hello"))?;
    node.wait_pod(
        "app",
        "pod app to be Ready",
        Duration::from_secs(120),
        |p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        },
    )
    .await?;

    let script = "echo $GREETING $PASSWORD $COMBINED $SEC_password; cat /config/greeting; echo; cat /shared/init.txt /shared/sidecar.txt";
    let out = node
        .kubectl
        .run(&["exec", "app", "-c", "main", "--", "sh", "-c", script])?
        .ok()?;
    assert_eq!(
        out,
        "hello s3cret hello-app s3cret\nhello\ninitialized\nfrom-sidecar\n"
    );

    let failed = node
        .kubectl
        .run(&["exec", "app", "-c", "main", "--", "sh", "-c", "exit 3"])?;
    assert_eq!(failed.code, 3, "{failed:?}");

    let logs = node.kubectl.run(&["logs", "app", "-c", "main"])?.ok()?;
    assert_eq!(logs, "started app\n");
    let tail = node
        .kubectl
        .run(&["logs", "app", "-c", "main", "--tail=1", "--timestamps"])?
        .ok()?;
    assert!(
        tail.ends_with(" started app\n") && tail.contains('T'),
        "{tail}"
    );

    node.apply(&manifest(node.node_name(), &node.busybox, "updated"))?;
    node.wait(
        "the mounted ConfigMap to update",
        Duration::from_secs(60),
        || async {
            let out = node
                .kubectl
                .run(&["exec", "app", "-c", "main", "--", "cat", "/config/greeting"])
                .ok()?;
            (out.stdout == "updated").then_some(())
        },
    )
    .await?;
    Ok(())
}
