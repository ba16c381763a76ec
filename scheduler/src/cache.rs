//! The scheduler's view of the cluster: every node with the resources its
//! pods take, counting pods that were bound a moment ago but that the watch
//! has not yet reported ("assumed" pods).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use crate::framework::{NodeInfo, NodeSpecView, NodeUsage, PodUsage};

/// A pod counted against a node.
#[derive(Clone, Debug)]
struct PlacedPod {
    node: String,
    usage: PodUsage,
    /// Bound by this scheduler but not yet seen bound through the watch.
    assumed: bool,
}

/// Nodes and the pods placed on them, keyed by pod UID.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Usage of pods on nodes the cache does not hold (yet).
    orphan_usage: HashMap<String, NodeUsage>,
    pods: HashMap<String, PlacedPod>,
}

impl Cache {
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Adds or updates a node and returns whether the change could let a
    /// waiting pod fit: a new node, or new labels, taints, allocatable,
    /// readiness or cordon state.
    pub fn upsert_node(&mut self, node: &Node) -> bool {
        let view = NodeSpecView::from_node(node);
        if let Some(&position) = self.index.get(&view.name) {
            let changed = self.nodes[position].node != view;
            self.nodes[position].node = view;
            return changed;
        }
        let usage = self.orphan_usage.remove(&view.name).unwrap_or_default();
        self.index.insert(view.name.clone(), self.nodes.len());
        self.nodes.push(NodeInfo { node: view, usage });
        true
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(position) = self.index.remove(name) else {
            return;
        };
        let removed = self.nodes.swap_remove(position);
        if let Some(moved) = self.nodes.get(position) {
            self.index.insert(moved.node.name.clone(), position);
        }
        if removed.usage.pod_count > 0 {
            self.orphan_usage.insert(removed.node.name, removed.usage);
        }
    }

    /// Replaces every node with `nodes`, keeping the usage of pods.
    pub fn replace_nodes(&mut self, nodes: &[Arc<Node>]) {
        let current: Vec<String> = self.index.keys().cloned().collect();
        let listed: std::collections::HashSet<&str> = nodes
            .iter()
            .filter_map(|node| node.metadata.name.as_deref())
            .collect();
        for name in current {
            if !listed.contains(name.as_str()) {
                self.remove_node(&name);
            }
        }
        for node in nodes {
            self.upsert_node(node);
        }
    }

    /// Counts a pod against `node`, replacing what the same UID counted
    /// before (an assumed pod becomes confirmed this way).
    pub fn place_pod(&mut self, uid: &str, node: &str, usage: PodUsage, assumed: bool) {
        self.remove_pod(uid);
        self.usage_mut(node).add(&usage);
        let placed = PlacedPod {
            node: node.to_string(),
            usage,
            assumed,
        };
        self.pods.insert(uid.to_string(), placed);
    }

