use serde_json::{Value, json};

use super::*;
use crate::defaults::apply_defaults;

const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// A JSON pointer to change, its new value, and the expected causes as
/// (field, reason, message).
type Case = (&'static str, Value, Vec<(String, String, String)>);

fn pod_gvk() -> Gvk {
    Gvk::new("", "v1", "Pod")
}

fn deployment_gvk() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
    })
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}
            }
        }
    })
}

/// Sets the value at a JSON pointer, creating objects on the way.
fn set(object: &mut Value, pointer: &str, value: Value) {
    let mut current = object;
    for segment in pointer.trim_start_matches('/').split('/') {
        current = match current {
            Value::Array(items) => &mut items[segment.parse::<usize>().expect("index")],
            other => &mut other[segment],
        };
    }
    *current = value;
}

fn defaulted_causes(gvk: &Gvk, mut object: Value) -> Vec<FieldCause> {
    apply_defaults(gvk, &mut object);
    validate(gvk, &object, None)
}

fn cause_triples(causes: &[FieldCause]) -> Vec<(String, String, String)> {
    causes
        .iter()
        .map(|cause| {
            (
                cause.field.clone(),
                cause.reason.clone(),
                cause.message.clone(),
            )
        })
        .collect()
}

fn triple(field: &str, reason: &str, message: &str) -> (String, String, String) {
    (field.to_string(), reason.to_string(), message.to_string())
}

#[test]
fn valid_objects_pass() {
    assert_eq!(defaulted_causes(&pod_gvk(), pod()), vec![]);
    assert_eq!(defaulted_causes(&deployment_gvk(), deployment()), vec![]);
}

