//! Pod creations and deletions a ReplicaSet sync issued but the pod cache has
//! not shown yet, so the next sync does not act on a stale cache (the
//! "expectations" of kube-controller-manager).
//!
//! Creations are counted, because pods get their names from generateName on
//! the server. Deletions are tracked by pod key. A sync may only create or
//! delete pods when nothing is outstanding or the record expired.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Record {
    creations: usize,
    deletions: HashSet<String>,
    since: Instant,
}

/// Outstanding pod creations and deletions per controller key
/// (`namespace/name`).
#[derive(Debug)]
pub struct Expectations {
    timeout: Duration,
    records: Mutex<HashMap<String, Record>>,
}

impl Expectations {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn records(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns `None` when the controller may act, or how long until the
    /// outstanding record expires.
    pub fn pending(&self, key: &str) -> Option<Duration> {
        let records = self.records();
        let record = records.get(key)?;
        if record.creations == 0 && record.deletions.is_empty() {
            return None;
        }
        self.timeout.checked_sub(record.since.elapsed())
    }

    /// Records that `count` pods are about to be created.
    pub fn expect_creations(&self, key: &str, count: usize) {
        self.records().insert(
            key.to_string(),
            Record {
                creations: count,
                deletions: HashSet::new(),
                since: Instant::now(),
            },
        );
    }

    /// Records that the pods with these keys are about to be deleted.
    pub fn expect_deletions(&self, key: &str, pods: impl IntoIterator<Item = String>) {
        self.records().insert(
            key.to_string(),
            Record {
                creations: 0,
                deletions: pods.into_iter().collect(),
                since: Instant::now(),
            },
        );
    }

    /// Lowers the outstanding creations by one: the cache showed a new pod,
    /// or a creation failed or was skipped.
    pub fn creation_observed(&self, key: &str) {
        if let Some(record) = self.records().get_mut(key) {
            record.creations = record.creations.saturating_sub(1);
        }
    }

    /// Removes `pod` from the outstanding deletions.
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(record) = self.records().get_mut(key) {
            record.deletions.remove(pod);
        }
    }

    /// Forgets a controller, for example after it was deleted.
    pub fn forget(&self, key: &str) {
        self.records().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_satisfied() {
        let expectations = Expectations::new(Duration::from_secs(60));
        assert_eq!(expectations.pending("ns/rs"), None);
    }

    #[test]
    fn creations_block_until_observed() {
        let expectations = Expectations::new(Duration::from_secs(60));
        expectations.expect_creations("ns/rs", 2);
        assert!(expectations.pending("ns/rs").is_some());
        expectations.creation_observed("ns/rs");
        assert!(expectations.pending("ns/rs").is_some());
        expectations.creation_observed("ns/rs");
        assert_eq!(expectations.pending("ns/rs"), None);
    }

    #[test]
    fn deletions_block_until_each_pod_is_observed() {
        let expectations = Expectations::new(Duration::from_secs(60));
        expectations.expect_deletions("ns/rs", ["ns/a".to_string(), "ns/b".to_string()]);
        expectations.deletion_observed("ns/rs", "ns/a");
        expectations.deletion_observed("ns/rs", "ns/a");
        assert!(expectations.pending("ns/rs").is_some());
        expectations.deletion_observed("ns/rs", "ns/b");
        assert_eq!(expectations.pending("ns/rs"), None);
    }

    #[test]
    fn records_expire() {
        let expectations = Expectations::new(Duration::ZERO);
        expectations.expect_creations("ns/rs", 5);
        assert_eq!(expectations.pending("ns/rs"), None);
    }
}
