//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` shared by the
//! containers of a sandbox.

use std::path::Path;

use k8s_cri::v1::DnsConfig;

pub const HOSTNAME: &str = "hostname";
pub const HOSTS: &str = "hosts";
pub const RESOLV_CONF: &str = "resolv.conf";

/// Writes the three files into the sandbox directory `dir`.
pub fn write(
    dir: &Path,
    hostname: &str,
    ip: Option<&str>,
    dns: Option<&DnsConfig>,
) -> std::io::Result<()> {
    std::fs::write(dir.join(HOSTNAME), format!("{hostname}\n"))?;
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    if let Some(ip) = ip {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    std::fs::write(dir.join(HOSTS), hosts)?;
    std::fs::write(dir.join(RESOLV_CONF), resolv_conf(dns))
}

fn resolv_conf(dns: Option<&DnsConfig>) -> String {
    let Some(dns) = dns.filter(|dns| !dns.servers.is_empty() || !dns.searches.is_empty()) else {
        // No DNS config from CRI: the host's resolver settings, as Docker does.
        return std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    };
    let mut text = String::new();
    for server in &dns.servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !dns.searches.is_empty() {
        text.push_str(&format!("search {}\n", dns.searches.join(" ")));
    }
    if !dns.options.is_empty() {
        text.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    text
}
