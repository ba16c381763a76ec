//! Request counters in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{Method, StatusCode};

#[derive(Default)]
struct Series {
    count: u64,
    seconds: f64,
}

/// `apiserver_request_total` and `apiserver_request_duration_seconds` by
/// verb, resource and code.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn record(&self, method: &Method, resource: &str, code: StatusCode, elapsed: Duration) {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = series
            .entry((
                method.as_str().to_string(),
                resource.to_string(),
                code.as_u16(),
            ))
            .or_default();
        entry.count += 1;
        entry.seconds += elapsed.as_secs_f64();
    }

    /// Renders every series in the Prometheus text exposition format.
    pub fn render(&self, watch_clients: usize) -> String {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP apiserver_request_total Requests served, by verb, resource and HTTP code.\n",
        );
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, resource, code), entry) in series.iter() {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{verb}\",resource=\"{resource}\",code=\"{code}\"}} {}",
                entry.count
            );
        }
        out.push_str(
            "# HELP apiserver_request_duration_seconds_sum Total time spent serving requests.\n",
        );
        out.push_str("# TYPE apiserver_request_duration_seconds_sum counter\n");
        for ((verb, resource, code), entry) in series.iter() {
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{verb=\"{verb}\",resource=\"{resource}\",code=\"{code}\"}} {:.6}",
                entry.seconds
            );
        }
        out.push_str("# HELP apiserver_watch_cache_receivers Open watch-cache subscriptions.\n");
        out.push_str("# TYPE apiserver_watch_cache_receivers gauge\n");
        let _ = writeln!(out, "apiserver_watch_cache_receivers {watch_clients}");
        out
    }
}
