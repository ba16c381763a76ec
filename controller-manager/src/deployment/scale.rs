//! Scaling without a rollout: when `spec.replicas` changes mid-rollout or
//! the Deployment is paused, replicas are spread over the active
//! ReplicaSets in proportion to their sizes.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;

use super::annotations::{self, DESIRED_REPLICAS, MAX_REPLICAS};
use super::fenceposts;
use super::replicasets::{self, spec_replicas};
use super::rollout::Rollout;
use crate::error::Error;
use crate::owner;

impl Rollout<'_> {
    /// Returns whether an active ReplicaSet was sized for another replica
    /// count than the Deployment's current one.
    pub async fn is_scaling_event(&mut self) -> Result<bool, Error> {
        self.sync_new_replicaset(false).await?;
        let desired = self.desired();
        Ok(self
            .all_replicasets()
            .iter()
            .filter(|rs| spec_replicas(rs) > 0)
            .filter_map(|rs| annotations::int_annotation(rs, DESIRED_REPLICAS))
            .any(|annotated| annotated != desired))
    }

    /// Scales the ReplicaSets to the Deployment's size and writes the status.
    pub async fn sync_scale(&mut self) -> Result<(), Error> {
        self.sync_new_replicaset(false).await?;
        self.scale_replicasets().await?;
        if self.paused() {
            self.cleanup().await?;
        }
        self.sync_status().await
    }

    pub fn paused(&self) -> bool {
        self.deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.paused)
            .unwrap_or(false)
    }

    async fn scale_replicasets(&mut self) -> Result<(), Error> {
        let desired = self.desired();
        let new = self.new_replicaset();
        let mut old = self.old_replicasets();
        old.sort_by(|a, b| replicasets::by_creation(b, a));
        let mut active: Vec<ReplicaSet> = new
            .iter()
            .chain(old.iter())
            .filter(|rs| spec_replicas(rs) > 0)
            .cloned()
            .collect();
        if active.len() <= 1 {
            let target = active.pop().or(new).or_else(|| old.first().cloned());
            if let Some(target) = target
                && spec_replicas(&target) != desired
            {
                self.scale_and_record(&target, desired).await?;
            }
            return Ok(());
        }
        if let Some(new) = &new
            && is_saturated(self, new)
        {
            for old in old.iter().filter(|rs| spec_replicas(rs) > 0) {
                self.scale_and_record(old, 0).await?;
            }
            return Ok(());
        }
        if !fenceposts::is_rolling_update(&self.deployment) {
            return Ok(());
        }
        self.scale_proportionally(active).await
    }

    async fn scale_proportionally(&mut self, mut active: Vec<ReplicaSet>) -> Result<(), Error> {
        let desired = self.desired();
        let max_surge = self.max_surge()?;
        let allowed = if desired > 0 { desired + max_surge } else { 0 };
        let to_add = allowed - replicasets::total_spec(&active);
        let operation = if to_add > 0 {
            active.sort_by(replicasets::by_size_newer);
            "up"
        } else {
            active.sort_by(replicasets::by_size_older);
            "down"
        };
        let current_replicas = self
            .deployment
            .status
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(0);
        let mut added = 0;
        let mut sizes: HashMap<String, i32> = HashMap::new();
        for replicaset in &active {
            let mut size = spec_replicas(replicaset);
            if to_add != 0 {
                let share = proportion(
                    replicaset,
                    desired,
                    max_surge,
                    current_replicas,
                    to_add,
                    added,
                );
                size += share;
                added += share;
            }
            sizes.insert(replicaset.name_any(), size);
        }
        for (index, replicaset) in active.iter().enumerate() {
            let mut size = sizes.get(&replicaset.name_any()).copied().unwrap_or(0);
            if index == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale(replicaset, size, operation).await?;
        }
        Ok(())
    }
}

/// Returns whether the new ReplicaSet runs every desired replica.
fn is_saturated(rollout: &Rollout<'_>, new: &ReplicaSet) -> bool {
    let desired = rollout.desired();
    spec_replicas(new) == desired
        && annotations::int_annotation(new, DESIRED_REPLICAS) == Some(desired)
        && replicasets::available(new) == desired
}

/// Returns how many replicas a ReplicaSet gains (or loses) out of `to_add`,
/// in proportion to the size it had when the Deployment was last sized.
fn proportion(
    replicaset: &ReplicaSet,
    desired: i32,
    max_surge: i32,
    current_replicas: i32,
    to_add: i32,
    added: i32,
) -> i32 {
    let size = spec_replicas(replicaset);
    if size == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if desired == 0 {
        -size
    } else {
        let annotated =
            annotations::int_annotation(replicaset, MAX_REPLICAS).unwrap_or(current_replicas);
        if annotated == 0 {
            0
        } else {
            let scaled = f64::from(size) * f64::from(desired + max_surge) / f64::from(annotated);
            scaled.round() as i32 - size
        }
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

impl Rollout<'_> {
    /// Deletes the oldest ReplicaSets beyond revisionHistoryLimit that have
    /// no pods left.
    pub async fn cleanup(&mut self) -> Result<(), Error> {
        let Some(limit) = self
            .deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.revision_history_limit)
        else {
            return Ok(());
        };
        let mut cleanable: Vec<ReplicaSet> = self
            .old_replicasets()
            .into_iter()
            .filter(|rs| !owner::is_deleting(rs))
            .collect();
        let excess = cleanable.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return Ok(());
        }
        cleanable.sort_by(replicasets::by_revision);
        for replicaset in cleanable.iter().take(usize::try_from(excess).unwrap_or(0)) {
            let status = replicaset.status.clone().unwrap_or_default();
            let observed = status.observed_generation.unwrap_or(0);
            if status.replicas != 0
                || spec_replicas(replicaset) != 0
                || replicaset.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            tracing::info!(deployment = %self.name(), replicaset = %replicaset.name_any(), "deleting old replica set beyond the revision history limit");
            match self
                .replicaset_api
                .delete(&replicaset.name_any(), &Default::default())
                .await
            {
                Ok(_) => {}
                Err(error) if crate::error::is_api_status(&error, 404) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}
