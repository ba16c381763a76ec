//! Pure Kubernetes object logic shared by the apiserver and the controllers:
//! patches, server-side apply, defaulting, validation, selectors, quantities,
//! Table conversion and OpenAPI documents. Nothing here does I/O.

pub mod apply;
pub mod defaults;
pub mod gvk;
pub mod openapi;
pub mod patch;
pub mod quantity;
pub mod selector;
pub mod strict;
pub mod table;
pub mod validation;

pub use gvk::Gvk;
