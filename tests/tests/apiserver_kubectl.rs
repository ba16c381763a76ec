//! Real kubectl 1.33 and 1.27 against `skiff apiserver`.

use std::time::{Duration, Instant};

use skiff_e2e::apiserver::ApiServer;
use skiff_e2e::kubectl::Kubectl;

const MANIFEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: nginx:1
        env: [{name: MODE, value: one}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: conf}}
data: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: hunter2}
";

fn jsonpath(kubectl: &Kubectl, target: &[&str], path: &str) -> String {
    let template = format!("jsonpath={path}");
    let mut args = vec!["get"];
    args.extend_from_slice(target);
    args.extend_from_slice(&["-o", &template]);
    kubectl
        .run(&args)
        .and_then(|o| o.ok())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run_ok(kubectl: &Kubectl, args: &[&str]) -> String {
    kubectl
        .run(args)
        .and_then(|o| o.ok())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Applies the manifest twice, the second time with an edited image.
fn apply_and_reapply(kubectl: &Kubectl) {
    let file = kubectl.dir().join("app.yaml");
    std::fs::write(&file, MANIFEST).expect("manifest is written");
    let path = file.to_str().expect("utf-8 path");
    let out = run_ok(kubectl, &["apply", "-f", path]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("configmap/cfg created"), "{out}");
    assert!(out.contains("secret/sec created"), "{out}");
    assert_eq!(
        jsonpath(kubectl, &["secret", "sec"], "{.data.password}"),
        "aHVudGVyMg=="
    );
    assert_eq!(
        jsonpath(kubectl, &["deploy", "web"], "{.metadata.generation}"),
        "1"
    );

    std::fs::write(&file, MANIFEST.replace("nginx:1", "nginx:2")).expect("manifest is written");
    let out = run_ok(kubectl, &["apply", "-f", path]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("configmap/cfg unchanged"), "{out}");
    let web = ["deploy", "web"];
    assert_eq!(
        jsonpath(kubectl, &web, "{.spec.template.spec.containers[0].image}"),
        "nginx:2"
    );
    assert_eq!(
        jsonpath(
            kubectl,
            &web,
            "{.spec.template.spec.containers[0].env[0].value}"
        ),
        "one"
    );
    assert_eq!(jsonpath(kubectl, &web, "{.metadata.generation}"), "2");
}

fn check_gets(kubectl: &Kubectl) {
    let out = run_ok(kubectl, &["get", "deploy"]);
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("web"), "{out}");
    let out = run_ok(kubectl, &["get", "deploy", "-o", "wide"]);
    assert!(out.contains("web"), "{out}");
    let out = run_ok(kubectl, &["get", "cm", "cfg", "-o", "yaml"]);
    assert!(out.contains("kind: ConfigMap"), "{out}");
    assert!(out.contains("k: v"), "{out}");
    let out = run_ok(kubectl, &["get", "deploy", "web", "-o", "json"]);
    let value: serde_json::Value = serde_json::from_str(&out).expect("-o json is JSON");
    assert_eq!(value["spec"]["replicas"], 2);
    assert!(
        value["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let out = run_ok(kubectl, &["get", "cm", "-l", "tier=conf", "-o", "name"]);
    assert_eq!(out.trim(), "configmap/cfg");
    let out = run_ok(kubectl, &["get", "cm", "-l", "tier!=conf", "-o", "name"]);
    assert!(!out.contains("configmap/cfg"), "{out}");
    let out = run_ok(
        kubectl,
        &[
            "get",
            "cm",
            "--field-selector",
            "metadata.name=cfg",
            "-o",
            "name",
        ],
    );
    assert_eq!(out.trim(), "configmap/cfg");
    let out = run_ok(kubectl, &["get", "sa", "-A"]);
    for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(out.contains(namespace), "{out}");
    }
    let out = run_ok(kubectl, &["get", "cm", "cfg", "--show-labels"]);
    assert!(out.contains("tier=conf"), "{out}");
    let out = run_ok(
        kubectl,
        &["get", "ns", "--sort-by=.metadata.name", "-o", "name"],
    );
    let names: Vec<&str> = out.lines().collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let out = run_ok(kubectl, &["api-resources"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("deployments") && l.contains("deploy")),
        "{out}"
    );
}

/// Returns the words of the first line of a table.
fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

/// Checks kubectl's own columns for the server-side Tables.
fn check_columns(kubectl: &Kubectl) {
    let out = run_ok(kubectl, &["get", "deploy"]);
    assert_eq!(
        header(&out),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
    let out = run_ok(kubectl, &["get", "deploy", "-o", "wide"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{out}"
    );
    let out = run_ok(kubectl, &["get", "cm"]);
    assert_eq!(header(&out), ["NAME", "DATA", "AGE"], "{out}");
    let out = run_ok(kubectl, &["get", "secret"]);
    assert_eq!(header(&out), ["NAME", "TYPE", "DATA", "AGE"], "{out}");
    run_ok(
        kubectl,
        &["run", "cols", "--image=img:1", "--restart=Never"],
    );
    assert_eq!(
        jsonpath(kubectl, &["pod", "cols"], "{.status.qosClass}"),
        "BestEffort"
    );
    let out = run_ok(kubectl, &["get", "pods", "cols"]);
    assert_eq!(
        header(&out),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert!(
        out.lines().nth(1).is_some_and(|row| row
            .split_whitespace()
            .take(4)
            .eq(["cols", "0/1", "Pending", "0"])),
        "{out}"
    );
    let out = run_ok(kubectl, &["get", "pods", "cols", "-o", "wide"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ],
        "{out}"
    );
    run_ok(kubectl, &["delete", "pod", "cols", "--wait=false"]);
    let out = run_ok(kubectl, &["get", "ns"]);
    assert_eq!(header(&out), ["NAME", "STATUS", "AGE"], "{out}");
    assert!(
        out.lines()
            .any(|row| row.split_whitespace().take(2).eq(["default", "Active"])),
        "{out}"
    );
}

/// Checks `kubectl explain`, which reads the OpenAPI documents.
fn check_explain(kubectl: &Kubectl) {
    let out = run_ok(kubectl, &["explain", "deployment.spec.replicas"]);
    assert!(out.contains("KIND:       Deployment"), "{out}");
    assert!(out.contains("FIELD: replicas <integer>"), "{out}");
    assert!(out.contains("Number of desired pods"), "{out}");
    let out = run_ok(kubectl, &["explain", "pods.spec.containers"]);
    assert!(out.contains("FIELDS:"), "{out}");
    assert!(
        out.lines()
            .any(|line| line.trim_start().starts_with("image\t")),
        "{out}"
    );
    let out = run_ok(kubectl, &["explain", "deployment.spec.strategy"]);
    assert!(out.contains("rollingUpdate"), "{out}");
    let missing = kubectl
        .run(&["explain", "deployment.spec.nonsense"])
        .expect("kubectl runs");
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("nonsense"),
        "stderr: {}",
        missing.stderr
    );
}

fn check_writes(kubectl: &Kubectl) {
    let out = run_ok(
        kubectl,
        &[
            "create",
            "configmap",
            "lit",
            "--from-literal=a=1",
            "--from-literal=b=2",
        ],
    );
    assert!(out.contains("configmap/lit created"), "{out}");
    assert_eq!(jsonpath(kubectl, &["cm", "lit"], "{.data.b}"), "2");
    let out = run_ok(
        kubectl,
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=user=admin",
        ],
    );
    assert!(out.contains("secret/creds created"), "{out}");
    assert_eq!(
        jsonpath(kubectl, &["secret", "creds"], "{.data.user}"),
        "YWRtaW4="
    );
    let out = kubectl
        .run(&["create", "configmap", "lit"])
        .expect("kubectl runs");
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);

    run_ok(kubectl, &["label", "cm", "lit", "color=blue"]);
    run_ok(kubectl, &["annotate", "cm", "lit", "note=hello"]);
    assert_eq!(
        jsonpath(kubectl, &["cm", "lit"], "{.metadata.labels.color}"),
        "blue"
    );
    assert_eq!(
        jsonpath(kubectl, &["cm", "lit"], "{.metadata.annotations.note}"),
        "hello"
    );

    run_ok(
        kubectl,
        &[
            "patch",
            "cm",
            "lit",
            "--type=merge",
            "-p",
            r#"{"data":{"c":"3"}}"#,
        ],
    );
    run_ok(
        kubectl,
        &[
            "patch",
            "cm",
            "lit",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/data/a"}]"#,
        ],
    );
    run_ok(
        kubectl,
        &[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:3"}]}}}}"#,
        ],
    );
    assert_eq!(
        jsonpath(kubectl, &["cm", "lit"], "{.data}"),
        r#"{"b":"2","c":"3"}"#
    );
    let web = ["deploy", "web"];
    assert_eq!(
        jsonpath(kubectl, &web, "{.spec.template.spec.containers[0].image}"),
        "nginx:3"
    );
    assert_eq!(
        jsonpath(
            kubectl,
            &web,
            "{.spec.template.spec.containers[0].env[0].name}"
        ),
        "MODE"
    );

    let out = run_ok(kubectl, &["scale", "deploy", "web", "--replicas=4"]);
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    assert_eq!(jsonpath(kubectl, &web, "{.spec.replicas}"), "4");

    let editor = kubectl.dir().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/c: \"3\"/c: \"edited\"/' \"$1\"\n",
    )
    .expect("editor is written");
    let status = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status();
    assert!(status.is_ok_and(|s| s.success()));
    let editor = editor.to_str().expect("utf-8 path");
    let out = kubectl
        .run_with(
            &["edit", "cm", "lit"],
            &[("KUBE_EDITOR", editor), ("EDITOR", editor)],
            None,
        )
        .and_then(|o| o.ok())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("configmap/lit edited"), "{out}");
    assert_eq!(jsonpath(kubectl, &["cm", "lit"], "{.data.c}"), "edited");

    let out = run_ok(kubectl, &["describe", "deploy", "web"]);
    assert!(out.contains("Name:"), "{out}");
    assert!(out.contains("web"), "{out}");
    assert!(out.contains("nginx:3"), "{out}");
}

