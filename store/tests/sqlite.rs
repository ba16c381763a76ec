//! Behaviour of the SQLite store through the `Store` trait.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use skiff_store::sqlite::SqliteStore;
use skiff_store::{EventKind, RangeOptions, Store, StoreError};

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("state.db")).expect("open store");
    (dir, store)
}

fn value(text: &str) -> Bytes {
    Bytes::from(text.to_string())
}

#[tokio::test]
async fn create_get_update_delete() {
    let (_dir, store) = open();
    let created = store.create("/a/one", value("1")).await.unwrap();
    assert_eq!(created.create_revision, 1);
    assert_eq!(created.mod_revision, 1);

    let duplicate = store.create("/a/one", value("x")).await;
    assert!(matches!(duplicate, Err(StoreError::AlreadyExists { .. })));

    let updated = store.update("/a/one", value("2"), 1).await.unwrap();
    assert_eq!(updated.create_revision, 1);
    assert_eq!(updated.mod_revision, 2);

    let stale = store.update("/a/one", value("3"), 1).await;
    assert!(matches!(
        stale,
        Err(StoreError::Conflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));

    let got = store.get("/a/one").await.unwrap().unwrap();
    assert_eq!(got.value, value("2"));

    let deleted = store.delete("/a/one", Some(2)).await.unwrap();
    assert_eq!(deleted.mod_revision, 3);
    assert_eq!(deleted.value, value("2"));
    assert!(store.get("/a/one").await.unwrap().is_none());
    assert!(matches!(
        store.delete("/a/one", None).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.current_revision().await.unwrap(), 3);
}

#[tokio::test]
async fn range_at_past_revision_and_pages() {
    let (_dir, store) = open();
    for name in ["a", "b", "c"] {
        store
            .create(&format!("/p/{name}"), value(name))
            .await
            .unwrap();
    }
    store.create("/q/other", value("q")).await.unwrap();
    store.delete("/p/b", None).await.unwrap();

    let latest = store.range("/p/", RangeOptions::default()).await.unwrap();
    let keys: Vec<_> = latest.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/p/a", "/p/c"]);
    assert_eq!(latest.revision, 5);

    let past = store
        .range(
            "/p/",
            RangeOptions {
                revision: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<_> = past.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/p/a", "/p/b", "/p/c"]);

    let first_page = store
        .range(
            "/p/",
            RangeOptions {
                revision: Some(3),
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(first_page.more);
    assert_eq!(first_page.kvs.len(), 2);
    let second_page = store
        .range(
            "/p/",
            RangeOptions {
                revision: Some(3),
                limit: Some(2),
                start_after: Some(first_page.kvs[1].key.clone()),
            },
        )
        .await
        .unwrap();
    assert!(!second_page.more);
    assert_eq!(second_page.kvs.len(), 1);
    assert_eq!(second_page.kvs[0].key, "/p/c");

    let future = store
        .range(
            "/p/",
            RangeOptions {
                revision: Some(99),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(future, Err(StoreError::FutureRevision { .. })));
}

#[tokio::test]
async fn watch_replays_history_then_follows() {
    let (_dir, store) = open();
    store.create("/w/a", value("1")).await.unwrap();
    store.create("/x/ignored", value("x")).await.unwrap();
    store.update("/w/a", value("2"), 1).await.unwrap();

    let mut watch = store.watch("/w/", 0).await.unwrap();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.kind, EventKind::Put);
    assert_eq!(first.kv.mod_revision, 1);
    assert!(first.prev.is_none());
    let second = watch.next().await.unwrap().unwrap();
    assert_eq!(second.kv.mod_revision, 3);
    assert_eq!(second.prev.as_ref().unwrap().value, value("1"));

    store.delete("/w/a", None).await.unwrap();
    let third = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("live event arrives")
        .unwrap()
        .unwrap();
    assert_eq!(third.kind, EventKind::Delete);
    assert_eq!(third.kv.mod_revision, 4);
    assert_eq!(third.kv.value, value("2"));
}

#[tokio::test]
async fn watch_sees_every_concurrent_write_once() {
    let (_dir, store) = open();
    let mut watch = store.watch("/c/", 0).await.unwrap();
    let mut writers = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for index in 0..50 {
                store
                    .create(&format!("/c/{writer}-{index}"), value("v"))
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut last = 0;
    for _ in 0..400 {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("event arrives")
            .unwrap()
            .unwrap();
        assert!(
            event.kv.mod_revision > last,
            "events arrive in revision order"
        );
        last = event.kv.mod_revision;
    }
    assert_eq!(last, 400);
}

#[tokio::test]
async fn compaction_rejects_old_revisions() {
    let (_dir, store) = open();
    store.create("/k/a", value("1")).await.unwrap();
    store.update("/k/a", value("2"), 1).await.unwrap();
    store.create("/k/b", value("1")).await.unwrap();
    store.delete("/k/b", None).await.unwrap();
    store.compact(3).await.unwrap();

    assert_eq!(store.compacted_revision().await.unwrap(), 3);
    let old = store
        .range(
            "/k/",
            RangeOptions {
                revision: Some(2),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(old, Err(StoreError::Compacted { .. })));
    assert!(matches!(
        store.watch("/k/", 1).await,
        Err(StoreError::Compacted { .. })
    ));

    let at_compacted = store
        .range(
            "/k/",
            RangeOptions {
                revision: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<_> = at_compacted.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/k/a", "/k/b"]);
    let latest = store.range("/k/", RangeOptions::default()).await.unwrap();
    assert_eq!(latest.kvs.len(), 1);
    assert_eq!(latest.kvs[0].value, value("2"));
}

#[tokio::test]
async fn reopen_keeps_data_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.create("/r/a", value("1")).await.unwrap();
        store.create("/r/b", value("2")).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 2);
    let next = store.create("/r/c", value("3")).await.unwrap();
    assert_eq!(next.mod_revision, 3);
}

/// Child mode of `kill_9_loses_no_acknowledged_write`: writes keys forever and
/// prints each key once the store acknowledged it.
#[tokio::test]
async fn crash_writer_child() {
    let Ok(path) = std::env::var("SKIFF_STORE_CRASH_DB") else {
        return;
    };
    let store = SqliteStore::open(path).unwrap();
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0.. {
                let key = format!("/crash/{writer}-{index}");
                store.create(&key, value("v")).await.unwrap();
                println!("{key}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SKIFF_STORE_CRASH_DB", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acknowledged = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("/crash/") {
            acknowledged.push(line);
        }
        if acknowledged.len() >= 300 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let store = SqliteStore::open(&path).unwrap();
    for key in &acknowledged {
        assert!(
            store.get(key).await.unwrap().is_some(),
            "acknowledged key {key} is missing after kill -9"
        );
    }
}
