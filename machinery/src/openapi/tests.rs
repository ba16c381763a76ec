use prost::Message;
use serde_json::{Value, json};

use super::v2::{Document, Schema};
use super::{v2_protobuf, v3_document, v3_document_hash, v3_index};

const DEPLOYMENT_ITEM: &str = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}";

fn apps_v1() -> Value {
    v3_document("apis/apps/v1").expect("apps/v1 is served")
}

fn parameter_names(operation: &Value) -> Vec<&str> {
    operation["parameters"]
        .as_array()
        .map(|parameters| {
            parameters
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => refs.push(target),
                    _ => collect_refs(child, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

#[test]
fn index_lists_every_group_version() {
    let index = v3_index();
    let paths = index["paths"].as_object().expect("paths object");
    for path in [
        "api/v1",
        "apis/apps/v1",
        "apis/autoscaling/v1",
        "apis/coordination.k8s.io/v1",
        "apis/events.k8s.io/v1",
    ] {
        let url = paths[path]["serverRelativeURL"].as_str().expect("url");
        let hash = v3_document_hash(path).expect("hash");
        assert_eq!(url, format!("/openapi/v3/{path}?hash={hash}"));
    }
}

#[test]
fn unknown_group_version_is_absent() {
    assert!(v3_document("apis/batch/v1").is_none());
    assert!(v3_document_hash("apis/batch/v1").is_none());
}

#[test]
fn patch_operations_declare_gvk_and_field_validation() {
    let cases = [
        (
            "api/v1",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            json!({"group": "", "kind": "Pod", "version": "v1"}),
        ),
        (
            "api/v1",
            "/api/v1/nodes/{name}",
            json!({"group": "", "kind": "Node", "version": "v1"}),
        ),
        (
            "api/v1",
            "/api/v1/namespaces/{name}",
            json!({"group": "", "kind": "Namespace", "version": "v1"}),
        ),
        (
            "api/v1",
            "/api/v1/namespaces/{namespace}/configmaps/{name}",
            json!({"group": "", "kind": "ConfigMap", "version": "v1"}),
        ),
        (
            "apis/apps/v1",
            DEPLOYMENT_ITEM,
            json!({"group": "apps", "kind": "Deployment", "version": "v1"}),
        ),
        (
            "apis/apps/v1",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}),
        ),
        (
            "apis/coordination.k8s.io/v1",
            "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}",
            json!({"group": "coordination.k8s.io", "kind": "Lease", "version": "v1"}),
        ),
        (
            "apis/events.k8s.io/v1",
            "/apis/events.k8s.io/v1/namespaces/{namespace}/events/{name}",
            json!({"group": "events.k8s.io", "kind": "Event", "version": "v1"}),
        ),
    ];
    for (gv, path, gvk) in cases {
        let document = v3_document(gv).expect("served");
        let patch = &document["paths"][path]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"], gvk, "{path}");
        assert!(
            parameter_names(patch).contains(&"fieldValidation"),
            "{path}"
        );
        assert!(patch.get("requestBody").is_none(), "{path}");
    }
}

#[test]
fn every_verb_has_a_path() {
    let document = apps_v1();
    let paths = &document["paths"];
    let collection = &paths["/apis/apps/v1/namespaces/{namespace}/deployments"];
    for verb in ["get", "post", "delete"] {
        assert!(collection.get(verb).is_some(), "collection {verb}");
    }
    for verb in ["get", "put", "patch", "delete"] {
        assert!(paths[DEPLOYMENT_ITEM].get(verb).is_some(), "item {verb}");
    }
    assert!(paths["/apis/apps/v1/deployments"].get("get").is_some());
    let status = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"];
    assert_eq!(
        status["patch"]["x-kubernetes-group-version-kind"]["kind"],
        "Deployment"
    );
    let core = v3_document("api/v1").expect("core");
    assert!(
        core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/binding"]
            .get("post")
            .is_some()
    );
    assert!(
        core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]
            .get("get")
            .is_some()
    );
    assert!(core["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["parameters"].is_array());
}

#[test]
fn kinds_carry_gvk_lists_and_descriptions() {
    let document = apps_v1();
    let schemas = &document["components"]["schemas"];
    let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert!(
        deployment["description"]
            .as_str()
            .is_some_and(|text| !text.is_empty())
    );
    assert_eq!(
        deployment["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
    );
    assert!(deployment["properties"]["spec"]["description"].is_string());
    let spec = &schemas["io.k8s.api.apps.v1.DeploymentSpec"];
    assert!(spec["properties"]["replicas"]["description"].is_string());
    assert_eq!(
        schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"][0]["kind"],
        "DeploymentList"
    );
    assert_eq!(
        schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"][0]["group"],
        "autoscaling"
    );
}

#[test]
fn list_fields_carry_patch_metadata() {
    let document = apps_v1();
    let schemas = &document["components"]["schemas"];
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    let volumes = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let ports = &schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    let tolerations = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["tolerations"];
    assert_eq!(tolerations["x-kubernetes-list-type"], "atomic");
    assert!(tolerations.get("x-kubernetes-patch-strategy").is_none());
    let finalizers =
        &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(finalizers["x-kubernetes-list-type"], "set");
    let strategy = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
}

#[test]
fn every_reference_resolves() {
    for gv in [
        "api/v1",
        "apis/apps/v1",
        "apis/autoscaling/v1",
        "apis/coordination.k8s.io/v1",
        "apis/events.k8s.io/v1",
    ] {
        let document = v3_document(gv).expect("served");
        let mut refs = Vec::new();
        collect_refs(&document, &mut refs);
        assert!(!refs.is_empty(), "{gv}");
        for target in refs {
            let name = target
                .strip_prefix("#/components/schemas/")
                .expect("component reference");
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{gv}: {target}"
            );
        }
    }
}

fn vendor_extension<'a>(extensions: &'a [super::v2::NamedAny], name: &str) -> Option<&'a str> {
    extensions
        .iter()
        .find(|extension| extension.name == name)
        .and_then(|extension| extension.value.as_ref())
        .map(|value| value.yaml.as_str())
}

#[test]
fn v2_protobuf_decodes_with_patch_metadata() {
    let bytes = v2_protobuf();
    let document = Document::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(document.swagger, "2.0");
    let paths = document.paths.expect("paths");
    let item = paths
        .path
        .iter()
        .find(|path| path.name == DEPLOYMENT_ITEM)
        .and_then(|path| path.value.as_ref())
        .expect("deployment path");
    let patch = item.patch.as_ref().expect("patch operation");
    let gvk =
        vendor_extension(&patch.vendor_extension, "x-kubernetes-group-version-kind").expect("gvk");
    let gvk: Value = serde_yaml_ng::from_str(gvk).expect("gvk is YAML");
    assert_eq!(
        gvk,
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    assert!(
        patch.consumes.is_empty(),
        "no consumes, so kubectl keeps its compiled-in patch metadata"
    );
    let query_names: Vec<&str> = patch
        .parameters
        .iter()
        .filter_map(|item| {
            item.parameter
                .as_ref()?
                .non_body_parameter
                .as_ref()?
                .query_parameter_sub_schema
                .as_ref()
        })
        .map(|query| query.name.as_str())
        .collect();
    assert!(query_names.contains(&"fieldValidation"), "{query_names:?}");
    let path_names: Vec<&str> = item
        .parameters
        .iter()
        .filter_map(|item| {
            item.parameter
                .as_ref()?
                .non_body_parameter
                .as_ref()?
                .path_parameter_sub_schema
                .as_ref()
        })
        .map(|path| path.name.as_str())
        .collect();
    assert_eq!(path_names, ["name", "namespace"]);
}

fn definition<'a>(document: &'a Document, name: &str) -> &'a Schema {
    document
        .definitions
        .as_ref()
        .and_then(|definitions| {
            definitions
                .additional_properties
                .iter()
                .find(|named| named.name == name)
        })
        .and_then(|named| named.value.as_ref())
        .unwrap_or_else(|| panic!("definition {name} missing"))
}

