//! Patch metadata of the served kinds: which lists merge by key, which are
//! sets and which are replaced whole, as the Kubernetes Go types declare them
//! with `patchStrategy`/`patchMergeKey` (strategic merge patch) and
//! `listType`/`listMapKey`/`structType` (server-side apply), Kubernetes 1.33.

use crate::Gvk;

/// A struct type whose fields carry patch metadata. Fields of any other type
/// merge as plain maps, and their lists are replaced whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A field without patch metadata.
    Plain,
    /// A struct that server-side apply treats as one value (`structType=atomic`).
    AtomicStruct,
    Pod,
    Node,
    Namespace,
    ServiceAccount,
    Service,
    Deployment,
    ReplicaSet,
    /// Any other served kind: only its metadata carries list metadata.
    OtherKind,
    ObjectMeta,
    PodTemplateSpec,
    PodSpec,
    Container,
    ResourceRequirements,
    PodStatus,
    NodeSpec,
    NodeStatus,
    NamespaceStatus,
    ServiceSpec,
    DeploymentSpec,
    WorkloadStatus,
}

/// The strategy strategic merge patch uses to combine a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpList {
    /// The patch's list replaces the live one.
    Replace,
    /// Items are objects matched by this key (`patchStrategy:"merge"`).
    MergeByKey(&'static str),
    /// Items are scalars kept as a set (`patchStrategy:"merge"` on a scalar list).
    MergePrimitives,
}

/// The list type server-side apply tracks a list with (`listType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsaList {
    Atomic,
    Set,
    Map(&'static [&'static str]),
}

/// The patch metadata of one list field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListMeta {
    pub smp: SmpList,
    pub ssa: SsaList,
}

/// One field of a struct: its type and, for a list, how it merges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub ty: Ty,
    pub list: Option<ListMeta>,
}

const fn plain(ty: Ty) -> Field {
    Field { ty, list: None }
}

const fn atomic_list() -> Field {
    list(Ty::Plain, SmpList::Replace, SsaList::Atomic)
}

const fn list(ty: Ty, smp: SmpList, ssa: SsaList) -> Field {
    Field {
        ty,
        list: Some(ListMeta { smp, ssa }),
    }
}

