//! The OCI runtime spec (`config.json`) of a container.

use std::path::Path;

use k8s_cri::v1::{ContainerConfig, LinuxContainerResources, Mount, MountPropagation};
use serde_json::{Value, json};

use super::process::{self, ProcessError, User};
use super::seccomp;
use crate::image::ImageConfig;
use crate::sandbox::files;
use crate::state::SandboxRecord;

/// Capabilities of an unprivileged container, the set Docker and containerd grant.
const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("invalid mount {container_path:?}: {message}")]
    Mount {
        container_path: String,
        message: String,
    },
    #[error("failed to read seccomp profile {path}: {message}")]
    Seccomp { path: String, message: String },
}

/// What the spec is generated from.
pub struct SpecInput<'a> {
    pub config: &'a ContainerConfig,
    pub sandbox: &'a SandboxRecord,
    pub sandbox_dir: &'a Path,
    pub image: &'a ImageConfig,
    /// The mounted root filesystem, used to look up user names.
    pub rootfs: &'a Path,
    pub cgroup_path: &'a str,
    pub swap_accounting: bool,
}

/// Generates the spec.
pub fn generate(input: &SpecInput) -> Result<Value, SpecError> {
    let config = input.config;
    let security = config
        .linux
        .as_ref()
        .and_then(|linux| linux.security_context.as_ref());
    let privileged = security.is_some_and(|context| context.privileged);
    let readonly_rootfs = security.is_some_and(|context| context.readonly_rootfs);
    let hostname = sandbox_hostname(input.sandbox);
    let User { uid, gid } = process::user(config, input.image, input.rootfs)?;
    let resources = config
        .linux
        .as_ref()
        .and_then(|linux| linux.resources.as_ref());
    let capabilities = capabilities(config, privileged);
    let mut linux = json!({
        "cgroupsPath": input.cgroup_path,
        "namespaces": [
            {"type": "pid"},
            {"type": "mount"},
            {"type": "cgroup"},
            {"type": "network", "path": input.sandbox.netns},
            {"type": "ipc", "path": input.sandbox.ipc_ns},
            {"type": "uts", "path": input.sandbox.uts_ns},
        ],
        "resources": resources_json(resources, input.swap_accounting),
    });
    if !privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
        if let Some(profile) = seccomp_profile(config)? {
            linux["seccomp"] = profile;
        }
    }
    let oom_score_adj = resources
        .map_or(0, |resources| resources.oom_score_adj)
        .max(0);
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": config.tty,
            "user": {"uid": uid, "gid": gid},
            "args": process::arguments(config, input.image)?,
            "env": process::environment(config, input.image, &hostname),
            "cwd": process::working_dir(config, input.image),
            "capabilities": {
                "bounding": capabilities,
                "effective": capabilities,
                "permitted": capabilities,
            },
            "noNewPrivileges": security.is_some_and(|context| context.no_new_privs),
            "oomScoreAdj": oom_score_adj,
        },
        "root": {"path": "rootfs", "readonly": readonly_rootfs},
        "mounts": mounts(config, input.sandbox_dir, privileged)?,
        "linux": linux,
        "annotations": config.annotations,
    }))
}

/// The sandbox's hostname: the CRI hostname, else the pod name.
pub fn sandbox_hostname(sandbox: &SandboxRecord) -> String {
    if !sandbox.config.hostname.is_empty() {
        return sandbox.config.hostname.clone();
    }
    sandbox
        .config
        .metadata
        .as_ref()
        .map(|metadata| metadata.name.clone())
        .unwrap_or_default()
}

fn capabilities(config: &ContainerConfig, privileged: bool) -> Vec<String> {
    let all = || all_capabilities().collect::<Vec<_>>();
    if privileged {
        return all();
    }
    let mut set: Vec<String> = DEFAULT_CAPABILITIES
        .iter()
        .map(|name| name.to_string())
        .collect();
    let requested = config
        .linux
        .as_ref()
        .and_then(|linux| linux.security_context.as_ref())
        .and_then(|context| context.capabilities.as_ref());
    if let Some(requested) = requested {
        for name in &requested.add_capabilities {
            if name.eq_ignore_ascii_case("ALL") {
                set = all();
            } else if !set.contains(&capability_name(name)) {
                set.push(capability_name(name));
            }
        }
        for name in &requested.drop_capabilities {
            if name.eq_ignore_ascii_case("ALL") {
                set.clear();
            } else {
                set.retain(|entry| *entry != capability_name(name));
            }
        }
    }
    set
}

