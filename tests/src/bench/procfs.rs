//! Per-process figures read from /proc: resident memory, CPU time and bytes
//! written to storage.

use std::path::Path;

/// Clock ticks per second of `utime`/`stime` in /proc/PID/stat; Linux
/// reports USER_HZ, which is 100 on every mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// Resident set size in bytes.
    pub rss: u64,
    /// User plus system CPU time in seconds.
    pub cpu_seconds: f64,
    /// Bytes the process caused to be sent to the storage layer.
    pub write_bytes: u64,
}

/// Reads the counters of process `pid`, or `None` once it has exited.
pub fn sample(pid: u32) -> Option<Sample> {
    let dir = Path::new("/proc").join(pid.to_string());
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let io = std::fs::read_to_string(dir.join("io")).unwrap_or_default();
    let write_bytes = io
        .lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    Some(Sample {
        rss: rss_kib * 1024,
        cpu_seconds: cpu_ticks(&stat)? as f64 / TICKS_PER_SECOND,
        write_bytes,
    })
}

/// Sums `utime` and `stime` (fields 14 and 15) of a /proc/PID/stat line.
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name in brackets may contain spaces, so count fields from
    // the closing bracket: the field after it is number 3 (state).
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Returns the parent PID from /proc/PID/stat.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Lists every running process id.
fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

/// Returns `root` and its descendants, plus every process whose command line
/// contains `marker` (monitors that detached from the tree).
pub fn process_group(root: u32, marker: &str) -> Vec<u32> {
    let pids = all_pids();
    let mut group = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for &pid in &pids {
            if !group.contains(&pid) && parent(pid).is_some_and(|ppid| group.contains(&ppid)) {
                group.push(pid);
                grew = true;
            }
        }
    }
    for &pid in &pids {
        if group.contains(&pid) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            group.push(pid);
        }
    }
    group
}

/// Returns the path of the executable of `pid`.
pub fn executable(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Formats bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}
