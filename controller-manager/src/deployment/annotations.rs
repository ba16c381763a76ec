//! The `deployment.kubernetes.io/*` annotations on Deployments and their
//! ReplicaSets: revisions, revision history and replica counts.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Deployment annotations that are never copied to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Maximum length of the revision-history annotation.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Returns the revision of a ReplicaSet, 0 when missing or invalid.
pub fn revision(replicaset: &ReplicaSet) -> i64 {
    annotation(replicaset.metadata.annotations.as_ref(), REVISION)
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// Returns an integer annotation of a ReplicaSet.
pub fn int_annotation(replicaset: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(replicaset.metadata.annotations.as_ref(), key)?
        .parse()
        .ok()
}

fn annotation<'a>(annotations: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    annotations?.get(key).map(String::as_str)
}

/// Sets the desired-replicas and max-replicas annotations; returns whether
/// they changed.
pub fn set_replicas(replicaset: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = replicaset
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_string(), value);
            changed = true;
        }
    }
    changed
}

/// Copies the Deployment's annotations to the ReplicaSet, except the ones
/// the controller manages; returns whether anything changed.
fn copy_from_deployment(deployment: &Deployment, replicaset: &mut ReplicaSet) -> bool {
    let annotations = replicaset
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in deployment.metadata.annotations.iter().flatten() {
        if NOT_COPIED.contains(&key.as_str()) || annotations.get(key) == Some(value) {
            continue;
        }
        annotations.insert(key.clone(), value.clone());
        changed = true;
    }
    changed
}

/// Updates the annotations of the Deployment's new ReplicaSet: copied
/// Deployment annotations, the revision (only ever raised), the history of
/// earlier revisions when an old ReplicaSet becomes new again (a rollback),
/// and for a ReplicaSet about to be created the replica annotations.
/// Returns whether anything changed.
pub fn set_new_replicaset(
    deployment: &Deployment,
    replicaset: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    desired: i32,
    max: i32,
) -> bool {
    let mut changed = copy_from_deployment(deployment, replicaset);
    let annotations = replicaset
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(text) => match text.parse::<i64>() {
            Ok(value) => value,
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.to_string(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|old| !old.is_empty()) {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            if let Some(history) = append_history(&history, &old) {
                annotations.insert(REVISION_HISTORY.to_string(), history);
            }
        }
    }
    if !exists && set_replicas(replicaset, desired, max) {
        changed = true;
    }
    changed
}

/// Appends `revision` to a comma-separated history, dropping the oldest
/// entries to stay within the length limit.
fn append_history(history: &str, revision: &str) -> Option<String> {
    if history.is_empty() {
        return Some(revision.to_string());
    }
    let mut entries: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + revision.len() + 1;
    while total > MAX_REVISION_HISTORY_CHARS && !entries.is_empty() {
        total -= entries[0].len() + 1;
        entries.remove(0);
    }
    if total > MAX_REVISION_HISTORY_CHARS {
        return None;
    }
    entries.push(revision);
    Some(entries.join(","))
}

/// Returns the Deployment's revision annotation value, if set.
pub fn deployment_revision(deployment: &Deployment) -> Option<&str> {
    annotation(deployment.metadata.annotations.as_ref(), REVISION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_appends_and_trims() {
        assert_eq!(append_history("", "1").as_deref(), Some("1"));
        assert_eq!(append_history("1,2", "3").as_deref(), Some("1,2,3"));
        let long = vec!["9"; 1000].join(",");
        let trimmed = append_history(&long, "5").unwrap();
        assert!(trimmed.len() <= MAX_REVISION_HISTORY_CHARS);
        assert!(trimmed.ends_with(",5"));
    }

    #[test]
    fn revision_only_rises_and_records_history() {
        let deployment = Deployment::default();
        let mut replicaset = ReplicaSet::default();
        replicaset.metadata.annotations = Some([(REVISION.to_string(), "1".to_string())].into());
        assert!(set_new_replicaset(
            &deployment,
            &mut replicaset,
            3,
            true,
            2,
            3
        ));
        assert_eq!(revision(&replicaset), 3);
        let annotations = replicaset.metadata.annotations.as_ref().unwrap();
        assert_eq!(
            annotations.get(REVISION_HISTORY).map(String::as_str),
            Some("1")
        );
        assert!(!set_new_replicaset(
            &deployment,
            &mut replicaset,
            2,
            true,
            2,
            3
        ));
        assert_eq!(revision(&replicaset), 3);
    }

    #[test]
    fn deployment_annotations_are_copied_except_managed_ones() {
        let mut deployment = Deployment::default();
        deployment.metadata.annotations = Some(
            [
                ("team".to_string(), "a".to_string()),
                (REVISION.to_string(), "7".to_string()),
            ]
            .into(),
        );
        let mut replicaset = ReplicaSet::default();
        set_new_replicaset(&deployment, &mut replicaset, 1, false, 3, 4);
        let annotations = replicaset.metadata.annotations.unwrap();
        assert_eq!(annotations.get("team").map(String::as_str), Some("a"));
        assert_eq!(annotations.get(REVISION).map(String::as_str), Some("1"));
        assert_eq!(
            annotations.get(DESIRED_REPLICAS).map(String::as_str),
            Some("3")
        );
        assert_eq!(annotations.get(MAX_REPLICAS).map(String::as_str), Some("4"));
    }
}
