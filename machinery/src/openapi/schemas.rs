//! Component schemas of the served kinds, generated from k8s-openapi's
//! `schemars` support and completed with the vendor extensions Kubernetes
//! publishes: `x-kubernetes-group-version-kind` on each kind, and the patch
//! merge keys, patch strategies and list types of list fields.

use k8s_openapi::Resource;
use k8s_openapi::api::{apps, autoscaling, coordination, core, events};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ListMeta, Status};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::catalog::GroupVersion;
use crate::patch::schema::{SmpList, SsaList, Ty};

/// The document flavor, which sets the reference prefix: `#/components/schemas/` (v3) or `#/definitions/` (v2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    V3,
    V2,
}

impl Flavor {
    /// Returns a reference to the schema named `name`.
    pub fn reference(self, name: &str) -> Value {
        let prefix = match self {
            Flavor::V3 => "#/components/schemas/",
            Flavor::V2 => "#/definitions/",
        };
        json!({ "$ref": format!("{prefix}{name}") })
    }
}

/// A kind with a schema of its own, and a list kind unless `list` is false.
#[derive(Clone, Debug)]
pub struct KindSchema {
    pub schema_name: String,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub list: bool,
}

impl KindSchema {
    pub fn list_name(&self) -> String {
        format!("{}List", self.schema_name)
    }
}

fn generator(flavor: Flavor) -> SchemaGenerator {
    match flavor {
        Flavor::V3 => SchemaSettings::openapi3()
            .with(|settings| settings.meta_schema = None)
            .into_generator(),
        Flavor::V2 => SchemaSettings::draft07()
            .with(|settings| {
                settings.meta_schema = None;
                settings.transforms.clear();
            })
            .into_generator(),
    }
}

fn add<T: JsonSchema + Resource>(
    generator: &mut SchemaGenerator,
    kinds: &mut Vec<KindSchema>,
    list: bool,
) {
    generator.subschema_for::<T>();
    kinds.push(KindSchema {
        schema_name: T::schema_name().into_owned(),
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        list,
    });
}

/// Registers the kinds whose schemas the document of `gv` contains.
fn register(gv: &GroupVersion, generator: &mut SchemaGenerator, kinds: &mut Vec<KindSchema>) {
    match gv.path {
        "api/v1" => {
            add::<core::v1::ConfigMap>(generator, kinds, true);
            add::<core::v1::Event>(generator, kinds, true);
            add::<core::v1::Namespace>(generator, kinds, true);
            add::<core::v1::Node>(generator, kinds, true);
            add::<core::v1::Pod>(generator, kinds, true);
            add::<core::v1::Secret>(generator, kinds, true);
            add::<core::v1::ServiceAccount>(generator, kinds, true);
            add::<core::v1::Binding>(generator, kinds, false);
        }
        "apis/apps/v1" => {
            add::<apps::v1::Deployment>(generator, kinds, true);
            add::<apps::v1::ReplicaSet>(generator, kinds, true);
            add::<autoscaling::v1::Scale>(generator, kinds, false);
        }
        "apis/autoscaling/v1" => add::<autoscaling::v1::Scale>(generator, kinds, false),
        "apis/coordination.k8s.io/v1" => add::<coordination::v1::Lease>(generator, kinds, true),
        "apis/events.k8s.io/v1" => add::<events::v1::Event>(generator, kinds, true),
        _ => {}
    }
}

/// The component schemas of one or more group-versions.
pub struct Schemas {
    pub definitions: Map<String, Value>,
    pub kinds: Vec<KindSchema>,
}

/// Builds the schemas of every kind of `gvs`, with list kinds, `Status`
/// and `DeleteOptions`, and the Kubernetes vendor extensions.
pub fn build(gvs: &[&GroupVersion], flavor: Flavor) -> Schemas {
    let mut generator = generator(flavor);
    let mut kinds = Vec::new();
    for gv in gvs {
        register(gv, &mut generator, &mut kinds);
    }
    generator.subschema_for::<ListMeta>();
    generator.subschema_for::<Status>();
    generator.subschema_for::<DeleteOptions>();
    let mut definitions = generator.take_definitions(true);
    for kind in &kinds {
        if kind.list {
            definitions.insert(kind.list_name(), list_schema(kind, flavor));
        }
        if let Some(Value::Object(schema)) = definitions.get_mut(&kind.schema_name) {
            schema.insert(
                "x-kubernetes-group-version-kind".to_string(),
                gvk_list(kind, ""),
            );
            if kind.schema_name != "io.k8s.api.core.v1.Event" {
                drop_required(schema, "metadata");
            }
        }
    }
    if let Some(Value::Object(status)) =
        definitions.get_mut("io.k8s.apimachinery.pkg.apis.meta.v1.Status")
    {
        let gvk = json!([{ "group": "", "kind": "Status", "version": "v1" }]);
        status.insert("x-kubernetes-group-version-kind".to_string(), gvk);
        drop_required(status, "metadata");
    }
    for (name, schema) in definitions.iter_mut() {
        add_extensions(name, schema);
    }
    Schemas { definitions, kinds }
}

