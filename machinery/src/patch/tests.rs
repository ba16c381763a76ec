use serde_json::{Value, json};

use super::{PatchError, PatchType, apply_patch};
use crate::Gvk;

fn deployment_gvk() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

fn pod_gvk() -> Gvk {
    Gvk::new("", "v1", "Pod")
}

fn smp(gvk: &Gvk, live: &Value, patch: Value) -> Value {
    let body = serde_json::to_vec(&patch).expect("patch serializes");
    apply_patch(gvk, live, PatchType::StrategicMerge, &body).expect("patch applies")
}

fn smp_error(gvk: &Gvk, live: &Value, patch: Value) -> PatchError {
    let body = serde_json::to_vec(&patch).expect("patch serializes");
    apply_patch(gvk, live, PatchType::StrategicMerge, &body).expect_err("patch fails")
}

fn web_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "api:1", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                        {"name": "sidecar", "image": "side:1"}
                    ],
                    "tolerations": [{"key": "a", "operator": "Exists"}]
                }
            }
        }
    })
}

fn containers(object: &Value) -> &Vec<Value> {
    object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers is a list")
}

#[test]
fn content_types_map_to_patch_types() {
    let cases = [
        ("application/json-patch+json", Some(PatchType::Json)),
        (
            "application/merge-patch+json; charset=utf-8",
            Some(PatchType::Merge),
        ),
        (
            "application/strategic-merge-patch+json",
            Some(PatchType::StrategicMerge),
        ),
        ("application/apply-patch+yaml", Some(PatchType::Apply)),
        ("application/json", None),
    ];
    for (content_type, expected) in cases {
        assert_eq!(
            PatchType::from_content_type(content_type),
            expected,
            "{content_type}"
        );
    }
}

#[test]
fn json_patch_rollout_undo_body() {
    let mut live = web_deployment();
    live["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "2"});
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "api:0"}]}});
    let body = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "3"}}
    ]);
    let body = serde_json::to_vec(&body).expect("serializes");
    let patched = apply_patch(&deployment_gvk(), &live, PatchType::Json, &body).expect("applies");
    assert_eq!(patched["spec"]["template"], template);
    assert_eq!(
        patched["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(patched["spec"]["replicas"], 1);
}

#[test]
fn json_patch_test_operation() {
    let live = web_deployment();
    let passing = br#"[{"op":"test","path":"/spec/replicas","value":1},{"op":"replace","path":"/spec/replicas","value":4}]"#;
    let patched = apply_patch(&deployment_gvk(), &live, PatchType::Json, passing).expect("applies");
    assert_eq!(patched["spec"]["replicas"], 4);
    let failing = br#"[{"op":"test","path":"/spec/replicas","value":2},{"op":"replace","path":"/spec/replicas","value":4}]"#;
    let error =
        apply_patch(&deployment_gvk(), &live, PatchType::Json, failing).expect_err("test fails");
    assert!(matches!(error, PatchError::Failed(_)), "{error:?}");
}

#[test]
fn json_patch_errors() {
    let live = web_deployment();
    let malformed = apply_patch(&deployment_gvk(), &live, PatchType::Json, b"{\"op\":1}");
    assert!(
        matches!(malformed, Err(PatchError::InvalidBody(_))),
        "{malformed:?}"
    );
    let missing = br#"[{"op":"remove","path":"/spec/nothing"}]"#;
    let missing = apply_patch(&deployment_gvk(), &live, PatchType::Json, missing);
    assert!(matches!(missing, Err(PatchError::Failed(_))), "{missing:?}");
}

#[test]
fn merge_patch_scale_and_null() {
    let live = web_deployment();
    let body = br#"{"spec":{"replicas":3},"metadata":{"labels":{"app":null,"tier":"x"}}}"#;
    let patched = apply_patch(&deployment_gvk(), &live, PatchType::Merge, body).expect("applies");
    assert_eq!(patched["spec"]["replicas"], 3);
    assert_eq!(patched["metadata"]["labels"], json!({"tier": "x"}));
    let list_patch = br#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}}"#;
    let patched =
        apply_patch(&deployment_gvk(), &live, PatchType::Merge, list_patch).expect("applies");
    assert_eq!(
        containers(&patched).len(),
        1,
        "a merge patch replaces lists"
    );
}

#[test]
fn merge_patch_rejects_non_object() {
    let live = web_deployment();
    for body in [&b"[1]"[..], b"nope", b"3"] {
        let result = apply_patch(&deployment_gvk(), &live, PatchType::Merge, body);
        assert!(
            matches!(result, Err(PatchError::InvalidBody(_))),
            "{result:?}"
        );
        let result = apply_patch(&deployment_gvk(), &live, PatchType::StrategicMerge, body);
        assert!(
            matches!(result, Err(PatchError::InvalidBody(_))),
            "{result:?}"
        );
    }
}

#[test]
fn apply_patch_type_is_rejected() {
    let result = apply_patch(
        &deployment_gvk(),
        &web_deployment(),
        PatchType::Apply,
        b"{}",
    );
    assert!(matches!(result, Err(PatchError::Failed(_))), "{result:?}");
}

#[test]
fn smp_kubectl_apply_update_body() {
    let live = web_deployment();
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
        "spec": {"replicas": 3, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
            "containers": [{"image": "api:2", "name": "c"}]
        }}}
    });
    let patched = smp(&deployment_gvk(), &live, patch);
    assert_eq!(patched["spec"]["replicas"], 3);
    let list = containers(&patched);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "c");
    assert_eq!(list[0]["image"], "api:2");
    assert_eq!(
        list[0]["ports"],
        live["spec"]["template"]["spec"]["containers"][0]["ports"]
    );
    assert_eq!(list[0]["env"].as_array().map(Vec::len), Some(2));
    assert_eq!(list[1], json!({"name": "sidecar", "image": "side:1"}));
    assert_eq!(patched["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        patched["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{}\n"
    );
    let keys: Vec<&String> = patched["spec"]["template"]["spec"]
        .as_object()
        .expect("spec is an object")
        .keys()
        .collect();
    assert!(keys.iter().all(|key| !key.starts_with('$')), "{keys:?}");
}

