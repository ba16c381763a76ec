//! What the machine offers pods: CPU, memory, ephemeral storage and pod slots.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use skiff_machinery::quantity::parse_milli;

/// Capacity of the machine by resource name.
pub fn capacity(root_dir: &Path, max_pods: u32) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    out.insert("cpu".to_string(), Quantity(cpus.to_string()));
    if let Some(kib) = meminfo_kib("MemTotal") {
        out.insert("memory".to_string(), Quantity(format!("{kib}Ki")));
    }
    if let Some(bytes) = filesystem_bytes(root_dir).map(|(total, _)| total) {
        out.insert(
            "ephemeral-storage".to_string(),
            Quantity(format!("{}Ki", bytes / 1024)),
        );
    }
    out.insert("pods".to_string(), Quantity(max_pods.to_string()));
    out.insert("hugepages-2Mi".to_string(), Quantity("0".to_string()));
    out
}

/// Capacity minus the reservations (and the default hard eviction threshold
/// of 100Mi memory), never below zero.
pub fn allocatable(
    capacity: &BTreeMap<String, Quantity>,
    reserved: &BTreeMap<String, String>,
) -> BTreeMap<String, Quantity> {
    let mut out = capacity.clone();
    for (name, value) in capacity {
        let mut held = reserved
            .get(name)
            .and_then(|q| parse_milli(q).ok())
            .unwrap_or(0);
        if name == "memory" {
            held += 100 * 1024 * 1024 * 1000;
        }
        if held == 0 {
            continue;
        }
        let Ok(total) = parse_milli(&value.0) else {
            continue;
        };
        let left = (total - held).max(0);
        let text = if name == "cpu" {
            format!("{left}m")
        } else if left % 1000 == 0 && (left / 1000) % 1024 == 0 {
            format!("{}Ki", left / 1000 / 1024)
        } else {
            format!("{}", left / 1000)
        };
        out.insert(name.clone(), Quantity(text));
    }
    out
}

/// A field of /proc/meminfo in KiB.
pub fn meminfo_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Total and available bytes of the filesystem holding `path`.
pub fn filesystem_bytes(path: &Path) -> Option<(u64, u64)> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    let block = stat.fragment_size() as u64;
    Some((
        stat.blocks() as u64 * block,
        stat.blocks_available() as u64 * block,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocatable_subtracts_reservations() {
        let mut cap = BTreeMap::new();
        cap.insert("cpu".to_string(), Quantity("2".to_string()));
        cap.insert("memory".to_string(), Quantity("1048576Ki".to_string()));
        cap.insert("pods".to_string(), Quantity("110".to_string()));
        let mut reserved = BTreeMap::new();
        reserved.insert("cpu".to_string(), "500m".to_string());
        reserved.insert("memory".to_string(), "100Mi".to_string());
        let alloc = allocatable(&cap, &reserved);
        assert_eq!(alloc["cpu"].0, "1500m");
        assert_eq!(alloc["memory"].0, "843776Ki");
        assert_eq!(alloc["pods"].0, "110");
    }
}
