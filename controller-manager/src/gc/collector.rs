//! One garbage-collection pass over the ownership graph, following
//! kube-controller-manager's garbage collector:
//!
//! - an owner deleted in the foreground keeps its `foregroundDeletion`
//!   finalizer until no dependent blocks it, then the collector removes it;
//! - an owner deleted with the `orphan` finalizer has its references
//!   removed from its dependents, then the finalizer;
//! - an object whose owners are all gone (or waiting for their dependents)
//!   is deleted, in the foreground when an owner waits and it has
//!   dependents itself; references to gone owners are removed from objects
//!   that still have a live owner.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use super::graph::{FOREGROUND_FINALIZER, Graph, Node, ORPHAN_FINALIZER};
use crate::discovery::Resource;
use crate::error::is_api_status;

/// How long an action on an object is not repeated while the cache has not
/// caught up with it.
const ACTION_COOLDOWN: Duration = Duration::from_secs(5);

/// What became of an owner reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner is gone, or another object has its name now.
    Dangling,
    /// The owner is being deleted in the foreground.
    WaitingForDependents,
    /// The owner's kind is not served; the reference is left alone.
    Unknown,
}

/// The collector's memory between passes.
pub struct Collector {
    client: Client,
    recent: HashMap<(String, &'static str), Instant>,
}

impl Collector {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            recent: HashMap::new(),
        }
    }

    fn api(&self, resource: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| resource.namespaced) {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource.api),
            None => Api::all_with(self.client.clone(), &resource.api),
        }
    }

    /// Returns whether `action` on `uid` may run now, and records it.
    fn start(&mut self, uid: &str, action: &'static str) -> bool {
        let key = (uid.to_string(), action);
        if self
            .recent
            .get(&key)
            .is_some_and(|at| at.elapsed() < ACTION_COOLDOWN)
        {
            return false;
        }
        self.recent.insert(key, Instant::now());
        true
    }

    /// Runs one pass. `kinds` maps `(apiVersion, kind)` to served resources.
    pub async fn pass(
        &mut self,
        graph: &Graph,
        kinds: &HashMap<(String, String), std::sync::Arc<Resource>>,
    ) {
        self.recent.retain(|_, at| at.elapsed() < ACTION_COOLDOWN);
        let mut lookups: HashMap<String, OwnerState> = HashMap::new();
        for node in graph.nodes.values() {
            if node.deleting {
                if node.has_finalizer(FOREGROUND_FINALIZER) {
                    self.process_foreground(graph, node).await;
                }
                if node.has_finalizer(ORPHAN_FINALIZER) {
                    self.process_orphan(graph, node).await;
                }
                continue;
            }
            if node.owners.is_empty() {
                continue;
            }
            let mut states = Vec::new();
            for reference in &node.owners {
                let state = match lookups.get(&reference.uid) {
                    Some(state) => *state,
                    None => {
                        let state = self.owner_state(graph, kinds, node, reference).await;
                        lookups.insert(reference.uid.clone(), state);
                        state
                    }
                };
                states.push((reference, state));
            }
            self.process_dependent(graph, node, &states).await;
        }
    }

    async fn owner_state(
        &self,
        graph: &Graph,
        kinds: &HashMap<(String, String), std::sync::Arc<Resource>>,
        node: &Node,
        reference: &OwnerReference,
    ) -> OwnerState {
        if let Some(owner) = graph.nodes.get(&reference.uid) {
            return state_of(owner.deleting_dependents());
        }
        let key = (reference.api_version.clone(), reference.kind.clone());
        let Some(resource) = kinds.get(&key) else {
            return OwnerState::Unknown;
        };
        // The cache may not have seen a new owner yet: ask the apiserver.
        let api = self.api(resource, node.namespace.as_deref());
        match api.get_opt(&reference.name).await {
            Ok(None) => OwnerState::Dangling,
            Ok(Some(owner)) if owner.uid().as_deref() != Some(reference.uid.as_str()) => {
                OwnerState::Dangling
            }
            Ok(Some(owner)) => {
                let deleting = owner.metadata.deletion_timestamp.is_some();
                let foreground = owner
                    .finalizers()
                    .iter()
                    .any(|finalizer| finalizer == FOREGROUND_FINALIZER);
                state_of(deleting && foreground)
            }
            Err(error) => {
                tracing::warn!(owner = %reference.name, kind = %reference.kind, error = %error, "failed to look up owner");
                OwnerState::Unknown
            }
        }
    }

    async fn process_dependent(
        &mut self,
        graph: &Graph,
        node: &Node,
        states: &[(&OwnerReference, OwnerState)],
    ) {
        let count =
            |wanted: OwnerState| states.iter().filter(|(_, state)| *state == wanted).count();
        if count(OwnerState::Unknown) > 0 {
            return;
        }
        let solid = count(OwnerState::Solid);
        let dangling = count(OwnerState::Dangling);
        let waiting = count(OwnerState::WaitingForDependents);
        if solid > 0 {
            if dangling + waiting > 0 && self.start(&node.uid, "unlink") {
                let keep: Vec<OwnerReference> = states
                    .iter()
                    .filter(|(_, state)| *state == OwnerState::Solid)
                    .map(|(reference, _)| (*reference).clone())
                    .collect();
                self.set_owner_references(node, keep).await;
            }
            return;
        }
        if dangling + waiting == 0 || !self.start(&node.uid, "delete") {
            return;
        }
        let policy = if waiting > 0 && !graph.dependents_of(&node.uid).is_empty() {
            PropagationPolicy::Foreground
        } else if node.has_finalizer(ORPHAN_FINALIZER) {
            PropagationPolicy::Orphan
        } else if node.has_finalizer(FOREGROUND_FINALIZER) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        tracing::info!(object = %node.describe(), policy = ?policy, "deleting dependent of deleted owner");
        self.delete(node, policy).await;
    }

    /// Removes the foregroundDeletion finalizer once no dependent blocks it.
    async fn process_foreground(&mut self, graph: &Graph, node: &Node) {
        if graph.blocking_dependents_of(&node.uid).is_empty() && self.start(&node.uid, "unblock") {
            tracing::info!(object = %node.describe(), "dependents gone, removing the foregroundDeletion finalizer");
            self.remove_finalizer(node, FOREGROUND_FINALIZER).await;
        }
    }

    /// Removes the owner's references from its dependents, then the finalizer.
    async fn process_orphan(&mut self, graph: &Graph, node: &Node) {
        if !self.start(&node.uid, "orphan") {
            return;
        }
        for dependent in graph.dependents_of(&node.uid) {
            let keep: Vec<OwnerReference> = dependent
                .owners
                .iter()
                .filter(|reference| reference.uid != node.uid)
                .cloned()
                .collect();
            if !self.set_owner_references(dependent, keep).await {
                return;
            }
        }
        tracing::info!(object = %node.describe(), "dependents orphaned, removing the orphan finalizer");
        self.remove_finalizer(node, ORPHAN_FINALIZER).await;
    }

    async fn delete(&self, node: &Node, policy: PropagationPolicy) {
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(node.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        let api = self.api(&node.resource, node.namespace.as_deref());
        match api.delete(&node.name, &params).await {
            Ok(_) => {}
            Err(error) if is_api_status(&error, 404) || is_api_status(&error, 409) => {}
            Err(error) => {
                tracing::warn!(object = %node.describe(), error = %error, "failed to delete dependent");
            }
        }
    }

    /// Replaces the object's ownerReferences; returns whether it worked.
    async fn set_owner_references(&self, node: &Node, references: Vec<OwnerReference>) -> bool {
        let value = if references.is_empty() {
            Value::Null
        } else {
            serde_json::to_value(&references).unwrap_or(Value::Null)
        };
        let patch = json!({"metadata": {"ownerReferences": value, "resourceVersion": node.resource_version}});
        self.patch(node, &patch, "update owner references").await
    }

    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> bool {
        let remaining: Vec<&String> = node
            .finalizers
            .iter()
            .filter(|existing| existing.as_str() != finalizer)
            .collect();
        let value = if remaining.is_empty() {
            Value::Null
        } else {
            json!(remaining)
        };
        let patch =
            json!({"metadata": {"finalizers": value, "resourceVersion": node.resource_version}});
        self.patch(node, &patch, "remove finalizer").await
    }

    async fn patch(&self, node: &Node, patch: &Value, what: &str) -> bool {
        let api = self.api(&node.resource, node.namespace.as_deref());
        match api
            .patch(&node.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => true,
            Err(error) if is_api_status(&error, 404) => true,
            Err(error) => {
                tracing::warn!(object = %node.describe(), error = %error, "failed to {what}");
                false
            }
        }
    }
}

fn state_of(waiting: bool) -> OwnerState {
    if waiting {
        OwnerState::WaitingForDependents
    } else {
        OwnerState::Solid
    }
}
