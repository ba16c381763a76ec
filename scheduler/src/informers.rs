//! Watches of pods and nodes through kube-rs reflectors, forwarded to the
//! scheduling loop as messages.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::scheduling_loop::Message;

/// Starts the pod and node watches; they run until `shutdown`.
pub fn spawn(
    client: kube::Client,
    messages: Sender<Message>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let pods: Api<Pod> = Api::all(client.clone());
    let nodes: Api<Node> = Api::all(client);
    vec![
        tokio::spawn(watch(pods, messages.clone(), shutdown.clone(), PodMessages)),
        tokio::spawn(watch(nodes, messages, shutdown, NodeMessages)),
    ]
}

/// Turns watch events of one kind into loop messages.
trait ToMessage<K>: Send + 'static {
    fn applied(&self, object: Arc<K>) -> Message;
    fn deleted(&self, object: Arc<K>) -> Message;
    fn resynced(&self, objects: Vec<Arc<K>>) -> Message;
}

struct PodMessages;

impl ToMessage<Pod> for PodMessages {
    fn applied(&self, pod: Arc<Pod>) -> Message {
        Message::PodApplied(pod)
    }
    fn deleted(&self, pod: Arc<Pod>) -> Message {
        Message::PodDeleted(pod)
    }
    fn resynced(&self, pods: Vec<Arc<Pod>>) -> Message {
        Message::PodsResynced(pods)
    }
}

struct NodeMessages;

impl ToMessage<Node> for NodeMessages {
    fn applied(&self, node: Arc<Node>) -> Message {
        Message::NodeApplied(node)
    }
    fn deleted(&self, node: Arc<Node>) -> Message {
        Message::NodeDeleted(node)
    }
    fn resynced(&self, nodes: Vec<Arc<Node>>) -> Message {
        Message::NodesResynced(nodes)
    }
}

/// Runs one reflector. Single events are forwarded as they come; after a
/// (re)list the reflector's store, complete at that point, replaces the
/// loop's view, so objects deleted while the watch was down disappear.
async fn watch<K, M>(api: Api<K>, messages: Sender<Message>, shutdown: CancellationToken, to: M)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    M: ToMessage<K>,
{
    let kind = K::kind(&());
    let (store, writer) = reflector::store::<K>();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let mut stream = std::pin::pin!(stream);
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = stream.next() => event,
        };
        let message = match event {
            None => return,
            Some(Ok(watcher::Event::Apply(object))) => to.applied(Arc::new(object)),
            Some(Ok(watcher::Event::Delete(object))) => to.deleted(Arc::new(object)),
            Some(Ok(watcher::Event::InitDone)) => to.resynced(snapshot(&store)),
            Some(Ok(watcher::Event::Init | watcher::Event::InitApply(_))) => continue,
            Some(Err(error)) => {
                tracing::warn!(kind = %kind, error = %error, "watch failed; retrying");
                continue;
            }
        };
        if messages.send(message).is_err() {
            return;
        }
    }
}

fn snapshot<K>(store: &Store<K>) -> Vec<Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    store.state()
}
