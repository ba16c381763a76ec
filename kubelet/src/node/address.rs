//! Finding the node's InternalIP and hostname.

use std::net::{IpAddr, Ipv4Addr};

/// The IPv4 address of the interface holding the default route, or
/// 127.0.0.1 when there is none.
pub fn detect_node_ip() -> IpAddr {
    default_route_interface()
        .and_then(|name| interface_ipv4(&name))
        .map(IpAddr::V4)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Reads /proc/net/route for the interface of the 0.0.0.0/0 route.
fn default_route_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.len() > 7 && fields[1] == "00000000" && fields[7] == "00000000")
            .then(|| fields[0].to_string())
    })
}

fn interface_ipv4(name: &str) -> Option<Ipv4Addr> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    addrs
        .filter(|ifa| ifa.interface_name == name)
        .find_map(|ifa| ifa.address?.as_sockaddr_in().map(|sin| sin.ip()))
}