#[test]
fn smp_kubectl_set_image_body() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
        "containers": [{"image": "img:2", "name": "c"}]
    }}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let list = containers(&patched);
    assert_eq!(list[0]["image"], "img:2");
    assert_eq!(list[1]["image"], "side:1");
    assert_eq!(
        patched["spec"]["template"]["spec"]["tolerations"],
        live["spec"]["template"]["spec"]["tolerations"]
    );
}

#[test]
fn smp_kubectl_rollout_restart_body() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-12-04T15:00:00Z"
    }}}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let metadata = &patched["spec"]["template"]["metadata"];
    assert_eq!(
        metadata["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2026-12-04T15:00:00Z"
    );
    assert_eq!(metadata["labels"], json!({"app": "web"}));
    assert_eq!(containers(&patched).len(), 2);
}

#[test]
fn smp_delete_container_by_directive() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "c"}],
        "containers": [{"$patch": "delete", "name": "sidecar"}]
    }}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let list = containers(&patched);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "c");
}

#[test]
fn smp_adds_container_in_set_order() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "init"}, {"name": "c"}, {"name": "sidecar"}],
        "containers": [{"name": "init", "image": "i:1"}]
    }}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let names: Vec<&Value> = containers(&patched).iter().map(|c| &c["name"]).collect();
    assert_eq!(names, [&json!("init"), &json!("c"), &json!("sidecar")]);
}

#[test]
fn smp_set_element_order_alone_reorders() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "c"}]
    }}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let names: Vec<&Value> = containers(&patched).iter().map(|c| &c["name"]).collect();
    assert_eq!(names, [&json!("sidecar"), &json!("c")]);
}

#[test]
fn smp_new_item_without_order_goes_first() {
    let live = web_deployment();
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "n:1"}]}}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let names: Vec<&Value> = containers(&patched).iter().map(|c| &c["name"]).collect();
    // Kubernetes puts patch items without a live position before the live
    // items when no $setElementOrder is given.
    assert_eq!(names, [&json!("new"), &json!("c"), &json!("sidecar")]);
}

#[test]
fn smp_env_and_ports_merge_by_key() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "c",
        "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
        "ports": [{"containerPort": 8080}]
    }]}}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let container = &containers(&patched)[0];
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}])
    );
    assert_eq!(
        container["ports"],
        json!([{"containerPort": 8080}, {"containerPort": 80, "protocol": "TCP"}])
    );
}

#[test]
fn smp_env_entry_deleted_with_null_field() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "c", "env": [{"name": "A", "value": null, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    }]}}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    let env = &containers(&patched)[0]["env"][0];
    assert_eq!(
        env,
        &json!({"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    );
}

#[test]
fn smp_atomic_lists_replace() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {
        "tolerations": [{"key": "b", "operator": "Exists"}],
        "containers": [{"name": "c", "args": ["x"]}]
    }}}});
    let once = smp(&deployment_gvk(), &live, patch.clone());
    let twice = smp(
        &deployment_gvk(),
        &once,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["y", "z"]}]}}}}),
    );
    assert_eq!(
        twice["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
    assert_eq!(containers(&twice)[0]["args"], json!(["y", "z"]));
}

#[test]
fn smp_list_replace_directive() {
    let live = web_deployment();
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"$patch": "replace"}, {"name": "only", "image": "o:1"}
    ]}}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    assert_eq!(
        containers(&patched),
        &vec![json!({"name": "only", "image": "o:1"})]
    );
}

