use serde_json::{Value, json};

use super::fieldpath::FieldSet;
use super::{
    ApplyError, BEFORE_FIRST_APPLY, owned_fields, record_subresource_update, record_update,
    server_side_apply,
};
use crate::Gvk;

const T1: &str = "2026-12-04T10:00:00Z";
const T2: &str = "2026-12-04T11:00:00Z";

fn gvk() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

fn config(replicas: u32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, ApplyError> {
    server_side_apply(&gvk(), live, applied, manager, force, T2)
}

fn entry<'a>(object: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|entry| entry["manager"] == manager && entry["operation"] == operation)
}

fn conflicts(result: Result<Value, ApplyError>) -> Vec<super::FieldConflict> {
    match result {
        Err(ApplyError::Conflicts(conflicts)) => conflicts,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

#[test]
fn create_records_apply_entry() {
    let created = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    assert_eq!(created["spec"]["replicas"], 2);
    let entry = entry(&created, "kubectl", "Apply").expect("apply entry");
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(entry["time"], T2);
    assert!(entry.get("subresource").is_none());
    let fields = &entry["fieldsV1"];
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    assert_eq!(
        fields["f:spec"]["f:selector"],
        json!({}),
        "selectors are atomic"
    );
    assert_eq!(fields["f:metadata"]["f:labels"]["f:app"], json!({}));
    assert!(fields["f:metadata"].get("f:name").is_none());
    let container = &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
    assert_eq!(container["."], json!({}));
    assert_eq!(container["f:image"], json!({}));
    assert_eq!(container["f:name"], json!({}));
    let port = &container["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"];
    assert_eq!(port["f:containerPort"], json!({}));
}

#[test]
fn reapply_same_manager_updates() {
    let created = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    let updated = apply(Some(&created), &config(3, "api:2"), "kubectl", false).expect("applies");
    assert_eq!(updated["spec"]["replicas"], 3);
    assert_eq!(
        updated["spec"]["template"]["spec"]["containers"][0]["image"],
        "api:2"
    );
    let entries = updated["metadata"]["managedFields"]
        .as_array()
        .expect("entries");
    assert_eq!(entries.len(), 1);
}

#[test]
fn second_manager_conflicts_on_changed_field() {
    let created = apply(None, &config(2, "api:1"), "first", false).expect("applies");
    let found = conflicts(apply(Some(&created), &config(5, "api:1"), "second", false));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].manager, "first");
    assert_eq!(found[0].field, ".spec.replicas");
    let message = ApplyError::Conflicts(found).to_string();
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"first\": .spec.replicas"
    );
}

#[test]
fn same_value_is_shared_without_conflict() {
    let created = apply(None, &config(2, "api:1"), "first", false).expect("applies");
    let shared = apply(Some(&created), &config(2, "api:1"), "second", false).expect("applies");
    assert!(owned_fields(&shared, "first", "Apply").contains(&".spec.replicas".to_string()));
    assert!(owned_fields(&shared, "second", "Apply").contains(&".spec.replicas".to_string()));
}

#[test]
fn conflict_with_client_side_apply_update_manager() {
    let mut created = config(1, "api:1");
    record_update(&gvk(), None, &mut created, "kubectl-client-side-apply", T1);
    let entry = entry(&created, "kubectl-client-side-apply", "Update").expect("update entry");
    assert_eq!(entry["time"], T1);
    let found = conflicts(apply(Some(&created), &config(3, "api:1"), "kubectl", false));
    let message = ApplyError::Conflicts(found.clone()).to_string();
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        found[0].cause_message(),
        "conflict with \"kubectl-client-side-apply\" using apps/v1"
    );
}

#[test]
fn force_moves_ownership() {
    let mut created = config(1, "api:1");
    record_update(&gvk(), None, &mut created, "kubectl-create", T1);
    let forced = apply(Some(&created), &config(3, "api:1"), "mgr", true).expect("force applies");
    assert_eq!(forced["spec"]["replicas"], 3);
    let creator = owned_fields(&forced, "kubectl-create", "Update");
    assert!(
        !creator.contains(&".spec.replicas".to_string()),
        "{creator:?}"
    );
    assert!(creator.contains(&".spec.template.spec.containers[name=\"c\"].image".to_string()));
    let applier = owned_fields(&forced, "mgr", "Apply");
    assert!(applier.contains(&".spec.replicas".to_string()));
    let again = conflicts(apply(
        Some(&forced),
        &config(4, "api:1"),
        "kubectl-create-rival",
        false,
    ));
    assert_eq!(again[0].manager, "mgr");
}

#[test]
fn several_conflicts_are_listed() {
    let created = apply(None, &config(2, "api:1"), "first", false).expect("applies");
    let found = conflicts(apply(Some(&created), &config(5, "api:9"), "second", false));
    assert_eq!(found.len(), 2);
    let message = ApplyError::Conflicts(found).to_string();
    assert_eq!(
        message,
        "Apply failed with 2 conflicts: conflicts with \"first\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image"
    );
}

