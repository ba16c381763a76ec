use super::*;

fn deployment() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

#[test]
fn valid_body_has_no_problems() {
    let body = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"a":"b"}},
        "spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},
        "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"a","image":"x"}]}}}}"#;
    assert_eq!(field_problems(&deployment(), body), Vec::<String>::new());
}

#[test]
fn unknown_fields_with_paths() {
    let body = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","unknownMeta":1},
        "spec":{"replica":3,"template":{"spec":{"containers":[{"name":"a","image":"x","imagePullPolcy":"Always","extra":{"deep":1}}]}}}}"#;
    assert_eq!(
        field_problems(&deployment(), body),
        vec![
            "unknown field \"metadata.unknownMeta\"",
            "unknown field \"spec.replica\"",
            "unknown field \"spec.template.spec.containers[0].imagePullPolcy\"",
            "unknown field \"spec.template.spec.containers[0].extra\"",
        ]
    );
}

#[test]
fn duplicate_fields_in_document_order() {
    let body = br#"{"apiVersion":"apps/v1","kind":"Deployment",
        "metadata":{"name":"web","name":"web2","unknownMeta":"x"},
        "spec":{"unknown1":"v","unknownDupe":"a","unknownDupe":"b","paused":true,"paused":false,
        "template":{"spec":{"containers":[{"name":"a","image":"x","unknownNested":1,"imagePullPolicy":"Always","imagePullPolicy":"Never"}]}}}}"#;
    assert_eq!(
        field_problems(&deployment(), body),
        vec![
            "duplicate field \"metadata.name\"",
            "unknown field \"metadata.unknownMeta\"",
            "unknown field \"spec.unknown1\"",
            "unknown field \"spec.unknownDupe\"",
            "duplicate field \"spec.paused\"",
            "unknown field \"spec.template.spec.containers[0].unknownNested\"",
            "duplicate field \"spec.template.spec.containers[0].imagePullPolicy\"",
        ]
    );
}

#[test]
fn duplicate_map_keys_and_top_level() {
    let config_map = Gvk::new("", "v1", "ConfigMap");
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1","a":"2"},"dta":{}}"#;
    assert_eq!(
        field_problems(&config_map, body),
        vec!["duplicate field \"data.a\"", "unknown field \"dta\""]
    );
    let body = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w"},"spec":{"replicas":1},"spec":{"replicas":2}}"#;
    assert_eq!(
        field_problems(&deployment(), body),
        vec!["duplicate field \"spec\""]
    );
}

#[test]
fn strict_message_wording() {
    let problems = vec!["unknown field \"spec.replica\"".to_string()];
    assert_eq!(
        strict_error_message(&deployment(), &problems),
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\""
    );
}

#[test]
fn malformed_body_yields_nothing() {
    assert_eq!(
        field_problems(&deployment(), b"{not json"),
        Vec::<String>::new()
    );
}
