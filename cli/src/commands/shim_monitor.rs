//! `skiff shim-monitor`: the per-container monitor the shim starts; not
//! meant to be run by hand.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Container id.
    #[arg(long)]
    id: String,
    /// OCI bundle directory.
    #[arg(long)]
    bundle: PathBuf,
    /// Path of the runc binary.
    #[arg(long)]
    runtime: PathBuf,
    /// Directory given to `runc --root`.
    #[arg(long)]
    runc_root: PathBuf,
    /// Directory for the pid files and the exit record.
    #[arg(long)]
    state_dir: PathBuf,
    /// CRI log file.
    #[arg(long)]
    log_path: PathBuf,
    /// Size in bytes at which the log file is rotated.
    #[arg(long)]
    log_max_size: u64,
    /// Absolute cgroupfs path of the container, read for OOM kills.
    #[arg(long)]
    cgroup_path: String,
    /// Keep the container's stdin open for attached clients.
    #[arg(long)]
    stdin: bool,
    /// Close the container's stdin when the first attached client's stdin ends.
    #[arg(long)]
    stdin_once: bool,
    /// Run the container on a pseudo-terminal.
    #[arg(long)]
    tty: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    skiff_runtime_shim::run_monitor(skiff_runtime_shim::MonitorArgs {
        id: args.id,
        bundle: args.bundle,
        runtime: args.runtime,
        runc_root: args.runc_root,
        state_dir: args.state_dir,
        log_path: args.log_path,
        log_max_size: args.log_max_size,
        cgroup_path: args.cgroup_path,
        stdin: args.stdin,
        stdin_once: args.stdin_once,
        tty: args.tty,
    })?;
    Ok(())
}