#[test]
fn dropped_fields_are_removed() {
    let mut first = config(2, "api:1");
    first["metadata"]["labels"]["tier"] = json!("front");
    first["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "sidecar", "image": "side:1"}));
    let created = apply(None, &first, "kubectl", false).expect("applies");
    let updated = apply(Some(&created), &config(2, "api:1"), "kubectl", false).expect("applies");
    assert_eq!(updated["metadata"]["labels"], json!({"app": "web"}));
    let containers = updated["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("list");
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "c");
}

#[test]
fn dropped_fields_owned_by_others_stay() {
    let mut first = config(2, "api:1");
    first["metadata"]["labels"]["tier"] = json!("front");
    let created = apply(None, &first, "kubectl", false).expect("applies");
    let labels_only = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"tier": "front"}}});
    let shared = apply(Some(&created), &labels_only, "labeler", false).expect("applies");
    let updated = apply(Some(&shared), &config(2, "api:1"), "kubectl", false).expect("applies");
    assert_eq!(updated["metadata"]["labels"]["tier"], "front");
}

#[test]
fn unrelated_fields_survive_apply() {
    let mut live = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    live["spec"]["revisionHistoryLimit"] = json!(10);
    live["status"] = json!({"replicas": 2});
    let updated = apply(Some(&live), &config(2, "api:2"), "kubectl", false).expect("applies");
    assert_eq!(updated["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(updated["status"]["replicas"], 2);
    let mut with_status = config(2, "api:2");
    with_status["status"] = json!({"replicas": 7});
    let ignored = apply(Some(&live), &with_status, "kubectl", false).expect("applies");
    assert_eq!(
        ignored["status"]["replicas"], 2,
        "status is not applied through the main resource"
    );
}

#[test]
fn legacy_object_gets_before_first_apply_owner() {
    let live = config(1, "api:1");
    let found = conflicts(apply(Some(&live), &config(3, "api:1"), "kubectl", false));
    assert_eq!(found[0].manager, BEFORE_FIRST_APPLY);
    assert_eq!(found[0].operation, "Update");
}

#[test]
fn invalid_configurations_are_rejected() {
    let cases = [
        json!([1]),
        json!({"kind": "Deployment"}),
        json!({"apiVersion": "apps/v1"}),
        json!({"apiVersion": "v1", "kind": "Pod"}),
    ];
    for applied in cases {
        let result = apply(None, &applied, "kubectl", false);
        assert!(
            matches!(result, Err(ApplyError::Invalid(_))),
            "{applied}: {result:?}"
        );
    }
}

#[test]
fn update_takes_ownership_from_applier() {
    let created = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    let mut edited = created.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("api:edit");
    record_update(&gvk(), Some(&created), &mut edited, "kubectl-edit", T2);
    let image = ".spec.template.spec.containers[name=\"c\"].image".to_string();
    assert!(owned_fields(&edited, "kubectl-edit", "Update").contains(&image));
    assert!(!owned_fields(&edited, "kubectl", "Apply").contains(&image));
    let found = conflicts(apply(Some(&edited), &config(2, "api:1"), "kubectl", false));
    assert_eq!(found[0].manager, "kubectl-edit");
    assert_eq!(found[0].field, image);
}

#[test]
fn update_without_changes_adds_no_entry() {
    let created = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    let mut same = created.clone();
    record_update(&gvk(), Some(&created), &mut same, "noop", T2);
    assert!(entry(&same, "noop", "Update").is_none());
}

#[test]
fn update_prunes_removed_fields() {
    let created = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    let mut edited = created.clone();
    if let Some(labels) = edited["metadata"]["labels"].as_object_mut() {
        labels.remove("app");
    }
    record_update(&gvk(), Some(&created), &mut edited, "kubectl-edit", T2);
    assert!(
        !owned_fields(&edited, "kubectl", "Apply").contains(&".metadata.labels.app".to_string())
    );
}

#[test]
fn status_update_records_subresource() {
    let created = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    let mut with_status = created.clone();
    with_status["status"] =
        json!({"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]});
    record_subresource_update(
        &gvk(),
        Some(&created),
        &mut with_status,
        "controller",
        "status",
        T2,
    );
    let entry = entry(&with_status, "controller", "Update").expect("status entry");
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["fieldsV1"]["f:status"]["f:replicas"], json!({}));
    assert_eq!(
        entry["fieldsV1"]["f:status"]["f:conditions"]["k:{\"type\":\"Available\"}"]["f:status"],
        json!({})
    );
    assert!(entry["fieldsV1"].get("f:spec").is_none());
}

#[test]
fn scale_update_owns_replicas() {
    let mut created = config(1, "api:1");
    record_update(&gvk(), None, &mut created, "kubectl-create", T1);
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(4);
    record_subresource_update(&gvk(), Some(&created), &mut scaled, "kubectl", "scale", T2);
    let replicas = ".spec.replicas".to_string();
    assert!(owned_fields(&scaled, "kubectl", "Update").contains(&replicas));
    assert!(!owned_fields(&scaled, "kubectl-create", "Update").contains(&replicas));
}

#[test]
fn finalizers_are_a_set() {
    let mut applied = config(1, "api:1");
    applied["metadata"]["finalizers"] = json!(["example.com/a"]);
    let created = apply(None, &applied, "kubectl", false).expect("applies");
    let fields = &entry(&created, "kubectl", "Apply").expect("entry")["fieldsV1"];
    assert_eq!(
        fields["f:metadata"]["f:finalizers"]["v:\"example.com/a\""],
        json!({})
    );
    let mut other =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
    other["metadata"]["finalizers"] = json!(["example.com/b"]);
    let both = apply(Some(&created), &other, "other", false).expect("applies");
    assert_eq!(
        both["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/b"])
    );
}

#[test]
fn fields_v1_round_trip() {
    let fields = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}},
        "f:finalizers": {"v:\"x\"": {}}
    });
    let set = FieldSet::from_fields_v1(&fields);
    assert_eq!(set.0.len(), 6);
    assert_eq!(set.to_fields_v1(), fields);
}