    /// Stops counting a pod; returns whether it was counted.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(placed) = self.pods.remove(uid) else {
            return false;
        };
        self.usage_mut(&placed.node).remove(&placed.usage);
        true
    }

    /// Stops counting a pod if it is only assumed, after its binding failed.
    pub fn forget_assumed(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|placed| placed.assumed) {
            self.remove_pod(uid);
        }
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|placed| placed.assumed)
    }

    /// Replaces every bound pod with `bound` (UID, node, usage), keeping
    /// assumed pods whose UID is in `keep_assumed`.
    pub fn replace_pods(
        &mut self,
        bound: Vec<(String, String, PodUsage)>,
        keep_assumed: &dyn Fn(&str) -> bool,
    ) {
        let assumed: Vec<(String, PlacedPod)> = self
            .pods
            .drain()
            .filter(|(uid, placed)| placed.assumed && keep_assumed(uid))
            .collect();
        for node in &mut self.nodes {
            node.usage = NodeUsage::default();
        }
        self.orphan_usage.clear();
        for (uid, placed) in assumed {
            self.place_pod(&uid, &placed.node, placed.usage, true);
        }
        for (uid, node, usage) in bound {
            self.place_pod(&uid, &node, usage, false);
        }
    }

    fn usage_mut(&mut self, node: &str) -> &mut NodeUsage {
        match self.index.get(node) {
            Some(&position) => &mut self.nodes[position].usage,
            None => self.orphan_usage.entry(node.to_string()).or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node, pod_info};
    use serde_json::json;

    fn cpu_pod(cpu: &str) -> PodUsage {
        pod_info(json!({"containers": [{"name": "c", "image": "busybox",
            "resources": {"requests": {"cpu": cpu}}}]}))
        .usage
    }

    fn named_node(name: &str) -> Node {
        node(json!({"metadata": {"name": name}}))
    }

    fn requested_cpu(cache: &Cache, name: &str) -> i64 {
        let position = cache.index[name];
        cache.nodes()[position].usage.requested.milli_cpu
    }

    #[test]
    fn assumed_pod_confirmed_without_double_count() {
        let mut cache = Cache::default();
        cache.upsert_node(&named_node("n1"));
        cache.place_pod("u1", "n1", cpu_pod("500m"), true);
        assert!(cache.is_assumed("u1"));
        cache.place_pod("u1", "n1", cpu_pod("500m"), false);
        assert!(!cache.is_assumed("u1"));
        assert_eq!(requested_cpu(&cache, "n1"), 500);
        cache.forget_assumed("u1");
        assert_eq!(requested_cpu(&cache, "n1"), 500);
        assert!(cache.remove_pod("u1"));
        assert_eq!(requested_cpu(&cache, "n1"), 0);
    }

    #[test]
    fn failed_binding_releases_assumed_pod() {
        let mut cache = Cache::default();
        cache.upsert_node(&named_node("n1"));
        cache.place_pod("u1", "n1", cpu_pod("1"), true);
        cache.forget_assumed("u1");
        assert_eq!(requested_cpu(&cache, "n1"), 0);
    }

    #[test]
    fn pods_seen_before_their_node_are_counted() {
        let mut cache = Cache::default();
        cache.place_pod("u1", "late", cpu_pod("2"), false);
        assert!(cache.upsert_node(&named_node("late")));
        assert_eq!(requested_cpu(&cache, "late"), 2000);
    }

    #[test]
    fn node_updates_report_relevant_changes() {
        let mut cache = Cache::default();
        assert!(cache.upsert_node(&named_node("n1")));
        assert!(!cache.upsert_node(&named_node("n1")));
        let tainted = node(json!({"metadata": {"name": "n1"},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}));
        assert!(cache.upsert_node(&tainted));
    }

    #[test]
    fn removing_a_node_keeps_the_index_consistent() {
        let mut cache = Cache::default();
        for name in ["a", "b", "c"] {
            cache.upsert_node(&named_node(name));
        }
        cache.place_pod("u1", "c", cpu_pod("1"), false);
        cache.remove_node("a");
        assert_eq!(cache.nodes().len(), 2);
        assert_eq!(requested_cpu(&cache, "c"), 1000);
        cache.replace_nodes(&[Arc::new(named_node("c"))]);
        assert_eq!(cache.nodes().len(), 1);
        assert_eq!(requested_cpu(&cache, "c"), 1000);
    }

    #[test]
    fn resync_keeps_assumed_pods_in_flight() {
        let mut cache = Cache::default();
        cache.upsert_node(&named_node("n1"));
        cache.place_pod("assumed", "n1", cpu_pod("1"), true);
        cache.place_pod("gone", "n1", cpu_pod("1"), false);
        cache.replace_pods(
            vec![("bound".to_string(), "n1".to_string(), cpu_pod("250m"))],
            &|uid| uid == "assumed",
        );
        assert_eq!(requested_cpu(&cache, "n1"), 1250);
    }
}
