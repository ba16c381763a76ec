//! kube-rs clients: watch resumption across an apiserver restart, and
//! durability of acknowledged writes across kill -9.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use skiff_e2e::apiserver::ApiServer;

const EVENT_TIMEOUT: Duration = Duration::from_secs(120);

fn configmap(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        data: Some([("v".to_string(), value.to_string())].into()),
        ..Default::default()
    }
}

/// Returns `(change, name, value)` for each event after the initial list.
async fn next_change<S>(stream: &mut S) -> (String, String, String)
where
    S: futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    loop {
        let event = tokio::time::timeout(EVENT_TIMEOUT, stream.next())
            .await
            .expect("a watch event arrives in time")
            .expect("the watch stream continues");
        let describe = |kind: &str, cm: ConfigMap| {
            let value = cm
                .data
                .and_then(|d| d.get("v").cloned())
                .unwrap_or_default();
            (
                kind.to_string(),
                cm.metadata.name.unwrap_or_default(),
                value,
            )
        };
        match event {
            Ok(watcher::Event::Apply(cm)) => return describe("apply", cm),
            Ok(watcher::Event::Delete(cm)) => return describe("delete", cm),
            Ok(watcher::Event::Init) => panic!("the watcher relisted instead of resuming"),
            Ok(other) => panic!("unexpected watcher event {other:?}"),
            // Connection errors while the apiserver is down are expected;
            // the watcher retries from its last resourceVersion.
            Err(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_resumes_across_restart() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server =
        ApiServer::start_in(&data.path().join("data"), None).expect("apiserver starts");
    let port = server.port();
    let client = server.client().await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &configmap("w-0", "0"))
        .await
        .expect("create w-0");

    let config = watcher::Config::default().streaming_lists();
    let mut stream = Box::pin(watcher(api.clone(), config));
    let mut initial = Vec::new();
    loop {
        let event = tokio::time::timeout(EVENT_TIMEOUT, stream.next())
            .await
            .expect("initial events arrive")
            .expect("the stream continues")
            .expect("the initial list succeeds");
        match event {
            watcher::Event::Init => {}
            watcher::Event::InitApply(cm) => initial.push(cm.metadata.name.unwrap_or_default()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected initial event {other:?}"),
        }
    }
    assert_eq!(initial, vec!["w-0".to_string()]);

    api.create(&PostParams::default(), &configmap("w-1", "1"))
        .await
        .expect("create w-1");
    assert_eq!(
        next_change(&mut stream).await,
        ("apply".into(), "w-1".into(), "1".into())
    );

    server.kill();
    let server =
        ApiServer::start_in(&data.path().join("data"), Some(port)).expect("apiserver restarts");
    let api: Api<ConfigMap> = Api::namespaced(server.client().await.expect("client"), "default");
    api.create(&PostParams::default(), &configmap("w-2", "2"))
        .await
        .expect("create w-2");
    let patch = Patch::Merge(serde_json::json!({"data": {"v": "1b"}}));
    api.patch("w-1", &PatchParams::default(), &patch)
        .await
        .expect("patch w-1");
    api.delete("w-0", &DeleteParams::default())
        .await
        .expect("delete w-0");

    let expected = [
        ("apply", "w-2", "2"),
        ("apply", "w-1", "1b"),
        ("delete", "w-0", "0"),
    ];
    for (kind, name, value) in expected {
        assert_eq!(
            next_change(&mut stream).await,
            (kind.into(), name.into(), value.into())
        );
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let data = tempfile::tempdir().expect("temporary directory");
    let data_dir = data.path().join("data");
    let mut server = ApiServer::start_in(&data_dir, None).expect("apiserver starts");
    let path = "/api/v1/namespaces/default/configmaps";
    for i in 0..50 {
        let body = format!(r#"{{"metadata":{{"name":"durable-{i}"}},"data":{{"i":"{i}"}}}}"#);
        let (code, reply) = server
            .request("POST", path, &[("Content-Type", "application/json")], &body)
            .expect("create is sent");
        assert_eq!(code, 201, "{reply}");
    }
    server.kill();
    let server = ApiServer::start_in(&data_dir, None).expect("apiserver restarts");
    let (code, body) = server.get(path).expect("list is sent");
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("list is JSON");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 50);
    for i in 0..50 {
        let name = format!("durable-{i}");
        assert!(
            items
                .iter()
                .any(|item| item["metadata"]["name"] == name.as_str()),
            "{name} is missing"
        );
    }
}
