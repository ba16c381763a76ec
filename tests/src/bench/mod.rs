//! The cases of `skiff-bench`, one module each, and the latency summary
//! they share. Every case measures its reference in the same run.

pub mod apiserver;
pub mod fanout;
pub mod kubelet;
pub mod procfs;
pub mod pull;
pub mod runtime;
pub mod server;
pub mod store;

use std::time::Duration;

/// Latencies of one operation kind, summarised.
#[derive(Clone, Debug)]
pub struct Summary {
    pub operations: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Summary {
    /// Summarises `latencies` measured over `elapsed` wall time.
    pub fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort();
        let at = |quantile: f64| {
            if latencies.is_empty() {
                return Duration::ZERO;
            }
            let index = ((latencies.len() as f64 - 1.0) * quantile).round() as usize;
            latencies[index]
        };
        Self {
            operations: latencies.len(),
            elapsed,
            p50: at(0.50),
            p99: at(0.99),
        }
    }

    /// Operations completed per second of wall time.
    pub fn rate(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Formats a Markdown table row: name, ops/s, p50 and p99 in milliseconds.
    pub fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {:.0} | {:.2} | {:.2} |",
            self.rate(),
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0
        )
    }
}
