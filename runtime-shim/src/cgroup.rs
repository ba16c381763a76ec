//! Cgroup layout detection and the counters the shim reads: cgroup v1
//! (including hybrid hosts, where every controller is on v1) and the
//! unified v2 hierarchy.

use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    V1,
    V2,
}

/// Detects the layout: v2 when `/sys/fs/cgroup` itself is a cgroup2 mount.
pub fn detect() -> Layout {
    match nix::sys::statfs::statfs(CGROUP_ROOT) {
        Ok(stat) if stat.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Layout::V2,
        _ => Layout::V1,
    }
}

/// Counters of one cgroup.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub cpu_nanos: Option<u64>,
    pub memory_usage: Option<u64>,
    pub memory_working_set: Option<u64>,
    pub memory_rss: Option<u64>,
    pub page_faults: Option<u64>,
    pub major_page_faults: Option<u64>,
}

impl Layout {
    fn dir(self, controller: &str, path: &str) -> PathBuf {
        let relative = path.trim_start_matches('/');
        match self {
            Layout::V1 => Path::new(CGROUP_ROOT).join(controller).join(relative),
            Layout::V2 => Path::new(CGROUP_ROOT).join(relative),
        }
    }

    /// Every directory making up cgroup `path`: one per mounted hierarchy on
    /// v1 (including `name=systemd` and the unified one of hybrid hosts,
    /// where runc also places containers).
    fn dirs(self, path: &str) -> Vec<PathBuf> {
        let relative = path.trim_start_matches('/');
        match self {
            Layout::V1 => hierarchies()
                .into_iter()
                .map(|hierarchy| hierarchy.join(relative))
                .collect(),
            Layout::V2 => vec![self.dir("", path)],
        }
    }

    /// Returns whether cgroup `path` exists (its memory directory on v1).
    pub fn exists(self, path: &str) -> bool {
        self.dir("memory", path).is_dir()
    }

    /// Creates cgroup `path` in every hierarchy.
    pub fn create(self, path: &str) -> std::io::Result<()> {
        for dir in self.dirs(path) {
            std::fs::create_dir_all(&dir)?;
        }
        Ok(())
    }

    /// Removes cgroup `path` (which must hold no process) and its empty
    /// children, deepest first. Missing directories are fine.
    pub fn remove(self, path: &str) -> std::io::Result<()> {
        for dir in self.dirs(path) {
            remove_tree(&dir)?;
        }
        Ok(())
    }

    /// Number of OOM kills recorded for cgroup `path`.
    pub fn oom_kills(self, path: &str) -> u64 {
        let (file, key) = match self {
            Layout::V1 => (
                self.dir("memory", path).join("memory.oom_control"),
                "oom_kill",
            ),
            Layout::V2 => (self.dir("", path).join("memory.events"), "oom_kill"),
        };
        read_keyed(&file, key).unwrap_or(0)
    }

    /// Reads CPU and memory counters of cgroup `path`.
    pub fn usage(self, path: &str) -> Usage {
        match self {
            Layout::V1 => {
                let memory = self.dir("memory", path);
                let stat = memory.join("memory.stat");
                let usage = read_u64(&memory.join("memory.usage_in_bytes"));
                let inactive = read_keyed(&stat, "total_inactive_file").unwrap_or(0);
                Usage {
                    cpu_nanos: read_u64(&self.dir("cpuacct", path).join("cpuacct.usage")),
                    memory_usage: usage,
                    memory_working_set: usage.map(|usage| usage.saturating_sub(inactive)),
                    memory_rss: read_keyed(&stat, "total_rss"),
                    page_faults: read_keyed(&stat, "total_pgfault"),
                    major_page_faults: read_keyed(&stat, "total_pgmajfault"),
                }
            }
            Layout::V2 => {
                let dir = self.dir("", path);
                let stat = dir.join("memory.stat");
                let usage = read_u64(&dir.join("memory.current"));
                let inactive = read_keyed(&stat, "inactive_file").unwrap_or(0);
                Usage {
                    cpu_nanos: read_keyed(&dir.join("cpu.stat"), "usage_usec")
                        .map(|micros| micros * 1000),
                    memory_usage: usage,
                    memory_working_set: usage.map(|usage| usage.saturating_sub(inactive)),
                    memory_rss: read_keyed(&stat, "anon"),
                    page_faults: read_keyed(&stat, "pgfault"),
                    major_page_faults: read_keyed(&stat, "pgmajfault"),
                }
            }
        }
    }

    /// Whether memory+swap limits can be set (v1 `memory.memsw.*`, v2 `memory.swap.max`).
    pub fn has_swap_accounting(self, parent: &str) -> bool {
        match self {
            Layout::V1 => Path::new(CGROUP_ROOT)
                .join("memory/memory.memsw.limit_in_bytes")
                .exists(),
            Layout::V2 => self.dir("", parent).join("memory.swap.max").exists(),
        }
    }
}

/// Mounted v1 hierarchies under `/sys/fs/cgroup`, each once (`cpu` and
/// `cpuacct` are usually links to `cpu,cpuacct`).
fn hierarchies() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(canonical) = entry.path().canonicalize() else {
            continue;
        };
        if canonical.is_dir() && !found.contains(&canonical) {
            found.push(canonical);
        }
    }
    found
}

fn remove_tree(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reads the value of `key` from a `key value` per line file.
fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}
