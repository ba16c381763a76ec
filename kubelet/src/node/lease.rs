//! The node's heartbeat: a Lease in kube-node-lease renewed every 10 s.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio_util::sync::CancellationToken;

use crate::context::Context;

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
const RENEW_EVERY: Duration = Duration::from_secs(10);
const LEASE_SECONDS: i32 = 40;

/// Renews the lease until shutdown.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(error) = renew(&ctx).await {
            tracing::warn!(node = %ctx.config.node_name, %error, "failed to renew the node lease");
        }
    }
}

async fn renew(ctx: &Context) -> Result<(), kube::Error> {
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), LEASE_NAMESPACE);
    let name = &ctx.config.node_name;
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let patch = serde_json::json!({ "spec": { "renewTime": now, "holderIdentity": name } });
    match leases
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => create(ctx, now).await,
        Err(error) => Err(error),
    }
}

async fn create(ctx: &Context, now: MicroTime) -> Result<(), kube::Error> {
    let name = &ctx.config.node_name;
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let owner = nodes.get(name).await.ok().and_then(|node| {
        Some(OwnerReference {
            api_version: "v1".to_string(),
            kind: "Node".to_string(),
            name: name.clone(),
            uid: node.metadata.uid?,
            ..Default::default()
        })
    });
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(LEASE_NAMESPACE.to_string()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.clone()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            renew_time: Some(now),
            ..Default::default()
        }),
    };
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), LEASE_NAMESPACE);
    match leases.create(&PostParams::default(), &lease).await {
        Err(kube::Error::Api(status)) if status.is_not_found() => {
            // The namespace itself is missing; create it and try once more.
            let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
            let ns = Namespace {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAMESPACE.to_string()),
                    ..Default::default()
                },
                ..Default::default()
            };
            let _ = namespaces.create(&PostParams::default(), &ns).await;
            leases
                .create(&PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        other => other.map(|_| ()),
    }
}
