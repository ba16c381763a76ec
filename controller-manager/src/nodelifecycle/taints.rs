//! Node taints and pod tolerations, with Kubernetes' matching rules.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Taint, Toleration};

pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const NO_SCHEDULE: &str = "NoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";

/// Returns whether `toleration` tolerates `taint`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration
        .effect
        .as_deref()
        .is_some_and(|effect| !effect.is_empty() && effect != taint.effect)
    {
        return false;
    }
    if toleration
        .key
        .as_deref()
        .is_some_and(|key| !key.is_empty() && key != taint.key)
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// How long a pod may stay on a node with these NoExecute taints.
#[derive(Debug, PartialEq, Eq)]
pub enum Tolerance {
    /// Some taint is not tolerated: evict now.
    None,
    /// Every taint is tolerated for at most this long.
    For(Duration),
    /// Every taint is tolerated forever.
    Forever,
}

/// Computes how long `tolerations` let a pod stay despite `taints`: the
/// minimum tolerationSeconds among the tolerations that match a taint.
pub fn tolerance(tolerations: &[Toleration], taints: &[&Taint]) -> Tolerance {
    let mut minimum: Option<i64> = None;
    for taint in taints {
        let matching: Vec<&Toleration> = tolerations
            .iter()
            .filter(|toleration| tolerates(toleration, taint))
            .collect();
        if matching.is_empty() {
            return Tolerance::None;
        }
        for toleration in matching {
            if let Some(seconds) = toleration.toleration_seconds {
                minimum = Some(minimum.map_or(seconds, |current| current.min(seconds)));
            }
        }
    }
    match minimum {
        None => Tolerance::Forever,
        Some(seconds) => Tolerance::For(Duration::from_secs(seconds.max(0).unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.to_string(),
            effect: effect.to_string(),
            ..Default::default()
        }
    }

    fn toleration(key: &str, operator: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.to_string()),
            operator: Some(operator.to_string()),
            effect: Some(NO_EXECUTE.to_string()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    #[test]
    fn untolerated_taint_evicts_now() {
        let unreachable = taint(UNREACHABLE, NO_EXECUTE);
        assert_eq!(tolerance(&[], &[&unreachable]), Tolerance::None);
        let other = toleration(NOT_READY, "Exists", Some(300));
        assert_eq!(tolerance(&[other], &[&unreachable]), Tolerance::None);
    }

    #[test]
    fn minimum_seconds_win() {
        let unreachable = taint(UNREACHABLE, NO_EXECUTE);
        let tolerations = [
            toleration(UNREACHABLE, "Exists", Some(300)),
            toleration(UNREACHABLE, "Exists", Some(5)),
        ];
        assert_eq!(
            tolerance(&tolerations, &[&unreachable]),
            Tolerance::For(Duration::from_secs(5))
        );
    }

    #[test]
    fn toleration_without_seconds_lasts_forever() {
        let unreachable = taint(UNREACHABLE, NO_EXECUTE);
        let tolerations = [toleration("", "Exists", None)];
        assert_eq!(tolerance(&tolerations, &[&unreachable]), Tolerance::Forever);
    }

    #[test]
    fn effect_and_value_must_match() {
        let no_schedule = taint("a", NO_SCHEDULE);
        assert!(!tolerates(&toleration("a", "Exists", None), &no_schedule));
        let mut valued = taint("a", NO_EXECUTE);
        valued.value = Some("x".to_string());
        let mut equal = toleration("a", "Equal", None);
        equal.value = Some("y".to_string());
        assert!(!tolerates(&equal, &valued));
        equal.value = Some("x".to_string());
        assert!(tolerates(&equal, &valued));
    }
}