#[test]
fn smp_map_replace_and_delete_directives() {
    let live = web_deployment();
    let replaced = smp(
        &deployment_gvk(),
        &live,
        json!({"metadata": {"labels": {"$patch": "replace", "tier": "db"}}}),
    );
    assert_eq!(replaced["metadata"]["labels"], json!({"tier": "db"}));
    let deleted = smp(
        &deployment_gvk(),
        &live,
        json!({"spec": {"strategy": {"$patch": "delete"}}}),
    );
    assert!(deleted["spec"].get("strategy").is_none());
}

#[test]
fn smp_retain_keys_switches_strategy() {
    let live = web_deployment();
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn smp_retain_keys_must_cover_patch() {
    let live = web_deployment();
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}});
    let error = smp_error(&deployment_gvk(), &live, patch);
    assert!(matches!(error, PatchError::Failed(_)), "{error:?}");
    let error = smp_error(
        &deployment_gvk(),
        &live,
        json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
    );
    assert!(matches!(error, PatchError::InvalidBody(_)), "{error:?}");
}

#[test]
fn smp_finalizers_merge_as_set() {
    let live = json!({"metadata": {"name": "p", "finalizers": ["a", "b"]}});
    let added = smp(
        &pod_gvk(),
        &live,
        json!({"metadata": {"finalizers": ["b", "c"]}}),
    );
    assert_eq!(added["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let removed = smp(
        &pod_gvk(),
        &added,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "c"]}}),
    );
    assert_eq!(removed["metadata"]["finalizers"], json!(["b"]));
    let cleared = smp(
        &pod_gvk(),
        &added,
        json!({"metadata": {"finalizers": null}}),
    );
    assert!(cleared["metadata"].get("finalizers").is_none());
}

#[test]
fn smp_owner_references_by_uid() {
    let live = json!({"metadata": {"ownerReferences": [
        {"uid": "1", "name": "a", "kind": "ReplicaSet", "apiVersion": "apps/v1"},
        {"uid": "2", "name": "b", "kind": "ReplicaSet", "apiVersion": "apps/v1"}
    ]}});
    let patch = json!({"metadata": {"ownerReferences": [{"uid": "2", "controller": true}]}});
    let patched = smp(&pod_gvk(), &live, patch);
    let owners = &patched["metadata"]["ownerReferences"];
    assert_eq!(owners[0]["name"], "a");
    assert_eq!(owners[1]["controller"], true);
    assert_eq!(owners[1]["name"], "b");
}

#[test]
fn smp_pod_status_conditions_by_type() {
    let live = json!({"status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "False"}
    ]}});
    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "phase": "Running"}});
    let patched = smp(&pod_gvk(), &live, patch);
    assert_eq!(patched["status"]["phase"], "Running");
    assert_eq!(
        patched["status"]["conditions"],
        json!([{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}])
    );
}

#[test]
fn smp_pod_volumes_and_mounts() {
    let live = json!({"spec": {
        "volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "cm"}}],
        "containers": [{"name": "c", "volumeMounts": [{"name": "a", "mountPath": "/a"}]}]
    }});
    let patch = json!({"spec": {
        "volumes": [{"name": "b", "$retainKeys": ["name", "secret"], "secret": {"secretName": "s"}}],
        "containers": [{"name": "c", "volumeMounts": [{"name": "b", "mountPath": "/a"}, {"name": "b", "mountPath": "/b"}]}]
    }});
    let patched = smp(&pod_gvk(), &live, patch);
    assert_eq!(
        patched["spec"]["volumes"],
        json!([{"name": "a", "emptyDir": {}}, {"name": "b", "secret": {"secretName": "s"}}])
    );
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        json!([{"name": "b", "mountPath": "/a"}, {"name": "b", "mountPath": "/b"}])
    );
}

