//! The API resources the garbage collector and the namespace controller
//! work on, found through API discovery.

use kube::Client;
use kube::discovery::{ApiResource, Discovery, Scope, verbs};

use crate::error::Error;

/// Resources never garbage collected or watched: events are too many and
/// never carry owner references that matter.
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

/// One resource type and where its objects live.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
    pub deletecollection: bool,
}

/// Returns the preferred version of every resource that can be listed,
/// watched, patched and deleted.
pub async fn deletable_resources(client: &Client) -> Result<Vec<Resource>, Error> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(|error| Error::Discovery(error.to_string()))?;
    let mut resources = Vec::new();
    for group in discovery.groups() {
        for (api, capabilities) in group.recommended_resources() {
            let ignored = IGNORED
                .iter()
                .any(|(group, plural)| api.group == *group && api.plural == *plural);
            let usable = [verbs::LIST, verbs::WATCH, verbs::DELETE, verbs::PATCH]
                .iter()
                .all(|verb| capabilities.supports_operation(verb));
            if ignored || !usable {
                continue;
            }
            resources.push(Resource {
                deletecollection: capabilities.supports_operation(verbs::DELETE_COLLECTION),
                namespaced: capabilities.scope == Scope::Namespaced,
                api,
            });
        }
    }
    Ok(resources)
}
