//! Pods built from a ReplicaSet's pod template.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use crate::owner;

/// Maximum length of a generateName prefix the apiserver keeps whole: it
/// appends five random characters to names of at most 63 characters.
const MAX_GENERATE_NAME_PREFIX: usize = 58;

/// Builds a new pod for `replicaset`: the template's labels, annotations,
/// finalizers and spec, `generateName` `<replicaset>-` and a controller
/// reference to the ReplicaSet.
pub fn pod_from_template(replicaset: &ReplicaSet) -> Pod {
    let template = replicaset
        .spec
        .as_ref()
        .and_then(|spec| spec.template.clone())
        .unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name_prefix(&replicaset.name_any())),
            namespace: replicaset.namespace(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![owner::new_controller_ref(replicaset)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Returns `<name>-`, shortened like the apiserver shortens generateName
/// prefixes so the generated name stays a valid DNS label.
fn generate_name_prefix(name: &str) -> String {
    let mut prefix = format!("{name}-");
    if prefix.len() > MAX_GENERATE_NAME_PREFIX {
        prefix.truncate(MAX_GENERATE_NAME_PREFIX);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

    #[test]
    fn pod_copies_template_and_points_to_owner() {
        let mut replicaset = ReplicaSet::default();
        replicaset.metadata.name = Some("web-abc".to_string());
        replicaset.metadata.namespace = Some("default".to_string());
        replicaset.metadata.uid = Some("uid-1".to_string());
        replicaset.spec = Some(ReplicaSetSpec {
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "c".to_string(),
                        image: Some("img".to_string()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
            ..Default::default()
        });
        let pod = pod_from_template(&replicaset);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(pod.labels().get("app").map(String::as_str), Some("web"));
        let reference = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(reference.kind, "ReplicaSet");
        assert_eq!(reference.uid, "uid-1");
        assert_eq!(reference.controller, Some(true));
        assert_eq!(reference.block_owner_deletion, Some(true));
    }

    #[test]
    fn long_prefixes_are_truncated() {
        let prefix = generate_name_prefix(&"a".repeat(70));
        assert_eq!(prefix.len(), MAX_GENERATE_NAME_PREFIX);
    }
}