const fn keyed(ty: Ty, key: &'static str, ssa_keys: &'static [&'static str]) -> Field {
    list(ty, SmpList::MergeByKey(key), SsaList::Map(ssa_keys))
}

const CONDITIONS: Field = keyed(Ty::Plain, "type", &["type"]);
const NAME: &[&str] = &["name"];

impl Ty {
    /// Returns the root type of objects of `gvk`.
    pub fn of_kind(gvk: &Gvk) -> Ty {
        match (gvk.group.as_str(), gvk.kind.as_str()) {
            ("", "Pod") => Ty::Pod,
            ("", "Node") => Ty::Node,
            ("", "Namespace") => Ty::Namespace,
            ("", "ServiceAccount") => Ty::ServiceAccount,
            ("", "Service") => Ty::Service,
            ("apps", "Deployment") => Ty::Deployment,
            ("apps", "ReplicaSet") => Ty::ReplicaSet,
            _ => Ty::OtherKind,
        }
    }

    /// Returns the metadata of field `name` of this type.
    pub fn field(self, name: &str) -> Field {
        let found = match self {
            Ty::Pod => kind_field(name, Ty::PodSpec, Ty::PodStatus),
            Ty::Node => kind_field(name, Ty::NodeSpec, Ty::NodeStatus),
            Ty::Namespace => namespace_field(name),
            Ty::ServiceAccount => service_account_field(name),
            Ty::Service => kind_field(name, Ty::ServiceSpec, Ty::Plain),
            Ty::Deployment => kind_field(name, Ty::DeploymentSpec, Ty::WorkloadStatus),
            Ty::ReplicaSet => kind_field(name, Ty::DeploymentSpec, Ty::WorkloadStatus),
            Ty::OtherKind => kind_field(name, Ty::Plain, Ty::Plain),
            Ty::ObjectMeta => object_meta_field(name),
            Ty::PodTemplateSpec => match name {
                "metadata" => Some(plain(Ty::ObjectMeta)),
                "spec" => Some(plain(Ty::PodSpec)),
                _ => None,
            },
            Ty::PodSpec => pod_spec_field(name),
            Ty::Container => container_field(name),
            Ty::ResourceRequirements => match name {
                "claims" => Some(list(Ty::Plain, SmpList::Replace, SsaList::Map(NAME))),
                _ => None,
            },
            Ty::PodStatus => pod_status_field(name),
            Ty::NodeSpec => match name {
                "podCIDRs" => Some(list(Ty::Plain, SmpList::MergePrimitives, SsaList::Set)),
                "taints" => Some(atomic_list()),
                _ => None,
            },
            Ty::NodeStatus => match name {
                "conditions" => Some(CONDITIONS),
                "addresses" => Some(keyed(Ty::Plain, "type", &["type"])),
                _ => None,
            },
            Ty::NamespaceStatus => match name {
                "conditions" => Some(CONDITIONS),
                _ => None,
            },
            Ty::ServiceSpec => match name {
                "ports" => Some(keyed(Ty::Plain, "port", &["port", "protocol"])),
                "ipFamilies" | "clusterIPs" | "externalIPs" => Some(atomic_list()),
                _ => None,
            },
            Ty::DeploymentSpec => match name {
                "selector" => Some(plain(Ty::AtomicStruct)),
                "template" => Some(plain(Ty::PodTemplateSpec)),
                _ => None,
            },
            Ty::WorkloadStatus => match name {
                "conditions" => Some(CONDITIONS),
                _ => None,
            },
            Ty::Plain | Ty::AtomicStruct => None,
        };
        found.unwrap_or(plain(Ty::Plain))
    }
}

fn kind_field(name: &str, spec: Ty, status: Ty) -> Option<Field> {
    match name {
        "metadata" => Some(plain(Ty::ObjectMeta)),
        "spec" => Some(plain(spec)),
        "status" => Some(plain(status)),
        _ => None,
    }
}

fn namespace_field(name: &str) -> Option<Field> {
    match name {
        "metadata" => Some(plain(Ty::ObjectMeta)),
        "status" => Some(plain(Ty::NamespaceStatus)),
        _ => None,
    }
}

fn service_account_field(name: &str) -> Option<Field> {
    match name {
        "metadata" => Some(plain(Ty::ObjectMeta)),
        "secrets" => Some(keyed(Ty::Plain, "name", NAME)),
        "imagePullSecrets" => Some(atomic_list()),
        _ => None,
    }
}

fn object_meta_field(name: &str) -> Option<Field> {
    match name {
        "finalizers" => Some(list(Ty::Plain, SmpList::MergePrimitives, SsaList::Set)),
        "ownerReferences" => Some(keyed(Ty::Plain, "uid", &["uid"])),
        "managedFields" => Some(atomic_list()),
        _ => None,
    }
}

fn pod_spec_field(name: &str) -> Option<Field> {
    let field = match name {
        "containers" | "initContainers" | "ephemeralContainers" => {
            keyed(Ty::Container, "name", NAME)
        }
        "volumes" | "resourceClaims" | "schedulingGates" => keyed(Ty::Plain, "name", NAME),
        "imagePullSecrets" => keyed(Ty::Plain, "name", NAME),
        "hostAliases" => keyed(Ty::Plain, "ip", &["ip"]),
        "topologySpreadConstraints" => keyed(
            Ty::Plain,
            "topologyKey",
            &["topologyKey", "whenUnsatisfiable"],
        ),
        "tolerations" | "readinessGates" => atomic_list(),
        _ => return None,
    };
    Some(field)
}

fn container_field(name: &str) -> Option<Field> {
    let field = match name {
        "ports" => keyed(Ty::Plain, "containerPort", &["containerPort", "protocol"]),
        "env" => keyed(Ty::Plain, "name", NAME),
        "volumeMounts" => keyed(Ty::Plain, "mountPath", &["mountPath"]),
        "volumeDevices" => keyed(Ty::Plain, "devicePath", &["devicePath"]),
        "args" | "command" | "envFrom" | "resizePolicy" => atomic_list(),
        "resources" => plain(Ty::ResourceRequirements),
        _ => return None,
    };
    Some(field)
}

fn pod_status_field(name: &str) -> Option<Field> {
    let field = match name {
        "conditions" => CONDITIONS,
        "podIPs" | "hostIPs" => list(Ty::Plain, SmpList::MergeByKey("ip"), SsaList::Atomic),
        "resourceClaimStatuses" => keyed(Ty::Plain, "name", NAME),
        "containerStatuses" | "initContainerStatuses" | "ephemeralContainerStatuses" => {
            atomic_list()
        }
        _ => return None,
    };
    Some(field)
}
