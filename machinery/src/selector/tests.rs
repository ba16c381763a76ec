use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::Gvk;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn label_selector_matching() {
    let web = labels(&[("app", "web"), ("tier", "front"), ("version", "3")]);
    let cases = [
        ("", true),
        ("app=web", true),
        ("app==web", true),
        ("app!=web", false),
        ("app=db", false),
        ("missing!=x", true),
        ("app in (web,db)", true),
        ("app in (db)", false),
        ("app notin (db)", true),
        ("missing notin (db)", true),
        ("app", true),
        ("missing", false),
        ("!missing", true),
        ("!app", false),
        ("app=web,tier=front", true),
        ("app=web, tier in (back)", false),
        ("version>2", true),
        ("version<2", false),
        ("missing=", false),
        ("x in (in)", false),
    ];
    for (selector, expected) in cases {
        let parsed = LabelSelector::parse(selector).expect(selector);
        assert_eq!(parsed.matches(&web), expected, "selector {selector:?}");
    }
}

#[test]
fn label_selector_empty_value() {
    let parsed = LabelSelector::parse("a=,b in (,x)").expect("selector");
    assert!(parsed.matches(&labels(&[("a", ""), ("b", "")])));
    assert!(!parsed.matches(&labels(&[("a", "1"), ("b", "")])));
}

#[test]
fn label_selector_errors() {
    let key_message = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    let cases = [
        ("a in b", "unable to parse requirement: found 'b' expected: '('".to_string()),
        ("a=b c", "found 'c', expected: ',' or 'end of string'".to_string()),
        ("a=b,", "found '', expected: identifier after ','".to_string()),
        ("=a", "found '=', expected: !, identifier, or 'end of string'".to_string()),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".to_string()),
        ("-a=b", format!("unable to parse requirement: <nil>: Invalid value: \"-a\": {key_message}")),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'".to_string()),
        ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer".to_string()),
        (
            "a=-b",
            "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string(),
        ),
    ];
    for (selector, expected) in cases {
        let error = LabelSelector::parse(selector).expect_err(selector);
        assert_eq!(error.to_string(), expected, "selector {selector:?}");
    }
}

#[test]
fn label_selector_from_metav1() {
    let selector = json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]
    });
    let parsed = LabelSelector::from_label_selector_json(&selector).expect("selector");
    assert!(parsed.matches(&labels(&[("app", "web"), ("tier", "back")])));
    assert!(!parsed.matches(&labels(&[("app", "web")])));
    assert_eq!(parsed.to_string(), "app=web,tier in (back,front)");

    let bad = json!({"matchExpressions": [{"key": "a", "operator": "Has"}]});
    let error = LabelSelector::from_label_selector_json(&bad).expect_err("operator");
    assert_eq!(
        error.to_string(),
        "\"Has\" is not a valid label selector operator"
    );

    let empty = LabelSelector::from_label_selector_json(&json!({})).expect("empty");
    assert!(empty.matches(&BTreeMap::new()));
}

#[test]
fn field_selector_matching() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"nodeName": "node-a", "restartPolicy": "Always"},
        "status": {"phase": "Running", "podIP": "10.0.0.5"}
    });
    let cases = [
        ("metadata.name=web-1", true),
        ("metadata.name==web-1", true),
        ("metadata.name!=web-1", false),
        ("spec.nodeName=node-a,status.phase=Running", true),
        ("spec.nodeName=", false),
        ("status.podIP=10.0.0.5", true),
        ("spec.hostNetwork=false", true),
        ("spec.serviceAccountName=", true),
    ];
    let pod_gvk = Gvk::new("", "v1", "Pod");
    for (selector, expected) in cases {
        let parsed = FieldSelector::parse_for_kind(&pod_gvk, selector).expect(selector);
        assert_eq!(parsed.matches(&pod), expected, "selector {selector:?}");
    }
    let unscheduled = json!({"metadata": {"name": "x"}, "spec": {}});
    let parsed = FieldSelector::parse("spec.nodeName=").expect("empty value");
    assert!(parsed.matches(&unscheduled));
    assert_eq!(parsed.exact_match("spec.nodeName"), Some(""));
}

#[test]
fn field_selector_event_fields() {
    let core = json!({
        "apiVersion": "v1", "kind": "Event",
        "involvedObject": {"kind": "Pod", "name": "web-1"},
        "source": {"component": "kubelet"}, "reason": "Started", "type": "Normal"
    });
    let events_v1 = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "regarding": {"kind": "Pod", "name": "web-1"},
        "deprecatedSource": {"component": "kubelet"}, "reason": "Started"
    });
    let gvk = Gvk::new("", "v1", "Event");
    let selector = FieldSelector::parse_for_kind(
        &gvk,
        "involvedObject.kind=Pod,involvedObject.name=web-1,source=kubelet,reason=Started",
    )
    .expect("selector");
    assert!(selector.matches(&core));
    assert!(selector.matches(&events_v1));
}

#[test]
fn field_selector_unsupported_labels() {
    let cases = [
        (Gvk::new("", "v1", "Pod"), "foo=bar", "foo"),
        (Gvk::new("", "v1", "ConfigMap"), "type=x", "type"),
        (
            Gvk::new("apps", "v1", "Deployment"),
            "spec.replicas=1",
            "spec.replicas",
        ),
        (
            Gvk::new("", "v1", "Node"),
            "spec.nodeName=x",
            "spec.nodeName",
        ),
    ];
    for (gvk, selector, field) in cases {
        let error = FieldSelector::parse_for_kind(&gvk, selector).expect_err(selector);
        assert_eq!(
            error.to_string(),
            format!("field label not supported: {field}")
        );
    }
    let node = Gvk::new("", "v1", "Node");
    let parsed = FieldSelector::parse_for_kind(&node, "spec.unschedulable=false").expect("node");
    assert!(parsed.matches(&json!({"metadata": {"name": "n"}, "spec": {}})));
    let secret = Gvk::new("", "v1", "Secret");
    let parsed = FieldSelector::parse_for_kind(&secret, "type=Opaque").expect("secret");
    assert!(parsed.matches(&json!({"type": "Opaque"})));
}

#[test]
fn field_selector_syntax_errors() {
    let cases = [
        ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
        (
            "a=b=c",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "a=b\\x",
            "invalid field selector: invalid escape sequence: \\x",
        ),
        (
            "a=b\\",
            "invalid field selector: invalid escape sequence: \\",
        ),
    ];
    for (selector, expected) in cases {
        let error = FieldSelector::parse(selector).expect_err(selector);
        assert_eq!(error.to_string(), expected, "selector {selector:?}");
    }
    let unknown = FieldSelector::parse("foo=bar").expect_err("unknown label");
    assert_eq!(unknown.to_string(), "field label not supported: foo");
    let any_kind = FieldSelector::parse_syntax("foo=bar").expect("syntax only");
    assert_eq!(any_kind.requirements().len(), 1);
    let escaped = FieldSelector::parse("metadata.name=a\\,b").expect("escaped comma");
    assert_eq!(escaped.exact_match("metadata.name"), Some("a,b"));
    assert_eq!(escaped.to_string(), "metadata.name=a\\,b");
}
