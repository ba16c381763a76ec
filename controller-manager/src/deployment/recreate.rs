//! The Recreate strategy: scale every old ReplicaSet to zero, wait until
//! none of their pods run, then create and scale up the new ReplicaSet.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::progress;
use super::replicasets::{self, spec_replicas};
use super::rollout::Rollout;
use crate::error::Error;
use crate::{owner, podutil, selector};

impl Rollout<'_> {
    /// Runs one step of a Recreate rollout; returns when to sync again.
    pub async fn rollout_recreate(&mut self) -> Result<Option<Duration>, Error> {
        let new = self.sync_new_replicaset(false).await?;
        let mut scaled_down = false;
        for old in self.old_replicasets() {
            if spec_replicas(&old) > 0 && self.scale_and_record(&old, 0).await? {
                scaled_down = true;
            }
        }
        if scaled_down || self.old_pods_running() {
            return self.sync_rollout_status().await;
        }
        let new = match new {
            Some(new) => new,
            None => match self.sync_new_replicaset(true).await? {
                Some(new) => new,
                None => return self.sync_rollout_status().await,
            },
        };
        let desired = self.desired();
        self.scale_and_record(&new, desired).await?;
        let status = self.deployment.status.clone().unwrap_or_default();
        if progress::is_complete(&self.deployment, &status) {
            self.cleanup().await?;
        }
        self.sync_rollout_status().await
    }

    /// Returns whether an old ReplicaSet reports pods or any pod of an old
    /// ReplicaSet has not terminated.
    fn old_pods_running(&self) -> bool {
        let old = self.old_replicasets();
        if replicasets::total_actual(&old) > 0 {
            return true;
        }
        let old_uids: Vec<String> = old.iter().filter_map(|rs| rs.uid()).collect();
        let namespace = self.deployment.namespace();
        let selector = self.deployment.spec.as_ref().map(|spec| &spec.selector);
        self.context
            .pods
            .state()
            .iter()
            .any(|pod: &std::sync::Arc<Pod>| {
                pod.namespace() == namespace
                    && selector::matches(selector, pod.metadata.labels.as_ref()).unwrap_or(false)
                    && owner::controller_of(pod.as_ref())
                        .is_some_and(|reference| old_uids.contains(&reference.uid))
                    && !matches!(podutil::phase(pod), "Succeeded" | "Failed")
            })
    }
}
