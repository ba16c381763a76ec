//! apps/v1 defaults for Deployments and ReplicaSets (`SetDefaults_Deployment`,
//! `SetDefaults_ReplicaSet`) and their pod templates.

use serde_json::{Value, json};

use super::pod::default_pod_template;
use super::{child, set_default, set_default_string};

pub(super) fn default_deployment(deployment: &mut Value) {
    let Some(spec) = child(deployment, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert(Value::Null);
    if strategy.is_null() {
        *strategy = json!({});
    }
    if let Some(strategy) = strategy.as_object_mut() {
        set_default_string(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let rolling = strategy.entry("rollingUpdate").or_insert(Value::Null);
            if rolling.is_null() {
                *rolling = json!({});
            }
            if let Some(rolling) = rolling.as_object_mut() {
                set_default(rolling, "maxUnavailable", json!("25%"));
                set_default(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    if let Some(template) = deployment.pointer_mut("/spec/template") {
        default_pod_template(template);
    }
}

pub(super) fn default_replica_set(replica_set: &mut Value) {
    let Some(spec) = child(replica_set, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    if let Some(template) = replica_set.pointer_mut("/spec/template") {
        default_pod_template(template);
    }
}
