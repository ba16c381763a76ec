use serde_json::{Value, json};

use super::*;

fn defaulted(gvk: Gvk, mut object: Value) -> Value {
    apply_defaults(&gvk, &mut object);
    object
}

fn pod_gvk() -> Gvk {
    Gvk::new("", "v1", "Pod")
}

#[test]
fn pod_spec_defaults() {
    let pod = defaulted(
        pod_gvk(),
        json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}),
    );
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    let container = &spec["containers"][0];
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(container["terminationMessagePolicy"], "File");
    assert_eq!(container["resources"], json!({}));
    assert_eq!(
        spec["tolerations"],
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    );
}

#[test]
fn pod_keeps_client_values() {
    let pod = defaulted(
        pod_gvk(),
        json!({"spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "serviceAccountName": "builder",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}],
            "containers": [{"name": "a", "image": "busybox", "imagePullPolicy": "Never"}]
        }}),
    );
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["terminationGracePeriodSeconds"], 0);
    assert_eq!(spec["serviceAccountName"], "builder");
    assert_eq!(spec["serviceAccount"], "builder");
    assert_eq!(spec["containers"][0]["imagePullPolicy"], "Never");
    let tolerations = spec["tolerations"].as_array().expect("tolerations");
    assert_eq!(tolerations.len(), 2);
    assert_eq!(tolerations[0]["tolerationSeconds"], 5);
    assert_eq!(tolerations[1]["key"], "node.kubernetes.io/unreachable");
}

#[test]
fn image_pull_policy_from_tag() {
    let cases = [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry:5000/nginx", "Always"),
        ("registry:5000/nginx:1.0", "IfNotPresent"),
        ("nginx:1.25", "IfNotPresent"),
        ("nginx@sha256:abcd", "IfNotPresent"),
        ("nginx:latest@sha256:abcd", "Always"),
    ];
    for (image, expected) in cases {
        let pod = defaulted(
            pod_gvk(),
            json!({"spec": {"containers": [{"name": "a", "image": image}]}}),
        );
        assert_eq!(
            pod["spec"]["containers"][0]["imagePullPolicy"], expected,
            "image {image}"
        );
    }
}

#[test]
fn container_member_defaults() {
    let pod = defaulted(
        pod_gvk(),
        json!({"spec": {
            "containers": [{
                "name": "a", "image": "x:1",
                "ports": [{"containerPort": 80}],
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "resources": {"limits": {"cpu": "1"}}
            }],
            "volumes": [
                {"name": "cm", "configMap": {"name": "c"}},
                {"name": "s", "secret": {"secretName": "s"}},
                {"name": "scratch"}
            ]
        }}),
    );
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(
        container["livenessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(container["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(
        container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
        "v1"
    );
    assert_eq!(container["resources"]["requests"], json!({"cpu": "1"}));
    let volumes = &pod["spec"]["volumes"];
    assert_eq!(volumes[0]["configMap"]["defaultMode"], 420);
    assert_eq!(volumes[1]["secret"]["defaultMode"], 420);
    assert_eq!(volumes[2]["emptyDir"], json!({}));
}

#[test]
fn deployment_defaults() {
    let deployment = defaulted(
        Gvk::new("apps", "v1", "Deployment"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
    );
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let template = &spec["template"]["spec"];
    assert_eq!(template["restartPolicy"], "Always");
    assert_eq!(template["containers"][0]["imagePullPolicy"], "Always");
    assert!(template.get("enableServiceLinks").is_none());
    assert!(template.get("tolerations").is_none());
    assert!(template.get("serviceAccountName").is_none());
}

#[test]
fn deployment_recreate_has_no_rolling_update() {
    let deployment = defaulted(
        Gvk::new("apps", "v1", "Deployment"),
        json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}}),
    );
    assert_eq!(deployment["spec"]["replicas"], 0);
    assert_eq!(deployment["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn replica_set_defaults() {
    let replica_set = defaulted(
        Gvk::new("apps", "v1", "ReplicaSet"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:2"}]}}}}),
    );
    assert_eq!(replica_set["spec"]["replicas"], 1);
    assert_eq!(
        replica_set["spec"]["template"]["spec"]["dnsPolicy"],
        "ClusterFirst"
    );
    assert!(replica_set["spec"].get("revisionHistoryLimit").is_none());
}

#[test]
fn namespace_defaults() {
    let namespace = defaulted(
        Gvk::new("", "v1", "Namespace"),
        json!({"metadata": {"name": "team-a"}}),
    );
    assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(namespace["status"]["phase"], "Active");
    assert_eq!(
        namespace["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-a"
    );
}

#[test]
fn secret_string_data_folds_into_data() {
    let secret = defaulted(
        Gvk::new("", "v1", "Secret"),
        json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "hello", "c": ""}}),
    );
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["data"],
        json!({"a": "eA==", "b": "aGVsbG8=", "c": ""})
    );
    assert!(secret.get("stringData").is_none());
}

#[test]
fn pod_status_and_qos() {
    let mut pod = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
    apply_defaults(&pod_gvk(), &mut pod);
    pod_status_on_create(&mut pod);
    assert_eq!(
        pod["status"],
        json!({"phase": "Pending", "qosClass": "Guaranteed"})
    );
    let best_effort = json!({"spec": {"containers": [{"name": "a"}]}});
    assert_eq!(pod_qos_class(&best_effort), "BestEffort");
    let burstable =
        json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}});
    assert_eq!(pod_qos_class(&burstable), "Burstable");
}
