//! One scheduling decision: filter a sample of the nodes, score the feasible
//! ones and pick the best, as kube-scheduler's `schedulePod` does.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;

use crate::filters::{self, Reason};
use crate::fit_error::FitError;
use crate::framework::{NodeInfo, PodInfo};
use crate::scores::{self, RawScore, Weights};

/// kube-scheduler filters all nodes of clusters smaller than this.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Lower bound of the adaptive share of nodes to score, in percent.
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;
/// Nodes one worker thread claims at a time when filtering in parallel.
const PARALLEL_CHUNK: usize = 64;

/// Tunables of the node search.
#[derive(Clone, Debug)]
pub struct SearchSettings {
    /// Share of the nodes to find feasible before scoring stops looking, in
    /// percent; `None` adapts it to the cluster size like kube-scheduler
    /// (50% minus 1% per 125 nodes, at least 5%).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Threads that filter and score nodes at once.
    pub parallelism: usize,
    /// Node checks per decision below which one thread does all the work,
    /// because starting threads costs more than it saves.
    pub parallel_threshold: usize,
    pub weights: Weights,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            percentage_of_nodes_to_score: None,
            parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
            parallel_threshold: 2000,
            weights: Weights::default(),
        }
    }
}

/// Result of one decision.
#[derive(Debug)]
pub enum Decision {
    Node(String),
    Unschedulable(FitError),
}

/// Searches nodes for a pod, remembering where the last search stopped so
/// successive pods start on different nodes.
#[derive(Debug, Default)]
pub struct Algorithm {
    pub settings: SearchSettings,
    next_start: usize,
}

#[derive(Default)]
struct Findings {
    feasible: Vec<(usize, RawScore)>,
    rejected: Vec<Vec<Reason>>,
    checked: usize,
}

impl Algorithm {
    pub fn new(settings: SearchSettings) -> Self {
        Self {
            settings,
            next_start: 0,
        }
    }

    pub fn schedule(&mut self, pod: &PodInfo, nodes: &[NodeInfo]) -> Decision {
        let total = nodes.len();
        if total == 0 {
            return Decision::Unschedulable(self.fit_error(pod, 0, Vec::new()));
        }
        let wanted = self.feasible_nodes_to_find(total);
        let start = self.next_start % total;
        let findings =
            if wanted >= self.settings.parallel_threshold && self.settings.parallelism > 1 {
                self.search_parallel(pod, nodes, start, wanted)
            } else {
                search_range(pod, nodes, start, wanted)
            };
        self.next_start = (start + findings.checked) % total;
        if findings.feasible.is_empty() {
            return Decision::Unschedulable(self.fit_error(pod, total, findings.rejected));
        }
        let raw: Vec<RawScore> = findings.feasible.iter().map(|(_, score)| *score).collect();
        let totals = scores::total_scores(&raw, &self.settings.weights);
        let best = pick_best(&totals);
        let position = findings.feasible[best].0;
        Decision::Node(nodes[position].node.name.clone())
    }

