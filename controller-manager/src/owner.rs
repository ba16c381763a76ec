//! Controller references and the claiming of dependents: adopting matching
//! orphans and releasing owned objects that no longer match.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{Error, is_api_status};

/// Returns the ownerReference with `controller: true`, if any.
pub fn controller_of<K: Resource>(object: &K) -> Option<&OwnerReference> {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|reference| reference.controller == Some(true))
}

/// Returns whether `object` is controlled by the object with `uid`.
pub fn is_controlled_by<K: Resource>(object: &K, uid: &str) -> bool {
    controller_of(object).is_some_and(|reference| reference.uid == uid)
}

/// Builds the controller reference a controller sets on what it creates.
pub fn new_controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).to_string(),
        kind: K::kind(&()).to_string(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Returns whether an object is being deleted.
pub fn is_deleting<K: Resource>(object: &K) -> bool {
    object.meta().deletion_timestamp.is_some()
}

/// What claiming decided for one candidate dependent.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Owned by the controller and matching: it counts.
    Owned,
    /// A matching orphan that should be adopted.
    Adopt,
    /// Owned by the controller but no longer matching: release it.
    Release,
    /// Not the controller's business.
    Ignore,
}

/// Decides what the controller `owner` does with `candidate`, following
/// Kubernetes' `ClaimObject`: owners being deleted never adopt or release,
/// and objects being deleted are never adopted.
pub fn decide<O: Resource, K: Resource>(owner: &O, candidate: &K, matches: bool) -> Claim {
    let owner_uid = owner.meta().uid.as_deref().unwrap_or_default();
    match controller_of(candidate) {
        Some(reference) if reference.uid != owner_uid => Claim::Ignore,
        Some(_) if matches => Claim::Owned,
        Some(_) if is_deleting(owner) => Claim::Ignore,
        Some(_) => Claim::Release,
        None if !matches || is_deleting(owner) || is_deleting(candidate) => Claim::Ignore,
        None if owner.meta().namespace != candidate.meta().namespace => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// Adds `reference` to `object`'s ownerReferences. The patch carries the
/// cached resourceVersion, so it fails with a conflict if the object changed
/// since the controller decided to adopt it.
pub async fn adopt<K>(api: &Api<K>, object: &K, reference: &OwnerReference) -> Result<bool, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut references: Vec<OwnerReference> = object
        .meta()
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|existing| existing.uid != reference.uid)
        .collect();
    references.push(reference.clone());
    patch_owner_references(api, object, references).await
}

/// Removes the reference to the owner with `owner_uid` from `object`.
pub async fn release<K>(api: &Api<K>, object: &K, owner_uid: &str) -> Result<bool, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let references: Vec<OwnerReference> = object
        .meta()
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|existing| existing.uid != owner_uid)
        .collect();
    patch_owner_references(api, object, references).await
}

/// Replaces the ownerReferences of `object`. Returns `false` when the object
/// is gone, which callers treat as nothing to do.
async fn patch_owner_references<K>(
    api: &Api<K>,
    object: &K,
    references: Vec<OwnerReference>,
) -> Result<bool, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let references = if references.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(&references).map_err(|source| Error::Encode {
            what: "ownerReferences",
            source,
        })?
    };
    let patch = json!({
        "metadata": {
            "ownerReferences": references,
            "resourceVersion": object.resource_version(),
        }
    });
    let name = object.name_any();
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(true),
        Err(error) if is_api_status(&error, 404) => Ok(false),
        Err(error) => Err(error.into()),
    }
}
