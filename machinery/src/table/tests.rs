use serde_json::{Value, json};

use super::*;

/// 2024-01-01T00:00:00Z.
const CREATED: i64 = 1_704_067_200;

fn gvk(group: &str, kind: &str) -> Gvk {
    Gvk::new(group, "v1", kind)
}

fn header(gvk: &Gvk) -> Vec<(String, i64)> {
    column_definitions(gvk)
        .iter()
        .map(|column| {
            (
                column["name"].as_str().unwrap_or("").to_string(),
                column["priority"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn names(columns: &[(&str, i64)]) -> Vec<(String, i64)> {
    columns
        .iter()
        .map(|(name, priority)| (name.to_string(), *priority))
        .collect()
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"})
}

#[test]
fn human_duration_formats() {
    let cases = [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (600, "10m"),
        (10_799, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 25 * 60, "3h25m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (2 * 86_400 + 3 * 3600, "2d3h"),
        (3 * 86_400, "3d"),
        (30 * 86_400, "30d"),
        (2 * 365 * 86_400 + 10 * 86_400, "2y10d"),
        (9 * 365 * 86_400, "9y"),
    ];
    for (seconds, expected) in cases {
        assert_eq!(human_duration(seconds), expected, "{seconds} seconds");
    }
}

#[test]
fn rfc3339_parsing() {
    assert_eq!(parse_rfc3339("2024-01-01T00:00:00Z"), Some(CREATED));
    assert_eq!(
        parse_rfc3339("2024-01-01T00:00:05.123456Z"),
        Some(CREATED + 5)
    );
    assert_eq!(parse_rfc3339("2024-01-01T01:00:00+01:00"), Some(CREATED));
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("yesterday"), None);
    assert_eq!(since(None, CREATED), "<unknown>");
}

#[test]
fn pod_columns_and_running_row() {
    assert_eq!(
        header(&gvk("", "Pod")),
        names(&[
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1),
        ])
    );
    let pod = json!({
        "metadata": meta("web-1"),
        "spec": {"nodeName": "node-a", "containers": [{"name": "a"}, {"name": "b"}]},
        "status": {
            "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
            "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-01T00:10:00Z"}}},
                {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}
            ]
        }
    });
    let cells = row_cells(&gvk("", "Pod"), &pod, CREATED + 3600);
    assert_eq!(
        cells,
        vec![
            json!("web-1"),
            json!("2/2"),
            json!("Running"),
            json!("2 (50m ago)"),
            json!("60m"),
            json!("10.0.0.5"),
            json!("node-a"),
            json!("<none>"),
            json!("<none>"),
        ]
    );
}

fn pod_status(pod: Value) -> String {
    let cells = row_cells(&gvk("", "Pod"), &pod, CREATED + 10);
    cells[2].as_str().unwrap_or("").to_string()
}