    /// Returns how many feasible nodes to find before scoring, following
    /// kube-scheduler's `numFeasibleNodesToFind`.
    fn feasible_nodes_to_find(&self, total: usize) -> usize {
        if total < MIN_FEASIBLE_NODES_TO_FIND {
            return total;
        }
        let percentage = match self.settings.percentage_of_nodes_to_score {
            Some(percentage) if percentage > 0 => (percentage as usize).min(100),
            _ => 50usize
                .saturating_sub(total / 125)
                .max(MIN_FEASIBLE_NODES_PERCENTAGE),
        };
        (total * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }

    fn search_parallel(
        &self,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        start: usize,
        wanted: usize,
    ) -> Findings {
        let total = nodes.len();
        let next_chunk = AtomicUsize::new(0);
        let found = AtomicUsize::new(0);
        let merged = Mutex::new(Findings::default());
        std::thread::scope(|scope| {
            for _ in 0..self.settings.parallelism {
                scope.spawn(|| {
                    let mut local = Findings::default();
                    loop {
                        if found.load(Ordering::Relaxed) >= wanted {
                            break;
                        }
                        let offset = next_chunk.fetch_add(PARALLEL_CHUNK, Ordering::Relaxed);
                        if offset >= total {
                            break;
                        }
                        for step in offset..(offset + PARALLEL_CHUNK).min(total) {
                            let position = (start + step) % total;
                            if check_node(pod, nodes, position, &mut local) {
                                found.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    if let Ok(mut merged) = merged.lock() {
                        merged.feasible.append(&mut local.feasible);
                        merged.rejected.append(&mut local.rejected);
                        merged.checked += local.checked;
                    }
                });
            }
        });
        let mut findings = merged
            .into_inner()
            .unwrap_or_else(|poison| poison.into_inner());
        // Workers may overshoot; keep the nodes nearest the start so the
        // next search resumes where this one's kept results end.
        findings
            .feasible
            .sort_unstable_by_key(|(position, _)| (*position + total - start) % total);
        findings.feasible.truncate(wanted);
        findings
    }

    fn fit_error(&self, pod: &PodInfo, total: usize, rejected: Vec<Vec<Reason>>) -> FitError {
        let mut error = FitError {
            num_all_nodes: total,
            never_preempts: pod.never_preempts,
            ..Default::default()
        };
        for reasons in &rejected {
            error.add_node(reasons);
        }
        error
    }
}

fn search_range(pod: &PodInfo, nodes: &[NodeInfo], start: usize, wanted: usize) -> Findings {
    let total = nodes.len();
    let mut findings = Findings::default();
    for step in 0..total {
        if findings.feasible.len() >= wanted {
            break;
        }
        check_node(pod, nodes, (start + step) % total, &mut findings);
    }
    findings
}

/// Filters one node and scores it when it fits; returns whether it fits.
fn check_node(pod: &PodInfo, nodes: &[NodeInfo], position: usize, findings: &mut Findings) -> bool {
    findings.checked += 1;
    let node = &nodes[position];
    match filters::check(pod, node) {
        Ok(()) => {
            findings
                .feasible
                .push((position, scores::raw_score(pod, node)));
            true
        }
        Err(reasons) => {
            findings.rejected.push(reasons);
            false
        }
    }
}

/// Returns the index of the highest score, choosing uniformly among ties.
fn pick_best(totals: &[i64]) -> usize {
    let mut rng = rand::rng();
    let mut best = 0;
    let mut ties = 0u32;
    for (index, &score) in totals.iter().enumerate() {
        if score > totals[best] {
            best = index;
            ties = 1;
        } else if score == totals[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = index;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::test_support::{node_info, pod_info};
    use serde_json::json;

    fn nodes(count: usize) -> Vec<NodeInfo> {
        (0..count)
            .map(|i| node_info(json!({"metadata": {"name": format!("n{i}")}})))
            .collect()
    }

    #[test]
    fn feasible_nodes_to_find_adapts_to_cluster_size() {
        let algorithm = Algorithm::default();
        assert_eq!(algorithm.feasible_nodes_to_find(50), 50);
        assert_eq!(algorithm.feasible_nodes_to_find(100), 100);
        assert_eq!(algorithm.feasible_nodes_to_find(1000), 420);
        assert_eq!(algorithm.feasible_nodes_to_find(5000), 500);
        assert_eq!(algorithm.feasible_nodes_to_find(100_000), 5000);
    }

    #[test]
    fn unschedulable_pod_gets_every_node_counted() {
        let mut algorithm = Algorithm::default();
        let pod = pod_info(json!({"nodeSelector": {"disk": "ssd"}}));
        let Decision::Unschedulable(error) = algorithm.schedule(&pod, &nodes(3)) else {
            panic!("pod with an unmatched selector was placed");
        };
        assert_eq!(error.num_all_nodes, 3);
        assert_eq!(error.reasons.get(&Reason::AffinityMismatch), Some(&3));
    }

    #[test]
    fn picks_the_emptier_node() {
        let mut algorithm = Algorithm::default();
        let mut cluster = nodes(2);
        let busy = pod_info(json!({"containers": [{"name": "c", "image": "busybox",
            "resources": {"requests": {"cpu": "3", "memory": "6Gi"}}}]}));
        cluster[0].usage.add(&busy.usage);
        let pod = pod_info(json!({}));
        for _ in 0..10 {
            let decision = algorithm.schedule(&pod, &cluster);
            assert!(
                matches!(decision, Decision::Node(ref name) if name == "n1"),
                "{decision:?}"
            );
        }
    }

    #[test]
    fn parallel_search_finds_the_only_fitting_node() {
        let settings = SearchSettings {
            parallelism: 4,
            parallel_threshold: 1,
            percentage_of_nodes_to_score: Some(100),
            ..Default::default()
        };
        let mut algorithm = Algorithm::new(settings);
        let mut cluster = nodes(1000);
        cluster[737]
            .node
            .labels
            .insert("disk".to_string(), "ssd".to_string());
        let pod = pod_info(json!({"nodeSelector": {"disk": "ssd"}}));
        for _ in 0..3 {
            let decision = algorithm.schedule(&pod, &cluster);
            assert!(
                matches!(decision, Decision::Node(ref name) if name == "n737"),
                "{decision:?}"
            );
        }
        let unmatched = pod_info(json!({"nodeSelector": {"disk": "nvme"}}));
        let Decision::Unschedulable(error) = algorithm.schedule(&unmatched, &cluster) else {
            panic!("pod with an unmatched selector was placed");
        };
        assert_eq!(error.reasons.get(&Reason::AffinityMismatch), Some(&1000));
    }

    #[test]
    fn ties_are_broken_across_nodes() {
        let mut algorithm = Algorithm::default();
        let cluster = nodes(3);
        let pod = pod_info(json!({}));
        let mut chosen = std::collections::HashSet::new();
        for _ in 0..60 {
            if let Decision::Node(name) = algorithm.schedule(&pod, &cluster) {
                chosen.insert(name);
            }
        }
        assert_eq!(chosen.len(), 3);
    }
}
