//! Keeps the node status current: written when a condition changes and at
//! least every 5 minutes otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use tokio_util::sync::CancellationToken;

use super::conditions::{self, Observed};
use crate::context::Context;

const CHECK_EVERY: Duration = Duration::from_secs(10);
const REPORT_AT_LEAST_EVERY: Duration = Duration::from_secs(300);

/// Watches the conditions until shutdown.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let mut last: Option<(Vec<Observed>, Instant)> = None;
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let observed = conditions::observe(&ctx).await;
        let due = match &last {
            Some((previous, at)) => *previous != observed || at.elapsed() >= REPORT_AT_LEAST_EVERY,
            None => false,
        };
        if last.is_none() {
            // Registration just wrote the status.
            last = Some((observed, Instant::now()));
            continue;
        }
        if !due {
            continue;
        }
        match write(&ctx, &observed).await {
            Ok(()) => last = Some((observed, Instant::now())),
            Err(error) => {
                tracing::warn!(node = %ctx.config.node_name, %error, "failed to update the node status")
            }
        }
    }
}

async fn write(ctx: &Context, observed: &[Observed]) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let current = nodes.get_status(&ctx.config.node_name).await?;
    let previous = current
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let conditions = conditions::to_conditions(observed, &previous, &now);
    let patch = serde_json::json!({ "status": { "conditions": conditions } });
    nodes
        .patch_status(
            &ctx.config.node_name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    tracing::info!(node = %ctx.config.node_name, "updated the node conditions");
    Ok(())
}
