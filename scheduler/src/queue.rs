//! The scheduling queue: pods waiting for a decision, ordered by priority
//! and arrival, with backoff after failures.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

/// Where a queued pod stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Ready for a decision.
    Active,
    /// Taken by the scheduling loop.
    InFlight,
    /// Waiting out a backoff after a failure; `unschedulable` pods also
    /// return at once when the cluster changes.
    Waiting { until: Instant, unschedulable: bool },
    /// Bound (or being bound); kept until the watch shows `spec.nodeName`
    /// so that stale watch events do not queue the pod again.
    Binding,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<Pod>,
    state: State,
    priority: i32,
    sequence: u64,
    attempts: u32,
    /// The last FailedScheduling message sent for the pod, and when.
    last_failure: Option<(String, Instant)>,
}

/// Backoff of a pod after `attempts` failures: `initial` doubled per
/// attempt, at most `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    fn after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

#[derive(Debug)]
pub struct Queue {
    backoff: Backoff,
    entries: HashMap<String, Entry>,
    active: BTreeSet<(Reverse<i32>, u64, String)>,
    waiting: BTreeSet<(Instant, u64, String)>,
    unschedulable: HashSet<String>,
    next_sequence: u64,
}

impl Queue {
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            entries: HashMap::new(),
            active: BTreeSet::new(),
            waiting: BTreeSet::new(),
            unschedulable: HashSet::new(),
            next_sequence: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Adds a pending pod, or updates a queued one. An update that changes
    /// the spec, labels or annotations of a pod waiting as unschedulable
    /// makes it active again; status-only updates (such as this
    /// scheduler's own condition) do not.
    pub fn add_or_update(&mut self, key: &str, pod: Arc<Pod>) {
        let priority = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.priority)
            .unwrap_or(0);
        let Some(entry) = self.entries.get_mut(key) else {
            let entry = Entry {
                pod,
                state: State::Active,
                priority,
                sequence: 0,
                attempts: 0,
                last_failure: None,
            };
            self.entries.insert(key.to_string(), entry);
            self.activate(key);
            return;
        };
        let changed = entry.pod.spec != pod.spec
            || entry.pod.metadata.labels != pod.metadata.labels
            || entry.pod.metadata.annotations != pod.metadata.annotations;
        entry.pod = pod;
        let unschedulable = matches!(
            entry.state,
            State::Waiting {
                unschedulable: true,
                ..
            }
        );
        if changed && unschedulable {
            self.activate(key);
        }
    }

    /// Drops a pod that was bound or deleted.
    pub fn remove(&mut self, key: &str) {
        self.unlink(key);
        self.entries.remove(key);
    }

    /// Moves pods whose backoff expired to the active set, then takes the
    /// first active pod.
    pub fn pop(&mut self, now: Instant) -> Option<Arc<Pod>> {
        while let Some((until, _, key)) = self.waiting.first().cloned() {
            if until > now {
                break;
            }
            self.activate(&key);
        }
        let (_, _, key) = self.active.pop_first()?;
        let entry = self.entries.get_mut(&key)?;
        entry.state = State::InFlight;
        Some(entry.pod.clone())
    }

    /// Returns when the next waiting pod's backoff ends.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.first().map(|(until, _, _)| *until)
    }

    /// Marks a pod as bound or being bound.
    pub fn mark_binding(&mut self, key: &str) {
        self.unlink(key);
        if let Some(entry) = self.entries.get_mut(key) {
            entry.state = State::Binding;
        }
    }

    /// Puts a pod back after a failed attempt, to retry after its backoff
    /// (or sooner, on a cluster change, when `unschedulable`).
    pub fn requeue_after_failure(&mut self, key: &str, unschedulable: bool, now: Instant) {
        self.unlink(key);
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        entry.attempts += 1;
        let until = now + self.backoff.after(entry.attempts);
        entry.state = State::Waiting {
            until,
            unschedulable,
        };
        self.next_sequence += 1;
        entry.sequence = self.next_sequence;
        self.waiting
            .insert((until, entry.sequence, key.to_string()));
        if unschedulable {
            self.unschedulable.insert(key.to_string());
        }
    }

    /// Makes every pod that waits as unschedulable active again; returns
    /// how many moved.
    pub fn activate_unschedulable(&mut self) -> usize {
        let keys: Vec<String> = self.unschedulable.drain().collect();
        for key in &keys {
            self.activate(key);
        }
        keys.len()
    }

    /// Returns whether a FailedScheduling event with `message` is due: the
    /// message changed, or the last event is older than `interval`.
    pub fn failure_event_due(
        &mut self,
        key: &str,
        message: &str,
        now: Instant,
        interval: Duration,
    ) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        let due = match &entry.last_failure {
            Some((last, at)) => last != message || now.duration_since(*at) >= interval,
            None => true,
        };
        if due {
            entry.last_failure = Some((message.to_string(), now));
        }
        due
    }

    /// Keeps only the entries whose key `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|key| !keep(key))
            .cloned()
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }

    fn activate(&mut self, key: &str) {
        self.unlink(key);
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        entry.state = State::Active;
        self.next_sequence += 1;
        entry.sequence = self.next_sequence;
        self.active
            .insert((Reverse(entry.priority), entry.sequence, key.to_string()));
    }

    /// Takes the pod out of whichever ordered set holds it.
    fn unlink(&mut self, key: &str) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        match entry.state {
            State::Active => {
                self.active
                    .remove(&(Reverse(entry.priority), entry.sequence, key.to_string()));
            }
            State::Waiting { until, .. } => {
                self.waiting
                    .remove(&(until, entry.sequence, key.to_string()));
                self.unschedulable.remove(key);
            }
            State::InFlight | State::Binding => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(priority: i32) -> Arc<Pod> {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"priority": priority,
            "containers": [{"name": "c", "image": "busybox"}]}});
        Arc::new(serde_json::from_value(pod).expect("valid pod"))
    }

    fn queue() -> Queue {
        Queue::new(Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        })
    }

    fn pop_name(queue: &mut Queue, now: Instant) -> Option<i32> {
        queue.pop(now).and_then(|pod| pod.spec.as_ref()?.priority)
    }

    #[test]
    fn higher_priority_first_then_arrival_order() {
        let mut queue = queue();
        queue.add_or_update("a", pod(0));
        queue.add_or_update("b", pod(10));
        queue.add_or_update("c", pod(0));
        let now = Instant::now();
        assert_eq!(pop_name(&mut queue, now), Some(10));
        assert!(queue.pop(now).is_some());
        assert!(queue.pop(now).is_some());
        assert!(queue.pop(now).is_none());
    }

    #[test]
    fn failed_pod_waits_for_its_backoff() {
        let mut queue = queue();
        queue.add_or_update("a", pod(0));
        let now = Instant::now();
        assert!(queue.pop(now).is_some());
        queue.requeue_after_failure("a", false, now);
        assert!(queue.pop(now).is_none());
        assert_eq!(queue.next_deadline(), Some(now + Duration::from_secs(1)));
        assert!(queue.pop(now + Duration::from_secs(1)).is_some());
        queue.requeue_after_failure("a", false, now);
        assert_eq!(queue.next_deadline(), Some(now + Duration::from_secs(2)));
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=6).map(|n| backoff.after(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn cluster_change_activates_only_unschedulable_pods() {
        let mut queue = queue();
        queue.add_or_update("unfit", pod(0));
        queue.add_or_update("error", pod(0));
        let now = Instant::now();
        queue.pop(now);
        queue.pop(now);
        queue.requeue_after_failure("unfit", true, now);
        queue.requeue_after_failure("error", false, now);
        assert_eq!(queue.activate_unschedulable(), 1);
        assert!(queue.pop(now).is_some());
        assert!(queue.pop(now).is_none());
    }

    #[test]
    fn status_only_update_keeps_pod_waiting() {
        let mut queue = queue();
        queue.add_or_update("a", pod(0));
        let now = Instant::now();
        queue.pop(now);
        queue.requeue_after_failure("a", true, now);
        let mut with_status = (*pod(0)).clone();
        with_status.status = Some(Default::default());
        queue.add_or_update("a", Arc::new(with_status));
        assert!(queue.pop(now).is_none());
        let mut relabelled = (*pod(0)).clone();
        relabelled.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        queue.add_or_update("a", Arc::new(relabelled));
        assert!(queue.pop(now).is_some());
    }

    #[test]
    fn binding_pod_is_not_queued_again() {
        let mut queue = queue();
        queue.add_or_update("a", pod(0));
        let now = Instant::now();
        queue.pop(now);
        queue.mark_binding("a");
        queue.add_or_update("a", pod(0));
        assert!(queue.pop(now).is_none());
        queue.remove("a");
        assert!(queue.is_empty());
    }

    #[test]
    fn failure_events_deduplicated() {
        let mut queue = queue();
        queue.add_or_update("a", pod(0));
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        assert!(queue.failure_event_due("a", "m1", now, minute));
        assert!(!queue.failure_event_due("a", "m1", now, minute));
        assert!(queue.failure_event_due("a", "m2", now, minute));
        assert!(queue.failure_event_due("a", "m2", now + minute, minute));
    }
}
