//! Kubernetes' restart back-off: 10 s doubling up to 5 min, forgotten after
//! 10 min without a failure.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Entry {
    delay: Duration,
    last_update: Instant,
}

/// Back-off delays by key (a container name or an image).
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(INITIAL, MAX)
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// The time left before `key` may be retried after an event at
    /// `event`, or None when a retry is allowed now.
    pub fn remaining(&self, key: &str, event: Instant, now: Instant) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        let elapsed = now.saturating_duration_since(event);
        (elapsed < entry.delay).then(|| entry.delay - elapsed)
    }

    /// The current delay of `key`, if any.
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.delay)
    }

    /// Records a retry of `key` for an event at `event`: starts at the
    /// initial delay, doubles up to the maximum, and starts over when the
    /// last update is more than twice the maximum ago.
    pub fn next(&mut self, key: &str, event: Instant) {
        let entry = match self.entries.get(key) {
            Some(e) if event.saturating_duration_since(e.last_update) <= 2 * self.max => Entry {
                delay: (e.delay * 2).min(self.max),
                last_update: event,
            },
            _ => Entry {
                delay: self.initial,
                last_update: event,
            },
        };
        self.entries.insert(key.to_string(), entry);
    }

    /// Forgets `key`, after a success.
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets_after_quiet() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert!(b.remaining("c", t0, t0).is_none());
        b.next("c", t0);
        assert_eq!(b.delay("c"), Some(INITIAL));
        assert_eq!(
            b.remaining("c", t0, t0 + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert!(b.remaining("c", t0, t0 + Duration::from_secs(10)).is_none());
        let mut t = t0;
        for _ in 0..10 {
            t += Duration::from_secs(1);
            b.next("c", t);
        }
        assert_eq!(b.delay("c"), Some(MAX));
        b.next("c", t + Duration::from_secs(601));
        assert_eq!(b.delay("c"), Some(INITIAL));
    }
}
