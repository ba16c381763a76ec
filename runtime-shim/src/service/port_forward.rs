//! The pod side of CRI PortForward: the sandbox to forward into and TCP
//! connections to its loopback interface.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Runtime, ServiceError};
use crate::state::SandboxState;

/// How long a connection to a pod port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The sandbox a port-forward session connects into.
#[derive(Clone, Debug)]
pub struct PortForwardTarget {
    pub sandbox_id: String,
    /// The sandbox's bind-mounted network namespace.
    pub netns: PathBuf,
}

impl Runtime {
    /// Resolves a ready sandbox for CRI PortForward.
    pub fn port_forward_target(&self, sandbox_id: &str) -> Result<PortForwardTarget, ServiceError> {
        let record = self.sandbox(sandbox_id)?;
        if record.state != SandboxState::Ready {
            return Err(ServiceError::FailedPrecondition(format!(
                "pod sandbox {} is not ready",
                record.id
            )));
        }
        Ok(PortForwardTarget {
            sandbox_id: record.id,
            netns: record.netns,
        })
    }
}

/// Connects to `port` on the loopback interface inside `netns`, trying
/// 127.0.0.1 and then ::1.
///
/// The socket is created on a new thread that joins the namespace with
/// setns(2) and then exits, so no thread of the runtime changes its
/// namespace. A socket stays in the namespace it was created in wherever
/// it is used afterwards.
pub async fn connect_in_netns(netns: &Path, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let netns = netns.to_path_buf();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("netns-connect".to_string())
        .spawn(move || {
            let _ = sender.send(connect_on_this_thread(&netns, port));
        })?;
    let stream = receiver.await.map_err(|_| {
        std::io::Error::other("the namespace connect thread ended without a result")
    })??;
    stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(stream)
}

fn connect_on_this_thread(netns: &Path, port: u16) -> std::io::Result<TcpStream> {
    let file = std::fs::File::open(netns).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "failed to open network namespace {}: {error}",
                netns.display()
            ),
        )
    })?;
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|errno| {
        std::io::Error::other(format!(
            "failed to enter network namespace {}: {errno}",
            netns.display()
        ))
    })?;
    let ipv4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let ipv6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let ipv4_error = match TcpStream::connect_timeout(&ipv4, CONNECT_TIMEOUT) {
        Ok(stream) => return Ok(stream),
        Err(error) => error,
    };
    // The wording follows containerd's, which kubectl users see with
    // other runtimes: "connect: connection refused" and the like.
    TcpStream::connect_timeout(&ipv6, CONNECT_TIMEOUT).map_err(|ipv6_error| {
        std::io::Error::new(
            ipv4_error.kind(),
            format!(
                "failed to connect to localhost:{port} inside namespace {:?}, IPv4: dial tcp4 {ipv4}: connect: {} IPv6: dial tcp6 {ipv6}: connect: {}",
                netns.display().to_string(),
                ipv4_error.kind(),
                ipv6_error.kind()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_namespace_is_reported() {
        let error = connect_in_netns(Path::new("/nonexistent/netns"), 80)
            .await
            .expect_err("no namespace");
        let message = error.to_string();
        assert!(
            message.contains("failed to open network namespace /nonexistent/netns"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn closed_port_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let error = connect_in_netns(Path::new("/proc/self/ns/net"), port)
            .await
            .expect_err("nothing listens");
        let message = error.to_string();
        let expected = format!("IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused");
        assert!(message.contains(&expected), "{message}");
    }

    #[tokio::test]
    async fn connects_in_own_namespace() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let stream = connect_in_netns(Path::new("/proc/self/ns/net"), port)
            .await
            .expect("connected");
        let (accepted, _) = listener.accept().expect("accept");
        assert_eq!(
            stream.peer_addr().expect("peer"),
            accepted.local_addr().expect("local")
        );
    }
}
