//! Field numbers of the Kubernetes protobuf messages that kubectl's typed
//! clients send (from the `generated.proto` files of k8s.io/api and
//! k8s.io/apimachinery, v1.33).

/// How one field is encoded and shown in JSON.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    String,
    Bool,
    Int,
    /// `metav1.Time`: seconds and nanos, shown as RFC 3339.
    Time,
    Message(&'static Message),
    MapStringString,
    MapStringBytes,
}

#[derive(Debug)]
pub struct Field {
    pub number: u64,
    pub name: &'static str,
    pub kind: Kind,
    pub repeated: bool,
    /// A non-pointer Go field with `omitempty`: its zero value is always
    /// written in protobuf but left out of JSON.
    pub omit_zero: bool,
}

#[derive(Debug)]
pub struct Message {
    pub name: &'static str,
    pub fields: &'static [Field],
}

const fn f(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
        omit_zero: false,
    }
}

const fn zero_omitted(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
        omit_zero: true,
    }
}

const fn list(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: true,
        omit_zero: false,
    }
}

pub static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        f(1, "kind", Kind::String),
        f(3, "name", Kind::String),
        f(4, "uid", Kind::String),
        f(5, "apiVersion", Kind::String),
        f(6, "controller", Kind::Bool),
        f(7, "blockOwnerDeletion", Kind::Bool),
    ],
};

pub static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        f(1, "name", Kind::String),
        f(2, "generateName", Kind::String),
        f(3, "namespace", Kind::String),
        f(5, "uid", Kind::String),
        f(6, "resourceVersion", Kind::String),
        zero_omitted(7, "generation", Kind::Int),
        f(8, "creationTimestamp", Kind::Time),
        f(9, "deletionTimestamp", Kind::Time),
        f(10, "deletionGracePeriodSeconds", Kind::Int),
        f(11, "labels", Kind::MapStringString),
        f(12, "annotations", Kind::MapStringString),
        list(13, "ownerReferences", Kind::Message(&OWNER_REFERENCE)),
        list(14, "finalizers", Kind::String),
    ],
};

pub static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(2, "data", Kind::MapStringString),
        f(3, "binaryData", Kind::MapStringBytes),
        f(4, "immutable", Kind::Bool),
    ],
};

pub static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(2, "data", Kind::MapStringBytes),
        f(3, "type", Kind::String),
        f(4, "stringData", Kind::MapStringString),
        f(5, "immutable", Kind::Bool),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[list(1, "finalizers", Kind::String)],
};

pub static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(2, "spec", Kind::Message(&NAMESPACE_SPEC)),
    ],
};

static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        f(1, "kind", Kind::String),
        f(2, "namespace", Kind::String),
        f(3, "name", Kind::String),
        f(4, "uid", Kind::String),
        f(5, "apiVersion", Kind::String),
        f(6, "resourceVersion", Kind::String),
        f(7, "fieldPath", Kind::String),
    ],
};

static LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "LocalObjectReference",
    fields: &[f(1, "name", Kind::String)],
};

pub static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        list(2, "secrets", Kind::Message(&OBJECT_REFERENCE)),
        list(
            3,
            "imagePullSecrets",
            Kind::Message(&LOCAL_OBJECT_REFERENCE),
        ),
        f(4, "automountServiceAccountToken", Kind::Bool),
    ],
};

static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[f(1, "matchLabels", Kind::MapStringString)],
};

static CONTAINER_PORT: Message = Message {
    name: "ContainerPort",
    fields: &[
        f(1, "name", Kind::String),
        zero_omitted(2, "hostPort", Kind::Int),
        f(3, "containerPort", Kind::Int),
        f(4, "protocol", Kind::String),
        f(5, "hostIP", Kind::String),
    ],
};

static ENV_VAR: Message = Message {
    name: "EnvVar",
    fields: &[f(1, "name", Kind::String), f(2, "value", Kind::String)],
};

static CONTAINER: Message = Message {
    name: "Container",
    fields: &[
        f(1, "name", Kind::String),
        f(2, "image", Kind::String),
        list(3, "command", Kind::String),
        list(4, "args", Kind::String),
        f(5, "workingDir", Kind::String),
        list(6, "ports", Kind::Message(&CONTAINER_PORT)),
        list(7, "env", Kind::Message(&ENV_VAR)),
        f(14, "imagePullPolicy", Kind::String),
    ],
};

static POD_SPEC: Message = Message {
    name: "PodSpec",
    fields: &[
        list(2, "containers", Kind::Message(&CONTAINER)),
        f(3, "restartPolicy", Kind::String),
    ],
};

static POD_TEMPLATE_SPEC: Message = Message {
    name: "PodTemplateSpec",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(2, "spec", Kind::Message(&POD_SPEC)),
    ],
};

static DEPLOYMENT_SPEC: Message = Message {
    name: "DeploymentSpec",
    fields: &[
        f(1, "replicas", Kind::Int),
        f(2, "selector", Kind::Message(&LABEL_SELECTOR)),
        f(3, "template", Kind::Message(&POD_TEMPLATE_SPEC)),
        zero_omitted(5, "minReadySeconds", Kind::Int),
        f(6, "revisionHistoryLimit", Kind::Int),
        zero_omitted(7, "paused", Kind::Bool),
        f(9, "progressDeadlineSeconds", Kind::Int),
    ],
};

pub static DEPLOYMENT: Message = Message {
    name: "Deployment",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(2, "spec", Kind::Message(&DEPLOYMENT_SPEC)),
    ],
};

static PRECONDITIONS: Message = Message {
    name: "Preconditions",
    fields: &[
        f(1, "uid", Kind::String),
        f(2, "resourceVersion", Kind::String),
    ],
};

/// `DeleteOptions`, which kubectl drain's typed client sends with DELETE.
pub static DELETE_OPTIONS: Message = Message {
    name: "DeleteOptions",
    fields: &[
        f(1, "gracePeriodSeconds", Kind::Int),
        f(2, "preconditions", Kind::Message(&PRECONDITIONS)),
        f(3, "orphanDependents", Kind::Bool),
        f(4, "propagationPolicy", Kind::String),
        list(5, "dryRun", Kind::String),
        f(
            6,
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            Kind::Bool,
        ),
    ],
};

/// Returns the schema of a kind that can be decoded, by group and kind.
pub fn message_for(group: &str, kind: &str) -> Option<&'static Message> {
    match (group, kind) {
        ("", "ConfigMap") => Some(&CONFIG_MAP),
        ("", "Secret") => Some(&SECRET),
        ("", "Namespace") => Some(&NAMESPACE),
        ("", "ServiceAccount") => Some(&SERVICE_ACCOUNT),
        ("apps", "Deployment") => Some(&DEPLOYMENT),
        // Every group version carries the meta.k8s.io option kinds.
        (_, "DeleteOptions") => Some(&DELETE_OPTIONS),
        _ => None,
    }
}
