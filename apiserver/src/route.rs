//! Parsing of `/api/...` and `/apis/...` paths into what they address.

use crate::registry::{self, Resource, Subresource};

/// What a request path under `/api` or `/apis` addresses.
#[derive(Debug)]
pub enum Target {
    /// `/api` or `/apis`: the discovery root.
    Root { legacy_core: bool },
    /// `/apis/<group>`: one group's legacy discovery.
    Group { group: String },
    /// `/api/v1` or `/apis/<group>/<version>`: one group-version's resource list.
    GroupVersion { group: String, version: String },
    /// A collection, across all namespaces when `namespace` is `None`.
    Collection {
        resource: &'static Resource,
        namespace: Option<String>,
    },
    /// One object, or one of its subresources.
    Object {
        resource: &'static Resource,
        namespace: Option<String>,
        name: String,
        subresource: Option<&'static Subresource>,
    },
}

/// Parses a path (without query). Returns `None` if nothing is served there.
pub fn parse(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.split_first()? {
        (&"api", rest) => match rest {
            [] => Some(Target::Root { legacy_core: true }),
            [version, tail @ ..] => parse_in_group_version("", version, tail),
        },
        (&"apis", rest) => match rest {
            [] => Some(Target::Root { legacy_core: false }),
            [group] => served_group(group).then(|| Target::Group {
                group: (*group).to_string(),
            }),
            [group, version, tail @ ..] => parse_in_group_version(group, version, tail),
        },
        _ => None,
    }
}

fn served_group(group: &str) -> bool {
    registry::group_versions().iter().any(|(g, _)| *g == group)
}

fn parse_in_group_version(group: &str, version: &str, tail: &[&str]) -> Option<Target> {
    if !registry::group_versions().contains(&(group, version)) {
        return None;
    }
    let find = |plural: &str| registry::find(group, version, plural);
    let target = match tail {
        [] => Target::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        [plural] => Target::Collection {
            resource: find(plural)?,
            namespace: None,
        },
        ["namespaces", namespace, plural] if find(plural).is_some_and(|r| r.namespaced) => {
            Target::Collection {
                resource: find(plural)?,
                namespace: Some((*namespace).to_string()),
            }
        }
        ["namespaces", namespace, plural, name, rest @ ..]
            if find(plural).is_some_and(|r| r.namespaced) =>
        {
            object_target(find(plural)?, Some(namespace), name, rest)?
        }
        [plural, name, rest @ ..] => {
            let resource = find(plural)?;
            if resource.namespaced {
                return None;
            }
            object_target(resource, None, name, rest)?
        }
    };
    Some(target)
}

fn object_target(
    resource: &'static Resource,
    namespace: Option<&str>,
    name: &str,
    rest: &[&str],
) -> Option<Target> {
    let subresource = match rest {
        [] => None,
        [sub] => Some(resource.subresource(sub)?),
        _ => return None,
    };
    Some(Target::Object {
        resource,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        subresource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_object_and_subresource() {
        let Some(Target::Object {
            resource,
            namespace,
            name,
            subresource,
        }) = parse("/apis/apps/v1/namespaces/ns1/deployments/web/scale")
        else {
            panic!("expected an object target");
        };
        assert_eq!(resource.plural, "deployments");
        assert_eq!(namespace.as_deref(), Some("ns1"));
        assert_eq!(name, "web");
        assert_eq!(subresource.map(|s| s.name), Some("scale"));
    }

    #[test]
    fn namespace_status_is_a_namespace_subresource() {
        let Some(Target::Object {
            resource,
            name,
            subresource,
            ..
        }) = parse("/api/v1/namespaces/team/status")
        else {
            panic!("expected an object target");
        };
        assert_eq!(resource.plural, "namespaces");
        assert_eq!(name, "team");
        assert_eq!(subresource.map(|s| s.name), Some("status"));
    }

    #[test]
    fn collections_in_and_across_namespaces() {
        assert!(matches!(
            parse("/api/v1/namespaces/default/pods"),
            Some(Target::Collection {
                namespace: Some(_),
                ..
            })
        ));
        assert!(matches!(
            parse("/api/v1/pods"),
            Some(Target::Collection {
                namespace: None,
                ..
            })
        ));
    }

    #[test]
    fn unknown_paths_are_none() {
        assert!(parse("/api/v1/widgets").is_none());
        assert!(parse("/apis/apps/v2/deployments").is_none());
        assert!(parse("/api/v1/pods/x").is_none());
        assert!(parse("/api/v1/namespaces/default/pods/x/bogus").is_none());
    }
}
