//! maxSurge and maxUnavailable resolved against the desired replica count,
//! rounding as Kubernetes does: surge rounds up, unavailability rounds down.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Error scaling an IntOrString that is neither an integer nor a percentage.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?}: must be an integer or a percentage such as \"25%\"")]
pub struct ScaleError {
    value: String,
}

/// Scales an integer or percentage against `total`.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, ScaleError> {
    match value {
        IntOrString::Int(value) => Ok(*value),
        IntOrString::String(text) => {
            let percent: i64 = text
                .strip_suffix('%')
                .and_then(|number| number.parse().ok())
                .ok_or_else(|| ScaleError {
                    value: text.clone(),
                })?;
            let product = percent * i64::from(total);
            let scaled = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            Ok(i32::try_from(scaled).unwrap_or(i32::MAX))
        }
    }
}

/// Returns whether the Deployment uses the RollingUpdate strategy (the default).
pub fn is_rolling_update(deployment: &Deployment) -> bool {
    strategy_type(deployment) != "Recreate"
}

/// Returns the strategy type, `RollingUpdate` when unset.
pub fn strategy_type(deployment: &Deployment) -> &str {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

/// Returns `spec.replicas`, 1 when unset.
pub fn desired_replicas(deployment: &Deployment) -> i32 {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
}

/// Resolves maxSurge and maxUnavailable (25% each when unset). When both
/// round to zero, maxUnavailable becomes 1 so the rollout can progress.
pub fn resolve(deployment: &Deployment) -> Result<(i32, i32), ScaleError> {
    let default = IntOrString::String("25%".to_string());
    let rolling = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.rolling_update.as_ref());
    let surge = rolling
        .and_then(|rolling| rolling.max_surge.as_ref())
        .unwrap_or(&default);
    let unavailable = rolling
        .and_then(|rolling| rolling.max_unavailable.as_ref())
        .unwrap_or(&default);
    let desired = desired_replicas(deployment);
    let surge = scaled_value(surge, desired, true)?;
    let mut unavailable = scaled_value(unavailable, desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// Returns the resolved maxSurge, 0 for Recreate.
pub fn max_surge(deployment: &Deployment) -> Result<i32, ScaleError> {
    if !is_rolling_update(deployment) {
        return Ok(0);
    }
    Ok(resolve(deployment)?.0)
}

/// Returns the resolved maxUnavailable, at most the desired count, 0 for
/// Recreate or zero replicas.
pub fn max_unavailable(deployment: &Deployment) -> Result<i32, ScaleError> {
    let desired = desired_replicas(deployment);
    if !is_rolling_update(deployment) || desired == 0 {
        return Ok(0);
    }
    Ok(resolve(deployment)?.1.min(desired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".to_string()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn percent(text: &str) -> IntOrString {
        IntOrString::String(text.to_string())
    }

    #[test]
    fn percentages_round_surge_up_and_unavailable_down() {
        let d = deployment(10, percent("25%"), percent("25%"));
        assert_eq!(resolve(&d).unwrap(), (3, 2));
        let d = deployment(3, percent("50%"), percent("50%"));
        assert_eq!(resolve(&d).unwrap(), (2, 1));
    }

    #[test]
    fn integers_are_taken_as_is() {
        let d = deployment(3, IntOrString::Int(1), IntOrString::Int(0));
        assert_eq!(resolve(&d).unwrap(), (1, 0));
    }

    #[test]
    fn both_zero_allows_one_unavailable() {
        let d = deployment(1, percent("10%"), percent("10%"));
        assert_eq!(resolve(&d).unwrap(), (1, 0));
        let d = deployment(4, IntOrString::Int(0), percent("10%"));
        assert_eq!(resolve(&d).unwrap(), (0, 1));
    }

    #[test]
    fn unavailable_is_capped_at_desired() {
        let d = deployment(2, IntOrString::Int(0), IntOrString::Int(5));
        assert_eq!(max_unavailable(&d).unwrap(), 2);
    }

    #[test]
    fn invalid_percentage_is_an_error() {
        assert!(scaled_value(&percent("abc"), 10, true).is_err());
    }
}
