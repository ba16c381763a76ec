//! A snapshot of ownership across every watched resource: each object with
//! its owner references, and for each owner UID the objects that point to
//! it.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::DynamicObject;

use crate::discovery::Resource;

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

/// One object of the snapshot.
#[derive(Clone, Debug)]
pub struct Node {
    pub resource: Arc<Resource>,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub resource_version: Option<String>,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub deleting: bool,
}

impl Node {
    pub fn from_object(resource: Arc<Resource>, object: &DynamicObject) -> Option<Self> {
        Some(Self {
            namespace: object.namespace(),
            name: object.metadata.name.clone()?,
            uid: object.metadata.uid.clone()?,
            resource_version: object.resource_version(),
            owners: object.metadata.owner_references.clone().unwrap_or_default(),
            finalizers: object.metadata.finalizers.clone().unwrap_or_default(),
            deleting: object.metadata.deletion_timestamp.is_some(),
            resource,
        })
    }

    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|existing| existing == finalizer)
    }

    /// Returns whether the object waits for its dependents to be deleted.
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND_FINALIZER)
    }

    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{} {namespace}/{}", self.resource.api.kind, self.name),
            None => format!("{} {}", self.resource.api.kind, self.name),
        }
    }
}

/// Every watched object by UID, and the dependents of each owner UID.
#[derive(Default)]
pub struct Graph {
    pub nodes: HashMap<String, Node>,
    pub dependents: HashMap<String, Vec<String>>,
}

impl Graph {
    pub fn insert(&mut self, node: Node) {
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .push(node.uid.clone());
        }
        self.nodes.insert(node.uid.clone(), node);
    }

    /// Returns the objects that reference `uid` as an owner.
    pub fn dependents_of(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|dependent| self.nodes.get(dependent))
            .collect()
    }

    /// Returns the dependents whose reference to `owner` blocks its deletion.
    pub fn blocking_dependents_of(&self, owner: &str) -> Vec<&Node> {
        self.dependents_of(owner)
            .into_iter()
            .filter(|dependent| {
                dependent.owners.iter().any(|reference| {
                    reference.uid == owner && reference.block_owner_deletion == Some(true)
                })
            })
            .collect()
    }
}