/// Removes `field` from the schema's `required` list. k8s-openapi marks
/// `metadata` required because its Rust field is not optional, but the
/// Kubernetes schemas require it only for core/v1 Event.
fn drop_required(schema: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|name| name != field);
        if required.is_empty() {
            schema.remove("required");
        }
    }
}

fn gvk_list(kind: &KindSchema, suffix: &str) -> Value {
    json!([{ "group": kind.group, "kind": format!("{}{suffix}", kind.kind), "version": kind.version }])
}

fn list_schema(kind: &KindSchema, flavor: Flavor) -> Value {
    let text = |field: &str| format!("{field} of this {}List.", kind.kind);
    let mut list_meta = flavor.reference("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta");
    let mut items_field = json!({"type": "array", "items": flavor.reference(&kind.schema_name)});
    if let (Value::Object(meta), Value::Object(items)) = (&mut list_meta, &mut items_field) {
        let meta_text = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
        if flavor == Flavor::V3 {
            let reference = std::mem::take(meta);
            meta.insert("allOf".to_string(), json!([reference]));
        }
        meta.insert("description".to_string(), json!(meta_text));
        items.insert(
            "description".to_string(),
            json!(format!("List of {}s.", kind.kind)),
        );
    }
    json!({
        "description": format!("{}List is a list of {} objects.", kind.kind, kind.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": text("The versioned schema"), "type": "string"},
            "items": items_field,
            "kind": {"description": text("The REST resource kind"), "type": "string"},
            "metadata": list_meta
        },
        "x-kubernetes-group-version-kind": gvk_list(kind, "List")
    })
}

/// Returns the patch-metadata type of the component schema named `schema_name`.
fn patch_type(schema_name: &str) -> Option<Ty> {
    let ty = match schema_name {
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" => Ty::ObjectMeta,
        "io.k8s.api.core.v1.PodTemplateSpec" => Ty::PodTemplateSpec,
        "io.k8s.api.core.v1.PodSpec" => Ty::PodSpec,
        "io.k8s.api.core.v1.Container" | "io.k8s.api.core.v1.EphemeralContainer" => Ty::Container,
        "io.k8s.api.core.v1.ResourceRequirements" => Ty::ResourceRequirements,
        "io.k8s.api.core.v1.PodStatus" => Ty::PodStatus,
        "io.k8s.api.core.v1.NodeSpec" => Ty::NodeSpec,
        "io.k8s.api.core.v1.NodeStatus" => Ty::NodeStatus,
        "io.k8s.api.core.v1.NamespaceStatus" => Ty::NamespaceStatus,
        "io.k8s.api.core.v1.ServiceAccount" => Ty::ServiceAccount,
        "io.k8s.api.apps.v1.DeploymentSpec" | "io.k8s.api.apps.v1.ReplicaSetSpec" => {
            Ty::DeploymentSpec
        }
        "io.k8s.api.apps.v1.DeploymentStatus" | "io.k8s.api.apps.v1.ReplicaSetStatus" => {
            Ty::WorkloadStatus
        }
        _ => return None,
    };
    Some(ty)
}

/// Fields whose patch strategy includes `retainKeys`, which decides how
/// kubectl computes patches of union types (Kubernetes 1.33).
fn retains_keys(schema_name: &str, field: &str) -> bool {
    matches!(
        (schema_name, field),
        ("io.k8s.api.core.v1.PodSpec", "volumes")
            | ("io.k8s.api.apps.v1.DeploymentSpec", "strategy")
    )
}

fn add_extensions(schema_name: &str, schema: &mut Value) {
    let Value::Object(schema) = schema else {
        return;
    };
    match schema_name {
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector" => {
            schema.insert("x-kubernetes-map-type".to_string(), json!("atomic"));
        }
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            schema.insert("type".to_string(), json!("string"));
            schema.insert("format".to_string(), json!("int-or-string"));
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            schema.insert("type".to_string(), json!("string"));
        }
        _ => {}
    }
    let ty = patch_type(schema_name);
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (field_name, property) in properties.iter_mut() {
        let Value::Object(property) = property else {
            continue;
        };
        let mut strategies = Vec::new();
        if let Some(meta) = ty.and_then(|ty| ty.field(field_name).list) {
            match meta.smp {
                SmpList::MergeByKey(key) => {
                    property.insert("x-kubernetes-patch-merge-key".to_string(), json!(key));
                    strategies.push("merge");
                }
                SmpList::MergePrimitives => strategies.push("merge"),
                SmpList::Replace => {}
            }
            let list_type = match meta.ssa {
                SsaList::Atomic => "atomic",
                SsaList::Set => "set",
                SsaList::Map(keys) => {
                    property.insert("x-kubernetes-list-map-keys".to_string(), json!(keys));
                    "map"
                }
            };
            property.insert("x-kubernetes-list-type".to_string(), json!(list_type));
        }
        if retains_keys(schema_name, field_name) {
            strategies.push("retainKeys");
        }
        if !strategies.is_empty() {
            property.insert(
                "x-kubernetes-patch-strategy".to_string(),
                json!(strategies.join(",")),
            );
        }
    }
}
