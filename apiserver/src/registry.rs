//! The table of served resources: names, scope, verbs and subresources of
//! every kind the apiserver stores.

use skiff_machinery::Gvk;

/// A subresource served under `<resource>/<name>/<subresource>`.
#[derive(Clone, Copy, Debug)]
pub struct Subresource {
    pub name: &'static str,
    /// Group, version and kind of the objects it reads and writes.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// One served resource type.
#[derive(Clone, Debug)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Lower-case plural used in URLs, e.g. `deployments`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// Prefix of the storage keys, e.g. `/registry/deployments`.
    pub storage_prefix: &'static str,
    /// Whether `metadata.generation` tracks changes of `spec`.
    pub tracks_generation: bool,
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];
const CONNECT_VERBS: &[&str] = &["create", "get"];

const fn status(group: &'static str, version: &'static str, kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        group,
        version,
        kind,
        verbs: STATUS_VERBS,
    }
}

const POD_SUBRESOURCES: &[Subresource] = &[
    Subresource {
        name: "attach",
        group: "",
        version: "v1",
        kind: "PodAttachOptions",
        verbs: CONNECT_VERBS,
    },
    Subresource {
        name: "binding",
        group: "",
        version: "v1",
        kind: "Binding",
        verbs: &["create"],
    },
    Subresource {
        name: "exec",
        group: "",
        version: "v1",
        kind: "PodExecOptions",
        verbs: CONNECT_VERBS,
    },
    Subresource {
        name: "log",
        group: "",
        version: "v1",
        kind: "Pod",
        verbs: &["get"],
    },
    Subresource {
        name: "portforward",
        group: "",
        version: "v1",
        kind: "PodPortForwardOptions",
        verbs: CONNECT_VERBS,
    },
    status("", "v1", "Pod"),
];

const fn scalable(kind: &'static str) -> [Subresource; 2] {
    [
        Subresource {
            name: "scale",
            group: "autoscaling",
            version: "v1",
            kind: "Scale",
            verbs: STATUS_VERBS,
        },
        status("apps", "v1", kind),
    ]
}

const DEPLOYMENT_SUBRESOURCES: &[Subresource] = &scalable("Deployment");
const REPLICASET_SUBRESOURCES: &[Subresource] = &scalable("ReplicaSet");
const NODE_SUBRESOURCES: &[Subresource] = &[status("", "v1", "Node")];
const NAMESPACE_SUBRESOURCES: &[Subresource] = &[
    Subresource {
        name: "finalize",
        group: "",
        version: "v1",
        kind: "Namespace",
        verbs: &["update"],
    },
    status("", "v1", "Namespace"),
];

static RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        subresources: NAMESPACE_SUBRESOURCES,
        storage_prefix: "/registry/namespaces",
        tracks_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        subresources: POD_SUBRESOURCES,
        storage_prefix: "/registry/pods",
        tracks_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        subresources: NODE_SUBRESOURCES,
        storage_prefix: "/registry/nodes",
        tracks_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
        storage_prefix: "/registry/configmaps",
        tracks_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage_prefix: "/registry/secrets",
        tracks_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        storage_prefix: "/registry/events",
        tracks_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        short_names: &["sa"],
        categories: &[],
        subresources: &[],
        storage_prefix: "/registry/serviceaccounts",
        tracks_generation: false,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: DEPLOYMENT_SUBRESOURCES,
        storage_prefix: "/registry/deployments",
        tracks_generation: true,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        short_names: &["rs"],
        categories: &["all"],
        subresources: REPLICASET_SUBRESOURCES,
        storage_prefix: "/registry/replicasets",
        tracks_generation: true,
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage_prefix: "/registry/leases",
        tracks_generation: false,
    },
    Resource {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        // events.k8s.io/v1 Events are another view of the core Events, as in
        // Kubernetes; both versions read and write the same keys.
        storage_prefix: "/registry/events",
        tracks_generation: false,
    },
];

impl Resource {
    pub fn gvk(&self) -> Gvk {
        Gvk::new(self.group, self.version, self.kind)
    }

    pub fn api_version(&self) -> String {
        self.gvk().api_version()
    }

    /// Returns `plural` or `plural.group`, the name Kubernetes uses in messages.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn verbs(&self) -> &'static [&'static str] {
        if self.kind == "Namespace" {
            NAMESPACE_VERBS
        } else {
            ALL_VERBS
        }
    }

    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|sub| sub.name == name)
    }

    pub fn has_status_subresource(&self) -> bool {
        self.subresource("status").is_some()
    }

    /// Returns the storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(namespace) if self.namespaced => {
                format!("{}/{namespace}/{name}", self.storage_prefix)
            }
            _ => format!("{}/{name}", self.storage_prefix),
        }
    }

    /// Returns the key prefix covering every object in `namespace`, or all of
    /// them when `namespace` is `None`.
    pub fn prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(namespace) if self.namespaced => format!("{}/{namespace}/", self.storage_prefix),
            _ => format!("{}/", self.storage_prefix),
        }
    }
}

/// Every served resource, in discovery order.
pub fn all() -> &'static [Resource] {
    RESOURCES
}

/// Finds a resource by group, version and URL plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Returns the served group-versions, core first, as `(group, version)`.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for resource in RESOURCES {
        let entry = (resource.group, resource.version);
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}
