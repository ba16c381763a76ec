//! The working state of one Deployment sync: the Deployment being updated
//! and its claimed ReplicaSets, plus the writes every strategy shares.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::Context;
use super::annotations;
use super::conditions::{self, PROGRESSING};
use super::fenceposts;
use super::hash;
use super::replicasets::{self, spec_replicas};
use crate::error::{Error, is_api_status};
use crate::events::EventType;
use crate::owner;

pub struct Rollout<'a> {
    pub context: &'a Context,
    /// The Deployment, updated with every write made during the sync.
    pub deployment: Deployment,
    /// The ReplicaSets the Deployment owns, updated with every write.
    pub replicasets: Vec<ReplicaSet>,
    pub replicaset_api: Api<ReplicaSet>,
    pub deployment_api: Api<Deployment>,
}

impl<'a> Rollout<'a> {
    pub fn name(&self) -> String {
        self.deployment.name_any()
    }

    pub fn desired(&self) -> i32 {
        fenceposts::desired_replicas(&self.deployment)
    }

    pub fn max_surge(&self) -> Result<i32, Error> {
        fenceposts::max_surge(&self.deployment)
            .map_err(|error| self.strategy_error("maxSurge", error))
    }

    pub fn max_unavailable(&self) -> Result<i32, Error> {
        fenceposts::max_unavailable(&self.deployment)
            .map_err(|error| self.strategy_error("maxUnavailable", error))
    }

    fn strategy_error(&self, field: &'static str, error: fenceposts::ScaleError) -> Error {
        Error::InvalidStrategy {
            deployment: self.name(),
            field,
            message: error.to_string(),
        }
    }

    /// Returns the new ReplicaSet: the oldest one whose template matches.
    pub fn new_replicaset(&self) -> Option<ReplicaSet> {
        replicasets::find_new(&self.deployment, &self.replicasets)
            .map(|index| self.replicasets[index].clone())
    }

    /// Returns every ReplicaSet except the new one.
    pub fn old_replicasets(&self) -> Vec<ReplicaSet> {
        let new_uid = self.new_replicaset().and_then(|rs| rs.uid());
        self.replicasets
            .iter()
            .filter(|rs| new_uid.is_none() || rs.uid() != new_uid)
            .cloned()
            .collect()
    }

    /// Returns every ReplicaSet, new one included.
    pub fn all_replicasets(&self) -> Vec<ReplicaSet> {
        self.replicasets.clone()
    }

    fn remember(&mut self, replicaset: ReplicaSet) {
        match self
            .replicasets
            .iter_mut()
            .find(|existing| existing.uid() == replicaset.uid())
        {
            Some(existing) => *existing = replicaset,
            None => self.replicasets.push(replicaset),
        }
    }

    /// Scales a ReplicaSet and records a ScalingReplicaSet event; returns
    /// whether the size changed.
    pub async fn scale_and_record(
        &mut self,
        replicaset: &ReplicaSet,
        size: i32,
    ) -> Result<bool, Error> {
        let current = spec_replicas(replicaset);
        if current == size {
            return Ok(false);
        }
        let operation = if current < size { "up" } else { "down" };
        self.scale(replicaset, size, operation).await
    }

    /// Sets a ReplicaSet's size and replica annotations when either differs.
    pub async fn scale(
        &mut self,
        replicaset: &ReplicaSet,
        size: i32,
        operation: &str,
    ) -> Result<bool, Error> {
        let desired = self.desired();
        let max = desired + self.max_surge()?;
        let current = spec_replicas(replicaset);
        let mut copy = replicaset.clone();
        let annotations_changed = annotations::set_replicas(&mut copy, desired, max);
        if current == size && !annotations_changed {
            return Ok(false);
        }
        copy.spec.get_or_insert_with(Default::default).replicas = Some(size);
        let updated = self
            .replicaset_api
            .replace(&copy.name_any(), &PostParams::default(), &copy)
            .await?;
        self.remember(updated);
        if current == size {
            return Ok(false);
        }
        let message = format!(
            "Scaled {operation} replica set {} to {size} from {current}",
            replicaset.name_any()
        );
        self.context.recorder.record(
            &self.deployment,
            EventType::Normal,
            "ScalingReplicaSet",
            message,
        );
        Ok(true)
    }

