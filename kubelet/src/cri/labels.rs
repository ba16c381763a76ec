//! Labels and annotations the kubelet puts on CRI sandboxes and containers,
//! the same keys the upstream kubelet uses, so a restarted kubelet can find
//! what belongs to which pod.

pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Node whose kubelet made the object; garbage collection only touches its own.
pub const NODE: &str = "skiff.dev/node";
/// "init" or "app".
pub const CONTAINER_KIND: &str = "skiff.dev/container-kind";

pub const ANNOTATION_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
pub const ANNOTATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";
pub const ANNOTATION_HASH: &str = "io.kubernetes.container.hash";