#[test]
fn pod_field_errors() {
    let cases: Vec<Case> = vec![
        (
            "/metadata/name",
            json!("Web_1"),
            vec![triple(
                "metadata.name",
                "FieldValueInvalid",
                &format!("Invalid value: \"Web_1\": {SUBDOMAIN_MESSAGE}"),
            )],
        ),
        (
            "/metadata/name",
            json!(""),
            vec![triple(
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )],
        ),
        (
            "/metadata/labels",
            json!({"app": "-bad"}),
            vec![triple(
                "metadata.labels",
                "FieldValueInvalid",
                "Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            )],
        ),
        (
            "/metadata/labels",
            json!({"a/b/c": "x"}),
            vec![triple(
                "metadata.labels",
                "FieldValueInvalid",
                "Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            )],
        ),
        (
            "/spec/containers",
            json!([]),
            vec![triple(
                "spec.containers",
                "FieldValueRequired",
                "Required value",
            )],
        ),
        (
            "/spec/containers/0/name",
            json!("Web"),
            vec![triple(
                "spec.containers[0].name",
                "FieldValueInvalid",
                &format!("Invalid value: \"Web\": {LABEL_MESSAGE}"),
            )],
        ),
        (
            "/spec/containers/0/name",
            json!(""),
            vec![triple(
                "spec.containers[0].name",
                "FieldValueRequired",
                "Required value",
            )],
        ),
        (
            "/spec/containers/0/image",
            json!(""),
            vec![triple(
                "spec.containers[0].image",
                "FieldValueRequired",
                "Required value",
            )],
        ),
        (
            "/spec/containers/0/ports/0/containerPort",
            json!(70000),
            vec![triple(
                "spec.containers[0].ports[0].containerPort",
                "FieldValueInvalid",
                "Invalid value: 70000: must be between 1 and 65535, inclusive",
            )],
        ),
        (
            "/spec/containers/0/ports/0/protocol",
            json!("tcp"),
            vec![triple(
                "spec.containers[0].ports[0].protocol",
                "FieldValueNotSupported",
                "Unsupported value: \"tcp\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            )],
        ),
        (
            "/spec/restartPolicy",
            json!("Sometimes"),
            vec![triple(
                "spec.restartPolicy",
                "FieldValueNotSupported",
                "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            )],
        ),
        (
            "/spec/containers/0/resources",
            json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
            vec![triple(
                "spec.containers[0].resources.requests",
                "FieldValueInvalid",
                "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            )],
        ),
        (
            "/spec/containers/0/resources",
            json!({"limits": {"memory": "-1Gi"}}),
            vec![
                triple(
                    "spec.containers[0].resources.limits[memory]",
                    "FieldValueInvalid",
                    "Invalid value: \"-1Gi\": must be greater than or equal to 0",
                ),
                triple(
                    "spec.containers[0].resources.requests[memory]",
                    "FieldValueInvalid",
                    "Invalid value: \"-1Gi\": must be greater than or equal to 0",
                ),
            ],
        ),
        (
            "/spec/containers/0/resources",
            json!({"requests": {"cpu": "lots"}}),
            vec![triple(
                "spec.containers[0].resources.requests[cpu]",
                "FieldValueInvalid",
                "Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            )],
        ),
        (
            "/spec/containers/0/resources",
            json!({"requests": {"gpu": "1"}}),
            vec![triple(
                "spec.containers[0].resources.requests[gpu]",
                "FieldValueInvalid",
                "Invalid value: \"gpu\": must be a standard resource for containers",
            )],
        ),
        (
            "/spec/containers/0/volumeMounts",
            json!([{"name": "data", "mountPath": "/data"}]),
            vec![triple(
                "spec.containers[0].volumeMounts[0].name",
                "FieldValueNotFound",
                "Not found: \"data\"",
            )],
        ),
    ];
    for (pointer, value, expected) in cases {
        let mut object = pod();
        set(&mut object, pointer, value.clone());
        let causes = defaulted_causes(&pod_gvk(), object);
        assert_eq!(cause_triples(&causes), expected, "{pointer} = {value}");
    }
}

#[test]
fn duplicate_container_names() {
    let mut object = pod();
    set(
        &mut object,
        "/spec/containers",
        json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
    );
    let causes = defaulted_causes(&pod_gvk(), object);
    assert_eq!(
        cause_triples(&causes),
        vec![triple(
            "spec.containers[1].name",
            "FieldValueDuplicate",
            "Duplicate value: \"a\""
        )]
    );
}

#[test]
fn deployment_field_errors() {
    let cases: Vec<Case> = vec![
        (
            "/spec/replicas",
            json!(-1),
            vec![triple(
                "spec.replicas",
                "FieldValueInvalid",
                "Invalid value: -1: must be greater than or equal to 0",
            )],
        ),
        (
            "/spec/template/metadata/labels",
            json!({"app": "other"}),
            vec![triple(
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                "Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`",
            )],
        ),
        (
            "/spec/selector",
            json!({}),
            vec![triple(
                "spec.selector",
                "FieldValueInvalid",
                "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
            )],
        ),
        (
            "/spec/strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
            vec![triple(
                "spec.strategy.rollingUpdate.maxUnavailable",
                "FieldValueInvalid",
                "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
            )],
        ),
        (
            "/spec/strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x%"}}),
            vec![triple(
                "spec.strategy.rollingUpdate.maxSurge",
                "FieldValueInvalid",
                "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x%\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            )],
        ),
        (
            "/spec/strategy",
            json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
            vec![triple(
                "spec.strategy.rollingUpdate",
                "FieldValueForbidden",
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
            )],
        ),
        (
            "/spec/template/spec/restartPolicy",
            json!("Never"),
            vec![triple(
                "spec.template.spec.restartPolicy",
                "FieldValueNotSupported",
                "Unsupported value: \"Never\": supported values: \"Always\"",
            )],
        ),
        (
            "/spec/template/spec/containers/0/name",
            json!("bad name"),
            vec![triple(
                "spec.template.spec.containers[0].name",
                "FieldValueInvalid",
                &format!("Invalid value: \"bad name\": {LABEL_MESSAGE}"),
            )],
        ),
    ];
    for (pointer, value, expected) in cases {
        let mut object = deployment();
        set(&mut object, pointer, value.clone());
        let causes = defaulted_causes(&deployment_gvk(), object);
        assert_eq!(cause_triples(&causes), expected, "{pointer} = {value}");
    }
}

#[test]
fn deployment_selector_is_immutable() {
    let mut old = deployment();
    apply_defaults(&deployment_gvk(), &mut old);
    let mut new = old.clone();
    set(
        &mut new,
        "/spec/selector/matchLabels",
        json!({"app": "web", "v": "2"}),
    );
    set(
        &mut new,
        "/spec/template/metadata/labels",
        json!({"app": "web", "v": "2"}),
    );
    let causes = validate(&deployment_gvk(), &new, Some(&old));
    assert_eq!(
        cause_triples(&causes),
        vec![triple(
            "spec.selector",
            "FieldValueInvalid",
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
        )]
    );
}

#[test]
fn pod_update_rules() {
    let mut old = pod();
    apply_defaults(&pod_gvk(), &mut old);

    let mut image_change = old.clone();
    set(
        &mut image_change,
        "/spec/containers/0/image",
        json!("nginx:1.26"),
    );
    set(&mut image_change, "/spec/activeDeadlineSeconds", json!(60));
    assert_eq!(validate(&pod_gvk(), &image_change, Some(&old)), vec![]);

    let mut name_change = old.clone();
    set(&mut name_change, "/spec/containers/0/name", json!("other"));
    let causes = validate(&pod_gvk(), &name_change, Some(&old));
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, "spec");
    assert_eq!(causes[0].reason, "FieldValueForbidden");
    assert!(
        causes[0].message.starts_with(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
        ),
        "{}",
        causes[0].message
    );
    assert!(
        causes[0].message.contains("spec.containers[0].name"),
        "{}",
        causes[0].message
    );

    let mut renamed = old.clone();
    set(&mut renamed, "/metadata/name", json!("web-2"));
    let causes = validate(&pod_gvk(), &renamed, Some(&old));
    assert_eq!(
        cause_triples(&causes),
        vec![triple(
            "metadata.name",
            "FieldValueInvalid",
            "Invalid value: \"web-2\": field is immutable"
        )]
    );
}

#[test]
fn immutable_config_map_and_secret() {
    let config_map_gvk = Gvk::new("", "v1", "ConfigMap");
    let old = json!({"metadata": {"name": "c", "namespace": "default"}, "immutable": true, "data": {"a": "1"}});
    let new = json!({"metadata": {"name": "c", "namespace": "default"}, "immutable": true, "data": {"a": "2"}});
    assert_eq!(
        cause_triples(&validate(&config_map_gvk, &new, Some(&old))),
        vec![triple(
            "data",
            "FieldValueForbidden",
            "Forbidden: field is immutable when `immutable` is set"
        )]
    );
    let unset = json!({"metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}});
    assert_eq!(
        cause_triples(&validate(&config_map_gvk, &unset, Some(&old))),
        vec![triple(
            "immutable",
            "FieldValueForbidden",
            "Forbidden: field is immutable when `immutable` is set"
        )]
    );

    let secret_gvk = Gvk::new("", "v1", "Secret");
    let old = json!({"metadata": {"name": "s", "namespace": "default"}, "type": "Opaque", "immutable": true, "data": {"a": "eA=="}});
    let mut new = old.clone();
    set(&mut new, "/data/a", json!("eQ=="));
    set(&mut new, "/type", json!("other"));
    assert_eq!(
        cause_triples(&validate(&secret_gvk, &new, Some(&old))),
        vec![
            triple(
                "type",
                "FieldValueInvalid",
                "Invalid value: \"other\": field is immutable"
            ),
            triple(
                "data",
                "FieldValueForbidden",
                "Forbidden: field is immutable when `immutable` is set"
            ),
        ]
    );
}

#[test]
fn config_map_keys_and_size() {
    let gvk = Gvk::new("", "v1", "ConfigMap");
    let object = json!({"metadata": {"name": "c", "namespace": "default"}, "data": {"bad key": "x", "..a": "y"}});
    assert_eq!(
        cause_triples(&validate(&gvk, &object, None)),
        vec![
            triple(
                "data[..a]",
                "FieldValueInvalid",
                "Invalid value: \"..a\": must not start with '..'",
            ),
            triple(
                "data[bad key]",
                "FieldValueInvalid",
                "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ),
        ]
    );
    let big = "x".repeat(core::MAX_DATA_SIZE + 1);
    let object = json!({"metadata": {"name": "c", "namespace": "default"}, "data": {"a": big}});
    assert_eq!(
        cause_triples(&validate(&gvk, &object, None)),
        vec![triple(
            "",
            "FieldValueTooLong",
            "Too long: may not be more than 1048576 bytes"
        )]
    );
}

#[test]
fn secret_size_and_required_keys() {
    let gvk = Gvk::new("", "v1", "Secret");
    let big = "A".repeat(1_400_000 + 4);
    let object = json!({"metadata": {"name": "s", "namespace": "default"}, "type": "Opaque", "data": {"a": big}});
    assert_eq!(
        cause_triples(&validate(&gvk, &object, None)),
        vec![triple(
            "data",
            "FieldValueTooLong",
            "Too long: may not be more than 1048576 bytes"
        )]
    );
    let tls = json!({"metadata": {"name": "s", "namespace": "default"}, "type": "kubernetes.io/tls", "data": {"tls.crt": ""}});
    assert_eq!(
        cause_triples(&validate(&gvk, &tls, None)),
        vec![triple(
            "data[tls.key]",
            "FieldValueRequired",
            "Required value"
        )]
    );
}

#[test]
fn namespace_and_scope_rules() {
    let namespace_gvk = Gvk::new("", "v1", "Namespace");
    let object = json!({"metadata": {"name": "team.a"}});
    assert_eq!(
        cause_triples(&validate(&namespace_gvk, &object, None)),
        vec![triple(
            "metadata.name",
            "FieldValueInvalid",
            "Invalid value: \"team.a\": must not contain dots"
        )]
    );
    let scoped = json!({"metadata": {"name": "n", "namespace": "default"}});
    assert_eq!(
        cause_triples(&validate(&Gvk::new("", "v1", "Node"), &scoped, None)),
        vec![triple(
            "metadata.namespace",
            "FieldValueForbidden",
            "Forbidden: not allowed on this type"
        )]
    );
    let missing = json!({"metadata": {"name": "cm"}});
    assert_eq!(
        cause_triples(&validate(&Gvk::new("", "v1", "ConfigMap"), &missing, None)),
        vec![triple(
            "metadata.namespace",
            "FieldValueRequired",
            "Required value"
        )]
    );
}

#[test]
fn generate_name_allows_trailing_dash() {
    let object = json!({"metadata": {"generateName": "web-", "namespace": "default"}});
    assert_eq!(
        validate(&Gvk::new("", "v1", "ConfigMap"), &object, None),
        vec![]
    );
    let bad = json!({"metadata": {"generateName": "Web-", "namespace": "default"}});
    let causes = validate(&Gvk::new("", "v1", "ConfigMap"), &bad, None);
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, "metadata.generateName");
}

#[test]
fn annotation_size_limit() {
    let big = "x".repeat(meta::TOTAL_ANNOTATION_SIZE_LIMIT);
    let object =
        json!({"metadata": {"name": "c", "namespace": "default", "annotations": {"a": big}}});
    assert_eq!(
        cause_triples(&validate(&Gvk::new("", "v1", "ConfigMap"), &object, None)),
        vec![triple(
            "metadata.annotations",
            "FieldValueTooLong",
            "Too long: may not be more than 262144 bytes"
        )]
    );
}

#[test]
fn lease_and_event_rules() {
    let lease = json!({"metadata": {"name": "l", "namespace": "default"}, "spec": {"leaseDurationSeconds": 0}});
    assert_eq!(
        cause_triples(&validate(
            &Gvk::new("coordination.k8s.io", "v1", "Lease"),
            &lease,
            None
        )),
        vec![triple(
            "spec.leaseDurationSeconds",
            "FieldValueInvalid",
            "Invalid value: 0: must be greater than 0"
        )]
    );
    let event =
        json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
    assert_eq!(
        cause_triples(&validate(&Gvk::new("", "v1", "Event"), &event, None)),
        vec![triple(
            "involvedObject.namespace",
            "FieldValueInvalid",
            "Invalid value: \"b\": does not match event.namespace"
        )]
    );
}

#[test]
fn invalid_message_format() {
    let causes = vec![
        field_error::invalid("spec.replicas", "-1", "must be greater than or equal to 0"),
        field_error::required("spec.selector", ""),
    ];
    assert_eq!(
        invalid_message(&deployment_gvk(), "web", &causes[..1]),
        "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    assert_eq!(
        invalid_message(&pod_gvk(), "web", &causes),
        "Pod \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]"
    );
}

#[test]
fn owner_references_need_identity() {
    let object = json!({"metadata": {"name": "c", "namespace": "default",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": ""}]}});
    assert_eq!(
        cause_triples(&validate(&Gvk::new("", "v1", "ConfigMap"), &object, None)),
        vec![triple(
            "metadata.ownerReferences.uid",
            "FieldValueInvalid",
            "Invalid value: \"\": uid must not be empty"
        )]
    );
}
