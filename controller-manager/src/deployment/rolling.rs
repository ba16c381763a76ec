//! The RollingUpdate strategy: grow the new ReplicaSet within maxSurge and
//! shrink old ones while at least `replicas - maxUnavailable` pods stay
//! available.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;

use super::progress;
use super::replicasets::{self, spec_replicas};
use super::rollout::Rollout;
use crate::error::Error;

impl Rollout<'_> {
    /// Runs one step of a rolling update; returns when to sync again.
    pub async fn rollout_rolling(&mut self) -> Result<Option<Duration>, Error> {
        let Some(new) = self.sync_new_replicaset(true).await? else {
            return self.sync_rollout_status().await;
        };
        if self.reconcile_new(&new).await? {
            return self.sync_rollout_status().await;
        }
        if self.reconcile_old().await? {
            return self.sync_rollout_status().await;
        }
        let status = self.deployment.status.clone().unwrap_or_default();
        if progress::is_complete(&self.deployment, &status) {
            self.cleanup().await?;
        }
        self.sync_rollout_status().await
    }

    async fn reconcile_new(&mut self, new: &ReplicaSet) -> Result<bool, Error> {
        let desired = self.desired();
        let current = spec_replicas(new);
        if current == desired {
            return Ok(false);
        }
        if current > desired {
            return self.scale_and_record(new, desired).await;
        }
        let all = self.all_replicasets();
        let size = self.new_replicas(&all, new)?;
        self.scale_and_record(new, size).await
    }

    async fn reconcile_old(&mut self) -> Result<bool, Error> {
        let new = self.new_replicaset();
        let old: Vec<ReplicaSet> = self
            .old_replicasets()
            .into_iter()
            .filter(|rs| spec_replicas(rs) > 0)
            .collect();
        if replicasets::total_spec(&old) == 0 {
            return Ok(false);
        }
        let all_pods = replicasets::total_spec(&self.all_replicasets());
        let min_available = self.desired() - self.max_unavailable()?;
        let new_unavailable = new
            .as_ref()
            .map(|new| spec_replicas(new) - replicasets::available(new))
            .unwrap_or(0);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        let cleaned = self.cleanup_unhealthy(old, max_scaled_down).await?;
        let scaled = self.scale_down_old_for_rolling_update().await?;
        Ok(cleaned + scaled > 0)
    }

    /// Scales down old ReplicaSets by their unavailable pods first, so
    /// broken old pods never block the rollout.
    async fn cleanup_unhealthy(
        &mut self,
        mut old: Vec<ReplicaSet>,
        max_cleanup: i32,
    ) -> Result<i32, Error> {
        old.sort_by(replicasets::by_creation);
        let mut total = 0;
        for replicaset in old {
            if total >= max_cleanup {
                break;
            }
            let size = spec_replicas(&replicaset);
            let available = replicasets::available(&replicaset);
            if size == 0 || size == available {
                continue;
            }
            let count = (max_cleanup - total).min(size - available);
            self.scale_and_record(&replicaset, size - count).await?;
            total += count;
        }
        Ok(total)
    }

    /// Scales down old ReplicaSets, oldest first, by as many pods as are
    /// available beyond the minimum.
    async fn scale_down_old_for_rolling_update(&mut self) -> Result<i32, Error> {
        let min_available = self.desired() - self.max_unavailable()?;
        let available = replicasets::total_available(&self.all_replicasets());
        if available <= min_available {
            return Ok(0);
        }
        let mut old: Vec<ReplicaSet> = self.old_replicasets();
        old.sort_by(replicasets::by_creation);
        let target = available - min_available;
        let mut total = 0;
        for replicaset in old {
            if total >= target {
                break;
            }
            let size = spec_replicas(&replicaset);
            if size == 0 {
                continue;
            }
            let count = size.min(target - total);
            self.scale_and_record(&replicaset, size - count).await?;
            total += count;
        }
        Ok(total)
    }
}