fn property<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
    schema
        .properties
        .as_ref()
        .and_then(|properties| {
            properties
                .additional_properties
                .iter()
                .find(|named| named.name == name)
        })
        .and_then(|named| named.value.as_ref())
        .unwrap_or_else(|| panic!("property {name} missing"))
}

#[test]
fn v2_definitions_carry_schemas() {
    let document = Document::decode(v2_protobuf().as_slice()).expect("decodes");
    let deployment = definition(&document, "io.k8s.api.apps.v1.Deployment");
    let gvk = vendor_extension(
        &deployment.vendor_extension,
        "x-kubernetes-group-version-kind",
    )
    .expect("gvk");
    let gvk: Value = serde_yaml_ng::from_str(gvk).expect("gvk is YAML");
    assert_eq!(
        gvk,
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert_eq!(
        property(deployment, "spec").r#ref,
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    );
    let pod_spec = definition(&document, "io.k8s.api.core.v1.PodSpec");
    let containers = property(pod_spec, "containers");
    assert_eq!(
        vendor_extension(&containers.vendor_extension, "x-kubernetes-patch-merge-key"),
        Some("\"name\"")
    );
    let items = containers.items.as_ref().expect("items");
    assert_eq!(
        items.schema[0].r#ref,
        "#/definitions/io.k8s.api.core.v1.Container"
    );
    let labels = property(
        definition(&document, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        "labels",
    );
    let values = labels
        .additional_properties
        .as_ref()
        .and_then(|item| item.schema.as_ref())
        .expect("map values");
    assert_eq!(
        values.r#type.as_ref().map(|t| t.value.clone()),
        Some(vec!["string".to_string()])
    );
    let int_or_string = definition(&document, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assert_eq!(int_or_string.format, "int-or-string");
}

#[test]
#[ignore = "writes the documents to /tmp/skiff-openapi for inspection"]
fn dump_documents() {
    std::fs::create_dir_all("/tmp/skiff-openapi").expect("dir");
    for gv in ["api/v1", "apis/apps/v1"] {
        let document = v3_document(gv).expect("served");
        let name = gv.replace('/', "_");
        std::fs::write(
            format!("/tmp/skiff-openapi/{name}.json"),
            document.to_string(),
        )
        .expect("write");
    }
    std::fs::write(
        "/tmp/skiff-openapi/v2.json",
        super::build_v2_json().to_string(),
    )
    .expect("write");
    std::fs::write("/tmp/skiff-openapi/v2.pb", v2_protobuf()).expect("write");
}

#[test]
fn metadata_is_optional_except_core_event() {
    let apps = apps_v1();
    assert!(
        apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
            .get("required")
            .is_none()
    );
    let core = v3_document("api/v1").expect("core");
    let event = &core["components"]["schemas"]["io.k8s.api.core.v1.Event"]["required"];
    assert_eq!(event, &json!(["involvedObject", "metadata"]));
    assert!(
        core["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
            .get("required")
            .is_none()
    );
}
