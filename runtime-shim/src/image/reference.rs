//! Image references, normalised as Docker does: `busybox` is
//! `docker.io/library/busybox:latest`.

use oci_client::Reference;

use super::ImageError;

/// Parses `input` as an image reference. Bare names get the Docker Hub
/// registry and the `library/` namespace, and a missing tag becomes
/// `latest` unless a digest is given.
pub fn parse(input: &str) -> Result<Reference, ImageError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(ImageError::InvalidReference {
            reference: input.to_string(),
            reason: "the image name is empty".to_string(),
        });
    }
    Reference::try_from(trimmed).map_err(|error| ImageError::InvalidReference {
        reference: input.to_string(),
        reason: error.to_string(),
    })
}

/// `registry/repository`, e.g. `docker.io/library/busybox`.
pub fn repository(reference: &Reference) -> String {
    format!("{}/{}", reference.registry(), reference.repository())
}

/// `registry/repository:tag` if the reference has a tag.
pub fn repo_tag(reference: &Reference) -> Option<String> {
    reference
        .tag()
        .map(|tag| format!("{}:{tag}", repository(reference)))
}

/// `registry/repository@digest`.
pub fn repo_digest(reference: &Reference, digest: &str) -> String {
    format!("{}@{digest}", repository(reference))
}

/// Returns whether `registry` (`host` or `host:port`) is reached over plain
/// HTTP: it, or its host without the port, is in `insecure`.
pub fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    let host = host_of(registry);
    insecure
        .iter()
        .any(|entry| entry == registry || entry == host)
}

fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        // A bracketed IPv6 address such as [::1]:5000.
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.rsplit_once(':').map_or(registry, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_bare_names() {
        let reference = parse("busybox").expect("valid reference");
        assert_eq!(reference.whole(), "docker.io/library/busybox:latest");
        assert_eq!(
            repo_tag(&reference).as_deref(),
            Some("docker.io/library/busybox:latest")
        );
    }

    #[test]
    fn parse_keeps_digest_without_tag() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let reference = parse(&format!("127.0.0.1:5000/x/y@{digest}")).expect("valid reference");
        assert_eq!(reference.tag(), None);
        assert_eq!(reference.digest(), Some(digest.as_str()));
        assert_eq!(repository(&reference), "127.0.0.1:5000/x/y");
    }

    #[test]
    fn parse_rejects_empty_and_bad_names() {
        assert!(parse("").is_err());
        assert!(parse("repo@sha256:abc").is_err());
        assert!(parse(":tag-only").is_err());
    }

    #[test]
    fn insecure_matches_host_with_or_without_port() {
        let insecure = vec!["127.0.0.1".to_string(), "registry.local:5000".to_string()];
        assert!(is_insecure("127.0.0.1:5000", &insecure));
        assert!(is_insecure("127.0.0.1", &insecure));
        assert!(is_insecure("registry.local:5000", &insecure));
        assert!(!is_insecure("registry.local:5001", &insecure));
        assert!(!is_insecure("docker.io", &insecure));
        assert!(is_insecure("[::1]:5000", &["::1".to_string()]));
    }
}