fn check_server_side_apply(kubectl: &Kubectl) {
    let file = kubectl.dir().join("ssa.yaml");
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {owner: first}\n";
    std::fs::write(&file, manifest).expect("manifest is written");
    let path = file.to_str().expect("utf-8 path");
    let out = run_ok(kubectl, &["apply", "--server-side", "-f", path]);
    assert!(out.contains("configmap/ssa serverside-applied"), "{out}");
    std::fs::write(&file, manifest.replace("first", "second")).expect("manifest is written");
    let out = kubectl
        .run(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            path,
        ])
        .expect("kubectl runs");
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("conflict"), "{}", out.stderr);
    assert!(out.stderr.contains(".data.owner"), "{}", out.stderr);
    assert_eq!(jsonpath(kubectl, &["cm", "ssa"], "{.data.owner}"), "first");
    run_ok(
        kubectl,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            path,
        ],
    );
    assert_eq!(jsonpath(kubectl, &["cm", "ssa"], "{.data.owner}"), "second");

    // A write through the scale subresource owns .spec.replicas under its
    // own managedFields entry, which a later apply names in its conflict.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ssa}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: ssa}}\n  template:\n    metadata: {labels: {app: ssa}}\n    spec: {containers: [{name: c, image: img:1}]}\n";
    std::fs::write(&file, deployment).expect("manifest is written");
    run_ok(kubectl, &["apply", "--server-side", "-f", path]);
    run_ok(kubectl, &["scale", "deploy/ssa", "--replicas=4"]);
    let managers = jsonpath(
        kubectl,
        &["deploy", "ssa"],
        "{range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource};{end}",
    );
    assert!(managers.contains("/Update/scale;"), "{managers}");
    std::fs::write(&file, deployment.replace("replicas: 1", "replicas: 2"))
        .expect("manifest is written");
    let out = kubectl
        .run(&["apply", "--server-side", "-f", path])
        .expect("kubectl runs");
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("with subresource \"scale\" using apps/v1")
            && out.stderr.contains(".spec.replicas"),
        "{}",
        out.stderr
    );
    assert_eq!(
        jsonpath(kubectl, &["deploy", "ssa"], "{.spec.replicas}"),
        "4"
    );
    run_ok(kubectl, &["delete", "deploy", "ssa"]);
}

