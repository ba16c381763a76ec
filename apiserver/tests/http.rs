//! The HTTP contract kubectl relies on, checked against an in-process
//! apiserver on a temporary SQLite store.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use skiff_apiserver::{Config, Server};
use skiff_store::Store;
use skiff_store::sqlite::SqliteStore;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

struct Harness {
    address: SocketAddr,
    store: Arc<SqliteStore>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(SqliteStore::open(dir.path().join("db")).expect("store opens"));
    start_on(store, dir).await
}

async fn start_on(store: Arc<SqliteStore>, dir: tempfile::TempDir) -> Harness {
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
    };
    let server = Server::bind_with_store(config, store.clone())
        .await
        .expect("server binds");
    let address = server.local_addr();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move { server.serve(token).await });
    Harness {
        address,
        store,
        shutdown,
        _dir: dir,
    }
}

struct Reply {
    code: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn send(
    harness: &Harness,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(harness.address).await.expect("connects");
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request is written");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("reply arrives")
        .expect("reply is read");
    parse_reply(&String::from_utf8_lossy(&raw))
}

fn parse_reply(text: &str) -> Reply {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        code,
        headers,
        body: body.to_string(),
    }
}

async fn create_configmap(harness: &Harness, name: &str) -> Value {
    let body =
        format!(r#"{{"metadata":{{"name":"{name}","labels":{{"app":"x"}}}},"data":{{"a":"b"}}}}"#);
    let reply = send(
        harness,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[("Content-Type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    reply.json()
}

#[tokio::test]
async fn aggregated_discovery_has_exact_content_type() {
    let harness = start().await;
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let reply = send(&harness, "GET", "/apis", &[("Accept", accept)], "").await;
    assert_eq!(reply.code, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    let body = reply.json();
    let apps = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["metadata"]["name"] == "apps")
        .expect("the apps group");
    let deployments = apps["versions"][0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["resource"] == "deployments")
        .expect("deployments");
    assert_eq!(deployments["shortNames"][0], "deploy");
    assert!(
        deployments["subresources"]
            .as_array()
            .expect("subresources")
            .iter()
            .any(|s| s["subresource"] == "scale" && s["responseKind"]["kind"] == "Scale")
    );

    let beta = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let reply = send(&harness, "GET", "/api", &[("Accept", beta)], "").await;
    assert_eq!(
        reply.header("content-type"),
        Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
    );
    assert_eq!(reply.json()["items"][0]["metadata"]["name"], "");

    let legacy = send(&harness, "GET", "/api/v1", &[], "").await.json();
    let names: Vec<&str> = legacy["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"pods/log"), "{names:?}");
    assert!(names.contains(&"pods/binding"), "{names:?}");
}

#[tokio::test]
async fn table_rows_carry_partial_metadata() {
    let harness = start().await;
    create_configmap(&harness, "t1").await;
    let reply = send(
        &harness,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        &[("Accept", TABLE_ACCEPT)],
        "",
    )
    .await;
    assert_eq!(reply.code, 200);
    let table = reply.json();
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert!(
        !table["columnDefinitions"]
            .as_array()
            .expect("columns")
            .is_empty()
    );
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(table["rows"][0]["object"]["metadata"]["labels"]["app"], "x");

    let reply = send(
        &harness,
        "GET",
        "/api/v1/namespaces/default/configmaps/t1?includeObject=Object",
        &[("Accept", TABLE_ACCEPT)],
        "",
    )
    .await;
    let table = reply.json();
    assert_eq!(table["rows"].as_array().expect("rows").len(), 1);
    assert_eq!(table["rows"][0]["object"]["data"]["a"], "b");

    let protobuf = "application/vnd.kubernetes.protobuf,application/json";
    let reply = send(
        &harness,
        "GET",
        "/api/v1/namespaces/default/configmaps/t1",
        &[("Accept", protobuf)],
        "",
    )
    .await;
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json()["kind"], "ConfigMap");
}

#[tokio::test]
async fn lists_paginate_and_filter() {
    let harness = start().await;
    for i in 0..5 {
        create_configmap(&harness, &format!("p{i}")).await;
    }
    let mut names = Vec::new();
    let mut path = "/api/v1/namespaces/default/configmaps?limit=2".to_string();
    loop {
        let list = send(&harness, "GET", &path, &[], "").await.json();
        for item in list["items"].as_array().expect("items") {
            names.push(item["metadata"]["name"].as_str().expect("name").to_string());
        }
        match list["metadata"]["continue"].as_str() {
            Some(token) => {
                path = format!("/api/v1/namespaces/default/configmaps?limit=2&continue={token}")
            }
            None => break,
        }
    }
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
    let list = send(
        &harness,
        "GET",
        "/api/v1/configmaps?resourceVersion=0",
        &[],
        "",
    )
    .await
    .json();
    assert_eq!(list["items"].as_array().expect("items").len(), 5);
}

#[tokio::test]
async fn selective_lists_page_across_store_chunks() {
    let harness = start().await;
    // More objects than one store read returns, with a match on every
    // seventh, so pages of a filtered list span several reads.
    for i in 0..1200 {
        let tier = if i % 7 == 0 { "gold" } else { "lead" };
        let body = format!(r#"{{"metadata":{{"name":"c{i:04}","labels":{{"tier":"{tier}"}}}}}}"#);
        let reply = send(
            &harness,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &[("Content-Type", "application/json")],
            &body,
        )
        .await;
        assert_eq!(reply.code, 201, "{}", reply.body);
    }
    let expected: Vec<String> = (0..1200)
        .filter(|i| i % 7 == 0)
        .map(|i| format!("c{i:04}"))
        .collect();
    let base = "/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dgold&limit=50";
    let mut names = Vec::new();
    let mut path = base.to_string();
    let mut pages = 0;
    loop {
        let list = send(&harness, "GET", &path, &[], "").await.json();
        pages += 1;
        for item in list["items"].as_array().expect("items") {
            names.push(item["metadata"]["name"].as_str().expect("name").to_string());
        }
        match list["metadata"]["continue"].as_str() {
            Some(token) => path = format!("{base}&continue={token}"),
            None => break,
        }
    }
    assert_eq!(names, expected);
    assert_eq!(pages, expected.len().div_ceil(50));

    // An unfiltered page of 10 is the first 10 keys, with a continue token.
    let list = send(
        &harness,
        "GET",
        "/api/v1/namespaces/default/configmaps?limit=10",
        &[],
        "",
    )
    .await
    .json();
    let first: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        first,
        (0..10).map(|i| format!("c{i:04}")).collect::<Vec<_>>()
    );
    assert!(list["metadata"]["continue"].is_string());
}

async fn read_events(harness: &Harness, path: &str, count: usize) -> Vec<Value> {
    let stream = TcpStream::connect(harness.address).await.expect("connects");
    let mut reader = BufReader::new(stream);
    let request = format!("GET {path} HTTP/1.0\r\n\r\n");
    reader
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .expect("request is written");
    let mut events = Vec::new();
    let mut line = String::new();
    // Skip the status line and headers.
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    while events.len() < count {
        line.clear();
        let read = tokio::time::timeout(Duration::from_secs(30), reader.read_line(&mut line))
            .await
            .expect("an event arrives")
            .expect("event line");
        if read == 0 {
            break;
        }
        if let Ok(event) = serde_json::from_str::<Value>(line.trim()) {
            events.push(event);
        }
    }
    events
}

#[tokio::test]
async fn watch_sends_initial_events_end_bookmark() {
    let harness = start().await;
    create_configmap(&harness, "s1").await;
    let path = "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
    let events = read_events(&harness, path, 2).await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "s1");
    assert_eq!(events[1]["type"], "BOOKMARK");
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn watch_from_compacted_revision_is_gone() {
    let harness = start().await;
    let first = create_configmap(&harness, "g1").await;
    let old: i64 = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("number");
    for i in 0..3 {
        create_configmap(&harness, &format!("g{}", i + 2)).await;
    }
    let current = harness.store.current_revision().await.expect("revision");
    harness.store.compact(current).await.expect("compaction");
    // A new server's watch cache starts at the current revision, so the old
    // revision has to come from the compacted store.
    let store = harness.store.clone();
    let dir = tempfile::tempdir().expect("temporary directory");
    let restarted = start_on(store, dir).await;
    let path = format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={}",
        old - 1
    );
    let events = read_events(&restarted, &path, 1).await;
    assert_eq!(events[0]["type"], "ERROR", "{events:?}");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
}

#[tokio::test]
async fn watch_resumes_from_resource_version() {
    let harness = start().await;
    let first = create_configmap(&harness, "r1").await;
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    create_configmap(&harness, "r2").await;
    let path = format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}");
    let events = read_events(&harness, &path, 1).await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "r2");
}

#[tokio::test]
async fn system_endpoints_answer() {
    let harness = start().await;
    let version = send(&harness, "GET", "/version", &[], "").await.json();
    assert_eq!(version["major"], "1");
    assert_eq!(version["minor"], "33");
    for path in ["/healthz", "/livez", "/readyz"] {
        let reply = send(&harness, "GET", path, &[], "").await;
        assert_eq!(reply.code, 200, "{path}");
        assert_eq!(reply.body, "ok");
    }
    send(&harness, "GET", "/api/v1/namespaces", &[], "").await;
    let metrics = send(&harness, "GET", "/metrics", &[], "").await;
    assert!(
        metrics
            .body
            .contains("apiserver_request_total{verb=\"GET\",resource=\"namespaces\",code=\"200\"}"),
        "{}",
        metrics.body
    );
    let v2 = send(&harness, "GET", "/openapi/v2", &[], "").await;
    assert_eq!(v2.code, 200);
    assert_eq!(
        v2.header("content-type"),
        Some("application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    );
}

#[tokio::test]
async fn pods_delete_gracefully_once_bound() {
    let harness = start().await;
    let json = [("Content-Type", "application/json")];
    let pod = r#"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#;
    let reply = send(
        &harness,
        "POST",
        "/api/v1/namespaces/default/pods",
        &json,
        pod,
    )
    .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    let binding = r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n1"}}"#;
    let reply = send(
        &harness,
        "POST",
        "/api/v1/namespaces/default/pods/p/binding",
        &json,
        binding,
    )
    .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    let reply = send(
        &harness,
        "POST",
        "/api/v1/namespaces/default/pods/p/binding",
        &json,
        binding,
    )
    .await;
    assert_eq!(reply.code, 409, "{}", reply.body);
    let pod = send(
        &harness,
        "GET",
        "/api/v1/namespaces/default/pods/p",
        &[],
        "",
    )
    .await
    .json();
    assert_eq!(pod["spec"]["nodeName"], "n1");
    assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");

    let reply = send(
        &harness,
        "DELETE",
        "/api/v1/namespaces/default/pods/p",
        &[],
        "",
    )
    .await;
    assert_eq!(reply.code, 200);
    assert_eq!(reply.json()["metadata"]["deletionGracePeriodSeconds"], 30);
    let still = send(
        &harness,
        "GET",
        "/api/v1/namespaces/default/pods/p",
        &[],
        "",
    )
    .await;
    assert_eq!(still.code, 200);
    let reply = send(
        &harness,
        "DELETE",
        "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0",
        &[],
        "",
    )
    .await;
    assert_eq!(reply.code, 200);
    let gone = send(
        &harness,
        "GET",
        "/api/v1/namespaces/default/pods/p",
        &[],
        "",
    )
    .await;
    assert_eq!(gone.code, 404);
}

#[tokio::test]
async fn status_subresource_owns_status() {
    let harness = start().await;
    let json = [("Content-Type", "application/merge-patch+json")];
    let deployment = r#"{"metadata":{"name":"d"},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}},"status":{"replicas":9}}"#;
    let reply = send(
        &harness,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        &[("Content-Type", "application/json")],
        deployment,
    )
    .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    assert!(reply.json()["status"].get("replicas").is_none());
    let path = "/apis/apps/v1/namespaces/default/deployments/d";
    let reply = send(
        &harness,
        "PATCH",
        path,
        &json,
        r#"{"status":{"replicas":5}}"#,
    )
    .await;
    assert!(
        reply.json()["status"].get("replicas").is_none(),
        "{}",
        reply.body
    );
    let reply = send(
        &harness,
        "PATCH",
        &format!("{path}/status"),
        &json,
        r#"{"status":{"replicas":5},"spec":{"replicas":7}}"#,
    )
    .await;
    let stored = reply.json();
    assert_eq!(stored["status"]["replicas"], 5);
    assert_eq!(stored["spec"]["replicas"], 1);
    assert_eq!(stored["metadata"]["generation"], 1);
    let reply = send(
        &harness,
        "PATCH",
        &format!("{path}/scale"),
        &json,
        r#"{"spec":{"replicas":3}}"#,
    )
    .await;
    let scale = reply.json();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "a=b");
    let deployment = send(&harness, "GET", path, &[], "").await.json();
    assert_eq!(deployment["metadata"]["generation"], 2);
}
