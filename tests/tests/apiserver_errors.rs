//! Bad requests get Kubernetes status codes and Status bodies, and store nothing.

use serde_json::Value;
use skiff_e2e::apiserver::ApiServer;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn status(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not a JSON Status ({e}): {body}"))
}

fn post(server: &ApiServer, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let (code, text) = server
        .request("POST", path, &[("Content-Type", content_type)], body)
        .expect("request is sent");
    (code, status(&text))
}

fn configmap_names(server: &ApiServer) -> Vec<String> {
    let (code, body) = server.get(CONFIGMAPS).expect("list is sent");
    assert_eq!(code, 200, "{body}");
    status(&body)["items"]
        .as_array()
        .expect("a list has items")
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn bad_input_is_rejected_and_not_stored() {
    let server = ApiServer::start().expect("apiserver starts");
    let json = "application/json";

    let (code, body) = post(&server, CONFIGMAPS, json, "{\"kind\": \"ConfigMap\", ");
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["reason"], "BadRequest");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("ConfigMap")),
        "{body}"
    );

    let (code, body) = post(&server, CONFIGMAPS, "application/yaml", "data: [unclosed");
    assert_eq!(code, 400, "{body}");

    let (code, body) = post(
        &server,
        CONFIGMAPS,
        json,
        r#"{"metadata":{},"data":{"a":"b"}}"#,
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["reason"], "Invalid");
    assert_eq!(body["details"]["causes"][0]["field"], "metadata.name");

    let (code, body) = post(
        &server,
        CONFIGMAPS,
        "text/plain",
        r#"{"metadata":{"name":"x"}}"#,
    );
    assert_eq!(code, 415, "{body}");
    assert_eq!(body["reason"], "UnsupportedMediaType");

    let huge = format!(
        r#"{{"metadata":{{"name":"huge"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(3 * 1024 * 1024 + 1)
    );
    let (code, body) = post(&server, CONFIGMAPS, json, &huge);
    assert_eq!(code, 413, "{body}");
    assert_eq!(body["reason"], "RequestEntityTooLarge");

    let (code, body) = post(
        &server,
        CONFIGMAPS,
        json,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}"#,
    );
    assert_eq!(code, 400, "{body}");

    let (code, body) = post(
        &server,
        CONFIGMAPS,
        json,
        r#"{"metadata":{"name":"x","namespace":"other"}}"#,
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("namespace")),
        "{body}"
    );

    let (code, body) = post(
        &server,
        "/api/v1/namespaces/missing/configmaps",
        json,
        r#"{"metadata":{"name":"x"}}"#,
    );
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["message"], "namespaces \"missing\" not found");

    let (code, body) = post(&server, "/api/v1/namespaces/default/widgets", json, "{}");
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["reason"], "NotFound");

    assert!(configmap_names(&server).is_empty());
}

#[test]
fn conflicts_and_methods() {
    let server = ApiServer::start().expect("apiserver starts");
    let json = "application/json";
    let (code, created) = post(
        &server,
        CONFIGMAPS,
        json,
        r#"{"metadata":{"name":"c"},"data":{"a":"1"}}"#,
    );
    assert_eq!(code, 201, "{created}");
    let version = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("a resourceVersion");

    let (code, body) = post(&server, CONFIGMAPS, json, r#"{"metadata":{"name":"c"}}"#);
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["reason"], "AlreadyExists");

    let path = format!("{CONFIGMAPS}/c");
    let update = format!(
        r#"{{"metadata":{{"name":"c","resourceVersion":"{version}"}},"data":{{"a":"2"}}}}"#
    );
    let (code, body) = server
        .request("PUT", &path, &[("Content-Type", json)], &update)
        .expect("PUT is sent");
    assert_eq!(code, 200, "{body}");
    let (code, body) = server
        .request("PUT", &path, &[("Content-Type", json)], &update)
        .expect("PUT is sent");
    assert_eq!(code, 409, "{body}");
    assert_eq!(status(&body)["reason"], "Conflict");

    let (code, body) = server
        .request(
            "PATCH",
            &path,
            &[("Content-Type", "application/json")],
            "{}",
        )
        .expect("PATCH is sent");
    assert_eq!(code, 415, "{body}");

    let (code, body) = server
        .request("POST", &path, &[("Content-Type", json)], "{}")
        .expect("POST is sent");
    assert_eq!(code, 405, "{body}");

    let (code, body) = server
        .get("/api/v1/namespaces/default/configmaps/nope")
        .expect("GET is sent");
    assert_eq!(code, 404, "{body}");
    assert_eq!(status(&body)["message"], "configmaps \"nope\" not found");

    let (code, body) = server
        .request("DELETE", "/api/v1/namespaces/default", &[], "")
        .expect("DELETE is sent");
    assert_eq!(code, 403, "{body}");

    let (code, body) = server
        .request(
            "DELETE",
            &path,
            &[("Content-Type", json)],
            "{\"propagationPolicy\":\"Background\"}\n",
        )
        .expect("DELETE is sent");
    assert_eq!(code, 200, "{body}");
    assert!(configmap_names(&server).is_empty());
}

#[test]
fn selectors_are_checked_per_kind() {
    let server = ApiServer::start().expect("apiserver starts");
    let (code, body) = server
        .get("/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning,spec.nodeName%3Dn1")
        .expect("list is sent");
    assert_eq!(code, 200, "{body}");

    // Pods can be selected by spec.nodeName. ConfigMaps cannot, and the error
    // uses Kubernetes' message.
    let (code, body) = server
        .get("/api/v1/namespaces/default/configmaps?labelSelector=a%3Db&fieldSelector=spec.nodeName%3Dn1")
        .expect("list is sent");
    assert_eq!(code, 400, "{body}");
    let body = status(&body);
    assert_eq!(body["reason"], "BadRequest");
    assert_eq!(
        body["message"],
        "Unable to find \"/v1, Resource=configmaps\" that match label selector \"a=b\", field selector \"spec.nodeName=n1\": field label not supported: spec.nodeName"
    );
    let (code, body) = server
        .get("/apis/apps/v1/deployments?fieldSelector=status.phase%3DRunning&watch=true")
        .expect("watch is sent");
    assert_eq!(code, 400, "{body}");
    assert!(
        status(&body)["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"apps/v1, Resource=deployments\"")
                && m.ends_with("field label not supported: status.phase")),
        "{body}"
    );
    let (code, body) = server
        .get("/api/v1/namespaces/default/pods?labelSelector=a%20in%20(b")
        .expect("list is sent");
    assert_eq!(code, 400, "{body}");
}