fn check_deletes(kubectl: &Kubectl) {
    let out = run_ok(kubectl, &["delete", "cm", "lit"]);
    assert!(out.contains("configmap \"lit\" deleted"), "{out}");
    let out = kubectl.run(&["get", "cm", "lit"]).expect("kubectl runs");
    assert!(out.stderr.contains("NotFound"), "{}", out.stderr);
    let out = run_ok(kubectl, &["delete", "cm", "-l", "tier=conf"]);
    assert!(out.contains("configmap \"cfg\" deleted"), "{out}");
    let file = kubectl.dir().join("app.yaml");
    let out = run_ok(
        kubectl,
        &[
            "delete",
            "--ignore-not-found",
            "-f",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let out = run_ok(kubectl, &["get", "deploy,cm", "-o", "name"]);
    assert!(!out.contains("web"), "{out}");
    assert!(!out.contains("cfg"), "{out}");
}

fn check_wait_for_delete(kubectl: &Kubectl) {
    run_ok(kubectl, &["create", "configmap", "doomed"]);
    let mut waiter = kubectl
        .spawn(&["wait", "--for=delete", "cm/doomed", "--timeout=60s"])
        .expect("kubectl wait starts");
    std::thread::sleep(Duration::from_millis(500));
    run_ok(kubectl, &["delete", "cm", "doomed", "--wait=false"]);
    let status = wait_child(&mut waiter, Duration::from_secs(90));
    assert!(
        status.is_some_and(|s| s.success()),
        "kubectl wait --for=delete failed"
    );
}

fn check_watch(kubectl: &Kubectl) {
    let mut watcher = kubectl
        .spawn(&["get", "cm", "-w", "-o", "name"])
        .expect("kubectl get -w starts");
    std::thread::sleep(Duration::from_millis(800));
    run_ok(kubectl, &["create", "configmap", "watched"]);
    run_ok(kubectl, &["label", "cm", "watched", "seen=yes"]);
    std::thread::sleep(Duration::from_millis(800));
    let _ = watcher.kill();
    let output = watcher.wait_with_output().expect("kubectl get -w ends");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.matches("configmap/watched").count() >= 2, "{text}");
}

fn wait_child(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    None
}

#[test]
fn kubectl_1_33_workflow() {
    let server = ApiServer::start().expect("apiserver starts");
    let kubectl = Kubectl::new("1.33", &server.url()).expect("kubectl 1.33 exists");
    let out = run_ok(&kubectl, &["version"]);
    assert!(out.contains("Server Version: v1.33"), "{out}");
    apply_and_reapply(&kubectl);
    check_gets(&kubectl);
    check_columns(&kubectl);
    check_explain(&kubectl);
    check_writes(&kubectl);
    check_server_side_apply(&kubectl);
    check_watch(&kubectl);
    check_wait_for_delete(&kubectl);
    check_deletes(&kubectl);
}

#[test]
fn kubectl_1_27_workflow() {
    let server = ApiServer::start().expect("apiserver starts");
    let kubectl = Kubectl::new("1.27", &server.url()).expect("kubectl 1.27 exists");
    apply_and_reapply(&kubectl);
    check_gets(&kubectl);
    check_columns(&kubectl);
    check_explain(&kubectl);
    check_writes(&kubectl);
    check_server_side_apply(&kubectl);
    check_deletes(&kubectl);
}
