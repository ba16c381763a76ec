//! The group-versions and resources the apiserver serves, as the OpenAPI
//! documents describe them.

/// A subresource with its own OpenAPI paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `status`: get, replace and patch of the object through its status.
    Status,
    /// `scale`: an `autoscaling/v1` `Scale` view of the replica count.
    Scale,
    /// `binding`: a pod's binding to a node, created by the scheduler.
    Binding,
    /// `log`: a container's log as plain text.
    Log,
}

/// One served resource.
#[derive(Clone, Copy, Debug)]
pub struct Resource {
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub subresources: &'static [Subresource],
}

/// One served group-version.
#[derive(Clone, Copy, Debug)]
pub struct GroupVersion {
    /// The path under `/openapi/v3/`, e.g. `apis/apps/v1`.
    pub path: &'static str,
    /// The API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub resources: &'static [Resource],
}

impl GroupVersion {
    /// Returns the URL prefix of this group-version, e.g. `/apis/apps/v1`.
    pub fn url_prefix(&self) -> String {
        format!("/{}", self.path)
    }
}

const fn resource(
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    subresources: &'static [Subresource],
) -> Resource {
    Resource {
        plural,
        kind,
        namespaced,
        subresources,
    }
}

/// Every group-version the OpenAPI documents cover.
pub const GROUP_VERSIONS: &[GroupVersion] = &[
    GroupVersion {
        path: "api/v1",
        group: "",
        version: "v1",
        resources: &[
            resource("configmaps", "ConfigMap", true, &[]),
            resource("events", "Event", true, &[]),
            resource("namespaces", "Namespace", false, &[Subresource::Status]),
            resource("nodes", "Node", false, &[Subresource::Status]),
            resource(
                "pods",
                "Pod",
                true,
                &[Subresource::Status, Subresource::Binding, Subresource::Log],
            ),
            resource("secrets", "Secret", true, &[]),
            resource("serviceaccounts", "ServiceAccount", true, &[]),
        ],
    },
    GroupVersion {
        path: "apis/apps/v1",
        group: "apps",
        version: "v1",
        resources: &[
            resource(
                "deployments",
                "Deployment",
                true,
                &[Subresource::Status, Subresource::Scale],
            ),
            resource(
                "replicasets",
                "ReplicaSet",
                true,
                &[Subresource::Status, Subresource::Scale],
            ),
        ],
    },
    GroupVersion {
        path: "apis/autoscaling/v1",
        group: "autoscaling",
        version: "v1",
        resources: &[],
    },
    GroupVersion {
        path: "apis/coordination.k8s.io/v1",
        group: "coordination.k8s.io",
        version: "v1",
        resources: &[resource("leases", "Lease", true, &[])],
    },
    GroupVersion {
        path: "apis/events.k8s.io/v1",
        group: "events.k8s.io",
        version: "v1",
        resources: &[resource("events", "Event", true, &[])],
    },
];

/// Returns the group-version served under `path`, e.g. `apis/apps/v1`.
pub fn group_version(path: &str) -> Option<&'static GroupVersion> {
    let path = path.trim_matches('/');
    GROUP_VERSIONS.iter().find(|gv| gv.path == path)
}
