//! `skiff run`: start a container the way `docker run` does, as a Deployment
//! (restarted when it exits) or, with `--restart Never`, `-i`, `-t` or
//! `--rm`, as a bare Pod. With `-i` or `-t` the local terminal is attached
//! to the container, and with `--rm` alone its log is followed, until it
//! exits.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use futures::AsyncReadExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HostPathVolumeSource, Pod, PodSpec, PodTemplateSpec, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, AttachParams, DeleteParams, LogParams, PostParams};

use super::Target;
use super::terminal::{self, ExitCode};

/// How many times (200 ms apart) a failed attach checks whether the
/// container ended in the meantime: 10 seconds for the kubelet to report it.
const TERMINATED_POLLS: u32 = 50;
/// How many times (200 ms apart) an ended attach polls the pod for the
/// container's exit code: 60 seconds.
const EXIT_POLLS: u32 = 300;

#[derive(clap::Args)]
pub struct Args {
    /// Name of the Deployment or Pod, and of its container.
    name: String,
    /// Image to run, e.g. busybox or 127.0.0.1:5000/web:1.
    #[arg(long)]
    image: String,
    /// Environment variable KEY=VALUE; may repeat.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Publish a port as [IP:]HOSTPORT:CONTAINERPORT; may repeat.
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Bind-mount a host directory as HOSTDIR:CONTAINERDIR[:ro]; may repeat.
    #[arg(short = 'v', long = "volume")]
    volumes: Vec<String>,
    /// Number of replicas of the Deployment.
    #[arg(long, default_value_t = 1)]
    replicas: i32,
    /// Restart policy: Always (a Deployment) or Never (a bare Pod).
    #[arg(long, default_value = "Always")]
    restart: String,
    /// Keep stdin open and attach to it.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// Delete the Pod when the command exits.
    #[arg(long)]
    rm: bool,
    /// Command and arguments, replacing the image's, after `--`.
    #[arg(last = true)]
    command: Vec<String>,
    #[command(flatten)]
    target: Target,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if !matches!(args.restart.as_str(), "Always" | "Never") {
        anyhow::bail!("invalid --restart {:?}: use Always or Never", args.restart);
    }
    let bare_pod = args.restart == "Never" || args.interactive || args.tty || args.rm;
    let (container, volumes) = container_for(&args)?;
    let labels = BTreeMap::from([("app".to_string(), args.name.clone())]);
    let pod_spec = PodSpec {
        containers: vec![container],
        volumes: (!volumes.is_empty()).then_some(volumes),
        restart_policy: Some(if bare_pod { "Never" } else { "Always" }.to_string()),
        ..PodSpec::default()
    };
    let session = args.target.connect().await?;
    if !bare_pod {
        let deployment = Deployment {
            metadata: ObjectMeta {
                name: Some(args.name.clone()),
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(args.replicas),
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..LabelSelector::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(pod_spec),
                },
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        };
        let api: Api<Deployment> = Api::namespaced(session.client.clone(), &session.namespace);
        api.create(&PostParams::default(), &deployment)
            .await
            .map_err(super::explain)?;
        println!("deployment.apps/{} created", args.name);
        return Ok(());
    }

    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(args.name.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec),
        ..Pod::default()
    };
    let pods: Api<Pod> = Api::namespaced(session.client.clone(), &session.namespace);
    pods.create(&PostParams::default(), &pod)
        .await
        .map_err(super::explain)?;
    let result = if args.interactive || args.tty {
        attach(&pods, &args).await
    } else if args.rm {
        follow(&pods, &args.name).await
    } else {
        println!("pod/{} created", args.name);
        return Ok(());
    };
    if args.rm {
        pods.delete(&args.name, &DeleteParams::default())
            .await
            .map_err(super::explain)?;
        println!("pod \"{}\" deleted", args.name);
    }
    match result? {
        0 => Ok(()),
        code => Err(ExitCode(code).into()),
    }
}

/// Waits for the pod to run, attaches the local terminal to its container
/// and returns the container's exit code. A container that ended before
/// the attach has its log printed instead, as kubectl does.
async fn attach(pods: &Api<Pod>, args: &Args) -> anyhow::Result<i32> {
    if let Some(code) = wait_running(pods, &args.name).await? {
        print_log(pods, &args.name).await?;
        return Ok(code);
    }
    let params = AttachParams {
        container: Some(args.name.clone()),
        stdin: args.interactive,
        stdout: true,
        stderr: !args.tty,
        tty: args.tty,
        ..AttachParams::default()
    };
    let process = match pods.attach(&args.name, &params).await {
        Ok(process) => process,
        Err(error) => {
            // The container may have exited between the check and the attach.
            if let Some(code) = wait_terminated(pods, &args.name, TERMINATED_POLLS).await? {
                print_log(pods, &args.name).await?;
                return Ok(code);
            }
            return Err(super::explain(error));
        }
    };
    if args.tty {
        eprintln!("If you don't see a command prompt, try pressing enter.");
    }
    terminal::run(process, args.tty).await?;
    // Attach streams report Success whatever the exit code, as in
    // Kubernetes, so the code comes from the pod status, as with kubectl run.
    match wait_terminated(pods, &args.name, EXIT_POLLS).await? {
        Some(code) => Ok(code),
        None => anyhow::bail!(
            "the attach to pod {name} ended, but its container still runs; see `skiff describe pod {name}`",
            name = args.name
        ),
    }
}