#[test]
fn pod_status_reasons() {
    let pending = json!({"metadata": meta("p"), "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
    assert_eq!(pod_status(pending), "Pending");

    let creating = json!({"metadata": meta("p"), "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
    assert_eq!(pod_status(creating), "ContainerCreating");

    let crash = json!({"metadata": meta("p"), "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "a", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
    assert_eq!(pod_status(crash), "CrashLoopBackOff");

    let completed = json!({"metadata": meta("p"), "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
    assert_eq!(pod_status(completed.clone()), "Completed");
    assert_eq!(
        row_conditions(&gvk("", "Pod"), &completed),
        Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
        )
    );

    let exit_code = json!({"metadata": meta("p"), "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 3}}}]}});
    assert_eq!(pod_status(exit_code), "ExitCode:3");

    let mut terminating = json!({"metadata": meta("p"), "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running"}});
    terminating["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:05Z");
    assert_eq!(pod_status(terminating), "Terminating");

    let init = json!({"metadata": meta("p"), "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}});
    assert_eq!(pod_status(init), "Init:0/1");

    let init_failed = json!({"metadata": meta("p"), "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}});
    assert_eq!(pod_status(init_failed), "Init:Error");

    let init_backoff = json!({"metadata": meta("p"), "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
    assert_eq!(pod_status(init_backoff), "Init:CrashLoopBackOff");
}

#[test]
fn deployment_row() {
    assert_eq!(
        header(&gvk("apps", "Deployment")),
        names(&[
            ("Name", 0),
            ("Ready", 0),
            ("Up-to-date", 0),
            ("Available", 0),
            ("Age", 0),
            ("Containers", 1),
            ("Images", 1),
            ("Selector", 1),
        ])
    );
    let deployment = json!({
        "metadata": meta("web"),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "front"}},
                 "template": {"spec": {"containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "busybox"}]}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        row_cells(
            &gvk("apps", "Deployment"),
            &deployment,
            CREATED + 2 * 86_400 + 3 * 3600
        ),
        vec![
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("2d3h"),
            json!("a,b"),
            json!("nginx:1,busybox"),
            json!("app=web,tier=front"),
        ]
    );
}

#[test]
fn replica_set_row() {
    assert_eq!(
        header(&gvk("apps", "ReplicaSet")),
        names(&[
            ("Name", 0),
            ("Desired", 0),
            ("Current", 0),
            ("Ready", 0),
            ("Age", 0),
            ("Containers", 1),
            ("Images", 1),
            ("Selector", 1),
        ])
    );
    let replica_set = json!({
        "metadata": meta("web-5d8f"),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"spec": {"containers": [{"name": "a", "image": "nginx"}]}}},
        "status": {"replicas": 2}
    });
    assert_eq!(
        row_cells(&gvk("apps", "ReplicaSet"), &replica_set, CREATED + 5),
        vec![
            json!("web-5d8f"),
            json!(2),
            json!(2),
            json!(0),
            json!("5s"),
            json!("a"),
            json!("nginx"),
            json!("app=web")
        ]
    );
}

#[test]
fn node_row() {
    assert_eq!(
        header(&gvk("", "Node")),
        names(&[
            ("Name", 0),
            ("Status", 0),
            ("Roles", 0),
            ("Age", 0),
            ("Version", 0),
            ("Internal-IP", 1),
            ("External-IP", 1),
            ("OS-Image", 1),
            ("Kernel-Version", 1),
            ("Container-Runtime", 1),
        ])
    );
    let node = json!({
        "metadata": {"name": "node-a", "creationTimestamp": "2024-01-01T00:00:00Z",
                     "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": ""}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.1.0.2"}, {"type": "Hostname", "address": "node-a"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0", "containerRuntimeVersion": "skiff://0.1.0"}
        }
    });
    assert_eq!(
        row_cells(&gvk("", "Node"), &node, CREATED + 182),
        vec![
            json!("node-a"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,worker"),
            json!("3m2s"),
            json!("v1.33.0"),
            json!("10.1.0.2"),
            json!("<none>"),
            json!("Debian GNU/Linux 12"),
            json!("6.1.0"),
            json!("skiff://0.1.0"),
        ]
    );
    let bare = json!({"metadata": {"name": "n"}});
    let cells = row_cells(&gvk("", "Node"), &bare, CREATED);
    assert_eq!(cells[1], json!("Unknown"));
    assert_eq!(cells[2], json!("<none>"));
    assert_eq!(cells[3], json!("<unknown>"));
    assert_eq!(cells[7], json!("<unknown>"));
}

#[test]
fn simple_kind_rows() {
    let namespace = json!({"metadata": meta("team-a"), "status": {"phase": "Active"}});
    assert_eq!(
        header(&gvk("", "Namespace")),
        names(&[("Name", 0), ("Status", 0), ("Age", 0)])
    );
    assert_eq!(
        row_cells(&gvk("", "Namespace"), &namespace, CREATED + 5),
        vec![json!("team-a"), json!("Active"), json!("5s")]
    );

    let config_map =
        json!({"metadata": meta("c"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "eA=="}});
    assert_eq!(
        header(&gvk("", "ConfigMap")),
        names(&[("Name", 0), ("Data", 0), ("Age", 0)])
    );
    assert_eq!(
        row_cells(&gvk("", "ConfigMap"), &config_map, CREATED + 5),
        vec![json!("c"), json!(3), json!("5s")]
    );

    let secret = json!({"metadata": meta("s"), "type": "Opaque", "data": {"a": "eA=="}});
    assert_eq!(
        header(&gvk("", "Secret")),
        names(&[("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)])
    );
    assert_eq!(
        row_cells(&gvk("", "Secret"), &secret, CREATED + 5),
        vec![json!("s"), json!("Opaque"), json!(1), json!("5s")]
    );

    let account = json!({"metadata": meta("default")});
    assert_eq!(
        header(&gvk("", "ServiceAccount")),
        names(&[("Name", 0), ("Secrets", 0), ("Age", 0)])
    );
    assert_eq!(
        row_cells(&gvk("", "ServiceAccount"), &account, CREATED + 5),
        vec![json!("default"), json!(0), json!("5s")]
    );

    let lease = json!({"metadata": meta("node-a"), "spec": {"holderIdentity": "node-a"}});
    let lease_gvk = gvk("coordination.k8s.io", "Lease");
    assert_eq!(
        header(&lease_gvk),
        names(&[("Name", 0), ("Holder", 0), ("Age", 0)])
    );
    assert_eq!(
        row_cells(&lease_gvk, &lease, CREATED + 5),
        vec![json!("node-a"), json!("node-a"), json!("5s")]
    );
}

#[test]
fn event_rows() {
    let core_gvk = gvk("", "Event");
    assert_eq!(
        header(&core_gvk),
        names(&[
            ("Last Seen", 0),
            ("Type", 0),
            ("Reason", 0),
            ("Object", 0),
            ("Subobject", 1),
            ("Source", 1),
            ("Message", 0),
            ("First Seen", 1),
            ("Count", 1),
            ("Name", 1),
        ])
    );
    let core = json!({
        "metadata": meta("web-1.17a"),
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
        "reason": "Pulled", "type": "Normal", "message": "Container image pulled \n",
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:01:00Z", "count": 2
    });
    assert_eq!(
        row_cells(&core_gvk, &core, CREATED + 70),
        vec![
            json!("10s"),
            json!("Normal"),
            json!("Pulled"),
            json!("pod/web-1"),
            json!("spec.containers{web}"),
            json!("kubelet, node-a"),
            json!("Container image pulled"),
            json!("70s"),
            json!(2),
            json!("web-1.17a"),
        ]
    );
    let v1 = json!({
        "metadata": meta("e"),
        "regarding": {"kind": "Node", "name": "node-a"},
        "reason": "Starting", "type": "Normal", "note": "Starting kubelet.",
        "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "kubelet", "reportingInstance": "node-a"
    });
    assert_eq!(
        row_cells(&gvk("events.k8s.io", "Event"), &v1, CREATED + 5),
        vec![
            json!("5s"),
            json!("Normal"),
            json!("Starting"),
            json!("node/node-a"),
            json!(""),
            json!("kubelet, node-a"),
            json!("Starting kubelet."),
            json!("5s"),
            json!(1),
            json!("e"),
        ]
    );
}

#[test]
fn unknown_kind_default_columns() {
    let other = gvk("example.com", "Widget");
    assert_eq!(header(&other), names(&[("Name", 0), ("Created At", 0)]));
    let object = json!({"metadata": meta("w")});
    assert_eq!(
        row_cells(&other, &object, CREATED),
        vec![json!("w"), json!("2024-01-01T00:00:00Z")]
    );
}