#[test]
fn unidentifiable_list_items_are_invalid() {
    let mut missing_name = config(1, "api:1");
    missing_name["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let mut duplicate = config(1, "api:1");
    duplicate["spec"]["template"]["spec"]["containers"] = json!([{"name": "c"}, {"name": "c"}]);
    let mut duplicate_port = config(1, "api:1");
    duplicate_port["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}]);
    let mut duplicate_finalizer = config(1, "api:1");
    duplicate_finalizer["metadata"]["finalizers"] = json!(["a", "a"]);
    let cases = [
        (missing_name, "omits key field \"name\""),
        (duplicate, "duplicate entries for key [name=\"c\"]"),
        (
            duplicate_port,
            "duplicate entries for key [containerPort=80,protocol=\"TCP\"]",
        ),
        (duplicate_finalizer, "duplicate entries for value \"a\""),
    ];
    for (applied, expected) in cases {
        match apply(None, &applied, "kubectl", false) {
            Err(ApplyError::Invalid(message)) => assert!(message.contains(expected), "{message}"),
            other => panic!("expected Invalid containing {expected}, got {other:?}"),
        }
    }
}

#[test]
fn port_without_protocol_matches_tcp() {
    let created = apply(None, &config(1, "api:1"), "kubectl", false).expect("applies");
    let mut with_protocol = config(1, "api:1");
    with_protocol["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}]);
    let updated = apply(Some(&created), &with_protocol, "kubectl", false).expect("applies");
    let ports = &updated["spec"]["template"]["spec"]["containers"][0]["ports"];
    assert_eq!(
        ports,
        &json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])
    );
}

#[test]
fn update_honours_managed_fields_in_request() {
    // kubectl migrates a client-side-apply owner to its Apply manager with a
    // JSON patch that replaces metadata.managedFields.
    let mut created = config(1, "api:1");
    record_update(&gvk(), None, &mut created, "kubectl-client-side-apply", T1);
    let mut migrated = created.clone();
    let mut entries = created["metadata"]["managedFields"].clone();
    entries[0]["manager"] = json!("kubectl");
    entries[0]["operation"] = json!("Apply");
    migrated["metadata"]["managedFields"] = entries;
    record_update(&gvk(), Some(&created), &mut migrated, "kubectl", T2);
    assert!(entry(&migrated, "kubectl-client-side-apply", "Update").is_none());
    assert!(owned_fields(&migrated, "kubectl", "Apply").contains(&".spec.replicas".to_string()));
    let reapplied =
        apply(Some(&migrated), &config(3, "api:1"), "kubectl", false).expect("no conflict");
    assert_eq!(reapplied["spec"]["replicas"], 3);
}

#[test]
fn update_without_managed_fields_keeps_old_entries() {
    let created = apply(None, &config(2, "api:1"), "kubectl", false).expect("applies");
    let mut replaced = config(2, "api:1");
    replaced["metadata"]["labels"]["extra"] = json!("x");
    record_update(&gvk(), Some(&created), &mut replaced, "kube-rs", T2);
    assert!(owned_fields(&replaced, "kubectl", "Apply").contains(&".spec.replicas".to_string()));
    assert_eq!(
        owned_fields(&replaced, "kube-rs", "Update"),
        [".metadata.labels.extra"]
    );
}
