//! Timestamps in the `metav1.Time` form the API uses.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Returns the current time, truncated to whole seconds as the API stores it.
pub fn now() -> Time {
    let now = Timestamp::now();
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Returns `time` plus `duration`.
pub fn add(time: &Time, duration: Duration) -> Time {
    let duration = SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX);
    Time(time.0.saturating_add(duration).unwrap_or(time.0))
}

/// Returns how long until `time`, or zero when it is in the past.
pub fn until(time: &Time) -> Duration {
    let remaining = time.0.duration_since(Timestamp::now());
    Duration::try_from(remaining).unwrap_or(Duration::ZERO)
}