#[test]
fn smp_service_ports_by_port() {
    let gvk = Gvk::new("", "v1", "Service");
    let live = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
    let patched = smp(
        &gvk,
        &live,
        json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
    );
    assert_eq!(
        patched["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
    );
}

#[test]
fn smp_host_aliases_and_topology_spread() {
    let live = json!({"spec": {
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
        "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}]
    }});
    let patch = json!({"spec": {
        "hostAliases": [{"ip": "10.0.0.2", "hostnames": ["b"]}],
        "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]
    }});
    let patched = smp(&pod_gvk(), &live, patch);
    assert_eq!(
        patched["spec"]["hostAliases"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        patched["spec"]["topologySpreadConstraints"],
        json!([{"topologyKey": "zone", "maxSkew": 2}])
    );
}

#[test]
fn smp_unknown_kind_replaces_lists_and_merges_maps() {
    let gvk = Gvk::new("", "v1", "ConfigMap");
    let live = json!({"data": {"a": "1", "b": "2"}});
    let patched = smp(&gvk, &live, json!({"data": {"a": null, "c": "3"}}));
    assert_eq!(patched["data"], json!({"b": "2", "c": "3"}));
}

#[test]
fn smp_new_values_drop_directives_and_nulls() {
    let live = json!({"spec": {}});
    let patch = json!({"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": null}], "$setElementOrder/env": [{"name": "A"}]}]}});
    let patched = smp(&pod_gvk(), &live, patch);
    assert_eq!(
        patched["spec"]["containers"],
        json!([{"name": "c", "env": [{"name": "A"}]}])
    );
}

#[test]
fn smp_bad_directives_are_invalid() {
    let live = web_deployment();
    let cases = [
        json!({"spec": {"$patch": "explode"}}),
        json!({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}),
        json!({"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}),
        json!({"spec": {"template": {"spec": {"containers": ["c"]}}}}),
        json!({"spec": {"template": {"spec": {"$setElementOrder/containers": "c"}}}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
    ];
    for patch in cases {
        let error = smp_error(&deployment_gvk(), &live, patch.clone());
        assert!(
            matches!(error, PatchError::InvalidBody(_)),
            "{patch}: {error:?}"
        );
    }
}

#[test]
fn smp_kubectl_apply_volume_source_change() {
    // The body kubectl 1.27 and 1.33 send when a manifest switches a volume
    // from emptyDir to configMap and changes image and replicas.
    let mut live = web_deployment();
    live["spec"]["template"]["spec"]["volumes"] = json!([{"name": "v", "emptyDir": {}}]);
    let patch = json!({"spec": {"replicas": 3, "template": {"spec": {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
        "$setElementOrder/volumes": [{"name": "v"}],
        "containers": [{"image": "api:2", "name": "c"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "emptyDir": null, "name": "v"}]
    }}}});
    let patched = smp(&deployment_gvk(), &live, patch);
    assert_eq!(
        patched["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "v", "configMap": {"name": "cm"}}])
    );
    assert_eq!(containers(&patched)[0]["image"], "api:2");
    assert_eq!(patched["spec"]["replicas"], 3);
}

#[test]
fn smp_node_and_service_account_lists() {
    let node = json!({"spec": {"podCIDRs": ["10.0.0.0/24"], "taints": [{"key": "a", "effect": "NoSchedule"}]},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}});
    let patch = json!({"spec": {"podCIDRs": ["10.0.1.0/24"], "taints": [{"key": "b", "effect": "NoSchedule"}]},
        "status": {"addresses": [{"type": "Hostname", "address": "n1"}]}});
    let patched = smp(&Gvk::new("", "v1", "Node"), &node, patch);
    assert_eq!(
        patched["spec"]["podCIDRs"],
        json!(["10.0.1.0/24", "10.0.0.0/24"])
    );
    assert_eq!(
        patched["spec"]["taints"],
        json!([{"key": "b", "effect": "NoSchedule"}])
    );
    assert_eq!(
        patched["status"]["addresses"].as_array().map(Vec::len),
        Some(2)
    );
    let account = json!({"secrets": [{"name": "a"}], "imagePullSecrets": [{"name": "x"}]});
    let patch = json!({"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "y"}]});
    let patched = smp(&Gvk::new("", "v1", "ServiceAccount"), &account, patch);
    assert_eq!(patched["secrets"], json!([{"name": "b"}, {"name": "a"}]));
    assert_eq!(patched["imagePullSecrets"], json!([{"name": "y"}]));
}

#[test]
fn smp_kubectl_removes_finalizer_from_manifest() {
    let live = json!({"metadata": {"name": "p", "finalizers": ["a", "b", "server/c"]}});
    let patch = json!({"metadata": {
        "$deleteFromPrimitiveList/finalizers": ["b"],
        "$setElementOrder/finalizers": ["a"]
    }});
    let patched = smp(&pod_gvk(), &live, patch);
    assert_eq!(patched["metadata"]["finalizers"], json!(["a", "server/c"]));
    let reorder = json!({"metadata": {"$setElementOrder/finalizers": ["server/c", "a"]}});
    let reordered = smp(&pod_gvk(), &patched, reorder);
    assert_eq!(
        reordered["metadata"]["finalizers"],
        json!(["server/c", "a"])
    );
}