fn capability_name(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

fn all_capabilities() -> impl Iterator<Item = String> {
    // Capability names in bit order (Linux 5.9 numbering). Those missing from
    // the host's bounding set are dropped, because runc fails on them.
    const ALL: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    let bounding = host_bounding_set();
    ALL.iter()
        .enumerate()
        .filter(move |(bit, _)| bounding & (1u64 << bit) != 0)
        .map(|(_, name)| name.to_string())
}

/// The `CapBnd` mask of this process; all bits set when unreadable.
fn host_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("CapBnd:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

fn seccomp_profile(config: &ContainerConfig) -> Result<Option<Value>, SpecError> {
    use k8s_cri::v1::security_profile::ProfileType;
    let profile = config
        .linux
        .as_ref()
        .and_then(|linux| linux.security_context.as_ref())
        .and_then(|context| context.seccomp.as_ref());
    let Some(profile) = profile else {
        // NOTE: Kubernetes leaves an unset profile unconfined; this runtime
        // applies its default profile instead.
        return Ok(Some(seccomp::default_profile()));
    };
    match ProfileType::try_from(profile.profile_type) {
        Ok(ProfileType::Unconfined) => Ok(None),
        Ok(ProfileType::Localhost) => {
            let path = profile.localhost_ref.clone();
            let seccomp_error = |message: String| SpecError::Seccomp {
                path: path.clone(),
                message,
            };
            let text =
                std::fs::read_to_string(&path).map_err(|error| seccomp_error(error.to_string()))?;
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|error| seccomp_error(error.to_string()))
        }
        _ => Ok(Some(seccomp::default_profile())),
    }
}

fn resources_json(resources: Option<&LinuxContainerResources>, swap_accounting: bool) -> Value {
    let mut json = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let Some(resources) = resources {
        json["cpu"] = cpu_json(resources);
        json["memory"] = memory_json(resources, swap_accounting);
    }
    json
}

/// The `linux.resources.cpu` section; zero values are left out.
pub fn cpu_json(resources: &LinuxContainerResources) -> Value {
    let mut cpu = json!({});
    if resources.cpu_shares > 0 {
        cpu["shares"] = json!(resources.cpu_shares);
    }
    if resources.cpu_quota != 0 {
        cpu["quota"] = json!(resources.cpu_quota);
    }
    if resources.cpu_period > 0 {
        cpu["period"] = json!(resources.cpu_period);
    }
    if !resources.cpuset_cpus.is_empty() {
        cpu["cpus"] = json!(resources.cpuset_cpus);
    }
    if !resources.cpuset_mems.is_empty() {
        cpu["mems"] = json!(resources.cpuset_mems);
    }
    cpu
}

/// The `linux.resources.memory` section. Without a swap limit, swap is
/// capped at the memory limit so the limit holds on hosts with swap.
pub fn memory_json(resources: &LinuxContainerResources, swap_accounting: bool) -> Value {
    let mut memory = json!({});
    if resources.memory_limit_in_bytes > 0 {
        memory["limit"] = json!(resources.memory_limit_in_bytes);
        if swap_accounting {
            let swap = if resources.memory_swap_limit_in_bytes > 0 {
                resources.memory_swap_limit_in_bytes
            } else {
                resources.memory_limit_in_bytes
            };
            memory["swap"] = json!(swap);
        }
    }
    memory
}

fn mounts(
    config: &ContainerConfig,
    sandbox_dir: &Path,
    privileged: bool,
) -> Result<Vec<Value>, SpecError> {
    let sys_options = if privileged {
        vec!["nosuid", "noexec", "nodev"]
    } else {
        vec!["nosuid", "noexec", "nodev", "ro"]
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ];
    let user_paths: Vec<&str> = config
        .mounts
        .iter()
        .map(|mount| mount.container_path.as_str())
        .collect();
    for (name, destination) in [
        (files::HOSTNAME, "/etc/hostname"),
        (files::HOSTS, "/etc/hosts"),
        (files::RESOLV_CONF, "/etc/resolv.conf"),
    ] {
        if !user_paths.contains(&destination) {
            mounts.push(json!({
                "destination": destination,
                "type": "bind",
                "source": sandbox_dir.join(name),
                "options": ["rbind", "rprivate", "rw"],
            }));
        }
    }
    for mount in &config.mounts {
        mounts.push(bind_mount(mount)?);
    }
    Ok(mounts)
}

fn bind_mount(mount: &Mount) -> Result<Value, SpecError> {
    let mount_error = |message: &str| SpecError::Mount {
        container_path: mount.container_path.clone(),
        message: message.to_string(),
    };
    if !mount.container_path.starts_with('/') {
        return Err(mount_error("container_path must be an absolute path"));
    }
    if !mount.host_path.starts_with('/') {
        return Err(mount_error("host_path must be an absolute path"));
    }
    // Like containerd, a missing host path becomes an empty directory.
    let host = Path::new(&mount.host_path);
    if !host.exists() {
        std::fs::create_dir_all(host).map_err(|error| mount_error(&error.to_string()))?;
    }
    let propagation = match MountPropagation::try_from(mount.propagation) {
        Ok(MountPropagation::PropagationHostToContainer) => "rslave",
        Ok(MountPropagation::PropagationBidirectional) => "rshared",
        _ => "rprivate",
    };
    let access = if mount.readonly { "ro" } else { "rw" };
    Ok(json!({
        "destination": mount.container_path,
        "type": "bind",
        "source": mount.host_path,
        "options": ["rbind", propagation, access],
    }))
}