    /// Writes the Deployment's status.
    pub async fn write_status(&mut self) -> Result<(), Error> {
        let updated = self
            .deployment_api
            .replace_status(&self.name(), &PostParams::default(), &self.deployment)
            .await?;
        self.deployment = updated;
        Ok(())
    }

    /// Sets the Deployment's revision annotation to `revision`.
    async fn set_deployment_revision(&mut self, revision: &str) -> Result<(), Error> {
        if annotations::deployment_revision(&self.deployment) == Some(revision) {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {annotations::REVISION: revision}}});
        let updated = self
            .deployment_api
            .patch(&self.name(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        self.deployment.metadata = updated.metadata;
        Ok(())
    }

    /// Finds the new ReplicaSet and brings its annotations and
    /// minReadySeconds up to date, or creates it when `create` is set.
    pub async fn sync_new_replicaset(&mut self, create: bool) -> Result<Option<ReplicaSet>, Error> {
        let max_old_revision = self
            .old_replicasets()
            .iter()
            .map(annotations::revision)
            .max()
            .unwrap_or(0);
        let new_revision = max_old_revision + 1;
        let desired = self.desired();
        let max = desired + self.max_surge()?;
        let min_ready_seconds = self
            .deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.min_ready_seconds);

        if let Some(existing) = self.new_replicaset() {
            let mut copy = existing.clone();
            let annotations_changed = annotations::set_new_replicaset(
                &self.deployment,
                &mut copy,
                new_revision,
                true,
                desired,
                max,
            );
            let spec = copy.spec.get_or_insert_with(Default::default);
            let min_ready_changed =
                spec.min_ready_seconds.unwrap_or(0) != min_ready_seconds.unwrap_or(0);
            if annotations_changed || min_ready_changed {
                spec.min_ready_seconds = min_ready_seconds;
                let updated = self
                    .replicaset_api
                    .replace(&copy.name_any(), &PostParams::default(), &copy)
                    .await?;
                self.remember(updated.clone());
                return Ok(Some(updated));
            }
            let revision = annotations::revision(&copy).to_string();
            self.set_deployment_revision(&revision).await?;
            if conditions::has_progress_deadline(&self.deployment)
                && conditions::get(&self.deployment, PROGRESSING).is_none()
            {
                let message = format!("Found new replica set \"{}\"", copy.name_any());
                conditions::set(
                    &mut self.deployment,
                    conditions::new(PROGRESSING, "True", conditions::FOUND_NEW_RS, message),
                );
                self.write_status().await?;
            }
            return Ok(Some(copy));
        }
        if !create {
            return Ok(None);
        }
        self.create_new_replicaset(new_revision, desired, max)
            .await
            .map(Some)
    }

    async fn create_new_replicaset(
        &mut self,
        revision: i64,
        desired: i32,
        max: i32,
    ) -> Result<ReplicaSet, Error> {
        let mut replicaset = self.build_new_replicaset();
        let mut all = self.old_replicasets();
        all.push(replicaset.clone());
        let size = self.new_replicas(&all, &replicaset)?;
        replicaset
            .spec
            .get_or_insert_with(Default::default)
            .replicas = Some(size);
        annotations::set_new_replicaset(
            &self.deployment,
            &mut replicaset,
            revision,
            false,
            desired,
            max,
        );
        let name = replicaset.name_any();

        let (created, already_existed) = match self
            .replicaset_api
            .create(&PostParams::default(), &replicaset)
            .await
        {
            Ok(created) => (created, false),
            Err(error) if is_api_status(&error, 409) => {
                (self.existing_or_collision(&name, error).await?, true)
            }
            Err(error) => return Err(self.creation_failed(&name, error).await),
        };
        self.remember(created.clone());
        if !already_existed && size > 0 {
            let message = format!("Scaled up replica set {name} to {size} from 0");
            self.context.recorder.record(
                &self.deployment,
                EventType::Normal,
                "ScalingReplicaSet",
                message,
            );
        }
        self.set_deployment_revision(&revision.to_string()).await?;
        if !already_existed && conditions::has_progress_deadline(&self.deployment) {
            let message = format!("Created new replica set \"{name}\"");
            conditions::set(
                &mut self.deployment,
                conditions::new(PROGRESSING, "True", conditions::NEW_RS_CREATED, message),
            );
            self.write_status().await?;
        }
        Ok(created)
    }

    /// Builds the new ReplicaSet: the template with the pod-template-hash
    /// label, a selector extended with it, and a controller reference.
    fn build_new_replicaset(&self) -> ReplicaSet {
        let spec = self.deployment.spec.clone().unwrap_or_default();
        let collision_count = self
            .deployment
            .status
            .as_ref()
            .and_then(|status| status.collision_count);
        let mut template = spec.template.clone();
        let pod_template_hash = hash::compute(&template, collision_count);
        let metadata = template.metadata.get_or_insert_with(Default::default);
        let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
        labels.insert(
            hash::POD_TEMPLATE_HASH_LABEL.to_string(),
            pod_template_hash.clone(),
        );
        let labels = labels.clone();
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(
                hash::POD_TEMPLATE_HASH_LABEL.to_string(),
                pod_template_hash.clone(),
            );
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{pod_template_hash}", self.name())),
                namespace: self.deployment.namespace(),
                owner_references: Some(vec![owner::new_controller_ref(&self.deployment)]),
                labels: Some(labels),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        }
    }

    /// Handles a name clash: the clashing ReplicaSet is ours when the
    /// Deployment controls it and its template matches; otherwise the hash
    /// collided, so the collision count goes up and the sync is retried.
    async fn existing_or_collision(
        &mut self,
        name: &str,
        error: kube::Error,
    ) -> Result<ReplicaSet, Error> {
        let existing = self.replicaset_api.get(name).await?;
        let uid = self.deployment.uid().unwrap_or_default();
        let template = self.deployment.spec.as_ref().map(|spec| &spec.template);
        let same_template = existing
            .spec
            .as_ref()
            .and_then(|spec| spec.template.as_ref())
            .zip(template)
            .is_some_and(|(a, b)| hash::equal_ignore_hash(a, b));
        if owner::is_controlled_by(&existing, &uid) && same_template {
            return Ok(existing);
        }
        let status = self.deployment.status.get_or_insert_with(Default::default);
        let count = status.collision_count.unwrap_or(0);
        status.collision_count = Some(count + 1);
        tracing::info!(deployment = %self.name(), replicaset = %name, collision_count = count + 1, "pod-template-hash collision");
        self.write_status().await?;
        Err(error.into())
    }

    async fn creation_failed(&mut self, name: &str, error: kube::Error) -> Error {
        if matches!(&error, kube::Error::Api(status) if status.code == 403 && status.message.contains("terminat"))
        {
            return error.into();
        }
        let message = format!("Failed to create new replica set \"{name}\": {error}");
        if conditions::has_progress_deadline(&self.deployment) {
            conditions::set(
                &mut self.deployment,
                conditions::new(
                    PROGRESSING,
                    "False",
                    conditions::FAILED_RS_CREATE,
                    message.clone(),
                ),
            );
            if let Err(status_error) = self.write_status().await {
                tracing::debug!(deployment = %self.name(), error = %status_error, "failed to report the creation failure");
            }
        }
        self.context.recorder.record(
            &self.deployment,
            EventType::Warning,
            conditions::FAILED_RS_CREATE,
            message,
        );
        error.into()
    }

    /// Returns the size the new ReplicaSet may grow to now.
    pub fn new_replicas(&self, all: &[ReplicaSet], new: &ReplicaSet) -> Result<i32, Error> {
        let desired = self.desired();
        if !fenceposts::is_rolling_update(&self.deployment) {
            return Ok(desired);
        }
        let max_total = desired + self.max_surge()?;
        let current = replicasets::total_spec(all);
        let new_size = spec_replicas(new);
        if current >= max_total {
            return Ok(new_size);
        }
        let scale_up = (max_total - current).min(desired - new_size);
        Ok(new_size + scale_up)
    }
}