/// Waits for the pod to run, prints its container's log as it grows and
/// returns the container's exit code, as `docker run` without `-d` does.
/// The log contains all the output, so nothing written before this call is lost.
async fn follow(pods: &Api<Pod>, name: &str) -> anyhow::Result<i32> {
    if let Some(code) = wait_running(pods, name).await? {
        print_log(pods, name).await?;
        return Ok(code);
    }
    let params = LogParams {
        follow: true,
        ..LogParams::default()
    };
    let mut stream = pods
        .log_stream(name, &params)
        .await
        .map_err(super::explain)?;
    let mut stdout = std::io::stdout();
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let count = stream.read(&mut buffer).await?;
        if count == 0 {
            break;
        }
        stdout.write_all(&buffer[..count])?;
        stdout.flush()?;
    }
    match wait_terminated(pods, name, EXIT_POLLS).await? {
        Some(code) => Ok(code),
        None => anyhow::bail!(
            "the log of pod {name} ended, but its container still runs; see `skiff describe pod {name}`"
        ),
    }
}

async fn print_log(pods: &Api<Pod>, name: &str) -> anyhow::Result<()> {
    let log = pods
        .logs(name, &LogParams::default())
        .await
        .map_err(super::explain)?;
    print!("{log}");
    Ok(())
}

/// Polls the pod `polls` times, 200 ms apart, and returns its container's
/// exit code once the pod status reports it terminated.
async fn wait_terminated(pods: &Api<Pod>, name: &str, polls: u32) -> anyhow::Result<Option<i32>> {
    for _ in 0..polls {
        let pod = pods.get(name).await.map_err(super::explain)?;
        if let Some(code) = terminated_exit_code(&pod) {
            return Ok(Some(code));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(None)
}

/// Returns the exit code of the pod's first container once it terminated.
fn terminated_exit_code(pod: &Pod) -> Option<i32> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|terminated| terminated.exit_code)
}

fn container_for(args: &Args) -> anyhow::Result<(Container, Vec<Volume>)> {
    let mut env = Vec::new();
    for pair in &args.env {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("invalid --env {pair:?}: expected KEY=VALUE"))?;
        env.push(EnvVar {
            name: name.to_string(),
            value: Some(value.to_string()),
            ..EnvVar::default()
        });
    }
    let ports = args
        .publish
        .iter()
        .map(|mapping| parse_port(mapping))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for (index, mapping) in args.volumes.iter().enumerate() {
        let parts: Vec<&str> = mapping.split(':').collect();
        let (host, container, read_only) = match parts.as_slice() {
            [host, container] => (*host, *container, false),
            [host, container, "ro"] => (*host, *container, true),
            [host, container, "rw"] => (*host, *container, false),
            _ => anyhow::bail!("invalid --volume {mapping:?}: expected HOSTDIR:CONTAINERDIR[:ro]"),
        };
        if !host.starts_with('/') || !container.starts_with('/') {
            anyhow::bail!("invalid --volume {mapping:?}: both paths must be absolute");
        }
        let name = format!("volume-{index}");
        volumes.push(Volume {
            name: name.clone(),
            host_path: Some(HostPathVolumeSource {
                path: host.to_string(),
                type_: Some("DirectoryOrCreate".to_string()),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name,
            mount_path: container.to_string(),
            read_only: Some(read_only),
            ..VolumeMount::default()
        });
    }
    let container = Container {
        name: args.name.clone(),
        image: Some(args.image.clone()),
        args: (!args.command.is_empty()).then(|| args.command.clone()),
        env: (!env.is_empty()).then_some(env),
        ports: (!ports.is_empty()).then_some(ports),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        stdin: Some(args.interactive),
        // As with kubectl run: the first attach's end closes stdin.
        stdin_once: Some(args.interactive),
        tty: Some(args.tty),
        ..Container::default()
    };
    Ok((container, volumes))
}

/// Parses `[IP:]HOSTPORT:CONTAINERPORT[/PROTOCOL]` like `docker run -p`.
fn parse_port(mapping: &str) -> anyhow::Result<ContainerPort> {
    let invalid = || format!("invalid --publish {mapping:?}: expected [IP:]HOSTPORT:CONTAINERPORT");
    let (ports, protocol) = match mapping.split_once('/') {
        Some((ports, protocol)) => (ports, protocol.to_uppercase()),
        None => (mapping, "TCP".to_string()),
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (host_ip, host_port, container_port) = match parts.as_slice() {
        [host, container] => (None, *host, *container),
        [ip, host, container] => (Some(ip.to_string()), *host, *container),
        _ => anyhow::bail!(invalid()),
    };
    Ok(ContainerPort {
        container_port: container_port.parse().with_context(invalid)?,
        host_port: Some(host_port.parse().with_context(invalid)?),
        host_ip,
        protocol: Some(protocol),
        ..ContainerPort::default()
    })
}

/// Waits until the pod runs; returns the container's exit code instead
/// when it already ended.
async fn wait_running(pods: &Api<Pod>, name: &str) -> anyhow::Result<Option<i32>> {
    for _ in 0..600 {
        let pod = pods.get(name).await.map_err(super::explain)?;
        let phase = pod
            .status
            .as_ref()
            .and_then(|status| status.phase.clone())
            .unwrap_or_default();
        match phase.as_str() {
            "Running" => return Ok(None),
            "Failed" | "Succeeded" => return Ok(Some(terminated_exit_code(&pod).unwrap_or(1))),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    anyhow::bail!("pod {name} did not start within 120 seconds; see `skiff describe pod {name}`")
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    #[test]
    fn parse_port_accepts_docker_forms() {
        let plain = parse_port("8080:80").unwrap();
        assert_eq!(plain.host_port, Some(8080));
        assert_eq!(plain.container_port, 80);
        assert_eq!(plain.host_ip, None);
        let with_ip = parse_port("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(with_ip.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(with_ip.protocol.as_deref(), Some("UDP"));
        assert!(parse_port("80").is_err());
        assert!(parse_port("x:80").is_err());
    }
}
